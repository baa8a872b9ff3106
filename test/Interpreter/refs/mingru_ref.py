"""Reference of examples/mingru_small.ir: minGRU (Feng et al. 2024).

Arguments: xs [T,B,I], h0 [B,H], wz [I,H], wh [I,H].
Results:   hs [T,B,H], hT [B,H], stepping
  z_t = sigmoid(x_t Wz), htilde_t = x_t Wh,
  h_t = (1 - z_t) * h_{t-1} + z_t * htilde_t.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import sigmoid  # noqa: E402


def reference(xs, h0, wz, wh):
    T, B, _ = xs.shape
    hs = np.zeros((T, B, h0.shape[1]))
    h = h0
    for t in range(T):
        z = sigmoid(xs[t] @ wz)
        htilde = xs[t] @ wh
        h = (1.0 - z) * h + z * htilde
        hs[t] = h
    return hs, h


if __name__ == "__main__":
    harness.main(reference, inputs={"xs": "data", "h0": "data", "wz": "weight",
                                    "wh": "weight"})
