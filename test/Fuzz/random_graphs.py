"""Random valid graphs: the compiler either builds them or refuses them in
one line, never crashes, and what it builds agrees with the interpreter.

Usage: random_graphs.py WORKDIR [--count N] [--seed S] [--emulate K]
                        [--dtype f32|f16|bf16] [--arch sm_90a|sm_90|sm_80]
                        [--large] [--recurrent] [--nested] [--f32-matmul M]
                        [--recurrence-exchange E]

Writes N graphs (attn dialect text) made of random chains of the ops a
model uses: elementwise ops with broadcasting, matmul, softmax, the
reductions and norms, the ops that move data (transpose, reshape, slice,
concat, split), casts, causal masks, and attention (the op, or the
matmul-softmax-matmul chain the passes fuse; the op sometimes with a
score modification adding a bias, soft-capped), at top level and inside
scans of three kinds (a nonlinear recurrence, a gated linear recurrence, and a scan that carries
nothing), forwards or in reverse, over time-major or batch-first
sequences. An RNN's step may also put its new state through such ops
(row ops and attention of the state, which the recurrence kernel
computes); --recurrent makes every scan such an RNN. --nested adds a
scan over documents whose step runs one of those scans over the
document's steps (hoisting batches it over the documents). Shapes are odd: small, or with --large big enough for the
kernels' multi-block paths. Each graph must parse and verify
(anything else is a bug of this generator) and compile for sm_90a with
`attnc`: exit 0, or exit 1 with exactly one `error:` line. The first K
that compile then run under emulation against the f64 interpreter through
emu_differential.py (tolerances by element type, explained there: f32
1e-5, f16 4e-3, bf16 2e-2).

Only numerically tame ops appear (no exp, log, division or square root of
arbitrary values), so the f32 tolerance holds for any composition; norms
and softmax work on dims of at least 4 elements so that no output is
identically zero.
"""
import argparse
import os
import random
import subprocess
import sys


ELEMENT = "f32"  # the element type of every tensor (--dtype)


def tensor(shape):
    return "tensor<" + "x".join(str(d) for d in shape) + f"x{ELEMENT}>"


# Extents to draw from. The small ones keep emulation fast; --large ones
# take the kernels' multi-block paths (several GEMM tiles, scan chunks with
# look-back, a recurrence's units split over blocks), still off the tiles.
SIZES = {
    "small": {"steps": [2, 5, 9, 17], "batch": [1, 3, 4],
              "channels": [3, 6, 8, 12], "hidden": [1, 5, 8, 11],
              "columns": [1, 3, 8, 13, 16]},
    "large": {"steps": [70, 130], "batch": [1, 3],
              "channels": [24, 40, 72], "hidden": [17, 40, 136],
              "columns": [24, 72, 136]},
}


class Graph:
    def __init__(self, rng, sizes, recurrent=False, nested=False):
        self.sizes = sizes
        # A scan whose step runs a recurrence of its own (--nested).
        self.nested_scans = nested
        # Every scan an RNN whose step computes a row op or an attention
        # of its state (--recurrent).
        self.recurrent = recurrent
        self.rng = rng
        self.args = []     # (name, shape)
        self.lines = []
        self.count = 0

    def fresh(self):
        self.count += 1
        return f"%v{self.count}"

    def arg(self, shape):
        name = f"%a{len(self.args)}"
        self.args.append((name, tuple(shape)))
        return name, tuple(shape)

    def emit(self, text, indent):
        self.lines.append("  " * indent + text)

    # One random op on `value` (name, shape); returns the new value or None
    # when the op does not apply to that shape. `fixed` dims (the batch of
    # a step) are never moved, sliced or merged, and a step's values keep
    # their rank of 2, so that a matmul projects them onto the state.
    def op(self, value, pool, indent, fixed, kinds=None):
        rng = self.rng
        name, shape = value
        rank = len(shape)
        free = [d for d in range(rank) if d not in fixed]
        kind = rng.choice(kinds or [
            "unary", "unary", "scale", "binary", "binary", "matmul",
            "softmax", "reduce", "layer_norm", "rms_norm", "transpose",
            "reshape", "slice", "concat", "split", "attention", "cast",
            "mask"])
        out = self.fresh()
        if kind == "unary":
            fn = rng.choice(["tanh", "sigmoid", "relu", "gelu", "silu", "neg"])
            self.emit(f"{out} = attn.{fn} {name} : {tensor(shape)}", indent)
            return out, shape
        if kind == "scale":
            self.emit(f"{out} = attn.scale {name} by 0.5 : {tensor(shape)}",
                      indent)
            return out, shape
        if kind == "binary":
            fn = rng.choice(["add", "sub", "mul", "max", "min"])
            same = [v for v in pool if v[1] == shape and v[0] != name]
            if same and rng.random() < 0.6:
                other = rng.choice(same)
            else:
                # A broadcast operand: a suffix of the shape with some
                # dims of extent 1, as a graph argument.
                start = rng.randrange(rank)
                bshape = [d if rng.random() < 0.7 else 1
                          for d in shape[start:]]
                other = self.arg(bshape)
            lhs, rhs = (value, other) if rng.random() < 0.5 else (other, value)
            self.emit(f"{out} = attn.{fn} {lhs[0]}, {rhs[0]} : "
                      f"{tensor(lhs[1])}, {tensor(rhs[1])} -> {tensor(shape)}",
                      indent)
            return out, shape
        if kind == "matmul":
            if rank - 1 in fixed:
                return None
            n = rng.choice(self.sizes["columns"])
            w = self.arg((shape[-1], n))
            result = shape[:-1] + (n,)
            self.emit(f"{out} = attn.matmul {name}, {w[0]} : {tensor(shape)}, "
                      f"{tensor(w[1])} -> {tensor(result)}", indent)
            return out, result
        if kind == "softmax":
            dims = [d for d in range(rank) if shape[d] >= 4]
            if not dims:
                return None
            d = rng.choice(dims)
            self.emit(f"{out} = attn.softmax {name} dim {d} : {tensor(shape)}",
                      indent)
            return out, shape
        if kind == "reduce":
            if not free:
                return None
            d = rng.choice(free)
            fn = rng.choice(["reduce_sum", "reduce_max", "reduce_mean"])
            # Outside a step, sometimes without keep_dims (a rank less).
            if not fixed and rank >= 2 and rng.random() < 0.3:
                result = shape[:d] + shape[d + 1:]
                keep = ""
            else:
                result = shape[:d] + (1,) + shape[d + 1:]
                keep = " keep_dims"
            self.emit(f"{out} = attn.{fn} {name} dims [{d}]{keep} : "
                      f"{tensor(shape)} -> {tensor(result)}", indent)
            return out, result
        if kind in ("layer_norm", "rms_norm"):
            # epsilon 1: a row that is constant up to rounding (a softmax
            # summed over its own dim) would otherwise have its rounding
            # noise amplified by 1 / sqrt(epsilon) past any tolerance.
            if shape[-1] < 4:
                return None
            g = self.arg((shape[-1],))
            if kind == "layer_norm":
                b = self.arg((shape[-1],))
                self.emit(f"{out} = attn.layer_norm {name}, {g[0]}, {b[0]} "
                          f"eps 1.0 : {tensor(shape)}, {tensor(g[1])}",
                          indent)
            else:
                self.emit(f"{out} = attn.rms_norm {name}, {g[0]} eps 1.0 "
                          f": {tensor(shape)}, {tensor(g[1])}", indent)
            return out, shape
        if kind in ("transpose", "reshape") and fixed and rank == 2:
            return self.round_trip(kind, value, indent)
        if kind == "transpose":
            if len(free) < 2:
                return None
            moved = free[:]
            rng.shuffle(moved)
            perm = list(range(rank))
            for src, dst in zip(free, moved):
                perm[dst] = src
            result = tuple(shape[p] for p in perm)
            self.emit(f"{out} = attn.transpose {name} perm "
                      f"[{', '.join(map(str, perm))}] : {tensor(shape)} -> "
                      f"{tensor(result)}", indent)
            return out, result
        if kind == "reshape":
            # Merge the last two dims, or split the last one in two.
            if rank >= 2 and rank - 2 not in fixed and rank - 1 not in fixed \
                    and rng.random() < 0.5:
                result = shape[:-2] + (shape[-2] * shape[-1],)
            elif rank - 1 not in fixed and shape[-1] % 2 == 0 and rank < 4 \
                    and 0 not in fixed:
                result = shape[:-1] + (2, shape[-1] // 2)
            else:
                return None
            self.emit(f"{out} = attn.reshape {name} : {tensor(shape)} -> "
                      f"{tensor(result)}", indent)
            return out, result
        if kind == "slice":
            dims = [d for d in free if shape[d] >= 2]
            if not dims:
                return None
            d = rng.choice(dims)
            offset = rng.randrange(shape[d] // 2 + 1)
            stride = rng.choice([1, 2])
            size = (shape[d] - offset + stride - 1) // stride
            offsets = [0] * rank
            offsets[d] = offset
            strides = [1] * rank
            strides[d] = stride
            result = shape[:d] + (size,) + shape[d + 1:]
            self.emit(f"{out} = attn.slice {name} offsets "
                      f"[{', '.join(map(str, offsets))}] strides "
                      f"[{', '.join(map(str, strides))}] : {tensor(shape)} -> "
                      f"{tensor(result)}", indent)
            return out, result
        if kind == "concat":
            if not free:
                return None
            d = rng.choice(free)
            # The value twice, or the value and an outside operand (which
            # lifting repeats over the steps).
            extra = shape[d] if rng.random() < 0.5 else rng.choice([1, 4])
            other = (name, shape) if extra == shape[d] and \
                rng.random() < 0.5 else \
                self.arg(shape[:d] + (extra,) + shape[d + 1:])
            result = shape[:d] + (shape[d] + extra,) + shape[d + 1:]
            self.emit(f"{out} = attn.concat {name}, {other[0]} dim {d} : "
                      f"{tensor(shape)}, {tensor(other[1])} -> "
                      f"{tensor(result)}", indent)
            return out, result
        if kind == "split":
            dims = [d for d in free if shape[d] % 2 == 0]
            if not dims:
                return None
            d = rng.choice(dims)
            half = shape[:d] + (shape[d] // 2,) + shape[d + 1:]
            self.emit(f"{out}:2 = attn.split {name} dim {d} : {tensor(shape)} "
                      f"-> {tensor(half)}, {tensor(half)}", indent)
            return f"{out}#{rng.randrange(2)}", half
        if kind == "cast":
            # A round trip through another float type: the kernels round
            # where the interpreter does.
            other = rng.choice([t for t in ("f32", "f16", "bf16")
                                if t != ELEMENT])
            narrow = tensor(shape).replace(f"x{ELEMENT}>", f"x{other}>")
            there = self.fresh()
            self.emit(f"{there} = attn.cast {name} : {tensor(shape)} to "
                      f"{narrow}", indent)
            self.emit(f"{out} = attn.cast {there} : {narrow} to "
                      f"{tensor(shape)}", indent)
            return out, shape
        if kind == "mask":
            # A causal mask over the last two dims, selecting a constant
            # (zero, or a large negative value before a softmax).
            if rank < 2 or fixed:
                return None
            mask, fill = self.fresh(), self.fresh()
            square = f"tensor<{shape[-2]}x{shape[-1]}xi1>"
            value = rng.choice(["0.0", "-1.0e+04"])
            if shape[-1] < 4:
                # No softmax follows (norms and softmax need 4 elements),
                # so -1e4 would flow on as data: the f32 interpreter
                # itself then departs from f64 by 5e-4 (seed 51).
                value = "0.0"
            self.emit(f"{mask} = attn.causal_mask : {square}", indent)
            self.emit(f"{fill} = attn.splat {value} : {tensor((1,))}", indent)
            self.emit(f"{out} = attn.select {mask}, {name}, {fill} : {square}, "
                      f"{tensor(shape)}, {tensor((1,))} -> {tensor(shape)}",
                      indent)
            if value != "0.0":
                result = self.fresh()
                self.emit(f"{result} = attn.softmax {out} dim {rank - 1} : "
                          f"{tensor(shape)}", indent)
                return result, shape
            return out, shape
        if kind == "attention":
            # value as the queries [..., Sq, D] against keys and values
            # given as arguments; either attn.attention (sometimes causal)
            # or the matmul-softmax-matmul chain that FormAttention fuses.
            if rank < 2:
                return None
            keys = rng.choice([1, 7, shape[-2]])
            e = rng.choice([3, 8, shape[-1]])
            k = self.arg(shape[:-2] + (keys, shape[-1]))
            v = self.arg(shape[:-2] + (keys, e))
            result = shape[:-1] + (e,)
            scale = 1.0 / shape[-1] ** 0.5
            if rng.random() < 0.5:
                causal = " causal offset 0" if keys >= shape[-2] and \
                    rng.random() < 0.5 else ""
                body = " {" if rng.random() < 0.4 else ""
                self.emit(f"{out} = attn.attention {name}, {k[0]}, {v[0]} "
                          f"scale {scale:.6f}{causal} : {tensor(shape)}, "
                          f"{tensor(k[1])}, {tensor(v[1])} -> "
                          f"{tensor(result)}{body}", indent)
                if body:
                    self.score_mod(shape[:-1] + (keys,), indent)
                return out, result
            scores = shape[:-1] + (keys,)
            sc, ss, sp = self.fresh(), self.fresh(), self.fresh()
            self.emit(f"{sc} = attn.matmul {name}, {k[0]} transpose_rhs : "
                      f"{tensor(shape)}, {tensor(k[1])} -> {tensor(scores)}",
                      indent)
            self.emit(f"{ss} = attn.scale {sc} by {scale:.6f} : "
                      f"{tensor(scores)}", indent)
            self.emit(f"{sp} = attn.softmax {ss} dim {rank - 1} : "
                      f"{tensor(scores)}", indent)
            self.emit(f"{out} = attn.matmul {sp}, {v[0]} : {tensor(scores)}, "
                      f"{tensor(v[1])} -> {tensor(result)}", indent)
            return out, result
        raise AssertionError(kind)

    # The body of an attention's score modification over f32 `scores`: a
    # bias (an argument over the keys, or over queries and keys, cast to
    # f32), then sometimes a soft cap, 5 tanh(s / 5).
    def score_mod(self, scores, indent):
        rng = self.rng
        f32 = "tensor<" + "x".join(str(d) for d in scores) + "xf32>"
        s, b, sb = self.fresh(), self.fresh(), self.fresh()
        self.emit(f"^bb0({s}: {f32}):", indent)
        bias = self.arg(rng.choice([scores[-1:], scores[-2:]]))
        bias32 = "tensor<" + "x".join(str(d) for d in bias[1]) + "xf32>"
        if ELEMENT == "f32":
            b = bias[0]
        else:
            self.emit(f"{b} = attn.cast {bias[0]} : {tensor(bias[1])} to "
                      f"{bias32}", indent + 1)
        self.emit(f"{sb} = attn.add {s}, {b} : {f32}, {bias32} -> {f32}",
                  indent + 1)
        if rng.random() < 0.5:
            down, cap, up = self.fresh(), self.fresh(), self.fresh()
            self.emit(f"{down} = attn.scale {sb} by 0.2 : {f32}", indent + 1)
            self.emit(f"{cap} = attn.tanh {down} : {f32}", indent + 1)
            self.emit(f"{up} = attn.scale {cap} by 5.0 : {f32}", indent + 1)
            sb = up
        self.emit(f"attn.yield {sb} : {f32}", indent + 1)
        self.emit("}", indent)

    # In a step [B, C]: a transpose to [C, B] or a reshape to
    # [B, 2, C / 2], an op on that (a softmax over the moved dim, or an
    # elementwise op), and the way back, so the step keeps its layout.
    def round_trip(self, kind, value, indent):
        rng = self.rng
        name, shape = value
        if kind == "transpose":
            moved, perm = (shape[1], shape[0]), " perm [1, 0]"
            dim = 1
        else:
            if shape[1] % 2:
                return None
            moved, perm = (shape[0], 2, shape[1] // 2), ""
            dim = 2
        there, op, back = self.fresh(), self.fresh(), self.fresh()
        self.emit(f"{there} = attn.{kind} {name}{perm} : {tensor(shape)} -> "
                  f"{tensor(moved)}", indent)
        if moved[dim] >= 4 and rng.random() < 0.5:
            self.emit(f"{op} = attn.softmax {there} dim {dim} : "
                      f"{tensor(moved)}", indent)
        else:
            self.emit(f"{op} = attn.tanh {there} : {tensor(moved)}", indent)
        self.emit(f"{back} = attn.{kind} {op}{perm} : {tensor(moved)} -> "
                  f"{tensor(shape)}", indent)
        return back, shape

    def chain(self, value, pool, length, indent, fixed):
        for _ in range(length):
            for _attempt in range(8):
                made = self.op(value, pool, indent, fixed)
                if made:
                    pool.append(made)
                    value = made
                    break
        return value

    # A step value [B, C] projected onto the state's [B, H] by a matmul.
    def project(self, value, hidden, indent):
        w = self.arg((value[1][-1], hidden))
        out = self.fresh()
        self.emit(f"{out} = attn.matmul {value[0]}, {w[0]} : "
                  f"{tensor(value[1])}, {tensor(w[1])} -> "
                  f"{tensor((value[1][0], hidden))}", indent)
        return out, (value[1][0], hidden)

    # Ops of the state inside an RNN's step (row ops and attention among
    # them, which then read the state and run in the recurrence kernel),
    # brought back to the state's shape by a matmul if they changed it,
    # then halved and squashed: tanh(x / 2) keeps the recurrence
    # contracting, so f32 rounding stays far from the tolerance.
    def state_ops(self, value, pool, hidden, fixed, indent):
        made = None
        while not made:
            made = self.op(value, pool, indent, fixed,
                           ["softmax", "reduce", "layer_norm", "rms_norm",
                            "attention", "attention"])
        made = self.chain(made, pool + [value, made],
                          self.rng.randrange(3), indent, fixed)
        if made[1] != value[1]:
            w = self.arg((made[1][-1], hidden))
            scaled, projected = self.fresh(), self.fresh()
            self.emit(f"{scaled} = attn.scale {w[0]} by "
                      f"{(3.0 / made[1][-1]) ** 0.5:.6f} : {tensor(w[1])}", indent)
            self.emit(f"{projected} = attn.matmul {made[0]}, {scaled} : "
                      f"{tensor(made[1])}, {tensor(w[1])} -> "
                      f"{tensor(value[1])}", indent)
            made = (projected, value[1])
        half, squashed = self.fresh(), self.fresh()
        self.emit(f"{half} = attn.scale {made[0]} by 0.5 : "
                  f"{tensor(value[1])}", indent)
        self.emit(f"{squashed} = attn.tanh {half} : {tensor(value[1])}", indent)
        return squashed

    # A scan over `seq` [T, B, C]: forwards or in reverse, over dim 0 or
    # over dim 1 of the sequence transposed batch-first (its stacked
    # results transposed back). Besides its state it may stack the step's
    # own slice and an outside value. Returns the stacked state [T, B, H].
    def scan(self, seq, pool, indent=1):
        rng = self.rng
        steps, batch = seq[1][0], seq[1][1]
        hidden = rng.choice(self.sizes["hidden"])
        kind = "rnn" if self.recurrent else \
            rng.choice(["rnn", "linear", "stateless"])
        reverse = " reverse" if rng.random() < 0.25 else ""
        dim = 1 if rng.random() < 0.25 else 0
        if dim == 1:
            bf = self.fresh()
            bshape = (batch, steps, seq[1][2])
            self.emit(f"{bf} = attn.transpose {seq[0]} perm [1, 0, 2] : "
                      f"{tensor(seq[1])} -> {tensor(bshape)}", indent)
            seq = (bf, bshape)
        x, h = self.fresh(), self.fresh()
        step = (x, (batch, seq[1][2]))
        state = (batch, hidden)
        h0 = self.arg(state)

        def stacked(shape):  # a step value's stacked type in the scan
            return (steps,) + shape if dim == 0 else \
                (shape[0], steps) + shape[1:]

        yields = [None]  # the step's values stacked: the state first
        if rng.random() < 0.3:
            yields.append(step)
        if rng.random() < 0.3:
            yields.append(self.arg((batch, rng.choice([1, 4]))))
        if kind == "rnn":
            # Recurrent weights uniform in [-1, 1) have a spectral radius
            # of about sqrt(H / 3): over tens of steps the recurrence is
            # chaotic, and f32 rounding alone (the interpreter's own)
            # departs from f64 by O(1). Scaled to a radius of 1/2, the
            # recurrence contracts and rounding stays at 1e-7.
            uw = self.arg((hidden, hidden))
            scaled = self.fresh()
            self.emit(f"{scaled} = attn.scale {uw[0]} by "
                      f"{0.5 * (3.0 / hidden) ** 0.5:.6f} : {tensor(uw[1])}",
                      indent)
            uw = (scaled, uw[1])
        results = self.fresh()
        types = [tensor(stacked(v[1] if v else state)) for v in yields]
        carry = "" if kind == "stateless" else \
            f" carry({h} = {h0[0]} : {tensor(state)})"
        if kind != "stateless":
            types.append(tensor(state))
        self.emit(f"{results}:{len(types)} = attn.scan{reverse} dim {dim} "
                  f"ins({x} = {seq[0]} : {tensor(seq[1])}){carry} -> "
                  f"({', '.join(types)}) {{", indent)
        inner = [step]
        fixed = {0}
        u = self.project(self.chain(step, inner, rng.randrange(4), indent + 1,
                                    fixed),
                         hidden, indent + 1)
        if kind == "rnn":
            hu, s, n = self.fresh(), self.fresh(), self.fresh()
            self.emit(f"{hu} = attn.matmul {h}, {uw[0]} : {tensor(state)}, "
                      f"{tensor(uw[1])} -> {tensor(state)}", indent + 1)
            self.emit(f"{s} = attn.add {hu}, {u[0]} : {tensor(state)}, "
                      f"{tensor(state)} -> {tensor(state)}", indent + 1)
            self.emit(f"{n} = attn.tanh {s} : {tensor(state)}", indent + 1)
            if self.recurrent or rng.random() < 0.5:
                n = self.state_ops((n, state), inner, hidden, fixed,
                                   indent + 1)
        elif kind == "linear":
            g = self.project(self.chain(step, inner, rng.randrange(3), indent + 1,
                                        fixed), hidden, indent + 1)
            z, k, n = self.fresh(), self.fresh(), self.fresh()
            self.emit(f"{z} = attn.sigmoid {g[0]} : {tensor(state)}", indent + 1)
            self.emit(f"{k} = attn.mul {z}, {h} : {tensor(state)}, "
                      f"{tensor(state)} -> {tensor(state)}", indent + 1)
            self.emit(f"{n} = attn.add {k}, {u[0]} : {tensor(state)}, "
                      f"{tensor(state)} -> {tensor(state)}", indent + 1)
        else:
            n = u[0]
        yielded = [(n, state)] + yields[1:]
        if kind != "stateless":
            yielded.append((n, state))
        self.emit(f"attn.yield {', '.join(v[0] for v in yielded)} : "
                  f"{', '.join(tensor(v[1]) for v in yielded)}", indent + 1)
        self.emit("}", indent)
        if kind != "stateless":
            pool.append((f"{results}#{len(types) - 1}", state))
        first = None
        for i, v in enumerate(yields):
            shape = v[1] if v else state
            value = (f"{results}#{i}", stacked(shape))
            if dim == 1:
                back = self.fresh()
                self.emit(f"{back} = attn.transpose {value[0]} perm "
                          f"[1, 0, 2] : {tensor(value[1])} -> "
                          f"{tensor((steps,) + shape)}", indent)
                value = (back, (steps,) + shape)
            pool.append(value)
            first = first or value
        return first

    # A scan over documents [D, T, B, C] whose step runs a scan of any
    # kind over the document's T steps, from an outside initial state, and
    # takes its last state (the final carry, or the last stacked step). The
    # outer scan carries nothing, or is an RNN over the documents reading
    # those states; either way the inner scan does not depend on it, and
    # hoisting batches it over the documents. Returns the outer scan's
    # stacked states [D, B, H].
    def nested(self, pool):
        rng = self.rng
        sizes = self.sizes
        shape = (rng.choice([2, 3]), rng.choice(sizes["steps"]),
                 rng.choice(sizes["batch"]), rng.choice(sizes["channels"]))
        docs = self.arg(shape)
        hidden = rng.choice(sizes["hidden"])
        state = (shape[2], hidden)
        kind = "rnn" if self.recurrent or rng.random() < 0.5 else "stateless"
        d, g, results = self.fresh(), self.fresh(), self.fresh()
        types = [tensor((shape[0],) + state)]
        carry = ""
        if kind == "rnn":
            g0 = self.arg(state)
            carry = f" carry({g} = {g0[0]} : {tensor(state)})"
            types.append(tensor(state))
        self.emit(f"{results}:{len(types)} = attn.scan dim 0 ins({d} = "
                  f"{docs[0]} : {tensor(shape)}){carry} -> "
                  f"({', '.join(types)}) {{", 1)
        inner = []
        stacked = self.scan((d, shape[1:]), inner, indent=2)
        if len(inner[0][1]) == 2 and rng.random() < 0.5:
            last = inner[0]
        else:
            piece, last = self.fresh(), self.fresh()
            rows = stacked[1][1:]
            self.emit(f"{piece} = attn.slice {stacked[0]} offsets "
                      f"[{stacked[1][0] - 1}, 0, 0] : {tensor(stacked[1])} "
                      f"-> {tensor((1,) + rows)}", 2)
            self.emit(f"{last} = attn.reshape {piece} : "
                      f"{tensor((1,) + rows)} -> {tensor(rows)}", 2)
            last = (last, rows)
        n = self.project(last, hidden, 2)[0]
        if kind == "rnn":
            uw = self.arg((hidden, hidden))
            scaled, gu, s, t = (self.fresh() for _ in range(4))
            self.emit(f"{scaled} = attn.scale {uw[0]} by "
                      f"{0.5 * (3.0 / hidden) ** 0.5:.6f} : "
                      f"{tensor(uw[1])}", 2)
            self.emit(f"{gu} = attn.matmul {g}, {scaled} : {tensor(state)}, "
                      f"{tensor(uw[1])} -> {tensor(state)}", 2)
            self.emit(f"{s} = attn.add {gu}, {n} : {tensor(state)}, "
                      f"{tensor(state)} -> {tensor(state)}", 2)
            self.emit(f"{t} = attn.tanh {s} : {tensor(state)}", 2)
            n = t
        yielded = [n, n] if kind == "rnn" else [n]
        self.emit(f"attn.yield {', '.join(yielded)} : "
                  f"{', '.join(tensor(state) for _ in yielded)}", 2)
        self.emit("}", 1)
        value = (f"{results}#0", (shape[0],) + state)
        pool.append(value)
        return value

    def build(self, name):
        rng = self.rng
        sizes = self.sizes
        shape = (rng.choice(sizes["steps"]), rng.choice(sizes["batch"]),
                 rng.choice(sizes["channels"]))
        x = self.arg(shape)
        pool = [x]
        value = self.chain(x, pool, rng.randrange(1, 4), 1, set())
        seqs = [v for v in pool if len(v[1]) == 3 and v[1][0] == shape[0]
                and v[1][1] == shape[1]]
        for _ in range(rng.randrange(1, 3)):
            value = self.scan(rng.choice(seqs), pool)
            seqs.append(value)
        if self.nested_scans:
            value = self.nested(pool)
        value = self.chain(value, pool, rng.randrange(3), 1, set())
        returned = [value] + rng.sample(pool, min(len(pool), rng.randrange(2)))
        self.emit(f"attn.return {', '.join(v[0] for v in returned)} : "
                  f"{', '.join(tensor(v[1]) for v in returned)}", 1)
        header = (f"attn.graph @{name}("
                  + ", ".join(f"{a}: {tensor(s)}" for a, s in self.args)
                  + ") -> (" + ", ".join(tensor(v[1]) for v in returned)
                  + ") {")
        return "\n".join([header] + self.lines + ["}"]) + "\n"


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


# Whether the optimised graph still has a scan in a scan's step: the
# printer indents a graph's ops by four spaces and a step's by two more.
def scan_in_scan(path):
    graph = run(["attnc", path, "--emit=graph"]).stdout
    return any(line.startswith("      ") and "attn.scan" in line
               for line in graph.splitlines())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("workdir")
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--emulate", type=int, default=8)
    parser.add_argument("--dtype", default="f32", choices=["f32", "f16",
                                                            "bf16"])
    parser.add_argument("--arch", default="sm_90a")
    parser.add_argument("--large", action="store_true")
    parser.add_argument("--recurrent", action="store_true")
    parser.add_argument("--nested", action="store_true")
    # Passed to attnc and emu_differential.py as they are.
    parser.add_argument("--f32-matmul", default="3xtf32",
                        choices=["3xtf32", "tf32", "simt"])
    parser.add_argument("--recurrence-exchange", default="tagged",
                        choices=["tagged", "barrier"])
    args = parser.parse_args()
    global ELEMENT
    ELEMENT = args.dtype
    os.makedirs(args.workdir, exist_ok=True)
    compiled, refused, still_nested = [], 0, 0
    for i in range(args.count):
        name = f"random{args.seed}_{i}"
        path = os.path.join(args.workdir, name + ".ir")
        with open(path, "w") as f:
            f.write(Graph(random.Random(args.seed * 100003 + i),
                          SIZES["large" if args.large else "small"],
                          args.recurrent, args.nested)
                    .build(name))
        check = run(["attnc", path, "--emit=input"])
        if check.returncode != 0:
            sys.exit(f"FAIL (generator): {path} does not verify:\n"
                     f"{check.stderr}")
        out = run(["attnc", path, "--arch", args.arch,
                   f"--f32-matmul={args.f32_matmul}",
                   f"--recurrence-exchange={args.recurrence_exchange}", "-o",
                   os.path.join(args.workdir, name + ".cubin")])
        lines = out.stderr.strip().splitlines()
        if out.returncode == 0:
            compiled.append(path)
            if args.nested and scan_in_scan(path):
                still_nested += 1
        elif out.returncode == 1 and len(lines) == 1 and "error:" in lines[0]:
            refused += 1
            print(f"refused: {lines[0]}")
        else:
            sys.exit(f"FAIL: {path}: exit {out.returncode}:\n"
                     + "\n".join(lines[:8]))
    print(f"{args.count} random graphs: {len(compiled)} compiled, "
          f"{refused} refused in one line")
    if args.nested:
        print(f"{still_nested} with a scan left inside a scan")
    if args.emulate and compiled:
        here = os.path.dirname(os.path.abspath(__file__))
        diff = run([sys.executable,
                    os.path.join(here, "..", "Target", "emu_differential.py"),
                    "--seeds", "1", "--arch", args.arch,
                    "--f32-matmul", args.f32_matmul,
                    "--recurrence-exchange", args.recurrence_exchange]
                   + compiled[:args.emulate])
        sys.stdout.write(diff.stdout)
        if diff.returncode != 0:
            sys.exit(diff.stdout + diff.stderr)


if __name__ == "__main__":
    main()
