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
#include "RowStatistics.h"

#include "attn/Dialect/Graph/IR/GraphOps.h"
#include "attn/Dialect/Kernel/IR/KernelOps.h"

using namespace mlir;
using namespace attn;
using namespace attn::cuda;
using namespace attn::graph;

LogicalResult attn::cuda::emitRow(KernelEmission &k) {
  Operation *rowOp = nullptr;
  for (Operation &op : k.block())
    if (kernel::classifyGraphOp(&op) == kernel::GraphOpRole::Row)
      rowOp = &op;
  RowLayout layout = rowLayoutOf(rowOp);
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

  RowWalk walk;
  walk.open = [&] { loop(""); };
  walk.close = endLoop;
  walk.inputAt = inputAt;
  walk.sum = [](const std::string &partial) {
    return "attnc_block_sum(" + partial + ", scratch)";
  };
  walk.max = [](const std::string &partial) {
    return "attnc_block_max(" + partial + ", scratch)";
  };
  FailureOr<RowStatistics> stats =
      emitRowStatistics(w, rowOp, layout.length, walk);
  if (failed(stats))
    return failure();

  if (reduces) {
    // One value per row: thread 0 runs the epilogue on it.
    w.open("if (threadIdx.x == 0)");
    llvm::SmallVector<int64_t> rowShape(shapeOf(result));
    if (failed(storeEpilogue(k, result, stats->stat,
                             delinearize("row", rowShape))))
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
        return rowResultElement(rowOp, *stats, *x, "", "");
      // Norms: the gain (and bias) are 1-D over the last dim.
      Index last{i.back()};
      FailureOr<std::string> g = scalar.emit(rowOp->getOperand(1), last);
      if (failed(g))
        return fail();
      FailureOr<std::string> b =
          isa<LayerNormOp>(rowOp) ? scalar.emit(rowOp->getOperand(2), last)
                                  : FailureOr<std::string>(std::string());
      if (failed(b))
        return fail();
      return rowResultElement(rowOp, *stats, *x, *g, *b);
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
