"""Reference of Inputs/reverse_scan.ir: a backward RNN and a suffix sum.

Arguments: xs [B,T,I], ms [B,T,H], h0 [B,H], c0 [B,I], wx [I,H], wh [H,H].
Results:   hs [B,T,H], cs [B,T,I], hF [B,H], cF [B,I]; for t = T-1 .. 0:
  h_t = tanh(x_t Wx + h_{t+1} Wh + m_t),  c_t = c_{t+1} + x_t,
with h_T = h0, c_T = c0; hs[:, t] = h_t, cs[:, t] = c_t, hF = h_0, cF = c_0.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def reference(xs, ms, h0, c0, wx, wh):
    B, T, I = xs.shape
    H = h0.shape[1]
    hs = np.zeros((B, T, H))
    cs = np.zeros((B, T, I))
    h, c = h0, c0
    for t in reversed(range(T)):
        h = np.tanh(xs[:, t] @ wx + h @ wh + ms[:, t])
        c = c + xs[:, t]
        hs[:, t] = h
        cs[:, t] = c
    return hs, cs, h, c


if __name__ == "__main__":
    harness.main(reference, inputs={"xs": "data", "ms": "bias", "h0": "data",
                                    "c0": "data", "wx": "weight",
                                    "wh": "weight"})
