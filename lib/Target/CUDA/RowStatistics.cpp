//===- RowStatistics.cpp - a row op's statistics as CUDA -----------------===//
//
// The passes over a row shared by the row kernel and the recurrence step
// (see RowStatistics.h). The statistics are f32 whatever the element
// type, as the row ops' numerics contract says.
//
//===----------------------------------------------------------------------===//

#include "RowStatistics.h"

#include "attn/Dialect/Graph/IR/GraphOps.h"

using namespace mlir;
using namespace attn;
using namespace attn::cuda;
using namespace attn::graph;

Index RowLayout::inputIndex(ArrayRef<int64_t> shape, const std::string &row,
                            const std::string &element) const {
  llvm::SmallVector<int64_t> rowShape, elementShape;
  for (int64_t d : rowDims)
    rowShape.push_back(shape[d]);
  for (int64_t d : reducedDims)
    elementShape.push_back(shape[d]);
  Index rowIndex = delinearize(row, rowShape);
  Index elementIndex = delinearize(element, elementShape);
  Index index(shape.size());
  for (auto [i, d] : llvm::enumerate(rowDims))
    index[d] = rowIndex[i];
  for (auto [i, d] : llvm::enumerate(reducedDims))
    index[d] = elementIndex[i];
  return index;
}

RowLayout attn::cuda::rowLayoutOf(Operation *rowOp) {
  ArrayRef<int64_t> shape = shapeOf(rowOp->getOperand(0));
  llvm::SmallVector<int64_t> reduced;
  if (auto softmax = dyn_cast<SoftmaxOp>(rowOp))
    reduced.push_back(softmax.getDim());
  else if (auto dims = rowOp->getAttrOfType<DenseI64ArrayAttr>("dims"))
    reduced.assign(dims.asArrayRef().begin(), dims.asArrayRef().end());
  else
    reduced.push_back(shape.size() - 1);
  llvm::sort(reduced);
  RowLayout layout;
  for (int64_t d = 0; d < int64_t(shape.size()); ++d) {
    if (llvm::is_contained(reduced, d)) {
      layout.reducedDims.push_back(d);
      layout.length *= shape[d];
    } else {
      layout.rowDims.push_back(d);
      layout.rows *= shape[d];
    }
  }
  return layout;
}

FailureOr<RowStatistics> attn::cuda::emitRowStatistics(CodeWriter &w,
                                                       Operation *rowOp,
                                                       int64_t length,
                                                       const RowWalk &walk) {
  RowStatistics stats;
  // One pass: `partial` starts at `init` and takes `update(x)` per element.
  auto pass = [&](const std::string &partial, const std::string &init,
                  llvm::function_ref<std::string(const std::string &)> update)
      -> LogicalResult {
    w.line("float " + partial + " = " + init + ";");
    walk.open();
    FailureOr<std::string> x = walk.inputAt("j");
    if (failed(x))
      return failure();
    w.line(update(*x));
    walk.close();
    return success();
  };
  const std::string count = num(length) + ".0f";
  if (isa<SoftmaxOp, ReduceMaxOp>(rowOp)) {
    if (failed(pass("partialMax", "__int_as_float(0xff800000)",
                    [](const std::string &x) {
                      return "partialMax = fmaxf(partialMax, " + x + ");";
                    })))
      return failure();
    w.line("const float rowMax = " + walk.max("partialMax") + ";");
    stats.stat = "rowMax";
  }
  if (isa<SoftmaxOp>(rowOp)) {
    if (failed(pass("partialSum", "0.0f", [](const std::string &x) {
          return "partialSum += expf(" + x + " - rowMax);";
        })))
      return failure();
    w.line("const float rowSum = " + walk.sum("partialSum") + ";");
    // One IEEE division per row, not per element: the element loop then
    // holds a multiply (within 1.5 ulp of the quotient) instead of the
    // division's slow path, which NVRTC compiles once per unrolled copy.
    w.line("const float rowInverse = 1.0f / rowSum;");
    stats.scale = "rowInverse";
  }
  if (isa<LayerNormOp, ReduceSumOp, ReduceMeanOp>(rowOp)) {
    if (failed(pass("partialSum", "0.0f", [](const std::string &x) {
          return "partialSum += " + x + ";";
        })))
      return failure();
    w.line("const float rowSum = " + walk.sum("partialSum") + ";");
    stats.stat = isa<ReduceSumOp>(rowOp) ? "rowSum"
                                         : "(rowSum / " + count + ")";
  }
  if (auto norm = dyn_cast<LayerNormOp>(rowOp)) {
    // Two passes (mean, then squared deviations): no cancellation.
    w.line("const float rowMean = rowSum / " + count + ";");
    if (failed(pass("partialVar", "0.0f", [](const std::string &x) {
          return "partialVar += (" + x + " - rowMean) * (" + x +
                 " - rowMean);";
        })))
      return failure();
    w.line("const float rowVar = " + walk.sum("partialVar") + " / " + count +
           ";");
    // rsqrtf: 2 ulp (2.4e-7 relative), far inside every tolerance, and
    // one instruction where sqrtf and a division are subroutines.
    w.line("const float rowScale = rsqrtf(rowVar + " +
           floatLiteral(norm.getEpsilon().convertToDouble()) + ");");
    stats.mean = "rowMean";
    stats.scale = "rowScale";
  }
  if (auto norm = dyn_cast<RMSNormOp>(rowOp)) {
    if (failed(pass("partialSquares", "0.0f", [](const std::string &x) {
          return "partialSquares += " + x + " * " + x + ";";
        })))
      return failure();
    w.line("const float rowScale = rsqrtf(" + walk.sum("partialSquares") +
           " / " + count + " + " +
           floatLiteral(norm.getEpsilon().convertToDouble()) + ");");
    stats.scale = "rowScale";
  }
  return stats;
}

std::string attn::cuda::rowResultElement(Operation *rowOp,
                                         const RowStatistics &stats,
                                         const std::string &x,
                                         const std::string &g,
                                         const std::string &b) {
  Value result = rowOp->getResult(0);
  if (isa<SoftmaxOp>(rowOp))
    return roundTo(result, "expf(" + x + " - " + stats.stat + ") * " +
                               stats.scale);
  if (isa<RMSNormOp>(rowOp))
    return roundTo(result, "(" + x + " * " + stats.scale + ") * " + g);
  return roundTo(result, "(" + x + " - " + stats.mean + ") * " + stats.scale +
                             " * " + g + " + " + b);
}
