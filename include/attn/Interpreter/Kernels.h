//===- Kernels.h - the interpreter's op kernels -----------------*- C++ -*-===//
//
// Reference kernels, one family per file: each `tryEvaluate*` function
// computes the results of the ops of its family and returns false for any
// other op, so the interpreter tries the families in turn. Kernels favour
// obviously correct loops over speed: they define what a model means.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_INTERPRETER_KERNELS_H
#define ATTN_INTERPRETER_KERNELS_H

#include "attn/Dialect/Graph/IR/GraphOps.h"
#include "attn/Interpreter/Tensor.h"

#include "mlir/IR/Operation.h"
#include "llvm/ADT/SmallVector.h"

namespace attn::interp {

using Operands = llvm::ArrayRef<const Tensor *>;
using Results = llvm::SmallVectorImpl<Tensor>;

/// Unary and binary math, scale, cast, select, constants, splat, iota and
/// causal masks (ElementwiseKernels.cpp).
bool tryEvaluateElementwise(mlir::Operation *op, Operands operands,
                            Precision precision, Results &results);

/// Matmul, softmax, reductions and normalisations (ContractionKernels.cpp).
bool tryEvaluateContraction(mlir::Operation *op, Operands operands,
                            Precision precision, Results &results);

/// Transpose, reshape, slice, concat and split (ShapeKernels.cpp).
bool tryEvaluateShape(mlir::Operation *op, Operands operands,
                      Precision precision, Results &results);

/// attn.assoc_scan, combined sequentially (RecurrenceKernels.cpp).
bool tryEvaluateRecurrence(mlir::Operation *op, Operands operands,
                           Precision precision, Results &results);

/// attn.attention in two halves around its score modification region
/// (AttentionKernels.cpp): the scaled scores as an f32 tensor, then the
/// causal mask, softmax and weighted sum of the values.
Tensor attentionScores(graph::AttentionOp op, const Tensor &query,
                       const Tensor &key, Precision precision);
Tensor attentionOutput(graph::AttentionOp op, const Tensor &scores,
                       const Tensor &query, const Tensor &key,
                       const Tensor &value, Precision precision);

/// A zero-filled tensor with the shape and element type of result `index`
/// of `op`, for a kernel to fill in.
Tensor emptyResult(mlir::Operation *op, unsigned index = 0);

/// The slice of `tensor` at index `index` along `dim` (that dim removed),
/// and its inverse: writing such a slice into `into`.
Tensor sliceAlong(const Tensor &tensor, int64_t dim, int64_t index);
void insertAlong(Tensor &into, int64_t dim, int64_t index,
                 const Tensor &slice);

} // namespace attn::interp

#endif // ATTN_INTERPRETER_KERNELS_H
