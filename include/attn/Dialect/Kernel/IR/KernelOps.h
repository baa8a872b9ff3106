//===- KernelOps.h - the kernel-level ops -----------------------*- C++ -*-===//
//
// Declares the kernel ops generated from KernelOps.td, and the one place
// that says which graph ops each kernel kind may hold: kernel formation
// groups ops by it and the verifiers check bodies against it.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_KERNEL_IR_KERNELOPS_H
#define ATTN_DIALECT_KERNEL_IR_KERNELOPS_H

#include "attn/Dialect/Graph/IR/GraphOps.h"
#include "attn/Dialect/Kernel/IR/KernelDialect.h"

#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace attn::kernel {

/// What a graph op contributes to a kernel.
enum class GraphOpRole {
  Gemm,         // attn.matmul: anchors a kernel.gemm
  Attention,    // attn.attention: anchors a kernel.attention
  Row,          // softmax, layer_norm, rms_norm, reduce_*: anchors a kernel.row
  Recurrence,   // attn.scan: anchors a kernel.recurrence
  Scan,         // attn.assoc_scan: anchors a kernel.scan
  Elementwise,  // computes each element from the same position (broadcast)
  DataMovement, // transpose, reshape, slice, concat, split
  Generator,    // splat, constant, iota, causal_mask: no inputs, free to
                // recompute, so cloned into every kernel that reads them
  Fused,        // attn.fused: inlined before grouping
  Other,
};

GraphOpRole classifyGraphOp(mlir::Operation *op);

/// Whether a pointwise kernel can compute `op` (elementwise, data movement
/// or generator).
bool isPointwiseMember(mlir::Operation *op);

/// Whether the sm_90a warpgroup GEMM (wgmma fed by a producer warpgroup)
/// can compute `matmul`: f16 or bf16 operands of one type, both plain
/// row-major matrices (A's batch dims folded into m, B 2-D), K and N
/// multiples of 8 so that rows split into 16-byte copies. Kernel
/// formation schedules such a GEMM for it on sm_90a and the CUDA emitter
/// then generates it; both ask here.
bool isWarpgroupGemm(graph::MatmulOp matmul);

/// Stages of the warpgroup GEMM's ring for K (at most `maxStages`, at least
/// two when there are several K tiles) and the dynamic shared memory it
/// launches with for a tm x tn tile: the ring or the padded f32 output
/// tile, its mbarriers, and 1 KiB of alignment.
int64_t warpgroupGemmStages(int64_t k, int64_t maxStages);
int64_t warpgroupGemmSharedBytes(int64_t tm, int64_t tn, int64_t stages);

/// Whether the sm_90a attention kernel (wgmma, a TMA producer) can compute
/// `attention`: f16 or bf16 Q, K and V of one type with head dims of 64 or
/// 128; and the dynamic shared memory it launches with.
bool isWarpgroupAttention(graph::AttentionOp attention);
int64_t warpgroupAttentionSharedBytes(int64_t depth, int64_t width);
/// Keys per tile of that kernel: 128 at head dim 128 (FlashAttention-3's
/// tile: wider S MMAs and half the barriers and row reductions per key,
/// the consumers' registers raised by setmaxnreg to hold S, P and O), 64
/// at head dim 64 (which needs no more registers than a block of 384
/// threads has, and half the code to compile).
int64_t warpgroupAttentionKeyTile(int64_t depth);

/// Checks shared by every kernel kind: body arguments and yield match the
/// op's inputs and results, and the body holds attn ops only.
mlir::LogicalResult verifyKernelCommon(mlir::Operation *op);

} // namespace attn::kernel

#define GET_OP_CLASSES
#include "attn/Dialect/Kernel/IR/KernelOps.h.inc"

#endif // ATTN_DIALECT_KERNEL_IR_KERNELOPS_H
