"""Reference of examples/lstm_small.ir: standard LSTM, by hand in float64.

Arguments: xs [T,B,I], h0 [B,H], c0 [B,H], w [I,4H], u [H,4H], b [4H], the
gate blocks of w, u and b in the order i, f, g, o.
Results:   hs [T,B,H], hT [B,H], cT [B,H].
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import sigmoid  # noqa: E402


def reference(xs, h0, c0, w, u, b):
    T, B, _ = xs.shape
    H = h0.shape[1]
    # The four gates' weight blocks, taken apart explicitly.
    W = {g: w[:, k * H:(k + 1) * H] for k, g in enumerate("ifgo")}
    U = {g: u[:, k * H:(k + 1) * H] for k, g in enumerate("ifgo")}
    bb = {g: b[k * H:(k + 1) * H] for k, g in enumerate("ifgo")}
    hs = np.zeros((T, B, H))
    h, c = h0, c0
    for t in range(T):
        x = xs[t]
        i = sigmoid(x @ W["i"] + h @ U["i"] + bb["i"])
        f = sigmoid(x @ W["f"] + h @ U["f"] + bb["f"])
        g = np.tanh(x @ W["g"] + h @ U["g"] + bb["g"])
        o = sigmoid(x @ W["o"] + h @ U["o"] + bb["o"])
        c = f * c + i * g
        h = o * np.tanh(c)
        hs[t] = h
    return hs, h, c


if __name__ == "__main__":
    harness.main(reference, inputs={"xs": "data", "h0": "data", "c0": "data",
                                    "w": "weight", "u": "weight", "b": "bias"})
