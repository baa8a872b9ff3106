"""Reference of examples/mha_causal_gqa_small.ir: causal grouped-query
attention.

Arguments: q [B,Hq,S,D], k [B,Hkv,S,D], v [B,Hkv,S,D], G = Hq / Hkv.
Result:    o [B,Hq,S,D]: query head h uses kv head j = h // G; query i
attends to keys 0..i only, written as a softmax over that prefix (no mask
value involved).
"""
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def reference(q, k, v):
    B, HQ, S, D = q.shape
    HKV = k.shape[1]
    G = HQ // HKV
    o = np.zeros(q.shape)
    for b in range(B):
        for h in range(HQ):
            j = h // G
            for i in range(S):
                s = np.array([q[b, h, i] @ k[b, j, t] for t in range(i + 1)])
                s = s / math.sqrt(D)
                p = np.exp(s - s.max())
                p = p / p.sum()
                o[b, h, i] = sum(p[t] * v[b, j, t] for t in range(i + 1))
    return o


if __name__ == "__main__":
    harness.main(reference, inputs={"q": "data", "k": "data", "v": "data"})
