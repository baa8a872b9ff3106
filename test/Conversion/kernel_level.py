"""Checks that a printed module is at kernel level and counts its kernels.

Usage: kernel_level.py FILE... [--expect NAME:KIND=COUNT ...]

Every op at the top level of every attn.graph must be a kernel op
(`kernel.gemm`, `.attention`, `.pointwise`, `.row`, `.recurrence`,
`.scan`) or the final attn.return; anything else is reported with its
line. --expect checks how many kernels of a kind a graph has, for example
`lstm:recurrence=1`, in every file that holds that graph. Prints one
summary line.
"""
import re
import sys

KINDS = {"gemm", "attention", "pointwise", "row", "recurrence", "scan"}
GRAPH = re.compile(r"^  attn\.graph @(\w+)")
TOP_OP = re.compile(r"^    (?:%[\w#:]+ = )?([\w.]+)")


def main():
    args = sys.argv[1:]
    expects = []
    if "--expect" in args:
        at = args.index("--expect")
        expects, args = args[at + 1:], args[:at]
    counts = {}
    graphs = 0
    for path in args:
        graph = None
        for number, line in enumerate(open(path), 1):
            if m := GRAPH.match(line):
                graph = m.group(1)
                graphs += 1
                counts.setdefault((path, graph), {})
                continue
            m = TOP_OP.match(line)
            if not m or graph is None:
                continue
            name = m.group(1)
            dialect, _, kind = name.partition(".")
            if name == "attn.return":
                continue
            if dialect != "kernel" or kind not in KINDS:
                sys.exit(f"FAIL: {path}:{number}: '{name}' at the top level "
                         f"of @{graph} is not a kernel op")
            kinds = counts[(path, graph)]
            kinds[kind] = kinds.get(kind, 0) + 1
    if graphs == 0:
        sys.exit("FAIL: no attn.graph found")
    for expect in expects:
        graph, _, rest = expect.partition(":")
        kind, _, count = rest.partition("=")
        found = [(path, kinds) for (path, name), kinds in counts.items()
                 if name == graph]
        if not found:
            sys.exit(f"FAIL: no graph @{graph}")
        for path, kinds in found:
            got = kinds.get(kind, 0)
            if got != int(count):
                sys.exit(f"FAIL: {path}: @{graph} has {got} {kind} kernels, "
                         f"expected {count}")
    total = sum(sum(c.values()) for c in counts.values())
    print(f"{graphs} graphs at kernel level, {total} kernels")


if __name__ == "__main__":
    main()
