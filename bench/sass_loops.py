"""Static benchmark: what the hot loops of attnc's kernels issue, read from
the SASS ptxas produced (no GPU needed).

Usage: sass_loops.py MODEL.cubin... [--kernel NAME] [--check FILE:KERNEL=MAX]...
                     [--check-overlap FILE:KERNEL=MIN]...
                     [--check-early-loads FILE:KERNEL=MIN]... [--cuobjdump PATH]
       sass_loops.py --which   prints the cuobjdump it would use

For each kernel of each model file it prints its innermost loops that do
arithmetic (a backward branch's span that holds no other such loop):
their instruction count, the tensor-core and FFMA instructions among
them, shared-memory loads, conversions' compares and selects, and the
instructions issued per tensor-core instruction. With 8 warps on an SM's
four schedulers, each issuing one instruction a clock, that count bounds
a loop's rate when the tensor cores would allow more (docs/performance.md
uses it for the persistent recurrence and the f32 GEMM).

--check FILE:KERNEL=MAX fails (exit 1) when the named kernel's innermost
loop with the most tensor-core instructions issues more than MAX
instructions per tensor-core instruction: a static guard on hot loops,
as the no-spill check is on registers (test/Bench/sass-loops.test).

For kernels that wait for all but one group of wgmma (WARPGROUP.DEPBAR.LE
gsb0, 0x1) and later for the last (0x0), it also prints what runs in
between, while that last group is in flight: the instructions and the
MUFU (exponentials) among them, the most over the kernel's such spans.
The wgmma attention's softmax belongs there, under the previous tile's
P V. --check-overlap FILE:KERNEL=MIN fails when fewer than MIN MUFU run
there: ptxas moves a wait it sees no reason to delay up to the one
before it (docs/codegen.md).

It also prints how many global loads (LDG, or LDGSTS: cp.async) a kernel
issues before its first MUFU. A GPU issues in order, so a load placed
next to its use stalls the warp for a memory latency; the scan copies its
whole chunk first, and its sigmoid is the first MUFU.
--check-early-loads FILE:KERNEL=MIN fails when fewer than MIN loads come
first.

cuobjdump and the nvdisasm it runs come with the CUDA toolkit, or from
PyPI as nvidia-cuda-cuobjdump and nvidia-cuda-nvdisasm (scripts/setup.sh
installs them where the toolkit lacks them); --cuobjdump, $CUOBJDUMP and
$NVDISASM name them explicitly.
"""
import argparse
import collections
import glob
import os
import re
import shutil
import subprocess
import sys

TENSOR = ("HMMA", "HGMMA", "IMMA")
LINE = re.compile(r"/\*([0-9a-f]{4,})\*/\s+(.*?)\s*;")
FUNCTION = re.compile(r"Function : (\S+)")
TARGET = re.compile(r"0x([0-9a-f]+)")


def find_tool(tool, explicit=None):
    """The toolkit's `tool`, or the one NVIDIA's PyPI wheel puts under
    nvidia/cu*/bin; None if neither is here."""
    candidates = [explicit, shutil.which(tool), f"/usr/local/cuda/bin/{tool}"]
    try:
        import nvidia  # noqa: F401 - the wheels' namespace package
        for root in nvidia.__path__:
            candidates += sorted(glob.glob(os.path.join(root, "cu*", "bin", tool)))
    except ImportError:
        pass
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


def find_cuobjdump(explicit):
    """cuobjdump, and the environment to run it in: it disassembles with
    nvdisasm, which it looks for on PATH or NVDISASM_PATH."""
    cuobjdump = find_tool("cuobjdump", explicit or os.environ.get("CUOBJDUMP"))
    nvdisasm = find_tool("nvdisasm", os.environ.get("NVDISASM"))
    if not cuobjdump or not nvdisasm:
        sys.exit("sass_loops.py: no cuobjdump and nvdisasm (install the CUDA "
                 "toolkit's, or `pip install nvidia-cuda-cuobjdump "
                 "nvidia-cuda-nvdisasm`, or pass --cuobjdump)")
    env = dict(os.environ, NVDISASM_PATH=os.path.dirname(nvdisasm))
    env["PATH"] = os.path.dirname(nvdisasm) + os.pathsep + env.get("PATH", "")
    return cuobjdump, env


def kernels(tool, path):
    """{kernel name: [(address, instruction text)]} of a model file."""
    cuobjdump, env = tool
    out = subprocess.run([cuobjdump, "-sass", path], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"sass_loops.py: {path}: {out.stderr.strip() or 'cuobjdump failed'}")
    result, current = {}, None
    for line in out.stdout.splitlines():
        m = FUNCTION.search(line)
        if m:
            current = result.setdefault(m.group(1), [])
            continue
        m = LINE.search(line)
        if m and current is not None:
            current.append((int(m.group(1), 16), m.group(2)))
    return result


def opcode(text):
    text = re.sub(r"^@!?U?P[T0-9]+\s+", "", text)  # the predicate guard
    return text.split()[0].split(".")[0]


def arithmetic(instructions, first, last):
    return any(opcode(t) in TENSOR + ("FFMA", "MUFU") for _, t in instructions[first:last + 1])


def innermost_loops(instructions):
    """(first, last) indices of each loop (the span from a backward branch's
    target to the branch) that does arithmetic and holds no other loop
    that does: the K loop, not the copy loop nested in it."""
    index = {address: i for i, (address, _) in enumerate(instructions)}
    loops = []
    for i, (address, text) in enumerate(instructions):
        if opcode(text) != "BRA":
            continue
        m = TARGET.search(text)
        if m and int(m.group(1), 16) <= address and int(m.group(1), 16) in index:
            if arithmetic(instructions, index[int(m.group(1), 16)], i):
                loops.append((index[int(m.group(1), 16)], i))
    return [(s, e) for s, e in loops
            if not any((s2, e2) != (s, e) and s <= s2 and e2 <= e for s2, e2 in loops)]


def summary(instructions, first, last):
    ops = collections.Counter(opcode(t) for _, t in instructions[first:last + 1])
    tensor = sum(ops[o] for o in TENSOR)
    return {"instructions": last - first + 1, "tensor": tensor, "ffma": ops["FFMA"],
            "shared_loads": ops["LDS"] + ops["LDSM"], "mufu": ops["MUFU"],
            "compare_select": ops["FSETP"] + ops["SEL"] + ops["FSEL"],
            "per_tensor": (last - first + 1) / tensor if tensor else None}


def in_flight_spans(instructions):
    """(instructions, MUFU) between each wait that leaves one wgmma group
    pending and the next wait, in address order."""
    spans, start = [], None
    for i, (_, text) in enumerate(instructions):
        if "WARPGROUP.DEPBAR.LE" not in text:
            continue
        if start is not None:
            ops = [opcode(t) for _, t in instructions[start + 1:i]]
            spans.append((len(ops), ops.count("MUFU")))
            start = None
        if re.search(r"gsb0,\s*0x1\b", text):
            start = i
    return spans


def loads_before_mufu(instructions):
    """Global loads and cp.async copies before the kernel's first MUFU
    (None: it has none)."""
    loads = 0
    for _, text in instructions:
        op = opcode(text)
        if op == "MUFU":
            return loads
        loads += op in ("LDG", "LDGSTS")
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*")
    parser.add_argument("--which", action="store_true",
                        help="print the cuobjdump found (exit 1 if none) and stop")
    parser.add_argument("--kernel", help="only this kernel (e.g. attnc_k1)")
    parser.add_argument("--check", action="append", default=[],
                        help="FILE:KERNEL=MAX instructions per tensor-core instruction")
    parser.add_argument("--check-overlap", action="append", default=[],
                        help="FILE:KERNEL=MIN MUFU while a wgmma group is in flight")
    parser.add_argument("--check-early-loads", action="append", default=[],
                        help="FILE:KERNEL=MIN global loads before the first MUFU")
    parser.add_argument("--cuobjdump")
    args = parser.parse_args()
    cuobjdump = find_cuobjdump(args.cuobjdump)
    if args.which:
        print(cuobjdump[0])
        return
    if not args.models:
        parser.error("no model files")
    hottest, overlap, early_loads = {}, {}, {}
    for path in args.models:
        name = os.path.basename(path)
        for kernel, instructions in kernels(cuobjdump, path).items():
            if not kernel.startswith("attnc_") or (args.kernel and kernel != args.kernel):
                continue
            loops = [summary(instructions, s, e) for s, e in innermost_loops(instructions)]
            print(f"{name} {kernel}: {len(instructions)} instructions, "
                  f"{len(loops)} innermost loops doing arithmetic")
            for l in sorted(loops, key=lambda l: -l["instructions"]):
                ratio = f", {l['per_tensor']:.1f} per tensor-core instruction" \
                    if l["per_tensor"] else ""
                print(f"  loop of {l['instructions']}: {l['tensor']} tensor-core, "
                      f"{l['ffma']} FFMA, {l['mufu']} MUFU, {l['shared_loads']} shared loads, "
                      f"{l['compare_select']} compares and selects{ratio}")
            early = loads_before_mufu(instructions)
            if early is not None:
                early_loads[f"{name}:{kernel}"] = early
                print(f"  global loads before the first MUFU: {early}")
            spans = in_flight_spans(instructions)
            if spans:
                most, mufu = max(spans, key=lambda span: (span[1], span[0]))
                overlap[f"{name}:{kernel}"] = mufu
                print(f"  while a wgmma group is in flight: {most} instructions, {mufu} MUFU")
            tensor_loops = [l for l in loops if l["tensor"]]
            if tensor_loops:
                hottest[f"{name}:{kernel}"] = max(tensor_loops, key=lambda l: l["tensor"])
    failed = False
    for check in args.check:
        key, _, limit = check.partition("=")
        try:
            limit = float(limit)
        except ValueError:
            sys.exit(f"sass_loops.py: --check {check}: expected FILE:KERNEL=MAX")
        if key not in hottest:
            print(f"CHECK FAILED: {key}: no tensor-core loop found")
            failed = True
            continue
        got = hottest[key]["per_tensor"]
        ok = got <= limit
        failed |= not ok
        print(f"check {key}: {got:.1f} instructions per tensor-core instruction "
              f"{'<=' if ok else 'EXCEEDS'} {limit:g}")
    failed |= check_at_least("check-overlap", args.check_overlap, overlap, "no such wait",
                             "MUFU while a wgmma group is in flight")
    failed |= check_at_least("check-early-loads", args.check_early_loads, early_loads,
                             "no MUFU", "global loads before the first MUFU")
    sys.exit(1 if failed else 0)


def check_at_least(option, checks, counts, missing, what):
    """Each FILE:KERNEL=MIN of `checks` against `counts`; True if any fails."""
    failed = False
    for check in checks:
        key, _, least = check.partition("=")
        try:
            least = int(least)
        except ValueError:
            sys.exit(f"sass_loops.py: --{option} {check}: expected FILE:KERNEL=MIN")
        got = counts.get(key)
        ok = got is not None and got >= least
        failed |= not ok
        print(f"{option} {key}: {missing if got is None else got} {what} "
              f"{'>=' if ok else 'BELOW'} {least}")
    return failed


if __name__ == "__main__":
    main()
