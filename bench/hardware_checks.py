"""Odd-shape models on the GPU against f64 references.

The GPU machine has no LLVM, so lit's GPU tests (test/Target/cuda-device*.test)
cannot run there. This carries their substance in the benchmark's one
call: the test models with partial tiles, causal masks, grouped-query
heads and stage rings that wrap are compiled, given random inputs and
computed by the interpreter in f64 where attnc is built; the GPU run then
only loads, runs and compares.

Usage:
  hardware_checks.py prepare DIR MODEL.ir[@MODE]...   where attnc is built:
      DIR/NAME.cubin (sm_90a; MODEL.ir@tf32 is compiled with
      --f32-matmul=tf32 as NAME_tf32, MODEL.ir@barrier with
      --recurrence-exchange=barrier as NAME_barrier), DIR/NAME.in<i>.npy (uniform in
      [-1, 1], rounded to the input's type), DIR/NAME.ref/out<i>.npy (the
      interpreter in f64) and DIR/checks.json (names and tolerances)
  hardware_checks.py run DIR [--device cuda|emu]   runs every model and
      compares ||out - ref|| / ||ref|| with the tolerance of the narrowest
      type the model computes in: f32 1e-5, f16 4e-3, bf16 2e-2, as
      test/Target/emu_differential.py (which says why), and f16's for f32
      through one TF32 rounding (@tf32: TF32 has f16's significand)
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attnc_runtime as ar  # noqa: E402

TOLERANCE = {"f32": 1e-5, "tf32": 4e-3, "f16": 4e-3, "bf16": 2e-2}
DTYPE_CODE = {name: code for code, name in ar.DTYPES.items()}


def to_bf16_bits(values):
    """float32 -> bf16 bits, round to nearest even (NaN not expected)."""
    bits = values.astype(np.float32).view(np.uint32)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)


def from_bf16_bits(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def narrowest_type(text):
    return "bf16" if "xbf16>" in text else "f16" if "xf16>" in text else "f32"


def prepare(directory, models, attnc, runtime, arch="sm_90a"):
    os.makedirs(directory, exist_ok=True)
    rng = np.random.default_rng(7)
    entries = []
    for spec in models:
        path, _, mode = spec.partition("@")
        name = os.path.basename(path)[:-len(".ir")] + (f"_{mode}" if mode else "")
        cubin = os.path.join(directory, name + ".cubin")
        # A mode names an --f32-matmul or a --recurrence-exchange.
        flags = ([] if not mode else
                 [f"--recurrence-exchange={mode}"] if mode in ("tagged", "barrier")
                 else [f"--f32-matmul={mode}"])
        subprocess.run([attnc, path, "--arch", arch, "-o", cubin] + flags, check=True)
        files = []
        for i, info in enumerate(runtime.model(cubin).inputs):
            values = rng.uniform(-1, 1, info["shape"]).astype(np.float32)
            file = os.path.join(directory, f"{name}.in{i}.npy")
            if info["dtype"] == "bf16":
                np.save(file, to_bf16_bits(values).view(np.dtype("V2")))
            elif info["dtype"] == "f16":
                np.save(file, values.astype(np.float16))
            elif info["dtype"] == "f32":
                np.save(file, values)
            else:
                sys.exit(f"{path}: input {i} is {info['dtype']}; checks take "
                         "f32, f16 and bf16 inputs")
            files.append(file)
        subprocess.run([attnc, "run", path, "--precision", "f64", "--out",
                        os.path.join(directory, name + ".ref")] +
                       sum((["--input", f] for f in files), []),
                       check=True, capture_output=True)
        with open(path) as f:
            kind = narrowest_type(f.read())
        if mode == "tf32" and kind == "f32":
            kind = "tf32"  # f32 through one TF32 rounding
        entries.append({"model": name, "inputs": len(files), "type": kind,
                        "tolerance": TOLERANCE[kind]})
    with open(os.path.join(directory, "checks.json"), "w") as f:
        json.dump(entries, f, indent=2)
    return entries


def run(directory, runtime, device, only=None):
    """Runs every prepared model (or the one named `only`) on `device` and
    returns one row per model."""
    with open(os.path.join(directory, "checks.json")) as f:
        entries = [e for e in json.load(f) if only is None or e["model"] == only]
    if not entries:
        sys.exit(f"no prepared hardware check {only or ''} in {directory}")
    rows = []
    for entry in entries:
        name = entry["model"]
        model = runtime.model(os.path.join(directory, name + ".cubin"))
        session = model.session(device)
        inputs = []
        for i, info in enumerate(model.inputs):
            array = np.load(os.path.join(directory, f"{name}.in{i}.npy"))
            if info["dtype"] == "bf16":
                array = array.view(np.uint16)
            inputs.append(np.ascontiguousarray(array))
        # First a run on other inputs (each negated), then the checked one:
        # whatever a run leaves in the session's buffers (a recurrence's
        # tagged state, a scan's run-tagged maps, barrier counters) must
        # not reach the next run's results.
        for run in ("other", "checked"):
            for i, info in enumerate(model.inputs):
                array = inputs[i]
                if run == "other" and info["dtype"] == "bf16":
                    array = array ^ np.uint16(0x8000)
                elif run == "other" and np.issubdtype(array.dtype, np.floating):
                    array = -array
                session.bind_host(i, np.ascontiguousarray(array), DTYPE_CODE[info["dtype"]])
            session.run()
        worst = 0.0
        for i, info in enumerate(model.outputs):
            if info["dtype"] == "bf16":
                got = from_bf16_bits(session.read(i, np.empty(info["shape"], np.uint16)))
            elif info["dtype"] == "f16":
                got = session.read(i, np.empty(info["shape"], np.float16))
            else:
                got = session.read(i, np.empty(info["shape"], np.float32))
            want = np.load(os.path.join(directory, name + ".ref", f"out{i}.npy"))
            got, want = got.astype(np.float64), want.astype(np.float64)
            norm = np.linalg.norm(want)
            error = float(np.linalg.norm(got - want) / (norm if norm else 1.0))
            worst = max(worst, error if np.isfinite(error) else float("inf"))
        ok = worst <= entry["tolerance"]
        rows.append({"model": name, "max_rel_error": worst,
                     "tolerance": entry["tolerance"], "correct": ok})
        print(f"check {name:28s} {'agrees' if ok else 'DIFFERS'} (worst relative "
              f"error {worst:.2e}, tolerance {entry['tolerance']:.0e})", flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=["prepare", "run"])
    parser.add_argument("directory")
    parser.add_argument("models", nargs="*")
    parser.add_argument("--device", choices=["cuda", "emu"], default="cuda")
    parser.add_argument("--attnc", default=os.environ.get(
        "ATTNC", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                              "..", "build", "bin", "attnc")))
    args = parser.parse_args()
    runtime = ar.Runtime(ar.default_library())
    if args.action == "prepare":
        prepare(args.directory, args.models, args.attnc, runtime)
        return
    device = ar.DEVICE_CUDA if args.device == "cuda" else ar.DEVICE_EMU
    rows = run(args.directory, runtime, device)
    bad = [r["model"] for r in rows if not r["correct"]]
    print(f"{len(rows) - len(bad)} of {len(rows)} models agree"
          + (f"; differ: {', '.join(bad)}" if bad else ""))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
