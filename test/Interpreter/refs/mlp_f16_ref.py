"""Reference of Inputs/mlp_f16.ir: y = silu(x W1 + b1) W2 + b2, stored in f16.

Computed in float64 from the very f16 values given to attnc.

Tolerance 2e-3. f16 has unit roundoff u = 2^-11 ~ 4.9e-4. The model rounds
to f16 after each of its five ops (matmul, add, silu, matmul, add), each
a relative error of at most u and RMS about u/sqrt(3) ~ 2.8e-4; silu's
condition number is at most ~1.1 and the short (5- and 11-term) sums
cancel little, so the expected relative Frobenius error is around
sqrt(5) * 2.8e-4 ~ 6e-4. 2e-3 (about 4u) leaves room above that and stays
far below the O(1) of a semantic error.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import sigmoid  # noqa: E402

F16_TOL = 2e-3


def reference(x, w1, b1, w2, b2):
    hb = x @ w1 + b1
    return (hb * sigmoid(hb)) @ w2 + b2


if __name__ == "__main__":
    harness.main(reference, inputs={"x": "data", "w1": "weight", "b1": "bias",
                                    "w2": "weight", "b2": "bias"},
                 tol=F16_TOL)
