"""Shared driver of the interpreter tests: `attnc run` against numpy.

Each reference script (rnn_ref.py, lstm_ref.py, ...) writes its model's math
by hand in float64 numpy and calls `main(reference, ...)`, which

  1. reads the entry graph's signature (argument names, shapes and element
     types, result types) from the model file,
  2. draws every argument with np.random.default_rng(seed), scaled by the
     kind the script gives it (data, weight, bias, gain, ...), rounded to the
     argument's element type,
  3. saves the arguments as .npy (f32 '<f4', f16 '<f2', bf16 raw '|V2',
     i1 '|b1') under WORKDIR/in,
  4. runs `attnc run MODEL --input a0.npy --input a1.npy ... --out WORKDIR/out`
     (inputs in argument order),
  5. loads WORKDIR/out/out0.npy, out1.npy, ..., checks each one's shape and
     dtype against the graph's result types, and
  6. compares each with the float64 reference computed from the very same
     (rounded) input values, by the relative Frobenius error
         rel = ||out - ref|| / ||ref||,
     printing `out<i>: rel error <x>` and exiting 1 if any exceeds its
     tolerance.

Usage of a reference script:  python3 X_ref.py MODEL.ir WORKDIR [--seed N]
            [--attnc PATH] [--keep-dtype] [--precision f32|f64] [--tol X]
(--precision is passed on to `attnc run`; --tol replaces the default
tolerance. Per-result tolerances stay: they belong to results that pass
through an explicit attn.cast, which rounds in every precision mode.)

Tolerances. The default, 1e-5, is for models computed in f32: the f32 unit
roundoff is u = 2^-24 ~ 6e-8, and the test models are small (contractions of
K <= ~50 terms, recurrences of T <= ~10 steps, a few dozen ops deep), so the
accumulated error is a modest multiple of u, around 1e-7 to 1e-6 in
practice, comfortably below 1e-5. Any semantic error (a swapped gate, an
off-by-one step, a wrong transpose or broadcast, a missing mask) changes the
result by O(1), i.e. rel >~ 1e-2, so 1e-5 separates the two by orders of
magnitude on both sides. Models that store data in f16 or bf16 pass looser
tolerances (see the scripts that use them): f16 has u = 2^-11 ~ 4.9e-4 and
bf16 u = 2^-8 ~ 3.9e-3, and each op of such a model rounds its result once.
"""

import argparse
import math
import os
import re
import shutil
import subprocess
import sys

import numpy as np

DEFAULT_TOL = 1e-5


# ---------------------------------------------------------------------------
# Element types
# ---------------------------------------------------------------------------

def bf16_bits(x):
    """float array -> uint16 bf16 bit patterns, round to nearest even."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    nan = np.isnan(np.asarray(x, dtype=np.float32))
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    r[nan] = 0x7FC0
    return r


def bf16_value(bits):
    """uint16 bf16 bit patterns -> float32 values."""
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def round_to(x, dtype):
    """float64 values rounded to the model element type, returned as float64."""
    if dtype == "f32":
        return np.asarray(x, dtype=np.float32).astype(np.float64)
    if dtype == "f16":
        return np.asarray(x, dtype=np.float32).astype(np.float16).astype(np.float64)
    if dtype == "bf16":
        return bf16_value(bf16_bits(np.asarray(x, dtype=np.float32))).astype(np.float64)
    if dtype == "i1":
        return (np.asarray(x) != 0).astype(np.float64)
    raise ValueError("unknown element type " + dtype)


def to_storage(x, dtype):
    """float64 values (already representable) -> the array `attnc run` reads."""
    if dtype == "f32":
        return np.asarray(x, dtype="<f4")
    if dtype == "f16":
        return np.asarray(x, dtype="<f2")
    if dtype == "bf16":
        return bf16_bits(x).view("|V2")
    if dtype == "i1":
        return np.asarray(x != 0, dtype="|b1")
    raise ValueError("unknown element type " + dtype)


# The dtype str of every output: f32 unless --keep-dtype.
KEEP_DTYPE_STR = {"f32": "<f4", "f16": "<f2", "bf16": "|V2", "i1": "|b1"}


def from_storage(a):
    """An array loaded from an output .npy -> float64."""
    if a.dtype.kind == "V" and a.dtype.itemsize == 2:
        return bf16_value(a.view(np.uint16)).astype(np.float64)
    return a.astype(np.float64)


# ---------------------------------------------------------------------------
# Model signature
# ---------------------------------------------------------------------------

def parse_type(text):
    """'2x3xf32' (the inside of tensor<...>) -> ((2, 3), 'f32')."""
    parts = text.strip().split("x")
    return tuple(int(p) for p in parts[:-1]), parts[-1]


def read_signature(model, entry=None):
    """[(name, shape, dtype)] of the arguments and [(shape, dtype)] of the
    results of graph `entry` (default: the graph named like the file, else
    the only graph)."""
    with open(model) as f:
        text = re.sub(r"//[^\n]*", "", f.read())
    graphs = {}
    for m in re.finditer(r"attn\.graph\s+@([\w.$-]+)\s*\((.*?)\)\s*->\s*"
                         r"(\([^{]*?\)|tensor<[^>]*>)\s*(?:attributes\s*\{[^}]*\}\s*)?\{",
                         text, re.S):
        args = [(a, *parse_type(t)) for a, t in
                re.findall(r"%([\w$.-]+)\s*:\s*tensor<([^>]*)>", m.group(2))]
        results = [parse_type(t) for t in re.findall(r"tensor<([^>]*)>", m.group(3))]
        graphs[m.group(1)] = (args, results)
    if not graphs:
        sys.exit("harness: no attn.graph found in " + model)
    stem = os.path.splitext(os.path.basename(model))[0]
    name = entry or (stem if stem in graphs else None)
    if name is None:
        if len(graphs) != 1:
            sys.exit("harness: %s has several graphs; pass entry=" % model)
        name = next(iter(graphs))
    if name not in graphs:
        sys.exit("harness: no graph @%s in %s" % (name, model))
    return name, graphs[name][0], graphs[name][1]


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------

def draw(rng, kind, shape):
    """Random float64 values of one argument.

    kind: 'data'   uniform in [-1, 1]            (inputs, initial states)
          'weight' uniform in [-1, 1] / sqrt(fan_in), fan_in = shape[-2]
                   (weights are stored [in, out], possibly stacked)
          'bias'   uniform in [-0.5, 0.5]
          'gain'   uniform in [0.5, 1.5]         (norm scales)
          ('uniform', lo, hi), or a callable (rng, shape) -> array
    """
    if callable(kind):
        return np.asarray(kind(rng, shape), dtype=np.float64)
    if isinstance(kind, tuple) and kind[0] == "uniform":
        return rng.uniform(kind[1], kind[2], size=shape)
    if kind == "data":
        return rng.uniform(-1.0, 1.0, size=shape)
    if kind == "weight":
        return rng.uniform(-1.0, 1.0, size=shape) / math.sqrt(shape[-2])
    if kind == "bias":
        return rng.uniform(-0.5, 0.5, size=shape)
    if kind == "gain":
        return rng.uniform(0.5, 1.5, size=shape)
    raise ValueError("unknown input kind %r" % (kind,))


# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------

def find_attnc(explicit):
    path = explicit or os.environ.get("ATTNC") or shutil.which("attnc")
    if not path:
        sys.exit("harness: attnc not found on PATH (set ATTNC or --attnc)")
    return path


def rel_error(out, ref):
    diff = np.linalg.norm((out - ref).ravel())
    norm = np.linalg.norm(ref.ravel())
    return diff / norm if norm > 0 else diff


def run(model, workdir, reference, inputs=None, tol=DEFAULT_TOL, tols=None,
        seed=0, entry=None, keep_dtype=False, attnc=None, extra_args=()):
    """Runs one model against its reference; returns True when all pass.

    reference(*args) takes the float64 arguments in graph order and returns
    one float64 array per graph result (a tuple, or one array).
    inputs: {argument name: kind} (see draw); unnamed arguments are 'data'.
    tol: default relative tolerance; tols: {result index: tolerance}.
    """
    inputs = inputs or {}
    tols = tols or {}
    name, args, results = read_signature(model, entry)
    unknown = set(inputs) - {a for a, _, _ in args}
    if unknown:
        sys.exit("harness: inputs name no argument of @%s: %s"
                 % (name, ", ".join(sorted(unknown))))

    in_dir = os.path.join(workdir, "in")
    out_dir = os.path.join(workdir, "out")
    for d in (in_dir, out_dir):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)

    rng = np.random.default_rng(seed)
    values, files = [], []
    for i, (arg, shape, dtype) in enumerate(args):
        if dtype == "i1":
            v = (rng.uniform(size=shape) < 0.5).astype(np.float64)
        else:
            v = round_to(draw(rng, inputs.get(arg, "data"), shape), dtype)
        path = os.path.join(in_dir, "a%d_%s.npy" % (i, arg))
        np.save(path, to_storage(v, dtype))
        values.append(v)
        files.append(path)

    cmd = [find_attnc(attnc), "run", model]
    if entry:
        cmd += ["--entry", entry]
    for path in files:
        cmd += ["--input", path]
    cmd += ["--out", out_dir]
    if keep_dtype:
        cmd.append("--keep-dtype")
    cmd += list(extra_args)
    print("$ " + " ".join(cmd))
    sys.stdout.flush()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if proc.stdout:
        print(proc.stdout, end="")
    if proc.returncode != 0:
        print(proc.stderr, end="", file=sys.stderr)
        print("FAIL: attnc run exited with status %d" % proc.returncode)
        return False

    refs = reference(*values)
    if isinstance(refs, np.ndarray):
        refs = (refs,)
    refs = [np.asarray(r, dtype=np.float64) for r in refs]
    if len(refs) != len(results):
        sys.exit("harness: the reference returned %d arrays but @%s has %d "
                 "results" % (len(refs), name, len(results)))

    ok = True
    extra = os.path.join(out_dir, "out%d.npy" % len(results))
    if os.path.exists(extra):
        print("FAIL: attnc wrote %s but @%s has only %d results"
              % (os.path.basename(extra), name, len(results)))
        ok = False
    for i, ((shape, dtype), ref) in enumerate(zip(results, refs)):
        if ref.shape != shape:
            sys.exit("harness: reference result %d has shape %s but the "
                     "graph declares %s" % (i, ref.shape, shape))
        path = os.path.join(out_dir, "out%d.npy" % i)
        if not os.path.exists(path):
            print("FAIL out%d: %s was not written" % (i, path))
            ok = False
            continue
        raw = np.load(path)
        want_dtype = KEEP_DTYPE_STR[dtype] if keep_dtype else "<f4"
        if raw.dtype.str != want_dtype:
            print("FAIL out%d: dtype %s, expected %s" % (i, raw.dtype.str, want_dtype))
            ok = False
            continue
        if raw.shape != shape:
            print("FAIL out%d: shape %s, expected %s" % (i, raw.shape, shape))
            ok = False
            continue
        out = from_storage(raw)
        limit = tols.get(i, tol)
        err = rel_error(out, ref)
        good = bool(np.all(np.isfinite(out))) and err <= limit
        print("out%d: rel error %.3e (tol %.0e, shape %s, %s)%s"
              % (i, err, limit, "x".join(map(str, shape)) or "scalar", dtype,
                 "" if good else "  <-- FAIL"))
        ok = ok and good
    return ok


def main(reference, inputs=None, tol=DEFAULT_TOL, tols=None, entry=None,
         keep_dtype=False, extra_args=()):
    """Command-line entry point of a reference script."""
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("workdir")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--attnc")
    p.add_argument("--keep-dtype", action="store_true")
    p.add_argument("--precision", choices=["f32", "f64"])
    p.add_argument("--tol", type=float)
    a = p.parse_args()
    extra = list(extra_args)
    if a.precision:
        extra += ["--precision", a.precision]
    if a.tol is not None:
        tol = a.tol
    ok = run(a.model, a.workdir, reference, inputs=inputs, tol=tol,
             tols=tols, seed=a.seed, entry=entry,
             keep_dtype=keep_dtype or a.keep_dtype, attnc=a.attnc,
             extra_args=extra)
    sys.exit(0 if ok else 1)


# ---------------------------------------------------------------------------
# Small helpers the references share (plain float64 math)
# ---------------------------------------------------------------------------

def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softmax_rows(s):
    """Softmax of each row of a 2-D array (along the last axis)."""
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


_erf = np.vectorize(math.erf, otypes=[np.float64])


def gelu(x):
    """Exact GELU: x * (1 + erf(x / sqrt(2))) / 2."""
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))
