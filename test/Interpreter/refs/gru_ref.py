"""Reference of examples/gru_small.ir: GRU in the PyTorch convention.

Arguments: xs [T,B,I], h0 [B,H], wx [I,3H], wh [H,3H], bx [3H], bh [3H], the
gate blocks in the order r, z, n.
Results:   hs [T,B,H], hT [B,H], with
  r = sigmoid(x Wr + br_x + h Ur + br_h)
  z = sigmoid(x Wz + bz_x + h Uz + bz_h)
  n = tanh(x Wn + bn_x + r * (h Un + bn_h))
  h' = (1 - z) * n + z * h
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import sigmoid  # noqa: E402


def reference(xs, h0, wx, wh, bx, bh):
    T, B, _ = xs.shape
    H = h0.shape[1]
    Wr, Wz, Wn = wx[:, :H], wx[:, H:2 * H], wx[:, 2 * H:]
    Ur, Uz, Un = wh[:, :H], wh[:, H:2 * H], wh[:, 2 * H:]
    brx, bzx, bnx = bx[:H], bx[H:2 * H], bx[2 * H:]
    brh, bzh, bnh = bh[:H], bh[H:2 * H], bh[2 * H:]
    hs = np.zeros((T, B, H))
    h = h0
    for t in range(T):
        x = xs[t]
        r = sigmoid(x @ Wr + brx + h @ Ur + brh)
        z = sigmoid(x @ Wz + bzx + h @ Uz + bzh)
        n = np.tanh(x @ Wn + bnx + r * (h @ Un + bnh))
        h = (1.0 - z) * n + z * h
        hs[t] = h
    return hs, h


if __name__ == "__main__":
    harness.main(reference, inputs={"xs": "data", "h0": "data", "wx": "weight",
                                    "wh": "weight", "bx": "bias", "bh": "bias"})
