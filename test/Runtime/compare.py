"""compare.py GOT_DIR REF_DIR TOLERANCE: out<i>.npy files agree, as
||got - ref|| / ||ref|| <= TOLERANCE each. Prints one summary line."""
import os
import sys

import numpy as np

got_dir, ref_dir, tolerance = sys.argv[1], sys.argv[2], float(sys.argv[3])
names = sorted(f for f in os.listdir(ref_dir) if f.startswith("out"))
for name in names:
    got = np.load(os.path.join(got_dir, name)).astype(np.float64)
    ref = np.load(os.path.join(ref_dir, name)).astype(np.float64)
    if got.shape != ref.shape:
        sys.exit(f"FAIL: {name}: shape {got.shape} != {ref.shape}")
    error = np.linalg.norm(got - ref) / max(np.linalg.norm(ref), 1e-300)
    if not error <= tolerance:
        sys.exit(f"FAIL: {name}: relative error {error:.3e} > {tolerance}")
print(f"{len(names)} outputs agree")
