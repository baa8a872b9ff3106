"""The generated CUDA, run on the CPU, agrees with the interpreter.

Usage: emu_differential.py MODEL.ir... [--seeds N] [--arch sm_90]
                           [--device emu|cuda] [--f32-matmul 3xtf32|tf32|simt]
                           [--recurrence-exchange tagged|barrier]
                           [--scan-lookahead N]

For each model and seed: compiles it to a model.cubin with attnc, runs that
file with `attnc run --device=emu` (the runtime library compiling the
embedded CUDA source against the emulation layer), runs the .ir with the
interpreter in f64 as the reference, and compares every result as
||emu - ref|| / ||ref||. Tolerances, by the narrowest element type the
model computes in anywhere (an f32 result of an f16 matmul carries f16
rounding, which the f64 reference does not have):
  f32   1e-5  the kernels compute in f32 like the interpreter's f32 mode,
              in another summation order (GEMM K loop, block reductions,
              online softmax, chunked scans): measured errors are 1e-7 to
              1e-6, while a wrong index or a missed mask gives 1e-2 or more;
  f16   4e-3  storage rounding (unit roundoff 4.9e-4) at each op, as in
              the interpreter's own f16 checks, plus order effects;
  bf16  2e-2  the same with bf16's unit roundoff of 3.9e-3.
f32 GEMMs run on tensor cores as 3xTF32 by default, whose products err by
about 3 * 2^-22 (measured 1e-7 to 4e-7 against f64), inside the f32
tolerance. With --f32-matmul=tf32 they carry one TF32 rounding of each
operand, TF32 having f16's 10-bit significand, so f32 models take the
f16 tolerance.
Prints the worst error per model and one summary line.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

TOLERANCE = {"float32": 1e-5, "float16": 4e-3, "bfloat16": 2e-2}


def run(cmd):
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)}:\n{proc.stderr}")
    return proc.stdout


def outputs(directory):
    files = sorted(f for f in os.listdir(directory) if f.startswith("out"))
    return [np.load(os.path.join(directory, f)) for f in files]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="+")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--arch", default="sm_90")
    # cuda: the same comparison on a GPU (test/Target/cuda-device.test).
    parser.add_argument("--device", default="emu", choices=["emu", "cuda"])
    parser.add_argument("--f32-matmul", default="3xtf32",
                        choices=["3xtf32", "tf32", "simt"])
    parser.add_argument("--recurrence-exchange", default="tagged",
                        choices=["tagged", "barrier"])
    parser.add_argument("--scan-lookahead", type=int, default=0)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="attnc-emu-")
    overall = 0.0
    for model in args.models:
        name = os.path.basename(model)
        cubin = os.path.join(work, name + ".cubin")
        run(["attnc", model, "--arch", args.arch,
             f"--f32-matmul={args.f32_matmul}",
             f"--recurrence-exchange={args.recurrence_exchange}",
             f"--scan-lookahead={args.scan_lookahead}", "-o", cubin])
        text = open(model).read()
        kind = ("bfloat16" if "xbf16>" in text else
                 "float16" if "xf16>" in text or args.f32_matmul == "tf32"
                 else "float32")
        worst = 0.0
        for seed in range(args.seeds):
            emu = os.path.join(work, f"{name}.{seed}.emu")
            ref = os.path.join(work, f"{name}.{seed}.ref")
            run(["attnc", "run", cubin, f"--device={args.device}", "--seed", str(seed),
                 "--keep-dtype", "--out", emu])
            run(["attnc", "run", model, "--precision", "f64", "--seed",
                 str(seed), "--out", ref])
            got_all, want_all = outputs(emu), outputs(ref)
            if len(got_all) != len(want_all):
                sys.exit(f"FAIL: {name}: {len(got_all)} outputs, expected "
                         f"{len(want_all)}")
            for i, (got, want) in enumerate(zip(got_all, want_all)):
                if got.dtype.kind == "V":  # bf16 is stored as raw 2 bytes
                    got = (got.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
                got = got.astype(np.float64)
                want = want.astype(np.float64)
                if got.shape != want.shape:
                    sys.exit(f"FAIL: {name} output {i}: shape {got.shape} "
                             f"!= {want.shape}")
                norm = np.linalg.norm(want)
                error = np.linalg.norm(got - want) / (norm if norm else 1.0)
                if not np.isfinite(error) or error > TOLERANCE[kind]:
                    sys.exit(f"FAIL: {name} seed {seed} output {i} ({kind}): "
                             f"relative error {error:.3e} > {TOLERANCE[kind]}")
                worst = max(worst, error)
        print(f"{name}: worst relative error {worst:.3e}")
        overall = max(overall, worst)
    where = "under emulation" if args.device == "emu" else "on the GPU"
    print(f"{len(args.models)} models agree {where}, worst relative "
          f"error {overall:.3e}")


if __name__ == "__main__":
    main()
