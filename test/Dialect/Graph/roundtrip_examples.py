"""Every model in examples/ round-trips through attnc-opt unchanged.

For each .ir file: print it (p1), parse and print that again (p2), and go
through MLIR's generic op form and back (p3). p1 == p2 == p3 means the
custom syntax loses nothing and the printer reaches a fixed point. New
examples are picked up by the glob, so none can be forgotten.

Usage: roundtrip_examples.py EXAMPLES_DIR
"""
import glob
import os
import subprocess
import sys


def opt(*args, stdin=None):
    return subprocess.run(["attnc-opt", *args], input=stdin, check=True,
                          capture_output=True, text=True).stdout


def main():
    models = sorted(glob.glob(os.path.join(sys.argv[1], "*.ir")))
    if not models:
        sys.exit("no examples found")
    for model in models:
        p1 = opt(model)
        p2 = opt("-", stdin=p1)
        p3 = opt("-", stdin=opt("--mlir-print-op-generic", model))
        if not (p1 == p2 == p3):
            sys.exit(f"{model}: printing is not a fixed point")
        if "attn.graph @" not in p1:
            sys.exit(f"{model}: no graph printed")
    print(f"{len(models)} examples round-trip unchanged")


if __name__ == "__main__":
    main()
