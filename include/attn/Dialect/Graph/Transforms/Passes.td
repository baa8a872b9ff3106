//===- Passes.td - attn graph passes -----------------------*- tablegen -*-===//
//
// The graph-level optimisation passes. Each says what it rewrites as
// `before => after`.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_GRAPH_TRANSFORMS_PASSES_TD
#define ATTN_DIALECT_GRAPH_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def HoistScanInvariants : Pass<"attn-hoist-scan-invariants", "::mlir::ModuleOp"> {
  let summary = "Move step-invariant work out of scans";
  let description = [{
    Work in a scan body that does not depend on the carried state is done
    for all steps at once, before the scan:

    - ops that read only values from outside the scan move out unchanged;
    - ops that read the step's slices (and hoisted values) but no state are
      lifted to the whole sequence when they are batch-polymorphic
      (`Graph_BatchPolymorphic`: elementwise ops, matmul): the step's
      `[B, I]` slice becomes the whole `[T, B, I]` sequence, and the body
      reads the lifted result's slice instead. Attention lifts the same
      way, its score modification batched with it; row ops and data
      movement lift with their dims renumbered; a nested scan that does
      not depend on the state becomes one scan over the batch of every
      step's state (docs/passes/recurrences.md);
    - carried values that pass through unchanged, sequences the body no
      longer reads and results nobody uses are removed.

    ```mlir
    %hs, %h = attn.scan dim 0 ins(%x = %xs : tensor<7x3x5xf32>) carry(%h = ...) {
      %xw = attn.matmul %x, %w : tensor<3x5xf32>, tensor<5x44xf32> -> tensor<3x44xf32>
      %hu = attn.matmul %h, %u ...
      %z = attn.add %xw, %hu ...
    =>
    %xws = attn.matmul %xs, %w : tensor<7x3x5xf32>, tensor<5x44xf32> -> tensor<7x3x44xf32>
    %hs, %h = attn.scan dim 0 ins(%xw = %xws : tensor<7x3x44xf32>) carry(%h = ...) {
      %hu = attn.matmul %h, %u ...
      %z = attn.add %xw, %hu ...
    ```

    A scan over another dim (batch-major sequences) lifts from its
    sequences transposed steps-first and reads the lifted results
    transposed back, so the walked dim is always the lifted op's new
    leading dim.
  }];
  let dependentDialects = ["::attn::graph::GraphDialect"];
}

def LinearScanToAssoc : Pass<"attn-linear-scan-to-assoc", "::mlir::ModuleOp"> {
  let summary = "Turn elementwise-linear recurrences into associative scans";
  let description = [{
    A carried value whose update the linearity analysis finds to be
    h' = a * h + b, elementwise with a and b independent of the state,
    is computed by an `attn.assoc_scan` instead: the scan body yields a and
    b per step, and the associative scan combines them, which a GPU does in
    O(log T) dependent rounds instead of T.

    ```mlir
    %hs, %hT = attn.scan dim 0 ins(%a = %as : ..., %b = %bs : ...) carry(%h = %h0 : ...) {
      %ah = attn.mul %a, %h ...
      %hn = attn.add %ah, %b ...
      attn.yield %hn, %hn ...
    }
    =>
    %ys:2 = attn.scan dim 0 ins(%a = %as : ..., %b = %bs : ...) {
      ... a and b of %hn, built from the same ops ...
      attn.yield %a_hn, %b_hn ...
    }
    %hs, %hT = attn.assoc_scan dim 0 %ys#0, %ys#1, %h0 ...
    ```

    Nonlinear updates (tanh of the state, gates that read it) and linear
    but mixing ones (a matmul with the state) are left alone, as is a
    carried value whose intermediate values the body uses elsewhere. What
    remains of the scan stays a scan; run --attn-hoist-scan-invariants
    afterwards to turn a scan that carries nothing into whole-sequence ops.
    The interpreter combines the associative scan's steps in order, so
    results are unchanged; the numerics of other orders are in
    docs/passes/recurrences.md.
  }];
  let dependentDialects = ["::attn::graph::GraphDialect"];
}

def FormAttention : Pass<"attn-form-attention", "::mlir::ModuleOp"> {
  let summary = "Recognise decomposed attention and rewrite it to attn.attention";
  let description = [{
    Every softmax is a candidate. One whose input is a matmul Q.K^T
    (`transpose_rhs`) followed only by elementwise ops, that runs over the
    last dim (the keys), and whose result is the lhs of one matmul with V,
    becomes one `attn.attention`:

    - a leading `attn.scale` becomes the op's scale;
    - a trailing `select(causal_mask offset k, s, splat <= -1e9)` with
      k >= 0 becomes `causal offset k`;
    - the other elementwise ops move into the score modification region,
      computed in f32 (operands of other float types are cast).

    ```mlir
    %s = attn.matmul %q, %k transpose_rhs ...
    %ss = attn.scale %s by 0.125 ...
    %p = attn.softmax %ss dim 3 ...
    %o = attn.matmul %p, %v ...
    =>
    %o = attn.attention %q, %k, %v scale 0.125 ...
    ```

    With `explain`, each candidate that is not rewritten gets a remark
    saying why (the softmax is over another dim, an intermediate has other
    uses, the scores are not Q.K^T, ...).

    The rewrite follows attn.attention's numerics contract: scores and the
    softmax in f32 even for f16/bf16 inputs, where the decomposed graph
    rounded them to the input type; results agree exactly in f64.
  }];
  let options = [
    Option<"explain", "explain", "bool", /*default=*/"false",
           "Emit a remark for every softmax that is not rewritten, saying why">,
  ];
  let dependentDialects = ["::attn::graph::GraphDialect"];
}

def FuseElementwise : Pass<"attn-fuse-elementwise", "::mlir::ModuleOp"> {
  let summary = "Fuse chains of elementwise ops into attn.fused";
  let description = [{
    Connected elementwise ops (batch-polymorphic, no reduction) become one
    `attn.fused` whose body holds them, so they will run as one kernel that
    reads each input once and writes one result. A producer joins its
    consumers' fused op only when all of its users are in it: fusion never
    computes anything twice (docs/passes/fusion.md).

    ```mlir
    %s = attn.add %x, %b ...
    %t = attn.silu %s ...
    =>
    %t = attn.fused %x, %b : (...) -> ... {
    ^bb0(%xa: ..., %ba: ...):
      %s = attn.add %xa, %ba ...
      %t = attn.silu %s ...
      attn.yield %t ...
    }
    ```
  }];
  let dependentDialects = ["::attn::graph::GraphDialect"];
}

#endif // ATTN_DIALECT_GRAPH_TRANSFORMS_PASSES_TD
