#!/usr/bin/env python3
"""Span of a model as its sequence length doubles, from `attnc analyze --json`.

Usage: span_scaling.py [--attnc PATH] --dir OUT MODEL.ir OLD[,OLD2...] [FACTOR...]

Writes variants of MODEL.ir into OUT in which every tensor extent equal to
one of the OLD values (the sequence length: T of a scan, or the query and
key lengths of attention) is multiplied by each FACTOR (default 1 2 4),
analyses each, and prints one line (the flops show that the variant
really grew):

  NAME: length 7 span 63 flops 33495, length 14 span 126 flops 66990, ...: doubles

where a length is the smallest OLD value times the factor, and the verdict
is `doubles` (each doubling of the length doubles the span exactly),
`unchanged` (the span does not depend on the length) or `other`. The
rewrite touches only extents inside `tensor<...>` types, so pick models in
which the sequence lengths are the only extents with those values: a
variant that no longer verifies makes attnc fail, but one that verifies
with another dimension scaled too would go unnoticed.
"""

import argparse
import json
import os
import re
import subprocess
import sys


def rewrite(text, olds, factor):
    def one_type(m):
        parts = m.group(1).split("x")
        dims = [str(int(p) * factor) if p.isdigit() and int(p) in olds else p
                for p in parts[:-1]]
        return "tensor<" + "x".join(dims + parts[-1:]) + ">"
    return re.sub(r"tensor<([^>]*)>", one_type, text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--attnc", default="attnc")
    parser.add_argument("--dir", required=True)
    parser.add_argument("model")
    parser.add_argument("olds")
    parser.add_argument("factors", nargs="*", type=int, default=[1, 2, 4])
    parser.add_argument("--optimize", action="store_true",
                        help="analyse the graph after attn-optimize")
    opts = parser.parse_args()
    olds = {int(v) for v in opts.olds.split(",")}
    name = os.path.splitext(os.path.basename(opts.model))[0]
    with open(opts.model) as f:
        text = f.read()
    os.makedirs(opts.dir, exist_ok=True)
    points = []
    for factor in opts.factors:
        path = os.path.join(opts.dir, f"{name}_x{factor}.ir")
        with open(path, "w") as f:
            f.write(rewrite(text, olds, factor))
        cmd = [opts.attnc, "analyze", path, "--json"]
        if opts.optimize:
            cmd.append("--optimize")
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr)
            return 1
        summary = json.loads(proc.stdout)["summary"]
        points.append((min(olds) * factor, summary["span"], summary["flops"]))
    spans = [s for _, s, _ in points]
    if all(s == spans[0] for s in spans):
        verdict = "unchanged"
    elif all(b == 2 * a for a, b in zip(spans, spans[1:])) and \
            all(f2 == 2 * f1 for f1, f2 in zip(opts.factors, opts.factors[1:])):
        verdict = "doubles"
    elif len({b - a for a, b in zip(spans, spans[1:])}) == 1 and \
            all(f2 == 2 * f1 for f1, f2 in zip(opts.factors, opts.factors[1:])):
        verdict = f"grows by {spans[1] - spans[0]} per doubling"
    else:
        verdict = "other"
    print(f"{name}: " + ", ".join(f"length {l} span {s} flops {w}" for l, s, w in points) +
          f": {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
