"""Reference of Inputs/assoc_scan.ir: h_t = a_t * h_{t-1} + b_t.

Forward over dim 0 from h0; backward over dim 1 from rh, the coefficient
of shape [2, T, 1] broadcast over the state's last dim. Written as plain
loops over the steps.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def reference(a, b, h0, ra, rb, rh):
    hs = np.zeros(a.shape)
    h = h0
    for t in range(a.shape[0]):
        h = a[t] * h + b[t]
        hs[t] = h
    rs = np.zeros(rb.shape)
    r = rh
    for t in reversed(range(rb.shape[1])):
        r = ra[:, t, :] * r + rb[:, t, :]
        rs[:, t, :] = r
    return hs, h, rs, r


if __name__ == "__main__":
    harness.main(reference, inputs={"a": "data", "b": "data", "h0": "data",
                                    "ra": "data", "rb": "data", "rh": "data"})
