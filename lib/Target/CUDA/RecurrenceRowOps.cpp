//===- RecurrenceRowOps.cpp - row ops and attention inside a step --------===//
//
// What a recurrence step computes over whole rows of the state: a row op
// (softmax, a reduction, a norm: a layer-normalised LSTM's gates) and an
// attention whose query is the state (an RNN decoder attending over an
// encoder's memory). Hoisting lifts every step-invariant one out of the
// step, so these read the state and run once per step.
//
// Each is a phase of its own (materialized() in EmitRecurrence.cpp): the
// grid's warps take rows grid-stride, a warp's lanes stride over the row
// and combine with shuffles, and the grid barrier that ends the phase
// publishes the result to the readers. A warp per row, not a block as in
// the row kernel: a step's rows are few and short (batch x hidden), so a
// block's reduction through shared memory and its block barriers would
// cost more than its extra lanes save, and the phase needs no shared
// memory next to the resident weights.
//
// The attention walks the keys once with the online softmax (running
// maximum and sum, the accumulator rescaled as the maximum grows), as the
// attention kernel does, with the dot products split over the lanes: lane
// l holds elements l, l + 32, ... of the query and of the accumulator in
// registers, so a key costs depth / 32 FMAs and one warp sum per lane.
// Scores, statistics and the accumulator are f32 and the output is
// rounded once: the attn.attention numerics contract.
//
//===----------------------------------------------------------------------===//

#include "RecurrenceEmitter.h"
#include "RowStatistics.h"

using namespace mlir;
using namespace attn;
using namespace attn::cuda;

/// Opens the grid-stride loop over `rows`, one warp per row, and declares
/// the thread's `lane`. Recurrence blocks are whole warps (the target
/// description's recurrence_threads), so a warp's lanes share their row
/// and reach the shuffles together.
static void openWarpRows(CodeWriter &w, int64_t rows) {
  w.open("for (attnc_index row = gtid / 32; row < " + num(rows) +
         "; row += gsize / 32)");
  w.line("const attnc_index lane = threadIdx.x % 32;");
}

LogicalResult RecurrenceEmitter::emitRowPhase(Operation *rowOp,
                                              const std::string &target) {
  CodeWriter &w = k.out;
  RowLayout layout = rowLayoutOf(rowOp);
  Value input = rowOp->getOperand(0), result = rowOp->getResult(0);
  ArrayRef<int64_t> inShape = shapeOf(input);
  openWarpRows(w, layout.rows);
  ScalarEmitter scalar(w, [&](Value v, const Index &i) {
    return load(v, i, nullptr);
  });
  RowWalk walk;
  walk.open = [&] {
    w.open("for (attnc_index j = lane; j < " + num(layout.length) +
           "; j += 32)");
  };
  walk.close = [&] {
    w.close();
    scalar.clearCache();
  };
  walk.inputAt = [&](const std::string &j) {
    return scalar.emit(input, layout.inputIndex(inShape, "row", j));
  };
  walk.sum = [](const std::string &partial) {
    return "attnc_warp_sum(" + partial + ")";
  };
  walk.max = [](const std::string &partial) {
    return "attnc_warp_max(" + partial + ")";
  };
  FailureOr<RowStatistics> stats =
      emitRowStatistics(w, rowOp, layout.length, walk);
  if (failed(stats))
    return failure();

  if (isa<graph::ReduceSumOp, graph::ReduceMaxOp, graph::ReduceMeanOp>(
          rowOp)) {
    // The kept dims in order are the result's (extent-1 reduced dims
    // under keep_dims add nothing to an offset), so row is the offset.
    w.line("if (lane == 0) " + target + "[row] = " +
           roundTo(result, stats->stat) + ";");
    w.close();
    return success();
  }
  walk.open();
  Index index = layout.inputIndex(inShape, "row", "j");
  FailureOr<std::string> x = scalar.emit(input, index);
  if (failed(x))
    return failure();
  std::string g, b;
  if (!isa<graph::SoftmaxOp>(rowOp)) {
    // Norms: the gain (and bias) are 1-D over the last dim.
    Index last{index.back()};
    FailureOr<std::string> gain = scalar.emit(rowOp->getOperand(1), last);
    if (failed(gain))
      return failure();
    g = *gain;
    if (isa<graph::LayerNormOp>(rowOp)) {
      FailureOr<std::string> bias = scalar.emit(rowOp->getOperand(2), last);
      if (failed(bias))
        return failure();
      b = *bias;
    }
  }
  w.line(target + "[" + linearize(index, inShape) +
         "] = " + rowResultElement(rowOp, *stats, *x, g, b) + ";");
  walk.close();
  w.close();
  return success();
}

LogicalResult RecurrenceEmitter::emitAttentionPhase(graph::AttentionOp op,
                                                    const std::string &target) {
  CodeWriter &w = k.out;
  Value result = op.getResult();
  ArrayRef<int64_t> out = shapeOf(result);
  const size_t batchRank = out.size() - 2;
  const int64_t queries = out[batchRank], width = out.back();
  ArrayRef<int64_t> keyShape = shapeOf(op.getKey());
  const int64_t keys = keyShape[keyShape.size() - 2];
  const int64_t depth = shapeOf(op.getQuery()).back();
  ArrayRef<int64_t> batchShape = out.take_front(batchRank);
  int64_t rows = queries;
  for (int64_t extent : batchShape)
    rows *= extent;
  const int64_t querySlots = (depth + 31) / 32, valueSlots = (width + 31) / 32;

  openWarpRows(w, rows);
  w.line("const attnc_index i = row % " + num(queries) + ";");
  w.line("const attnc_index rowBatch = row / " + num(queries) + ";");
  Index batch = delinearize("rowBatch", batchShape);
  // Operand element (row, col) under batch broadcasting.
  auto at = [&](Value operand, const std::string &r, const std::string &c) {
    Index index = matrixBatchIndex(batch, out, shapeOf(operand));
    index.append({r, c});
    return index;
  };
  auto loader = [&](Value v, const Index &i) { return load(v, i, nullptr); };
  ScalarEmitter scalar(w, loader);
  // A loop over the lane's slots (unrolled: the arrays stay in registers)
  // with `c` the element, running `body` where c < extent.
  auto slots = [&](int64_t count, int64_t extent,
                   llvm::function_ref<LogicalResult()> body) -> LogicalResult {
    w.line("#pragma unroll");
    w.open("for (int slot = 0; slot < " + num(count) + "; ++slot)");
    w.line("const attnc_index c = lane + 32 * slot;");
    bool guarded = extent % 32 != 0;
    if (guarded)
      w.open("if (c < " + num(extent) + ")");
    LogicalResult status = body();
    if (guarded)
      w.close();
    w.close();
    scalar.clearCache();
    return status;
  };

  w.line("float query[" + num(querySlots) + "] = {};");
  if (failed(slots(querySlots, depth, [&]() -> LogicalResult {
        FailureOr<std::string> q =
            scalar.emit(op.getQuery(), at(op.getQuery(), "i", "c"));
        if (failed(q))
          return failure();
        w.line("query[slot] = " + *q + ";");
        return success();
      })))
    return failure();
  w.line("float m = __int_as_float(0xff800000), l = 0.0f;");
  w.line("float acc[" + num(valueSlots) + "] = {};");
  w.open("for (attnc_index j = 0; j < " + num(keys) + "; ++j)");
  // The row's keys end at the causal limit; i is the warp's, so all its
  // lanes leave together.
  if (std::optional<int64_t> offset = op.getCausalOffset())
    w.line("if (j - i > " + num(*offset) + ") break;");
  w.line("float dot = 0.0f;");
  if (failed(slots(querySlots, depth, [&]() -> LogicalResult {
        FailureOr<std::string> key =
            scalar.emit(op.getKey(), at(op.getKey(), "j", "c"));
        if (failed(key))
          return failure();
        w.line("dot += query[slot] * " + *key + ";");
        return success();
      })))
    return failure();
  w.line("float s = " + floatLiteral(op.getScale().convertToDouble()) +
         " * attnc_warp_sum(dot);");
  if (failed(applyScoreMod(w, op, batch, "s", loader)))
    return failure();
  emitOnlineSoftmaxStep(w);
  if (failed(slots(valueSlots, width, [&]() -> LogicalResult {
        FailureOr<std::string> value =
            scalar.emit(op.getValue(), at(op.getValue(), "j", "c"));
        if (failed(value))
          return failure();
        w.line("acc[slot] = acc[slot] * correction + p * " + *value + ";");
        return success();
      })))
    return failure();
  w.line("m = mNew;");
  w.close();
  Index index = batch;
  index.append({"i", "c"});
  if (failed(slots(valueSlots, width, [&]() -> LogicalResult {
        w.line(target + "[" + linearize(index, out) +
               "] = " + roundTo(result, "acc[slot] / l") + ";");
        return success();
      })))
    return failure();
  w.close();
  return success();
}
