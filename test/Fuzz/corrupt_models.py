"""Corrupted model files must only ever produce clean errors.

For every example model, makes truncated copies (cut at random byte
offsets) and byte-flipped copies (random bytes replaced by random values),
and runs `attnc-opt` (parse, verify, print) and `attnc run` (parse, verify,
interpret; small examples only, the large ones would take minutes) on each.
A run passes when it exits 0, or exits 1 with every stderr line in the
one-line error format (attnc), and never by a signal or a hang; a failed
`attnc run` must leave no output file.

Usage: corrupt_models.py EXAMPLES_DIR WORK_DIR [--copies N] [--seed S]
"""
import argparse
import glob
import os
import random
import re
import shutil
import subprocess
import sys

ERROR_LINE = re.compile(r"^(\S+:\d+:\d+: (error|warning): |attnc: error: ).+$")


def run(cmd, timeout):
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              errors="replace", timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, ""
    return proc.returncode, proc.stderr


def corruptions(data, rng, copies):
    """Yields (label, bytes): `copies` truncations, then `copies` flips."""
    for _ in range(copies):
        cut = rng.randrange(0, len(data))
        yield f"truncated at {cut}", data[:cut]
    for _ in range(copies):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        yield "byte-flipped", bytes(mutated)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("examples")
    parser.add_argument("work")
    parser.add_argument("--copies", type=int, default=12)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    rng = random.Random(args.seed)
    models = sorted(glob.glob(os.path.join(args.examples, "*.ir")))
    if not models:
        sys.exit(f"no models in {args.examples}")
    failures, runs = [], 0
    for model in models:
        name = os.path.basename(model)
        small = name.endswith("_small.ir")
        data = open(model, "rb").read()
        for i, (label, corrupt) in enumerate(corruptions(data, rng, args.copies)):
            path = os.path.join(args.work, f"{i}-{name}")
            with open(path, "wb") as f:
                f.write(corrupt)
            out = path + ".out"
            tools = [["attnc-opt", path]]
            if small:
                tools.append(["attnc", "run", path, "--out", out])
            for cmd in tools:
                runs += 1
                code, stderr = run(cmd, timeout=120)
                what = f"{' '.join(cmd[:2])} on {name} {label} ({path})"
                if code is None:
                    failures.append(f"{what}: hung")
                elif code < 0 or code > 1:
                    failures.append(f"{what}: exit code {code}: {stderr[-300:]}")
                elif cmd[0] == "attnc" and code == 1:
                    lines = stderr.splitlines()
                    if not lines or not all(ERROR_LINE.match(l) for l in lines):
                        failures.append(f"{what}: unclean error output {stderr!r}")
                    if glob.glob(os.path.join(out, "*.npy")):
                        failures.append(f"{what}: left output files behind")
    print(f"{runs} runs on corrupted copies of {len(models)} models")
    for failure in failures:
        print("FAIL:", failure)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
