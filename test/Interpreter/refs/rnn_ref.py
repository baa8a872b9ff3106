"""Reference of examples/rnn_small.ir: vanilla tanh RNN, by hand in float64.

Arguments: xs [T,B,I], h0 [B,H], wx [I,H], wh [H,H], b [H].
Results:   hs [T,B,H], hT [B,H], with h_t = tanh(x_t Wx + h_{t-1} Wh + b).
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def reference(xs, h0, wx, wh, b):
    T, B, _ = xs.shape
    H = h0.shape[1]
    hs = np.zeros((T, B, H))
    h = h0
    for t in range(T):
        h = np.tanh(xs[t] @ wx + h @ wh + b)
        hs[t] = h
    return hs, h


if __name__ == "__main__":
    harness.main(reference, inputs={"xs": "data", "h0": "data", "wx": "weight",
                                    "wh": "weight", "b": "bias"})
