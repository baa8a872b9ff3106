"""Reference of Inputs/broadcast_ops.ir (odd-shape broadcasting and the ops
the example models do not use), one result at a time, each written with
explicit numpy broadcasting or loops.

Tolerances: results 0-7 are computed in f32 and must match to 1e-5 (see
harness.py). Results 8 and 9 round through f16 (unit roundoff 2^-11 ~
4.9e-4): out8 rounds c and w to f16, accumulates the 7-term products in
f32 and rounds the result to f16, so each element carries about three
f16 roundings (RMS error ~ sqrt(3) * u/sqrt(3) = u relative; the terms'
cancellation in a random 7-term sum inflates this by ~2 at most in the
Frobenius norm); out9 rounds c to f16 (tanh's condition number
|x| (1 - tanh^2 x) / |tanh x| is <= 1) and rounds the result, so <= 2u.
A tolerance of 2e-3 (about 4u) passes those while any semantic error (a
wrong transpose, a missing cast) is O(1). The reference uses no f16
emulation: it is the exact float64 value of the same formula.
"""
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import gelu, sigmoid  # noqa: E402

F16_TOL = 2e-3


def reference(a, b, c, g, be, w, w2):
    # a [3,1,5], b [7,1], c [2,3,7,5], g [5], be [5], w [7,4], w2 [4,7]
    N, Hh, R, C = c.shape            # 2, 3, 7, 5

    # out0, elementwise with every broadcast spelled out by index.
    o0 = np.zeros(c.shape)
    for n in range(N):
        for h in range(Hh):
            for i in range(R):
                for j in range(C):
                    s = a[h, 0, j] + b[i, 0]
                    d = s / (1.0 + math.exp(c[n, h, i, j]))
                    mx = max(d, a[h, 0, j] * b[i, 0])
                    o0[n, h, i, j] = min(mx, 0.375) - b[i, 0]

    # out1
    rowmax = c.max(axis=3, keepdims=True)
    mean02 = c.mean(axis=(0, 2), keepdims=True)          # [1,3,1,5]
    sum01 = c.sum(axis=(0, 1))                           # [7,5]
    sqh = c * c + 0.5
    o1 = (np.exp(c - rowmax) / np.sqrt(sqh) + mean02
          + np.log(sqh) * np.sqrt(sqh) + sum01)

    # out2: layer norm per row of the last dim, biased variance.
    o2 = np.zeros(c.shape)
    for idx in np.ndindex(N, Hh, R):
        row = c[idx]
        mu = row.mean()
        var = ((row - mu) ** 2).mean()
        o2[idx] = (row - mu) / math.sqrt(var + 1e-5) * g + be

    # out3: slice then transpose, by index: result[p, q, r, s] =
    # sl[q, s, r, p] with sl[i0, i1, i2, i3] = c[i0, 1 + i1, 1 + 2 i2, 2 i3].
    o3 = np.zeros((3, 2, 3, 2))
    for p, q, r, s in np.ndindex(o3.shape):
        o3[p, q, r, s] = c[q, 1 + s, 1 + 2 * r, 2 * p]

    # out4: concat along dim 2.
    iota2 = np.arange(4.0).reshape(1, 1, 4, 1) * np.ones((N, Hh, 4, C))
    iota0 = np.arange(3.0).reshape(3, 1, 1)
    part2 = np.cos(0.3 * iota2) + iota0
    part3 = (c * sigmoid(c) + np.maximum(c, 0.0) + gelu(c) * sigmoid(c)
             + np.tanh(-c))
    o4 = np.concatenate([np.sin(c), part2, part3], axis=2)

    # out5: masked softmax over dim 1 (the 3 "heads"), plus the mask.
    mask = np.array([[1.0 if j <= i + 1 else 0.0 for j in range(C)]
                     for i in range(R)])
    sel = np.where(mask > 0, c, -2.0)
    e = np.exp(sel - sel.max(axis=1, keepdims=True))
    o5 = e / e.sum(axis=1, keepdims=True) + mask

    # out6, out7, out8
    o6 = np.zeros((N, Hh, C, 4))
    o7 = np.zeros((N, Hh, 1, R))
    for n in range(N):
        for h in range(Hh):
            o6[n, h] = c[n, h].T @ w + c[n, h].T @ w2.T
            o7[n, h] = a[h] @ c[n, h].T
    o8 = np.einsum("nhkm,kj->nhmj", c, w)
    o9 = np.tanh(c)
    return o0, o1, o2, o3, o4, o5, o6, o7, o8, o9


if __name__ == "__main__":
    harness.main(reference,
                 inputs={"a": "data", "b": "data", "c": ("uniform", -2.0, 2.0),
                         "g": "gain", "be": "bias", "w": "weight",
                         "w2": "weight"},
                 tols={8: F16_TOL, 9: F16_TOL})
