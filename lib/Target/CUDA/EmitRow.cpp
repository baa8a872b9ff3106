//===- EmitRow.cpp - kernel.row: one row per block ------------------------===//
//
// A row op (softmax, layer_norm, rms_norm, reduce_sum/max/mean) with its
// elementwise neighbours. Each block takes one row (grid-stride over rows),
// its threads stride over the row's elements: the prologue (whatever
// produces the row op's input, computed by the scalar emitter from the
// kernel's inputs) is evaluated while reducing, the statistics come from
// block reductions in f32, and the epilogue is evaluated per element
// before the store. Elements are recomputed rather than kept between the
// passes: the prologue is elementwise by construction, so that costs
// arithmetic, not memory traffic.
//
//===----------------------------------------------------------------------===//

#include "KernelPatterns.h"

#include "attn/Dialect/Graph/IR/GraphOps.h"
#include "attn/Dialect/Kernel/IR/KernelOps.h"

using namespace mlir;
using namespace attn;
using namespace attn::cuda;
using namespace attn::graph;

namespace {
/// The row op's input dims split into kept (row) and reduced (element)
/// dims, and how to build an input index from a row and an element.
struct RowLayout {
  llvm::SmallVector<int64_t> rowDims, reducedDims;
  int64_t rows = 1, length = 1;

  Index inputIndex(ArrayRef<int64_t> shape, const std::string &row,
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
};
} // namespace

static RowLayout layoutOf(Operation *rowOp) {
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

LogicalResult attn::cuda::emitRow(KernelEmission &k) {
  Operation *rowOp = nullptr;
  for (Operation &op : k.block())
    if (kernel::classifyGraphOp(&op) == kernel::GraphOpRole::Row)
      rowOp = &op;
  RowLayout layout = layoutOf(rowOp);
  Value input = rowOp->getOperand(0), result = rowOp->getResult(0);
  ArrayRef<int64_t> inShape = shapeOf(input);
  bool reduces = isa<ReduceSumOp, ReduceMaxOp, ReduceMeanOp>(rowOp);
  for (Value value : k.results())
    if (shapeOf(value) != shapeOf(result))
      return rowOp->emitOpError(
          "CUDA emission: every result of a row kernel must have the row "
          "op's shape");

  k.threads = k.scheduledThreads();
  k.blocks = std::min<int64_t>(layout.rows, 65535);
  CodeWriter &w = k.out;
  w.line("ATTNC_SHARED(float, scratch, 32);");
  w.open("for (attnc_index row = blockIdx.x; row < " + num(layout.rows) +
         "; row += gridDim.x)");

  ScalarEmitter scalar(w, [&](Value v, const Index &i) {
    return k.loadInput(v, i);
  });
  // The row op's input at element `j` of this row.
  auto inputAt = [&](const std::string &j) -> FailureOr<std::string> {
    return scalar.emit(input, layout.inputIndex(inShape, "row", j));
  };
  auto loop = [&](const std::string &header) {
    w.open("for (attnc_index j = threadIdx.x; j < " + num(layout.length) +
           "; j += blockDim.x)" + header);
  };
  auto endLoop = [&] {
    w.close();
    scalar.clearCache();
  };

  // Statistics.
  std::string mean = "0.0f", scale = "1.0f", stat;
  if (isa<SoftmaxOp, ReduceMaxOp>(rowOp)) {
    w.line("float partialMax = __int_as_float(0xff800000);");
    loop("");
    FailureOr<std::string> x = inputAt("j");
    if (failed(x))
      return failure();
    w.line("partialMax = fmaxf(partialMax, " + *x + ");");
    endLoop();
    w.line("const float rowMax = attnc_block_max(partialMax, scratch);");
    stat = "rowMax";
  }
  if (isa<SoftmaxOp>(rowOp)) {
    w.line("float partialSum = 0.0f;");
    loop("");
    FailureOr<std::string> x = inputAt("j");
    if (failed(x))
      return failure();
    w.line("partialSum += expf(" + *x + " - rowMax);");
    endLoop();
    w.line("const float rowSum = attnc_block_sum(partialSum, scratch);");
    // One IEEE division per row, not per element: the element loop then
    // holds a multiply (within 1.5 ulp of the quotient) instead of the
    // division's slow path, which NVRTC compiles once per unrolled copy.
    w.line("const float rowInverse = 1.0f / rowSum;");
  }
  if (isa<LayerNormOp, ReduceSumOp, ReduceMeanOp>(rowOp)) {
    w.line("float partialSum = 0.0f;");
    loop("");
    FailureOr<std::string> x = inputAt("j");
    if (failed(x))
      return failure();
    w.line("partialSum += " + *x + ";");
    endLoop();
    w.line("const float rowSum = attnc_block_sum(partialSum, scratch);");
    stat = isa<ReduceSumOp>(rowOp) ? "rowSum"
                                   : "(rowSum / " + num(layout.length) + ".0f)";
  }
  if (auto norm = dyn_cast<LayerNormOp>(rowOp)) {
    // Two passes (mean, then squared deviations): no cancellation.
    w.line("const float rowMean = rowSum / " + num(layout.length) + ".0f;");
    w.line("float partialVar = 0.0f;");
    loop("");
    FailureOr<std::string> x = inputAt("j");
    if (failed(x))
      return failure();
    w.line("partialVar += (" + *x + " - rowMean) * (" + *x + " - rowMean);");
    endLoop();
    w.line("const float rowVar = attnc_block_sum(partialVar, scratch) / " +
           num(layout.length) + ".0f;");
    // rsqrtf: 2 ulp (2.4e-7 relative), far inside every tolerance, and
    // one instruction where sqrtf and a division are subroutines.
    w.line("const float rowScale = rsqrtf(rowVar + " +
           floatLiteral(norm.getEpsilon().convertToDouble()) + ");");
    mean = "rowMean";
    scale = "rowScale";
  }
  if (auto norm = dyn_cast<RMSNormOp>(rowOp)) {
    w.line("float partialSquares = 0.0f;");
    loop("");
    FailureOr<std::string> x = inputAt("j");
    if (failed(x))
      return failure();
    w.line("partialSquares += " + *x + " * " + *x + ";");
    endLoop();
    w.line("const float rowScale = rsqrtf(attnc_block_sum(partialSquares, "
           "scratch) / " +
           num(layout.length) + ".0f + " +
           floatLiteral(norm.getEpsilon().convertToDouble()) + ");");
  }

  if (reduces) {
    // One value per row: thread 0 runs the epilogue on it.
    w.open("if (threadIdx.x == 0)");
    llvm::SmallVector<int64_t> rowShape(shapeOf(result));
    if (failed(storeEpilogue(k, result, stat, delinearize("row", rowShape))))
      return failure();
    w.close();
  } else {
    loop("");
    Index index = layout.inputIndex(inShape, "row", "j");
    // A failure inside the leaf is reported there; it is remembered so the
    // pattern fails too (the leaf itself can only return an expression).
    bool leafFailed = false;
    auto fail = [&] {
      leafFailed = true;
      return std::string("0.0f");
    };
    ScalarEmitter epilogue(w, [&](Value v, const Index &i)
                               -> std::optional<std::string> {
      if (v != result)
        return k.loadInput(v, i);
      FailureOr<std::string> x = scalar.emit(input, i);
      if (failed(x))
        return fail();
      if (isa<SoftmaxOp>(rowOp))
        return roundTo(result, "expf(" + *x + " - rowMax) * rowInverse");
      // Norms: the gain (and bias) are 1-D over the last dim.
      Index last{i.back()};
      FailureOr<std::string> g = scalar.emit(rowOp->getOperand(1), last);
      if (failed(g))
        return fail();
      if (isa<RMSNormOp>(rowOp))
        return roundTo(result, "(" + *x + " * rowScale) * " + *g);
      FailureOr<std::string> b = scalar.emit(rowOp->getOperand(2), last);
      if (failed(b))
        return fail();
      return roundTo(result, "(" + *x + " - " + mean + ") * " + scale + " * " +
                                 *g + " + " + *b);
    });
    for (auto [r, value] : llvm::enumerate(k.results())) {
      FailureOr<std::string> element = epilogue.emit(value, index);
      if (failed(element))
        return failure();
      w.line(storeResult(k, r, index, *element));
    }
    if (leafFailed)
      return failure();
    w.close();
  }
  // Reductions reuse `scratch`; the next row's first one must not
  // overwrite it while a slow warp still reads this row's result.
  w.line("__syncthreads();");
  w.close();
  return success();
}
