#!/usr/bin/env python3
"""Checks `attnc analyze --json` on every model in a directory (examples/).

Usage: check_analyze_json.py [--attnc PATH] EXAMPLES_DIR

For each `*.ir` file (globbed, so a new example is covered the day it is
added) this runs `attnc analyze FILE --json` and checks:

- generic invariants every report must satisfy, whatever the model: the
  schema, ids, the scan/op cross references, the totals recomputed from
  the ops, the span as the longest `finish`, a scan's chain as length x
  body span, the parallelism, min_bytes as the graph's arguments plus
  results (from the types in the file) and the time bound recomputed from
  the target's ceilings;
- the key fields of the model's family (the graph name without `_small`):
  carried values, their linearity and the loop through each (the op
  yielding its next value, the ops reading it), what is hoistable and what
  is state-dependent, the classes of the query, key and hidden dimensions,
  and flops and matmul_flops against hand-written formulas in the model's
  shapes, which are read from the argument types in the file.

A model whose family has no checks here fails: add its formulas below.
Prints one line per model with the key numbers (test/Analysis/
analyze-json.test pins them with FileCheck) and exits 1 on any failure.
"""

import argparse
import glob
import json
import math
import os
import re
import subprocess
import sys

SCHEMA = "attnc.analyze/1"
DTYPE_BYTES = {"f32": 4, "f16": 2, "bf16": 2, "i1": 1}
STRENGTH = {"parallel": 0, "reduction": 1, "carried": 2}


class CheckError(Exception):
    pass


def expect(cond, what):
    if not cond:
        raise CheckError(what)


def expect_eq(got, want, what):
    if got != want:
        raise CheckError(f"{what}: got {got!r}, expected {want!r}")


def expect_close(got, want, what):
    if got is None or not math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12):
        raise CheckError(f"{what}: got {got!r}, expected {want!r}")


# --- the model file ---------------------------------------------------------

def parse_tensor(text):
    """'7x3x5xf32' -> ([7, 3, 5], 'f32')."""
    parts = text.strip().split("x")
    return [int(p) for p in parts[:-1]], parts[-1]


def parse_graph(path):
    """The first graph of the file: name, arguments {name: (shape, dtype)}
    in order, result types, and the types of every named op result."""
    with open(path) as f:
        text = "\n".join(line.split("//", 1)[0] for line in f)
    m = re.search(r"attn\.graph\s+@(\w+)\s*\((.*?)\)\s*->\s*(\(.*?\)|tensor<[^>]*>)",
                  text, re.S)
    if not m:
        raise CheckError(f"{path}: no attn.graph signature found")
    name, args_text, results_text = m.groups()
    args = {}
    for arg, ty in re.findall(r"%(\w+)\s*:\s*tensor<([^>]*)>", args_text):
        args[arg] = parse_tensor(ty)
    results = [parse_tensor(t) for t in re.findall(r"tensor<([^>]*)>", results_text)]
    # Single-result ops `%v = attn.op ... -> tensor<...>` (or a unary op's
    # `: tensor<...>`): the last type on the line is the result's.
    values = {}
    for line in text.splitlines():
        vm = re.match(r"\s*%(\w+)\s*=\s*attn\.\w+.*tensor<([^>]*)>\s*$", line)
        if vm:
            values[vm.group(1)] = parse_tensor(vm.group(2))
    return name, args, results, values


def elements(shape):
    return math.prod(shape)


# --- generic checks ---------------------------------------------------------

def within(ops, scans, op, k):
    """Whether `op` is in scan k's body, at any depth."""
    inner = op["scan"]
    while inner is not None and inner != k:
        inner = scans[inner]["parent"]
    return inner == k


def check_generic(r, path, graph_name, args, results):
    expect_eq(r["schema"], SCHEMA, "schema")
    expect_eq(r["graph"], graph_name, "graph")
    expect_eq(r["file"], path, "file")
    expect_eq(r["target"]["name"], "sm_90", "target.name (the default)")
    expect("H200" in r["target"]["gpu"], "target.gpu names the H200")

    ops, scans, summary = r["ops"], r["scans"], r["summary"]
    for i, op in enumerate(ops):
        expect_eq(op["id"], i, f"ops[{i}].id")
        expect(op["op"].startswith("attn.") and op["op"] != "attn.yield",
               f"ops[{i}] is an attn op and not a terminator")
        for loop in op["loops"]:
            expect(STRENGTH[loop["group_class"]] >= STRENGTH[loop["kind"]],
                   f"ops[{i}] loop {loop['name']}: group_class {loop['group_class']}"
                   f" is the strongest kind on the dimension, so not weaker than"
                   f" the op's own {loop['kind']}")
        for operand in op["operands"]:
            expect(0 <= operand < i, f"ops[{i}] operand {operand} comes before it")
        if op["scan"] is None:
            expect(not op["state_dependent"] and not op["hoistable"],
                   f"ops[{i}] at top level is neither state-dependent nor hoistable")
        else:
            expect(0 <= op["scan"] < len(scans), f"ops[{i}].scan is a scan index")
            expect(not (op["state_dependent"] and op["hoistable"]),
                   f"ops[{i}] is not both state-dependent and hoistable")

    # Every scan op has its entry, and the cross references agree.
    scan_ops = [op for op in ops if op["op"] == "attn.scan"]
    expect_eq(len(scans), len(scan_ops), "one scans[] entry per attn.scan")
    for k, scan in enumerate(scans):
        expect_eq(scan["index"], k, f"scans[{k}].index")
        op = ops[scan["op_id"]]
        expect_eq(op["op"], "attn.scan", f"scans[{k}].op_id names a scan")
        expect_eq(op["loops"][0]["extent"], scan["length"], f"scans[{k}] length")
        expect_eq(op["loops"][0]["kind"], "carried", f"scans[{k}] walk is carried")
        expect_eq(op["scan"], scan["parent"], f"scans[{k}].parent")
        body = [o for o in ops if o["scan"] == k]
        expect_eq(scan["body_flops"], sum(o["flops"] for o in body),
                  f"scans[{k}].body_flops = sum of its body's flops")
        expect_eq(op["flops"], scan["length"] * scan["body_flops"],
                  f"scans[{k}]: the scan's flops = length x body_flops")
        expect_eq(scan["hoistable"], [o["id"] for o in body if o["hoistable"]],
                  f"scans[{k}].hoistable lists the body's hoistable ops")
        expect_eq(scan["hoistable_flops"],
                  sum(ops[i]["flops"] for i in scan["hoistable"]),
                  f"scans[{k}].hoistable_flops")
        share = scan["hoistable_flops"] / scan["body_flops"] if scan["body_flops"] else 0
        expect_close(scan["hoistable_share"], share, f"scans[{k}].hoistable_share")
        expect_eq(scan["body_span"], max([o["finish"] for o in body], default=0),
                  f"scans[{k}].body_span = the longest finish in its body")
        expect_eq(scan["chain_length"], scan["length"] * scan["body_span"],
                  f"scans[{k}].chain_length = length x body_span")
        expect_eq(op["span"], scan["chain_length"], f"scans[{k}]: the scan op's span")
        for c in scan["carried"]:
            expect(c["linearity"] in ("elementwise-linear", "linear-not-elementwise",
                                      "nonlinear"), f"scans[{k}] {c['name']} linearity")
            expect(c["reason"], f"scans[{k}] {c['name']} has a reason")
            # The loop through the state: the next value comes from an op
            # directly in the body; the readers are body ops (at any depth),
            # listed once each in ascending order, and those directly in the
            # body depend on the state (deeper ones may count as invariant
            # for their own inner scan).
            producer = c["update_producer"]
            expect(producer is None or ops[producer]["scan"] == k,
                   f"scans[{k}] {c['name']}.update_producer is an op of the body")
            expect_eq(c["readers"], sorted(set(c["readers"])),
                      f"scans[{k}] {c['name']}.readers ascending, each once")
            for i in c["readers"]:
                expect(within(ops, scans, ops[i], k),
                       f"scans[{k}] {c['name']} reader {i} is in the body")
                expect(ops[i]["scan"] != k or ops[i]["state_dependent"],
                       f"scans[{k}] {c['name']} reader {i} depends on the state")

    # Totals from the ops. A body op runs once per step of every enclosing scan.
    def multiplicity(op):
        m, k = 1, op["scan"]
        while k is not None:
            m *= scans[k]["length"]
            k = scans[k]["parent"]
        return m

    top = [o for o in ops if o["scan"] is None]
    expect_eq(summary["flops"], sum(o["flops"] for o in top),
              "summary.flops = sum of the top-level ops' flops")
    expect_eq(summary["flops"],
              sum(o["flops"] * multiplicity(o) for o in ops if o["op"] != "attn.scan"),
              "summary.flops = every op's flops times its steps")
    expect_eq(summary["matmul_flops"],
              sum(o["flops"] * multiplicity(o) for o in ops if o["op"] == "attn.matmul"),
              "summary.matmul_flops = the matmuls' flops times their steps")
    expect_eq(summary["unfused_bytes"], sum(o["bytes"] for o in top),
              "summary.unfused_bytes = sum of the top-level ops' bytes")
    min_bytes = sum(elements(s) * DTYPE_BYTES[t] for s, t in list(args.values()) + results)
    expect_eq(summary["min_bytes"], min_bytes,
              "summary.min_bytes = the graph's arguments and results, from the file's types")
    expect_eq(summary["span"], max(o["finish"] for o in top),
              "summary.span = the longest finish at top level")
    expect(any(o["critical"] and o["finish"] == summary["span"] for o in top),
           "an op on the critical path ends at the span")
    expected_par = summary["flops"] / summary["span"] if summary["span"] else 0
    expect_close(summary["parallelism"], expected_par, "summary.parallelism = flops / span")
    top_scans = [s for s in scans if s["parent"] is None]
    if not scans:
        expect_eq(summary["sync_steps"], 0, "summary.sync_steps without a scan")
    elif len(top_scans) == 1 and len(scans) == 1:
        expect_eq(summary["sync_steps"], top_scans[0]["length"],
                  "summary.sync_steps = the one scan's length")

    t, b = r["target"], summary["bound"]
    compute = (summary["matmul_flops"] / (t["matmul_tflops"] * 1e6) +
               (summary["flops"] - summary["matmul_flops"]) / (t["vector_tflops"] * 1e6))
    memory = summary["min_bytes"] / (t["bandwidth_tbs"] * 1e6)
    sync = summary["sync_steps"] * t["sync_us"]
    expect_close(b["compute_us"], compute, "bound.compute_us")
    expect_close(b["memory_us"], memory, "bound.memory_us")
    expect_close(b["sync_us"], sync, "bound.sync_us")
    expect_close(b["total_us"], max(compute, memory) + sync, "bound.total_us")


# --- helpers for the family checks ------------------------------------------

def op_by_result(r, name):
    """The op whose first result is named `name` (as in the source)."""
    found = [o for o in r["ops"] if o["results"].split(", ")[0] == name]
    expect_eq(len(found), 1, f"ops named {name}")
    return found[0]


def classes(op):
    """[(extent, kind, group_class), ...] of an op's loops."""
    return [(l["extent"], l["kind"], l["group_class"]) for l in op["loops"]]


def matmul_loops(op):
    """A matmul's loops are (batch..., m, n, k): the batch loops, m, n, k."""
    expect_eq(op["op"], "attn.matmul", "matmul_loops of a matmul")
    loops = op["loops"]
    return loops[:-3], loops[-3], loops[-2], loops[-1]


def carried_summary(scan):
    return ", ".join(f"{c['name']} {c['linearity']}" for c in scan["carried"])


def check_scan_model(r, args, *, carried, linearity, reason_op, hoisted, state,
                     hidden_class, matmul_flops, flops, body_span, T, B, H, loops):
    """The key fields of a single-scan recurrent model. `loops` maps each
    carried value to the op yielding its next value and the ops reading it
    (by result name)."""
    expect_eq(len(r["scans"]), 1, "one scan")
    scan = r["scans"][0]
    expect_eq(scan["length"], T, "scan length = T (the sequence's dim 0)")
    expect_eq(scan["walked_dim"], 0, "walks dim 0 (time-major)")
    expect_eq(scan["reverse"], False, "walks forward")
    expect_eq([c["name"] for c in scan["carried"]], carried, "carried values")
    for c in scan["carried"]:
        expect_eq(c["type"], f"tensor<{B}x{H}x{args['h0'][1]}>", f"{c['name']} type")
        expect_eq(c["linearity"], linearity, f"{c['name']} linearity")
        if reason_op:
            expect(reason_op in c["reason"], f"{c['name']} reason names {reason_op}:"
                   f" {c['reason']!r}")
        producer, readers = loops[c["name"]]
        expect_eq(c["update_producer"], op_by_result(r, producer)["id"],
                  f"{c['name']}.update_producer is {producer}")
        expect_eq(c["readers"], sorted(op_by_result(r, n)["id"] for n in readers),
                  f"{c['name']}.readers are {' '.join(readers)}")
    for name in hoisted:
        op = op_by_result(r, name)
        expect(op["hoistable"] and not op["state_dependent"],
               f"{name} ({op['op']}) is step-invariant and hoistable")
        expect(op["id"] in scan["hoistable"], f"{name} is in the scan's hoistable list")
    for name in state:
        op = op_by_result(r, name)
        expect(op["state_dependent"] and not op["hoistable"],
               f"{name} ({op['op']}) is state-dependent")
    # The op computing the new state: its loops are (batch, hidden).
    body = [o for o in r["ops"] if o["scan"] == 0]
    new_state = [o for o in body if o["results"].split(", ")[0] in ("%hn", "%hnew")]
    expect_eq(len(new_state), 1, "one op computes the new hidden state")
    expect_eq(classes(new_state[0]), [(B, "parallel", "parallel"),
                                      (H, "parallel", hidden_class)],
              "new state's loops: batch parallel, hidden " + hidden_class)
    scan_op = r["ops"][scan["op_id"]]
    expect_eq(classes(scan_op), [(T, "carried", "carried")], "the scan's walk")
    expect_eq(r["summary"]["matmul_flops"], matmul_flops, "summary.matmul_flops (formula)")
    expect_eq(r["summary"]["flops"], flops, "summary.flops (formula)")
    expect_eq(scan["body_span"], body_span, "body span (hand-counted critical path)")
    expect_eq(r["summary"]["span"], T * body_span, "summary.span = T x body span")
    expect_eq(r["summary"]["sync_steps"], T, "summary.sync_steps = T")
    return (f"T={T} B={B} I={args['xs'][0][2]} H={H}; carried {carried_summary(scan)};"
            f" hoisted {' '.join(hoisted)}; state {' '.join(state) or '-'};"
            f" hidden dim {hidden_class}")


def check_attention(r, s_op, pv_op, softmax_op, *, query_class):
    """Scores matmul S = Q K^T (loops batch..., query, key, head dim), then
    O = P V (loops batch..., query, head dim, key): batch and heads
    parallel, the query parallel in the ops (and `query_class` across the
    graph), the key and the head dim reductions, the key the same dimension
    in both matmuls and the softmax."""
    batch, query, key, hd = matmul_loops(s_op)
    for l in batch:
        expect_eq((l["kind"], l["group_class"]), ("parallel", "parallel"),
                  f"{s_op['results']} batch/head loop {l['name']}")
    expect_eq(query["kind"], "parallel", "scores: the query loop's own kind")
    expect_eq(query["group_class"], query_class, "scores: the query dimension's class")
    expect_eq((key["kind"], key["group_class"]), ("parallel", "reduction"),
              "scores: the key loop is parallel in QK^T and a reduction across the"
              " graph (softmax and PV contract it)")
    expect_eq((hd["kind"], hd["group_class"]), ("reduction", "reduction"),
              "scores: the head dim is contracted")
    pv_batch, pv_query, pv_hd, pv_key = matmul_loops(pv_op)
    expect_eq((pv_key["kind"], pv_key["group_class"]), ("reduction", "reduction"),
              "PV: the key loop is the contraction")
    expect_eq(pv_key["group"], key["group"], "PV's contraction is the scores' key dimension")
    expect_eq(pv_query["group"], query["group"], "PV's query loop is the scores' query dimension")
    expect_eq(pv_query["kind"], "parallel", "PV: the query loop's own kind")
    red = [l for l in softmax_op["loops"] if l["kind"] == "reduction"]
    expect_eq(len(red), 1, "softmax has one reduction loop")
    expect_eq(red[0]["group"], key["group"], "softmax reduces over the key dimension")
    return f"query {query['kind']}/{query['group_class']}, key {key['kind']}/{key['group_class']}"


# --- the families -------------------------------------------------------------

def family_lstm(r, args, results, values):
    T, B, I = args["xs"][0]
    H = args["h0"][0][1]
    mm = 8 * T * B * H * (I + H)              # x W and h U: [B, I|H] x [I|H, 4H]
    ew = 17 * T * B * H                       # 2 adds of [B,4H], 4 gates, 5 cell ops
    line = check_scan_model(
        r, args, carried=["%h", "%c"], linearity="nonlinear", reason_op="attn.sigmoid",
        hoisted=["%xw"], state=["%hu"], hidden_class="reduction",
        matmul_flops=mm, flops=mm + ew,
        # matmul, add, add, split, sigmoid, mul, add, tanh, mul
        body_span=9, T=T, B=B, H=H,
        loops={"%h": ("%hn", ["%hu"]), "%c": ("%cn", ["%fc"])})
    return line + f"; matmul_flops {mm} = 8*T*B*H*(I+H)"


def family_gru(r, args, results, values):
    T, B, I = args["xs"][0]
    H = args["h0"][0][1]
    mm = 6 * T * B * H * (I + H)              # [B, I|H] x [I|H, 3H]
    ew = 17 * T * B * H                       # 2 bias adds of [B,3H], 11 gate ops
    line = check_scan_model(
        r, args, carried=["%h"], linearity="nonlinear", reason_op="attn.sigmoid",
        hoisted=["%xw", "%xg"], state=["%hw"], hidden_class="reduction",
        matmul_flops=mm, flops=mm + ew,
        # matmul, add, split, add, sigmoid, mul, add, tanh, mul, add
        body_span=10, T=T, B=B, H=H, loops={"%h": ("%hnew", ["%hw", "%c"])})
    return line + f"; matmul_flops {mm} = 6*T*B*H*(I+H)"


def family_rnn(r, args, results, values):
    T, B, I = args["xs"][0]
    H = args["h0"][0][1]
    mm = 2 * T * B * H * (I + H)              # [B, I|H] x [I|H, H]
    ew = 3 * T * B * H                        # add, bias add, tanh
    line = check_scan_model(
        r, args, carried=["%h"], linearity="nonlinear", reason_op="attn.tanh",
        hoisted=["%xw"], state=["%hw"], hidden_class="reduction",
        matmul_flops=mm, flops=mm + ew,
        body_span=4, T=T, B=B, H=H,           # matmul, add, add, tanh
        loops={"%h": ("%hn", ["%hw"])})
    return line + f"; matmul_flops {mm} = 2*T*B*H*(I+H)"


def family_mingru(r, args, results, values):
    T, B, I = args["xs"][0]
    H = args["h0"][0][1]
    mm = 4 * T * B * H * I                    # x Wz and x Wh, both [B, I] x [I, H]
    ew = 5 * T * B * H                        # sigmoid, 1 - z, two muls, add
    line = check_scan_model(
        r, args, carried=["%h"], linearity="elementwise-linear", reason_op=None,
        hoisted=["%zx", "%z", "%ht", "%omz", "%zh"], state=["%ah", "%hn"],
        hidden_class="parallel", matmul_flops=mm, flops=mm + ew,
        body_span=5, T=T, B=B, H=H,           # matmul, sigmoid, sub, mul, add
        loops={"%h": ("%hn", ["%ah"])})
    # No matmul touches the state: every matmul of the body is hoistable.
    for op in r["ops"]:
        if op["op"] == "attn.matmul":
            expect(op["hoistable"], f"minGRU matmul {op['results']} is hoistable")
    return line + f"; matmul_flops {mm} = 4*T*B*H*I"


def family_mha(r, args, results, values):
    b, h, sq, d = args["q"][0]
    sk = args["k"][0][2]
    expect_eq(r["scans"], [], "no scan")
    mm = 4 * b * h * sq * sk * d              # Q K^T and P V
    ew = 6 * b * h * sq * sk                  # scale 1, softmax 5 per score
    expect_eq(r["summary"]["matmul_flops"], mm, "summary.matmul_flops (formula)")
    expect_eq(r["summary"]["flops"], mm + ew, "summary.flops (formula)")
    expect_eq(r["summary"]["span"], 4, "span: matmul, scale, softmax, matmul")
    expect_eq(r["summary"]["sync_steps"], 0, "no sequential steps")
    dims = check_attention(r, op_by_result(r, "%s"), op_by_result(r, "%o"),
                           op_by_result(r, "%p"), query_class="parallel")
    return (f"b={b} h={h} sq={sq} sk={sk} d={d}; {dims};"
            f" matmul_flops {mm} = 4*b*h*sq*sk*d")


def family_mha_causal_gqa(r, args, results, values):
    b, hq, s, d = args["q"][0]
    hkv = args["k"][0][1]
    expect_eq(r["scans"], [], "no scan")
    # The IR computes every score and masks half of them afterwards, so the
    # analysis counts the full square: not halved for causality.
    mm = 4 * b * hq * s * s * d
    ew = 7 * b * hq * s * s                   # scale 1, select 1, softmax 5
    expect_eq(r["summary"]["matmul_flops"], mm, "summary.matmul_flops (formula)")
    expect_eq(r["summary"]["flops"], mm + ew, "summary.flops (formula)")
    # reshape, matmul, scale, select, softmax, matmul, reshape
    expect_eq(r["summary"]["span"], 7, "span")
    dims = check_attention(r, op_by_result(r, "%s"), op_by_result(r, "%og"),
                           op_by_result(r, "%p"), query_class="parallel")
    # The key/value heads broadcast over the query heads of their group:
    # the groups of query heads (extent hq/hkv) are a parallel loop.
    batch = matmul_loops(op_by_result(r, "%s"))[0]
    expect_eq([l["extent"] for l in batch], [b, hkv, hq // hkv],
              "GQA batch loops: batch, kv heads, query heads per kv head")
    return (f"b={b} hq={hq} hkv={hkv} s={s} d={d}; {dims};"
            f" matmul_flops {mm} = 4*b*hq*s*s*d (full square, not halved)")


def family_transformer_block(r, args, results, values):
    B, S, Dm = args["x"][0]
    F = args["w1"][0][1]
    heads, Dh = values["q4"][0][2], values["q4"][0][3]
    expect_eq(heads * Dh, Dm, "heads x Dh = Dm")
    expect_eq(r["scans"], [], "no scan")
    mm = (2 * B * S * Dm * 3 * Dm             # fused QKV projection
          + 4 * B * heads * S * S * Dh        # Q K^T and P V, the full square
          + 2 * B * S * Dm * Dm               # output projection
          + 2 * 2 * B * S * Dm * F)           # MLP up and down
    ew = (2 * 4 * B * S * Dm                  # two rms_norms, 4 per element
          + 2 * (Dh // 2)                     # RoPE: scale and exp of [1, Dh/2]
          + 3 * S * (Dh // 2)                 # theta, cos, sin of [S, Dh/2]
          + 2 * B * heads * S * (Dh // 2)     # neg of the halves of q and k
          + 2 * 3 * B * S * Dm                # rope: 2 muls and an add, q and k
          + 7 * B * heads * S * S             # scale, select, softmax (5)
          + 3 * B * S * Dm                    # residual, MLP down bias, residual
          + 2 * B * S * F)                    # MLP up bias, gelu
    expect_eq(r["summary"]["matmul_flops"], mm, "summary.matmul_flops (formula)")
    expect_eq(r["summary"]["flops"], mm + ew, "summary.flops (formula)")
    # rms, qkv, split, reshape, transpose, split, neg, concat, mul, add,
    # matmul, scale, select, softmax, matmul, transpose, reshape, matmul,
    # add, rms, matmul, add, gelu, matmul, add, add
    expect_eq(r["summary"]["span"], 26, "span")
    # Self-attention: queries and keys are the same positions of x (split
    # from one projection), so the position dimension is one group that PV
    # contracts: each op still sees its query loop as parallel.
    dims = check_attention(r, op_by_result(r, "%s"), op_by_result(r, "%oh"),
                           op_by_result(r, "%p"), query_class="reduction")
    return (f"B={B} S={S} Dm={Dm} heads={heads} F={F}; {dims};"
            f" matmul_flops {mm} = 2BS*3Dm^2 + 4B*S^2*Dm + 2BS*Dm^2 + 4BS*Dm*F")


FAMILIES = {
    "lstm": family_lstm,
    "gru": family_gru,
    "rnn": family_rnn,
    "mingru": family_mingru,
    "mha": family_mha,
    "mha_causal_gqa": family_mha_causal_gqa,
    "transformer_block": family_transformer_block,
}


def check_file(attnc, path):
    graph_name, args, results, values = parse_graph(path)
    proc = subprocess.run([attnc, "analyze", path, "--json"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise CheckError(f"attnc analyze failed ({proc.returncode}): {proc.stderr.strip()}")
    r = json.loads(proc.stdout)
    check_generic(r, path, graph_name, args, results)
    family = re.sub(r"_small$", "", graph_name)
    if family not in FAMILIES:
        raise CheckError(f"no key-field checks for the family '{family}' of @{graph_name}:"
                         f" add its formulas to {os.path.basename(__file__)}")
    detail = FAMILIES[family](r, args, results, values)
    s = r["summary"]
    return (f"{os.path.basename(path)}: ok span {s['span']} flops {s['flops']}"
            f" matmul_flops {s['matmul_flops']}; {detail}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--attnc", default="attnc", help="the attnc binary (default: on PATH)")
    parser.add_argument("examples", help="directory of *.ir models")
    opts = parser.parse_args()
    files = sorted(glob.glob(os.path.join(opts.examples, "*.ir")))
    if not files:
        print(f"error: no *.ir files in {opts.examples}")
        return 1
    failures = 0
    for path in files:
        try:
            print(check_file(opts.attnc, path))
        except CheckError as e:
            failures += 1
            print(f"{os.path.basename(path)}: FAIL {e}")
    print(f"checked {len(files)} examples, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
