"""Reference of Inputs/attention_bf16.ir: attention + rms_norm stored in bf16.

o = rms_norm(softmax(q k^T / sqrt(5)) v) * g, computed here in float64 from
the very bf16 values given to attnc (no bf16 emulation).

Tolerance 1e-2. bf16 keeps 8 significant bits: unit roundoff u = 2^-8 ~
3.9e-3. Each of the model's five ops (matmul, scale, softmax, matmul,
rms_norm) rounds its result to bf16 once (the scale by 1/sqrt(5) and the
probabilities are not exact in bf16), a relative error of at most u and
RMS about u/sqrt(3) ~ 2.3e-3 per rounding. The roundings are independent,
and with O(1) scores softmax and rms_norm pass errors on without
amplification, so the expected relative Frobenius error is of order
u, about 3e-3 (2.3e-3 to 3.3e-3 measured over seeds 0-7). 1e-2 (2.5 u) sits
three times above that and two orders of magnitude below the O(1) of any
semantic error.
"""
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import softmax_rows  # noqa: E402

BF16_TOL = 1e-2


def reference(q, k, v, g):
    B, NH, SQ, D = q.shape
    o = np.zeros(q.shape)
    for b in range(B):
        for h in range(NH):
            a = softmax_rows(q[b, h] @ k[b, h].T / math.sqrt(D)) @ v[b, h]
            for i in range(SQ):
                o[b, h, i] = a[i] / math.sqrt(np.mean(a[i] ** 2) + 1e-5) * g
    return o


if __name__ == "__main__":
    harness.main(reference, inputs={"q": "data", "k": "data", "v": "data",
                                    "g": "gain"},
                 tol=BF16_TOL)
