"""Reference of Inputs/nested_scan.ir: a stacked tanh RNN (time outside,
layers inside).

Arguments: xs [B,T,I], h0 [L,B,H], win [I,H], ws [L,H,H], us [L,H,H],
           bs [L,H].
Results:   ys [B,T,H], hall [L,T,B,H], hT [L,B,H]; per step t:
  a = x_t Win; for each layer l: a = h[l] = tanh(a W[l] + h[l] U[l] + bs[l]);
  ys[:, t] = a (top layer), hall[:, t] = h.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def reference(xs, h0, win, ws, us, bs):
    B, T, _ = xs.shape
    L, _, H = h0.shape
    ys = np.zeros((B, T, H))
    hall = np.zeros((L, T, B, H))
    h = [h0[l].copy() for l in range(L)]
    for t in range(T):
        a = xs[:, t] @ win
        for l in range(L):
            a = np.tanh(a @ ws[l] + h[l] @ us[l] + bs[l])
            h[l] = a
            hall[l, t] = a
        ys[:, t] = a
    return ys, hall, np.stack(h)


if __name__ == "__main__":
    harness.main(reference, inputs={"xs": "data", "h0": "data",
                                    "win": "weight", "ws": "weight",
                                    "us": "weight", "bs": "bias"})
