"""A pass preserves meaning: interpreter results before and after agree.

Usage: differential.py --flags="PASS FLAGS" MODEL.ir... [--seeds N]
                       [--precision f32 --tolerance X]

For each model, runs `attnc-opt MODEL.ir PASS FLAGS`, then `attnc run` on
the original and on the rewritten model with the same seeds in f64 (so any
difference beyond rounding is a bug), and compares every result:
||after - before|| / ||before|| <= 1e-12. f64 unit roundoff is 1.1e-16; the
bound leaves room for passes that reassociate sums over up to thousands of
terms, while a wrong rewrite shows up as O(1e-3..1). The graph signature
must be unchanged, so random inputs are identical on both sides.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

TOLERANCE = 1e-12


def run(cmd):
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)}:\n{proc.stderr}")
    return proc.stdout


def results(model, seed, out, precision):
    run(["attnc", "run", model, "--seed", str(seed), "--precision", precision,
         "--out", out])
    files = sorted(f for f in os.listdir(out) if f.startswith("out"))
    return [np.load(os.path.join(out, f)).astype(np.float64) for f in files]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--flags", required=True)
    parser.add_argument("models", nargs="+")
    parser.add_argument("--seeds", type=int, default=2)
    # f32 runs round as a GPU would, which f64 runs cannot show; callers
    # state the tolerance that fits their models.
    parser.add_argument("--precision", default="f64")
    parser.add_argument("--tolerance", type=float, default=TOLERANCE)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="attnc-diff-")
    worst = 0.0
    for model in args.models:
        name = os.path.basename(model)
        rewritten = os.path.join(work, name)
        with open(rewritten, "w") as f:
            f.write(run(["attnc-opt", model, *args.flags.split()]))
        for seed in range(args.seeds):
            before = results(model, seed, os.path.join(work, f"{name}.{seed}.a"),
                             args.precision)
            after = results(rewritten, seed, os.path.join(work, f"{name}.{seed}.b"),
                            args.precision)
            if len(before) != len(after):
                sys.exit(f"FAIL: {name}: {len(before)} results before, {len(after)} after")
            for i, (b, a) in enumerate(zip(before, after)):
                if a.shape != b.shape:
                    sys.exit(f"FAIL: {name} out{i}: shape {b.shape} -> {a.shape}")
                norm = np.linalg.norm(b)
                err = np.linalg.norm(a - b) / norm if norm else np.linalg.norm(a)
                worst = max(worst, err)
                if not err <= args.tolerance:
                    sys.exit(f"FAIL: {name} out{i} seed {seed}: rel error {err:.3e}")
    print(f"{len(args.models)} models agree, worst rel error {worst:.3e}")


if __name__ == "__main__":
    main()
