"""The GPU benchmark: attnc against PyTorch on the same GPU, in one process.

Usage:
  gpu_bench.py --models DIR [--json FILE]         on a GPU machine
      [--group-timeout S] [--check-timeout S] [--deadline S] [--checks DIR]
  gpu_bench.py --models DIR --group G --json F    one group, in this process
  gpu_bench.py --models DIR --dry-run [--json F]  anywhere: tiny models on
                                                  the emulation device
  gpu_bench.py --models DIR --checks C --rehearse anywhere with PyTorch:
                                                  the GPU run's own code,
                                                  PyTorch on the CPU, attnc on
                                                  emu (tiny models, few checks)
  gpu_bench.py --table FILE                       the table again, from the
                                                  raw numbers of a GPU run
DIR holds <name>.cubin and <name>.ir for every model of make_models.py
(bench/prepare.sh makes them). For each model: fresh random inputs, the
attnc result (the runtime library through ctypes, inputs bound as the
torch tensors' device memory) checked against the PyTorch reference, then
attnc and the PyTorch peers timed with CUDA events (warm-up, then the
median of many runs), and one table: shape, dtype, attnc time, best peer
and its time, ratio, TFLOP/s or GB/s, and percent of the ceiling measured
in the same run (bf16 matmul and device copy). Raw numbers go to --json.
The models run in groups (GROUPS), each in its own process with a time
limit, so that a kernel that hangs or faults on the GPU costs only its own
group's rows; the table names every group that did not finish.

The dry run checks the plumbing without a GPU or PyTorch: each tiny model
runs on the emu device and is compared with `attnc run --device=interp`.
The rehearsal runs the GPU run itself (every group, each in its own
process, the same references, peers and table) with PyTorch on the CPU
and attnc on the emu device, on the tiny models (bench/build/tiny): the
code a GPU session would run, checked where there is none. Each group
takes its shapes from the model files, so the same code serves both.
"""
import argparse
import json
import math
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attnc_runtime as ar  # noqa: E402
import hardware_checks  # noqa: E402

DTYPE_CODE = {name: code for code, name in ar.DTYPES.items()}


bf16_bits = hardware_checks.to_bf16_bits
from_bits = hardware_checks.from_bf16_bits


def write_json(path, value):
    """Writes whole or not at all (a process killed mid-write leaves the
    previous file), so a reader never sees half a file."""
    with open(path + ".tmp", "w") as f:
        json.dump(value, f, indent=2)
    os.replace(path + ".tmp", path)


def relative_error(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.linalg.norm(got - want) / max(np.linalg.norm(want), 1e-300))


#===------------------------------------------------------------------------===#
# Dry run: emu device against the interpreter
#===------------------------------------------------------------------------===#

# Model files compiled from one graph in another way (bench/prepare.sh):
# for sm_90 (mma.sync), the f32 GEMM and LSTMs with --f32-matmul=simt
# or tf32, the batch-1 LSTM with --recurrence-exchange=barrier, and the
# minGRU scan with --scan-lookahead=8.
VARIANTS = ("_sm90", "_simt", "_tf32", "_barrier", "_k8")


def graph_of(name):
    """The benchmark graph (its .ir) a model file was compiled from."""
    for suffix in VARIANTS:
        if name.endswith(suffix):
            return name[:-len(suffix)]
    return name


def profile_kernels(session, stream=None, runs=5):
    """Each kernel launch's time, timed alone (attnc_session_profile), the
    median of `runs` runs: where attnc's time goes."""
    profiles = [session.profile(stream) for _ in range(runs)]
    return [{"kernel": kernel, "kind": kind,
             "ms": statistics.median(p[i][2] for p in profiles)}
            for i, (kernel, kind, _) in enumerate(profiles[0])]


def kernel_summary(kernels):
    text = ", ".join(f"{k['kernel']} ({k['kind']}) {k['ms']:.3f} ms" for k in kernels)
    return text.replace("|", "/")  # a markdown cell


def dry_run(args, runtime):
    rows = []
    work = tempfile.mkdtemp(prefix="attnc-bench-")
    rng = np.random.default_rng(1)
    for cubin in sorted(f for f in os.listdir(args.models) if f.endswith(".cubin")):
        name = cubin[:-6]
        model = runtime.model(os.path.join(args.models, cubin))
        session = model.session(ar.DEVICE_EMU)
        files = []
        for i, info in enumerate(model.inputs):
            values = rng.uniform(-1, 1, info["shape"]).astype(np.float32)
            if info["dtype"] == "bf16":
                array = bf16_bits(values)
                np.save(os.path.join(work, f"{name}.in{i}.npy"),
                        array.view(np.dtype("V2")))
            else:
                array = values
                np.save(os.path.join(work, f"{name}.in{i}.npy"), array)
            files.append(os.path.join(work, f"{name}.in{i}.npy"))
            session.bind_host(i, np.ascontiguousarray(array), DTYPE_CODE[info["dtype"]])
        start = time.perf_counter()
        session.run()
        seconds = time.perf_counter() - start
        ref_dir = os.path.join(work, name + ".ref")
        graph = graph_of(name)
        command = ["attnc", "run", os.path.join(args.models, graph + ".ir"),
                   "--out", ref_dir] + sum((["--input", f] for f in files), [])
        subprocess.run(command, check=True, capture_output=True)
        worst = 0.0
        for i, info in enumerate(model.outputs):
            if info["dtype"] == "bf16":
                got = from_bits(session.read(i, np.empty(info["shape"], np.uint16)))
                tolerance = 2e-2
            else:
                got = session.read(i, np.empty(info["shape"], np.float32))
                # One TF32 rounding per operand: f16's significand, so the
                # f16 tolerance of test/Target/emu_differential.py.
                tolerance = 4e-3 if name.endswith("_tf32") else 1e-5
            want = np.load(os.path.join(ref_dir, f"out{i}.npy")).astype(np.float64)
            error = relative_error(got, want)
            if not error <= tolerance:
                sys.exit(f"FAIL: {name} output {i}: relative error {error:.3e} > {tolerance}")
            worst = max(worst, error)
        kernels = profile_kernels(session, runs=1)
        rows.append({"model": name, "emu_seconds": seconds, "max_rel_error": worst,
                     "kernels": kernels})
        print(f"{name:28s} emu {seconds * 1e3:9.1f} ms   agrees with the interpreter "
              f"(worst relative error {worst:.2e})")
        print(f"{'':28s} kernels: {kernel_summary(kernels)}")
    return {"mode": "dry-run", "rows": rows}


#===------------------------------------------------------------------------===#
# GPU run
#===------------------------------------------------------------------------===#

def gpu_group(args, runtime, group):
    """Runs one group of GROUPS in this process and returns its result:
    the ceilings for "ceilings", the hardware checks' rows for "checks",
    else the rows of its models."""
    rehearse = args.rehearse  # PyTorch on the CPU, attnc on the emu device
    attnc_device = ar.DEVICE_EMU if rehearse else ar.DEVICE_CUDA
    if group.startswith("check:"):
        return {"checks": hardware_checks.run(
            args.checks, runtime, attnc_device, only=group[len("check:"):])}
    import torch
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    device = torch.device("cpu" if rehearse else "cuda")
    generator = torch.Generator(device=device.type).manual_seed(1)

    def synchronize():
        if not rehearse:
            torch.cuda.synchronize()

    def timed(fn, min_runs=10, budget=1.0):
        if rehearse:  # the wall clock, twice: the code path, not the figure
            fn()
            times = []
            for _ in range(2):
                start = time.perf_counter()
                fn()
                times.append(time.perf_counter() - start)
            return statistics.median(times)
        for _ in range(3):
            fn()
        torch.cuda.synchronize()
        times, spent = [], 0.0
        while len(times) < min_runs or (spent < budget and len(times) < 200):
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / 1e3)
            spent += times[-1]
        return statistics.median(times)

    def rand(shape, dtype, scale=1.0):
        return (torch.rand(shape, generator=generator, device=device) * 2 - 1).mul_(scale).to(dtype)

    if group == "ceilings":  # measured now, on this GPU
        n = 256 if rehearse else 8192
        a = rand((n, n), torch.bfloat16)
        b = rand((n, n), torch.bfloat16)
        matmul_tflops = 2 * n ** 3 / timed(lambda: a @ b) / 1e12
        src = torch.empty(1 << (20 if rehearse else 28), dtype=torch.float32, device=device)
        dst = torch.empty_like(src)
        copy_tbs = 2 * src.numel() * 4 / timed(lambda: dst.copy_(src)) / 1e12
        print(f"ceilings: bf16 matmul {matmul_tflops:.0f} TFLOP/s, device copy {copy_tbs:.2f} TB/s")
        gpu = "CPU (rehearsal)" if rehearse else torch.cuda.get_device_name()
        return {"gpu": gpu, "torch": torch.__version__,
                "ceilings": {"bf16_matmul_tflops": matmul_tflops, "copy_tbs": copy_tbs}}
    matmul_tflops, copy_tbs = args.ceilings

    rows = []
    peer_cache = {}  # (peer, shape, dtype) -> seconds (record)

    # On an sm_90 GPU with fewer SMs than the H200's 132 (an H100 PCIe's
    # 114), a persistent recurrence compiled for 132 cannot have all its
    # blocks resident; bench/prepare.sh compiled the LSTMs for such GPUs
    # too (models/sms<N>/), and those files are used there.
    sms = None if rehearse else torch.cuda.get_device_properties(0).multi_processor_count

    def model_file(name):
        fewer = os.path.join(args.models, f"sms{sms}", name + ".cubin")
        return fewer if sms and os.path.exists(fewer) else os.path.join(args.models, name + ".cubin")

    def attnc_session(name, inputs):
        model = runtime.model(model_file(name))
        session = model.session(attnc_device)
        for i, t in enumerate(inputs):
            session.bind_device(i, t.data_ptr(), t.numel() * t.element_size())
        return model, session

    def read_outputs(model, session):
        outs = []
        for i, info in enumerate(model.outputs):
            if info["dtype"] == "bf16":
                outs.append(torch.from_numpy(from_bits(session.read(i, np.empty(info["shape"], np.uint16)))))
            else:
                outs.append(torch.from_numpy(session.read(i, np.empty(info["shape"], np.float32))))
        return outs

    def record(name, shape, dtype, inputs, reference, peers, work, unit,
               tolerance, extra=None):
        model, session = attnc_session(name, inputs)
        session.enqueue(ctypes_stream())
        synchronize()
        got = read_outputs(model, session)
        want = [w.float().cpu() for w in reference()]
        error = max(relative_error(g.numpy(), w.numpy()) for g, w in zip(got, want))
        ok = error <= tolerance
        attnc_s = timed(lambda: session.enqueue(ctypes_stream()))
        try:  # where the time goes; a failure here costs only the breakdown
            kernels = profile_kernels(session, ctypes_stream(), runs=1 if rehearse else 5)
        except Exception as e:  # noqa: BLE001
            kernels = [{"kernel": "profile failed", "kind": str(e).splitlines()[0] if str(e) else
                        type(e).__name__, "ms": float("nan")}]
        # A peer this PyTorch cannot run (an SDPA backend without a kernel
        # for these shapes) is recorded as unavailable, not fatal.
        # A peer already timed on the same shape and dtype (for another
        # model file of one graph, such as the scan's _k8) is not timed
        # again: the minGRU's sequential loop takes seconds a call.
        peer_times, unavailable = {}, {}
        for p, fn in peers.items():
            key = (p, shape, dtype)
            if key in peer_cache:
                peer_times[p] = peer_cache[key]
                continue
            try:
                peer_times[p] = peer_cache[key] = timed(fn)
            except Exception as e:  # noqa: BLE001 - any failure of the peer
                unavailable[p] = str(e).splitlines()[0] if str(e) else type(e).__name__
        if not peer_times:
            peer_times = {"none available": float("nan")}
        # The results of the last of the many runs above as well: what a
        # run leaves in the session's buffers (grid barrier counters, the
        # tags of a recurrence's state or of a scan's maps) must not change
        # the next run's results.
        try:  # a fault in the profiling above shows here: keep the row
            synchronize()
            last = read_outputs(model, session)
            last_error = max(relative_error(g.numpy(), w.numpy()) for g, w in zip(last, want))
        except Exception:  # noqa: BLE001
            last_error = float("inf")
        if not math.isfinite(last_error):
            last_error = float("inf")  # max() would pass over a NaN
        ok = ok and last_error <= tolerance
        best = min(peer_times, key=peer_times.get)
        rate = work / attnc_s / 1e12
        ceiling = matmul_tflops if unit == "TFLOP/s" else copy_tbs
        row = {"model": name, "shape": shape, "dtype": dtype, "attnc_s": attnc_s,
               "peer": best, "peer_s": peer_times[best], "peers": peer_times,
               "ratio": peer_times[best] / attnc_s, "rate": rate, "unit": unit,
               "percent_of_ceiling": 100 * rate / ceiling,
               "max_rel_error": error, "last_run_rel_error": last_error,
               "tolerance": tolerance, "correct": ok,
               "unavailable_peers": unavailable, "kernels": kernels,
               "model_file": os.path.relpath(model_file(name), args.models)}
        row.update(extra or {})
        rows.append(row)
        if args.json:  # kept current, so a run cut short still leaves its rows
            write_json(args.json, {"mode": "gpu", "partial": True, "rows": rows})
        print(f"{name:28s} {'ok ' if ok else 'BAD'} err {max(error, last_error):.1e}  attnc {attnc_s * 1e3:9.3f} ms  "
              f"{best} {peer_times[best] * 1e3:9.3f} ms  x{row['ratio']:.2f}  "
              f"{rate:8.2f} {unit} ({row['percent_of_ceiling']:.0f}%)", flush=True)
        if row["model_file"] != name + ".cubin":
            print(f"{'':28s} (compiled for this GPU's {sms} SMs: {row['model_file']})", flush=True)
        print(f"{'':28s} kernels: {kernel_summary(kernels)}", flush=True)

    def ctypes_stream():
        if rehearse:
            return None
        import ctypes
        return ctypes.c_void_p(torch.cuda.current_stream().cuda_stream)

    names = {f[:-6] for f in os.listdir(args.models) if f.endswith(".cubin")}

    def matching(pattern):
        """The prepared models whose whole name matches `pattern`, sorted."""
        return sorted(n for n in names if re.fullmatch(pattern, n))

    def shapes(name):
        """The model file's input shapes: each group takes its sizes from
        them, so the full-size and the tiny models run the same code."""
        model = runtime.model(os.path.join(args.models, name + ".cubin"))
        return [tuple(info["shape"]) for info in model.inputs]
    from torch.nn.attention import SDPBackend, sdpa_kernel
    import torch.nn.functional as F

    def gemms(suffix):
        for name in matching(rf"gemm_bf16(_\d+)?{suffix}"):
            (m, k), (_, n) = shapes(name)
            a, b = rand((m, k), torch.bfloat16), rand((k, n), torch.bfloat16)
            record(name, f"{m}x{n}x{k}", "bf16", [a, b], lambda: [a.float() @ b.float()],
                   {"torch.matmul": lambda: a @ b}, 2 * m * n * k, "TFLOP/s", 1e-2)

    def f32_gemms():
        """The f32 GEMM in each --f32-matmul mode (all mma.sync or SIMT,
        none wgmma): 3xTF32 and SIMT against cuBLAS with TF32 off (what
        PyTorch does by default), one TF32 product against cuBLAS with it
        on. The reference is f64; the percent column is of the bf16 rate."""
        for base in matching(r"gemm_f32(_\d+)?"):
            (m, k), (_, n) = shapes(base)
            a, b = rand((m, k), torch.float32), rand((k, n), torch.float32)

            def tf32_matmul():
                torch.backends.cuda.matmul.allow_tf32 = True
                try:
                    return a @ b
                finally:
                    torch.backends.cuda.matmul.allow_tf32 = False
            sgemm = {"torch.matmul (TF32 off)": lambda: a @ b}
            for mode, dtype, peers, tolerance in (
                    ("", "f32 (3xtf32)", sgemm, 1e-5), ("_simt", "f32 (simt)", sgemm, 1e-5),
                    ("_tf32", "f32 (tf32)", {"torch.matmul (TF32 on)": tf32_matmul}, 4e-3)):
                if base + mode in names:
                    record(base + mode, f"{m}x{n}x{k}", dtype, [a, b],
                           lambda: [a.double() @ b.double()], peers, 2 * m * n * k,
                           "TFLOP/s", tolerance)

    def attentions(suffix):
        for name in matching(rf"attention(_causal)?_bf16(_s\d+)?{suffix}"):
            causal = name.startswith("attention_causal")
            B, H, S, D = shapes(name)[0]
            q, k, v = (rand((B, H, S, D), torch.bfloat16) for _ in range(3))

            def sdpa(backend):
                def run():
                    with sdpa_kernel([backend]):
                        return F.scaled_dot_product_attention(q, k, v, is_causal=causal)
                return run
            flops = 4 * B * H * S * S * D // (2 if causal else 1)
            record(name, f"{B}x{H}x{S}x{D}", "bf16", [q, k, v],
                   lambda: [F.scaled_dot_product_attention(q.float(), k.float(), v.float(),
                                                           is_causal=causal)],
                   {"sdpa-flash": sdpa(SDPBackend.FLASH_ATTENTION),
                    "sdpa-cudnn": sdpa(SDPBackend.CUDNN_ATTENTION)},
                   flops, "TFLOP/s", 1e-2)

    def tagged_exchange(batch, dtype, suffix):
        """Whether an LSTM row's model may pass h between blocks through
        tagged copies (docs/codegen.md: up to batch 4, f32 or, since
        session 10, bf16, unless compiled with --recurrence-exchange=barrier;
        the tiny models' odd sizes keep the barrier). Those rows run in
        their own group, last, so that a hang there costs no other row."""
        return batch <= 4 and suffix != "_barrier"

    def lstms(tagged_rows):
        """The LSTMs against nn.LSTM, each checked against nn.LSTM in f32
        with TF32 off on the same values (all parameters rounded to the
        row's type first, the two biases folded into attnc's one):
        - f32 against cuDNN with TF32 off, both f32 throughout, to 1e-3:
          the default product (FMAs below batch 9, 3xTF32 from it) and,
          where that is 3xTF32, the FMA one (<name>_simt) to compare; at
          batch 1 also a grid barrier every step (<name>_barrier) against
          the default tagged exchange of the state;
        - f32 compiled with --f32-matmul=tf32 (<name>_tf32) against cuDNN
          with TF32 on, which is PyTorch's default for cuDNN
          (torch.backends.cudnn.allow_tf32; only its matmuls default to
          off). Tolerance 1e-2: a TF32 rounding (2^-11 relative) of every
          product's operands, each step, 512 steps;
        - bf16 against nn.LSTM in bf16 (on cuDNN where PyTorch's build takes
          bf16 RNNs there), to 3e-2: every bf16 rounding (2^-9 relative)
          of the state and gates, 512 steps of them.
        Where the peer rounds too, its own error is recorded next to
        attnc's (peer_max_rel_error)."""
        variants = ((torch.float32, "lstm", "", "f32", 1e-3),
                    (torch.float32, "lstm", "_simt", "f32 (simt)", 1e-3),
                    (torch.float32, "lstm", "_barrier", "f32 (barrier)", 1e-3),
                    (torch.float32, "lstm", "_tf32", "f32 (tf32)", 1e-2),
                    (torch.bfloat16, "lstm_bf16", "", "bf16", 3e-2))
        for dtype, prefix, suffix, label, tolerance in variants:
            tf32 = suffix == "_tf32"
            found = matching(rf"{prefix}_b\d+{suffix}")
            for name in sorted(found, key=lambda n: shapes(n)[1][0]):  # by batch
                (T, batch, I), (_, H) = shapes(name)[:2]
                if tagged_exchange(batch, dtype, suffix) != tagged_rows:
                    continue
                reference_lstm = torch.nn.LSTM(I, H).to(device)
                with torch.no_grad():  # the same values in both precisions
                    reference_lstm.bias_ih_l0 += reference_lstm.bias_hh_l0
                    reference_lstm.bias_hh_l0.zero_()  # attnc's model has one bias
                    for p in reference_lstm.parameters():
                        p.copy_(p.to(dtype).float())
                lstm = torch.nn.LSTM(I, H).to(device, dtype)
                lstm.load_state_dict(reference_lstm.state_dict())
                xs = rand((T, batch, I), dtype)
                h0 = rand((1, batch, H), dtype, 0.1)
                c0 = rand((1, batch, H), dtype, 0.1)
                w = lstm.weight_ih_l0.detach().t().contiguous()
                u = lstm.weight_hh_l0.detach().t().contiguous()
                bias = lstm.bias_ih_l0.detach().contiguous()

                def peer():
                    torch.backends.cudnn.allow_tf32 = tf32
                    try:
                        return lstm(xs, (h0, c0))
                    finally:
                        torch.backends.cudnn.allow_tf32 = False
                with torch.no_grad():
                    def ref():
                        hs, (hT, cT) = reference_lstm(xs.float(), (h0.float(), c0.float()))
                        return [hs, hT[0], cT[0]]
                    extra = {}
                    try:  # a peer that cannot run is recorded by record()
                        if dtype != torch.float32 or tf32:
                            want = ref()
                            hs, (hT, cT) = peer()
                            extra["peer_max_rel_error"] = max(
                                relative_error(g.float().cpu().numpy(), r.cpu().numpy())
                                for g, r in zip([hs, hT[0], cT[0]], want))
                    except Exception:  # noqa: BLE001 - any failure of the peer
                        pass
                    # cuDNN's in f32; PyTorch's build picks the path in bf16.
                    peer_name = ("nn.LSTM" if dtype != torch.float32 else
                                 "nn.LSTM(cuDNN, TF32 on)" if tf32 else
                                 "nn.LSTM(cuDNN, TF32 off)")
                    shape = f"T{T} B{batch} H{H}" if I == H else f"T{T} B{batch} I{I} H{H}"
                    record(name, shape, label,
                           [xs, h0[0].contiguous(), c0[0].contiguous(), w, u, bias], ref,
                           {peer_name: peer}, 8 * T * batch * H * (I + H), "TFLOP/s",
                           tolerance, extra)
                rows[-1]["per_step_us"] = rows[-1]["attnc_s"] / T * 1e6
                # The recurrence kernel alone (the hoisted projection is a
                # GEMM before it), from the per-kernel times.
                recurrence_ms = [k["ms"] for k in rows[-1]["kernels"] if k["kind"] == "recurrence"]
                if recurrence_ms:
                    rows[-1]["recurrence_per_step_us"] = sum(recurrence_ms) / T * 1e3
                rows[-1]["hbm_bound_per_step_us_bf16"] = 8 * H * H / (copy_tbs * 1e12) * 1e6

    def recur(a, b, h0, steps, keep_states):
        """h_t = a_t h_{t-1} + b_t, one PyTorch step at a time: the
        sequential loop the minGRU's scan replaces."""
        h, hs = h0, []
        for t in range(steps):
            h = a[t] * h + b[t]
            if keep_states:
                hs.append(h)
        return [torch.stack(hs), h] if keep_states else h

    def loop_peer(T):
        """The sequential loop's peer: its first `steps` steps, `repeats`
        times (all T steps of a PyTorch loop take too long to time)."""
        steps = min(T, 4096)
        return steps, T // steps, f"torch loop ({steps} of {T} steps, x{T // steps})"

    def mingrus():
        for name in matching(r"mingru(_t\d+)?"):
            (T, B, I), (_, H) = shapes(name)[:2]
            xs = rand((T, B, I), torch.float32)
            h0 = rand((B, H), torch.float32, 0.1)
            wz, wh = rand((I, H), torch.float32, 0.05), rand((I, H), torch.float32, 0.05)
            steps, repeats, label = loop_peer(T)

            def reference():
                z = torch.sigmoid(xs @ wz)
                return recur(1 - z, z * (xs @ wh), h0, T, True)

            def loop():
                z = torch.sigmoid(xs[:steps] @ wz)
                return recur(1 - z, z * (xs[:steps] @ wh), h0, steps, False)
            with torch.no_grad():
                # The whole model: its two f32 projections dominate, so it is
                # rated by their flops; mingru_scan rates the scan's
                # bandwidth.
                record(name, f"T{T} B{B} I{I} H{H}", "f32", [xs, h0, wz, wh], reference,
                       {label: lambda: [loop() for _ in range(repeats)]},
                       4 * T * B * I * H, "TFLOP/s", 1e-4)
        for name in matching(r"mingru_scan(_t\d+)?(_k8)?"):
            # The scan kernel alone (its a and b producers fused): reads the
            # gate pre-activation and the candidate, writes the state. _k8:
            # its look-back loads eight chunks a round, not sixteen.
            T, B, H = shapes(name)[0]
            zxs = rand((T, B, H), torch.float32)
            hts = rand((T, B, H), torch.float32)
            h0 = rand((B, H), torch.float32, 0.1)
            steps, repeats, label = loop_peer(T)

            def scan_reference():
                z = torch.sigmoid(zxs)
                return recur(1 - z, z * hts, h0, T, True)

            def scan_loop():
                z = torch.sigmoid(zxs[:steps])
                return recur(1 - z, z * hts[:steps], h0, steps, False)
            with torch.no_grad():
                record(name, f"T{T} B{B} H{H}", "f32", [zxs, hts, h0], scan_reference,
                       {label: lambda: [scan_loop() for _ in range(repeats)]},
                       3 * T * B * H * 4, "TB/s", 1e-4)

    {"gemm_sm90": lambda: (gemms("_sm90"), f32_gemms()),
     "attention_sm90": lambda: attentions("_sm90"),
     "lstm": lambda: lstms(False), "lstm_tagged": lambda: lstms(True),
     "mingru": mingrus,
     "gemm": lambda: gemms(""), "attention": lambda: attentions("")}[group]()
    return {"rows": rows}


#===------------------------------------------------------------------------===#
# One process per group
#===------------------------------------------------------------------------===#

# The GPU run's groups, in the order they run. The mma.sync (sm_90) GEMMs
# and attention come first; the wgmma (sm_90a) ones, first checked on
# hardware here, come last, after the recurrences, and last of all the
# LSTM rows whose blocks exchange h through tagged copies (session 9, also
# first checked on hardware here).
GROUPS = [("ceilings", "bf16 matmul and device copy rates"),
          ("checks", "odd-shape test models against f64 references, one "
                     "process each (check:NAME)"),
          ("gemm_sm90", "mma.sync GEMMs (bf16 for sm_90, f32 on TF32)"),
          ("attention_sm90", "mma.sync attention"),
          ("lstm", "persistent LSTM"), ("mingru", "minGRU and its scan"),
          ("gemm", "wgmma GEMMs"), ("attention", "wgmma attention"),
          ("lstm_tagged", "persistent LSTM at batch 1, h between blocks "
                          "through tagged copies")]

# The measured H200 ceilings, used (and said to be) only when the
# ceilings group itself fails.
ASSUMED_CEILINGS = {"bf16_matmul_tflops": 790.0, "copy_tbs": 4.3}


def run_isolated(groups, command, timeout, deadline, done):
    """Runs each group as its own process, command(group, json_path), for at
    most timeout(group) seconds and within deadline seconds in all, and
    then calls done(group, status, seconds, result), result being what the
    process wrote to json_path. A kernel that hangs or faults (which
    poisons its CUDA context) so costs only its own group: the rows a group
    wrote before it failed are kept, and every group gets a status. A
    group that runs out of time is killed with everything it started (its
    own session), and waited for a few seconds at most."""
    start = time.monotonic()
    work = tempfile.mkdtemp(prefix="attnc-bench-groups-")
    for group in groups:
        left = deadline - (time.monotonic() - start)
        if left < 1:
            done(group, "not run: out of time", 0.0, {})
            continue
        limit = min(timeout(group), left)
        path = os.path.join(work, group.replace(":", "-") + ".json")
        began = time.monotonic()
        process = subprocess.Popen(command(group, path), start_new_session=True)
        try:
            code = process.wait(timeout=limit)
            status = "ok" if code == 0 else f"failed (exit code {code})"
        except subprocess.TimeoutExpired:
            status = f"timed out after {limit:.0f} s"
            os.killpg(process.pid, signal.SIGKILL)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # stuck in the driver: move on
                status += ", and would not exit"
        result = {}
        if os.path.exists(path):
            with open(path) as f:
                result = json.load(f)
        sys.stdout.flush()
        done(group, status, time.monotonic() - began, result)


def gpu_run(args):
    """The whole GPU run: every group of GROUPS in its own process (this
    one never touches the GPU), then one table."""
    def command(group, path):
        command = [sys.executable, os.path.abspath(__file__), "--models", args.models,
                   "--checks", args.checks, "--group", group, "--json", path]
        if args.rehearse:
            command.append("--rehearse")
        if ceilings:
            command += ["--ceilings", f"{ceilings['bf16_matmul_tflops']},{ceilings['copy_tbs']}"]
        return command

    result = {"mode": "gpu", "rows": [], "groups": []}
    ceilings = None
    what = dict(GROUPS)
    # Each hardware check in its own process, with a short limit: a kernel
    # that hangs costs the others nothing and the run little time.
    groups = []
    for name, _ in GROUPS:
        if name != "checks":
            groups.append(name)
            continue
        listing = os.path.join(args.checks, "checks.json")
        if os.path.exists(listing):
            with open(listing) as f:
                for entry in json.load(f):
                    groups.append("check:" + entry["model"])
                    what[groups[-1]] = "hardware check"

    def done(group, status, seconds, out):
        nonlocal ceilings
        if group == "ceilings":
            ceilings = out.get("ceilings")
            result.update({k: out[k] for k in ("gpu", "torch") if k in out})
            if not ceilings:
                ceilings = ASSUMED_CEILINGS
                result["ceilings_assumed"] = True
            result["ceilings"] = ceilings
        result["rows"] += out.get("rows", [])
        result["checks"] = result.get("checks", []) + out.get("checks", [])
        result["groups"].append({"group": group, "what": what[group], "status": status,
                                 "seconds": seconds})
        print(f"== {group} ({what[group]}): {status}, {seconds:.0f} s", flush=True)
        if args.json:  # kept current, so a run cut short still leaves its rows
            write_json(args.json, dict(result, partial=True))

    run_isolated(groups, command,
                 lambda g: args.check_timeout if g.startswith("check:") else args.group_timeout,
                 args.deadline, done)
    print()
    print(format_table(result))
    return result


def format_table(result):
    """The benchmark's table (markdown, as docs/performance.md holds it):
    one row per model, then the recurrences' per-step latency next to the
    time to stream their bf16 weights from HBM once per step."""
    lines = []
    gpu = result.get("gpu", "GPU")
    c = result.get("ceilings")
    if c:
        how = "assumed (not measured)" if result.get("ceilings_assumed") else "measured"
        lines.append(f"{gpu}: {how} ceilings {c['bf16_matmul_tflops']:.0f} TFLOP/s "
                     f"(bf16 matmul), {c['copy_tbs']:.2f} TB/s (device copy)")
        lines.append("")
    lines.append("| model | shape | dtype | attnc ms | best peer | peer ms | "
                 "peer / attnc | attnc rate | % of ceiling | check |")
    lines.append("|---|---|---|---:|---|---:|---:|---:|---:|---|")
    for r in result["rows"]:
        worst = max(r["max_rel_error"], r.get("last_run_rel_error", 0.0),
                    key=lambda e: e if math.isfinite(e) else float("inf"))
        check = ("ok" if r["correct"] else
                 f"FAILED ({worst:.1e} > {r['tolerance']:.0e}"
                 f"{', after many runs' if worst > r['max_rel_error'] else ''})")
        if r.get("peer_max_rel_error") is not None:  # both against a wider reference
            check += f" (error {r['max_rel_error']:.1e}, peer's {r['peer_max_rel_error']:.1e})"
        lines.append(
            f"| {r['model']} | {r['shape']} | {r['dtype']} | {r['attnc_s'] * 1e3:.3f} | "
            f"{r['peer']} | {r['peer_s'] * 1e3:.3f} | {r['ratio']:.2f} | "
            f"{r['rate']:.2f} {r['unit']} | {r['percent_of_ceiling']:.0f}% | {check} |")
    steps = [r for r in result["rows"] if r.get("per_step_us") is not None]
    if steps:
        lines.append("")
        lines.append("| recurrence | attnc us per step | recurrence kernel us per step | "
                     "HBM-streaming bound us (bf16) |")
        lines.append("|---|---:|---:|---:|")
        for r in steps:
            alone = r.get("recurrence_per_step_us")
            lines.append(f"| {r['model']} {r['shape']} | {r['per_step_us']:.2f} | "
                         f"{'-' if alone is None else f'{alone:.2f}'} | "
                         f"{r['hbm_bound_per_step_us_bf16']:.2f} |")
    profiled = [r for r in result["rows"] if r.get("kernels")]
    if profiled:
        lines.append("")
        lines.append("| where attnc's time goes | kernels (each launch timed alone, median) |")
        lines.append("|---|---|")
        for r in profiled:
            lines.append(f"| {r['model']} {r.get('shape', '')} | {kernel_summary(r['kernels'])} |")
    checks = result.get("checks")
    if checks:
        bad = [f"{c['model']} ({c['max_rel_error']:.1e} > {c['tolerance']:.0e})"
               for c in checks if not c["correct"]]
        lines.append("")
        lines.append(f"Hardware checks (odd-shape test models against f64 references): "
                     f"{len(checks) - len(bad)} of {len(checks)} agree"
                     + (f"; FAILED: {', '.join(bad)}" if bad else ""))
    failed = [g for g in result.get("groups", []) if g["status"] != "ok"]
    if failed:
        lines.append("")
        for g in failed:
            lines.append(f"Group {g['group']} ({g['what']}): {g['status']} "
                         "(rows of its models above were measured before that)")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--models")
    parser.add_argument("--json")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--rehearse", action="store_true",
                        help="the GPU run with PyTorch on the CPU and attnc on "
                             "the emulation device (use the tiny models)")
    parser.add_argument("--table", metavar="FILE")
    parser.add_argument("--group", help="run only this group (of GROUPS, or "
                                         "check:NAME), in this process")
    parser.add_argument("--ceilings", metavar="TFLOPS,TBS",
                        type=lambda s: tuple(float(v) for v in s.split(",")),
                        default=tuple(ASSUMED_CEILINGS.values()))
    parser.add_argument("--checks", metavar="DIR",
                        help="hardware checks prepared by bench/prepare.sh "
                             "(default: DIR's sibling checks/)")
    parser.add_argument("--group-timeout", type=float, default=150.0,
                        help="seconds one group may take (default 150)")
    parser.add_argument("--check-timeout", type=float, default=30.0,
                        help="seconds one hardware check may take (default 30)")
    parser.add_argument("--deadline", type=float, default=420.0,
                        help="seconds all groups may take (default 420)")
    args = parser.parse_args()
    if args.table:
        with open(args.table) as f:
            print(format_table(json.load(f)))
        return
    if not args.models:
        parser.error("--models is required (or --table FILE)")
    if not args.checks:
        args.checks = os.path.join(os.path.dirname(os.path.abspath(args.models)), "checks")
    if args.group and not (args.group.startswith("check:") or
                           args.group in dict(GROUPS) and args.group != "checks"):
        parser.error(f"--group {args.group}: not a group of the GPU run")
    if args.dry_run and args.rehearse:
        parser.error("--dry-run and --rehearse are two different runs: pick one")
    if args.dry_run:
        result = dry_run(args, ar.Runtime(ar.default_library()))
    elif args.group:
        result = gpu_group(args, ar.Runtime(ar.default_library()), args.group)
    else:
        result = gpu_run(args)
    result["date"] = time.strftime("%Y-%m-%d %H:%M:%S")
    if args.json:
        write_json(args.json, result)
    if not args.group:
        print(json.dumps({"rows": len(result["rows"])}))


if __name__ == "__main__":
    main()
