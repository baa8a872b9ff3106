"""Reference of examples/transformer_block_small.ir: a pre-norm decoder
block with rotary embeddings, causal multi-head attention and a GELU MLP.

Arguments: x [B,S,Dm], g1 [Dm], wqkv [Dm,3Dm], wo [Dm,Dm], g2 [Dm],
           w1 [Dm,F], b1 [F], w2 [F,Dm], b2 [Dm]; heads = 3 (Dh = Dm/3).
Result:    y [B,S,Dm].

Written position by position and head by head: RoPE as the rotation of
each pair (u[j], u[j + Dh/2]) by the angle p * 10000^(-2j/Dh), causal
attention as a softmax over the visible prefix of keys.
"""
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import gelu  # noqa: E402

HEADS = 3
EPS = 1e-5
BASE = 10000.0


def rms_norm(v, g):
    return v / math.sqrt(np.mean(v * v) + EPS) * g


def rope(u, p):
    """Rotates the pairs (u[j], u[j + half]) of one head vector at position p."""
    dh = u.shape[0]
    half = dh // 2
    out = np.zeros(dh)
    for j in range(half):
        theta = p * BASE ** (-2.0 * j / dh)
        c, s = math.cos(theta), math.sin(theta)
        out[j] = u[j] * c - u[j + half] * s
        out[j + half] = u[j + half] * c + u[j] * s
    return out


def reference(x, g1, wqkv, wo, g2, w1, b1, w2, b2):
    B, S, DM = x.shape
    DH = DM // HEADS
    y = np.zeros(x.shape)
    for b in range(B):
        # Attention sub-block.
        a = np.stack([rms_norm(x[b, p], g1) for p in range(S)])      # [S, Dm]
        wq, wk, wv = wqkv[:, :DM], wqkv[:, DM:2 * DM], wqkv[:, 2 * DM:]
        q, k, v = a @ wq, a @ wk, a @ wv                               # [S, Dm]
        merged = np.zeros((S, DM))
        for n in range(HEADS):
            cols = slice(n * DH, (n + 1) * DH)
            qh = [rope(q[p, cols], p) for p in range(S)]
            kh = [rope(k[p, cols], p) for p in range(S)]
            vh = v[:, cols]
            for i in range(S):
                s = np.array([qh[i] @ kh[t] for t in range(i + 1)]) / math.sqrt(DH)
                pr = np.exp(s - s.max())
                pr /= pr.sum()
                merged[i, cols] = pr @ vh[:i + 1]
        x1 = x[b] + merged @ wo
        # MLP sub-block.
        m = np.stack([rms_norm(x1[p], g2) for p in range(S)])
        y[b] = x1 + gelu(m @ w1 + b1) @ w2 + b2
    return y


if __name__ == "__main__":
    harness.main(reference, inputs={
        "x": "data", "g1": "gain", "wqkv": "weight", "wo": "weight",
        "g2": "gain", "w1": "weight", "b1": "bias", "w2": "weight",
        "b2": "bias"})
