"""Reference of Inputs/attention_op.ir: attn.attention written directly.

For each batch b, kv head h, group g and query i: scores against every key
j are 0.5 * q . k, soft-capped as 3 tanh(s / 3); keys with j > i + 1 are
hidden; softmax over the visible keys; output = weights . v. K and V are
shared by the G query heads of a group. Plain loops, float64.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def reference(q, k, v):
    B, H, G, SQ, _ = q.shape
    SK, E = v.shape[3], v.shape[4]
    out = np.zeros((B, H, G, SQ, E))
    for b in range(B):
        for h in range(H):
            for g in range(G):
                for i in range(SQ):
                    visible = [j for j in range(SK) if j <= i + 1]
                    s = np.array([3.0 * np.tanh(0.5 * (q[b, h, g, i] @ k[b, h, 0, j]) / 3.0)
                                  for j in visible])
                    w = np.exp(s - s.max())
                    w /= w.sum()
                    out[b, h, g, i] = sum(w[n] * v[b, h, 0, j] for n, j in enumerate(visible))
    return (out,)


if __name__ == "__main__":
    harness.main(reference, inputs={"q": "data", "k": "data", "v": "data"})
