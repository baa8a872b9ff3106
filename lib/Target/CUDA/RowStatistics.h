//===- RowStatistics.h - a row op's statistics as CUDA -----------*- C++ -*-===//
//
// What every pattern that computes a row op (softmax, layer_norm,
// rms_norm, reduce_sum/max/mean) shares: which dims form a row, the
// passes over a row that produce its statistics (maximum, sum of
// exponentials, mean, variance), and the result element from them. The
// row kernel (EmitRow.cpp) gives each row a block and combines partial
// results with block reductions; a recurrence step (RecurrenceRowOps.cpp)
// gives each row a warp and combines with shuffles. Both then compute the
// same expressions in the same order.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_LIB_TARGET_CUDA_ROWSTATISTICS_H
#define ATTN_LIB_TARGET_CUDA_ROWSTATISTICS_H

#include "ScalarEmitter.h"

#include "mlir/IR/Operation.h"

#include <functional>

namespace attn::cuda {

/// A row op's input dims split into kept (row) and reduced (element)
/// dims, and how to build an input index from a row and an element.
struct RowLayout {
  llvm::SmallVector<int64_t> rowDims, reducedDims;
  int64_t rows = 1, length = 1;

  Index inputIndex(llvm::ArrayRef<int64_t> shape, const std::string &row,
                   const std::string &element) const;
};
RowLayout rowLayoutOf(mlir::Operation *rowOp);

/// How a pattern walks one row: `open` starts a loop whose variable `j`
/// runs over the elements a thread takes, `close` ends it (and forgets
/// what was computed inside), `inputAt` is the row op's input at element
/// `j`, and `sum`/`max` combine the threads' partial results into the
/// row's (an expression every thread of the row can read).
struct RowWalk {
  std::function<void()> open, close;
  std::function<mlir::FailureOr<std::string>(const std::string &)> inputAt;
  std::function<std::string(const std::string &)> sum, max;
};

/// The float variables the statistics passes declare: `stat` is a
/// reduction's value (and softmax's maximum), `mean` and `scale` a norm's
/// (x - mean) * scale (0 and 1 when unused).
struct RowStatistics {
  std::string stat, mean = "0.0f", scale = "1.0f";
};

/// Emits the passes over the row that compute `rowOp`'s statistics.
mlir::FailureOr<RowStatistics> emitRowStatistics(CodeWriter &w,
                                                 mlir::Operation *rowOp,
                                                 int64_t length,
                                                 const RowWalk &walk);

/// The result element of a softmax or a norm, rounded to its type, from
/// its input `x` and (norms) the gain `g` and bias `b` at that element.
std::string rowResultElement(mlir::Operation *rowOp,
                             const RowStatistics &stats, const std::string &x,
                             const std::string &g, const std::string &b);

} // namespace attn::cuda

#endif
