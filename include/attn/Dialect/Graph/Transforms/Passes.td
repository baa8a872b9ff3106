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
      reads the lifted result's slice instead;
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

    Lifting needs the scan to walk dim 0 (time-major sequences); scans over
    another dim only get the unchanged moves and the clean-ups.
  }];
  let dependentDialects = ["::attn::graph::GraphDialect"];
}

#endif // ATTN_DIALECT_GRAPH_TRANSFORMS_PASSES_TD
