//===- KernelOps.td - the six kernel kinds -----------------*- tablegen -*-===//
//
// One op per kernel kind. They share their operands, schedule attributes
// and syntax (Kernel_Op in KernelDialect.td) and differ in what their body
// may hold, which is what each code generation pattern relies on.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_KERNEL_IR_KERNELOPS_TD
#define ATTN_DIALECT_KERNEL_IR_KERNELOPS_TD

include "attn/Dialect/Kernel/IR/KernelDialect.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"

def Kernel_GemmOp : Kernel_Op<"gemm"> {
  let summary = "Tiled matrix product with a fused elementwise epilogue";
  let description = [{
    The body is one `attn.matmul` of kernel inputs (the left operand's
    first by convention; one input when both are the same tensor), followed by
    elementwise ops (bias, activation, residual add, cast) that each
    produce a tensor of the product's shape; the epilogue is applied to
    each output tile while it is still in registers. Loops: the batch dims
    `b0`..., `m` and `n` on the grid with the block tile as their tile,
    `k` looped with the K tile (never more than K). All blocks lie along x:
    batch x ceil(M/tm) x ceil(N/tn) of them.

    Example (bias and GELU in the epilogue):

    ```mlir
    %y = kernel.gemm %x, %w, %b target "sm_90" blocks [1, 1, 1] threads 256
        smem 0 loops [#kernel.loop<"m", 14, "grid", 16>,
                      #kernel.loop<"n", 45, "grid", 64>,
                      #kernel.loop<"k", 18, "looped", 18>]
        : (tensor<14x18xf32>, tensor<18x45xf32>, tensor<45xf32>) -> tensor<14x45xf32> {
    ^bb0(%a: tensor<14x18xf32>, %b0: tensor<18x45xf32>, %bias: tensor<45xf32>):
      %p = attn.matmul %a, %b0 : tensor<14x18xf32>, tensor<18x45xf32> -> tensor<14x45xf32>
      %s = attn.add %p, %bias : tensor<14x45xf32>, tensor<45xf32> -> tensor<14x45xf32>
      %g = attn.gelu %s : tensor<14x45xf32>
      kernel.yield %g : tensor<14x45xf32>
    }
    ```
  }];
}

def Kernel_AttentionOp : Kernel_Op<"attention"> {
  let summary = "Fused attention with online softmax";
  let description = [{
    The body is one `attn.attention` of the three inputs (Q, K, V), with its
    score modification region if any. Loops: batch dims and `i` (queries,
    tiled by the query tile) and `e` (value columns, whole) on the grid;
    `j` (keys, stepped by the key tile) and `d` (head dim) looped. The
    numerics contract is attn.attention's: scores and softmax statistics in
    f32, output in the input type.

    Example:

    ```mlir
    %o = kernel.attention %q, %k, %v target "sm_90" blocks [6, 1, 1]
        threads 256 smem 1152
        loops [#kernel.loop<"b0", 2, "grid", 1>, #kernel.loop<"b1", 3, "grid", 1>,
               #kernel.loop<"i", 7, "grid", 16>, #kernel.loop<"e", 6, "grid", 6>,
               #kernel.loop<"j", 7, "looped", 7>, #kernel.loop<"d", 6, "looped", 6>]
        : (tensor<2x3x7x6xf32>, tensor<2x3x7x6xf32>, tensor<2x3x7x6xf32>)
          -> tensor<2x3x7x6xf32> {
    ^bb0(%qa: tensor<2x3x7x6xf32>, %ka: tensor<2x3x7x6xf32>, %va: tensor<2x3x7x6xf32>):
      %a = attn.attention %qa, %ka, %va scale 0.40824829046386307 causal offset 0
          : tensor<2x3x7x6xf32>, tensor<2x3x7x6xf32>, tensor<2x3x7x6xf32> -> tensor<2x3x7x6xf32>
      kernel.yield %a : tensor<2x3x7x6xf32>
    }
    ```
  }];
}

def Kernel_PointwiseOp : Kernel_Op<"pointwise"> {
  let summary = "Elementwise ops and data movement, one thread per element";
  let description = [{
    The body holds elementwise ops, data movement (transpose, reshape,
    slice, concat, split, broadcast through elementwise ops) and constant
    generators (splat, constant, iota, causal_mask). Every output element
    is computed independently from the inputs, by index arithmetic, so the
    one loop, `i` over the flat index of the largest result, is on the
    grid; its tile is the elements one block covers. Results may have
    different shapes (a split).

    Example:

    ```mlir
    %t = kernel.pointwise %x target "sm_90" blocks [1, 1, 1] threads 256
        smem 0 loops [#kernel.loop<"i", 32, "grid", 1024>]
        : (tensor<8x4xf32>) -> tensor<4x8xf32> {
    ^bb0(%a: tensor<8x4xf32>):
      %b = attn.transpose %a perm [1, 0] : tensor<8x4xf32> -> tensor<4x8xf32>
      kernel.yield %b : tensor<4x8xf32>
    }
    ```
  }];
}

def Kernel_RowOp : Kernel_Op<"row"> {
  let summary = "A reduction along one dim fused with its elementwise neighbours";
  let description = [{
    The body holds exactly one row op (softmax, layer_norm, rms_norm or a
    reduce_sum/max/mean) plus elementwise ops before it (computed while
    the row is loaded) and after it (applied before the row is stored).
    Loops: `r` over the rows (every kept dim, flattened) on the grid, one
    row per block (tile 1); `x` over the reduced elements looped by the
    block's threads.

    Example (an un-fused softmax row):

    ```mlir
    %p = kernel.row %s target "sm_90" blocks [6, 1, 1] threads 32 smem 8
        loops [#kernel.loop<"r", 6, "grid", 1>, #kernel.loop<"x", 7, "looped", 7>]
        : (tensor<6x7xf32>) -> tensor<6x7xf32> {
    ^bb0(%a: tensor<6x7xf32>):
      %b = attn.softmax %a dim 1 : tensor<6x7xf32>
      kernel.yield %b : tensor<6x7xf32>
    }
    ```
  }];
}

def Kernel_RecurrenceOp : Kernel_Op<"recurrence"> {
  let summary = "Persistent kernel for the state-dependent part of a scan";
  let description = [{
    The body is one `attn.scan` with carried state: what the optimiser could
    neither hoist nor turn into a parallel scan. It runs as one cooperative
    launch: the time loop `t` is looped inside the kernel, with grid-wide
    barriers between its phases; the first carried state's leading dims
    (`s0`...) are looped whole and its last dim `h` is split over the
    persistent blocks (at most one per SM), whose shared memory keeps the
    step-invariant recurrent weights for all steps.

    Example: see docs/dialects/kernel.md.
  }];
}

def Kernel_ScanOp : Kernel_Op<"scan"> {
  let summary = "Chunked parallel associative scan of a linear recurrence";
  let description = [{
    The body is one `attn.assoc_scan`, optionally preceded by elementwise
    ops that produce its coefficients and offsets. The channels (`c`, every
    dim but the walked one) and the walked dim `t` in chunks are both on
    the grid: each block scans a chunk of steps for its channels, and one
    grid-wide barrier separates the chunks' maps from their replay.

    Example: see docs/dialects/kernel.md.
  }];
}

def Kernel_YieldOp : Op<Kernel_Dialect, "yield", [Pure, ReturnLike,
    Terminator, ParentOneOf<["GemmOp", "AttentionOp", "PointwiseOp",
                             "RowOp", "RecurrenceOp", "ScanOp"]>]> {
  let summary = "Ends a kernel body with the kernel's results";
  let description = [{
    Example: `kernel.yield %y : tensor<4x8xf32>`
  }];
  let arguments = (ins Variadic<AnyRankedTensor>:$operands);
  let assemblyFormat = "attr-dict ($operands^ `:` type($operands))?";
}

#endif // ATTN_DIALECT_KERNEL_IR_KERNELOPS_TD
