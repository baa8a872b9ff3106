//===- StepBatching.h - one op for many independent steps -------*- C++ -*-===//
//
// Hoisting turns the step-invariant work of a scan into one op over all
// steps: a copy of the step's op whose operands and results gain a new
// leading dim, one entry per step. This is the copying, shared by the ops
// of a step and, recursively, by the ops inside a step's own scan (a
// recurrence run for every step of a scan that does not depend on it
// becomes one recurrence over a batch of states).
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_LIB_DIALECT_GRAPH_TRANSFORMS_STEPBATCHING_H
#define ATTN_LIB_DIALECT_GRAPH_TRANSFORMS_STEPBATCHING_H

#include "attn/Dialect/Graph/IR/GraphOps.h"

#include "mlir/IR/Builders.h"

#include <optional>

namespace attn::graph {

/// How an op being batched sees one of the values it reads: its batched
/// version (a new leading dim, one entry per step), or a value that is the
/// same at every step, as it is.
struct BatchedValue {
  mlir::Value value;
  bool batched;
};

/// The batched or unchanged form of a value an op reads (an operand, or a
/// value a region of it uses from above); none when it has neither.
using BatchLookup =
    llvm::function_ref<std::optional<BatchedValue>(mlir::Value)>;

/// Row ops name the dims they reduce over (the norms, the last); they
/// mean the same with a new leading dim once each named dim is renumbered.
bool isRowOp(mlir::Operation *op);

/// Data movement that names dims (split, concat, slice, transpose,
/// reshape): batched like the row ops.
bool movesData(mlir::Operation *op);

/// Whether `op` has a body (a scan's step, a fused cluster, an attention's
/// score modification).
bool hasBody(mlir::Operation *op);

/// Ops whose leading dims are batch dims and that read operands without
/// them broadcast: the BatchPolymorphic ones, and an attention without a
/// score modification (batchOverSteps also batches one with, its score
/// modification op by op).
bool isBatchPolymorphic(mlir::Operation *op);

/// `type` with `extent` prepended.
mlir::RankedTensorType withLeadingDim(mlir::Type type, int64_t extent);

/// `value` repeated `extent` times along a new leading dim, built at
/// `builder`: a splat as a larger splat, a float tensor as its product
/// with ones (exact, even for -0, NaN and infinities). Null otherwise.
mlir::Value repeatOver(mlir::OpBuilder &builder, mlir::Value value,
                       int64_t extent);

/// Builds at `builder` a copy of `op` computing it for `extent` steps at
/// once, every result with a new leading dim of that extent, reading the
/// values `lookup` gives. Handles batch-polymorphic ops (an unchanged
/// operand broadcasts; a batched one of lower rank than the result is
/// reshaped so its leading dim lines up), row ops and data movement (dims
/// renumbered; an unchanged operand repeated, a norm's unchanged gamma and
/// beta read as they are, batched ones applied after it), attention (its score modification batched op by op, what
/// it reads from outside it lined up with the scores before it) and scans (a scan over dim d of batched sequences, walking
/// dim d + 1 with batched state, its body batched op by op). Returns null
/// when no copy means the same, possibly leaving dead repeats or reshapes
/// behind for the canonicalizer.
mlir::Operation *batchOverSteps(mlir::OpBuilder &builder, mlir::Operation *op,
                                int64_t extent, BatchLookup lookup);

/// The values `op` reads: its operands, then the values its regions use
/// from above it, each once.
llvm::SmallVector<mlir::Value> valuesReadBy(mlir::Operation *op);

} // namespace attn::graph

#endif // ATTN_LIB_DIALECT_GRAPH_TRANSFORMS_STEPBATCHING_H
