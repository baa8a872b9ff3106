//===- EmitRecurrence.cpp - kernel.recurrence as one cooperative launch ---===//
//
// The correctness-first persistent recurrence: one cooperative launch runs
// all time steps, the grid stepping in lockstep through grid-wide
// barriers instead of one launch per step. Within a step every op of the
// scan body is a phase: all threads of the grid compute its elements
// (grid-stride), write them to a scratch buffer, and meet at the barrier
// before the next op reads them. Carried state lives in two buffers that
// swap each step. Any body the scalar emitter handles works, plus matmuls
// (the recurrent h U) as explicit dot products. Issue 6's persistent
// kernel keeps U on chip and merges phases; the step structure stays.
//
//===----------------------------------------------------------------------===//

#include "KernelPatterns.h"

#include "attn/Dialect/Graph/IR/GraphOps.h"

using namespace mlir;
using namespace attn;
using namespace attn::cuda;

static int64_t numElements(Value value) {
  int64_t n = 1;
  for (int64_t d : shapeOf(value))
    n *= d;
  return n;
}

namespace {
class RecurrenceEmitter {
public:
  RecurrenceEmitter(KernelEmission &k, graph::ScanOp scan) : k(k), scan(scan) {}
  LogicalResult run();

private:
  /// Where a value of the scan body lives while a phase reads it.
  std::optional<std::string> load(Value value, const Index &index,
                                  Operation *computing);
  LogicalResult phase(Value value, const std::string &target,
                      Operation *computing, bool stacked = false,
                      Value outer = {});
  LogicalResult emitMatmul(graph::MatmulOp matmul, const std::string &target);
  void barrier() { k.out.line("attnc_grid_sync(barrier);"); }
  std::string num(int64_t v) { return std::to_string(v); }

  /// A scan being stepped: its time variable and carry buffers.
  struct ActiveScan {
    graph::ScanOp op;
    std::string time;
    llvm::SmallVector<std::string> carryNow, carryNext;
  };
  LogicalResult emitSteps(graph::ScanOp op, bool outermost);

  KernelEmission &k;
  graph::ScanOp scan;
  llvm::DenseMap<Value, std::string> scratch; // body op results
  llvm::SmallVector<ActiveScan> active;       // outermost first
  unsigned nesting = 0;
};
} // namespace

std::optional<std::string> RecurrenceEmitter::load(Value value,
                                                   const Index &index,
                                                   Operation *computing) {
  // Values inside the op being computed (a fused body) are computed.
  if (Operation *def = value.getDefiningOp())
    if (computing && (def == computing || computing->isAncestor(def)))
      return std::nullopt;
  auto it = scratch.find(value);
  if (it != scratch.end())
    return it->second + "[" + linearize(index, shapeOf(value)) + "]";
  for (ActiveScan &level : active) {
    for (auto [i, arg] : llvm::enumerate(level.op.getCarriedArgs()))
      if (arg == value)
        return level.carryNow[i] + "[" + linearize(index, shapeOf(value)) +
               "]";
    for (auto [arg, sequence] :
         llvm::zip(level.op.getSequenceArgs(), level.op.getSequences()))
      if (arg == value) {
        Index full(index);
        full.insert(full.begin() + level.op.getDim(), level.time);
        return load(sequence, full, nullptr);
      }
  }
  return k.loadInput(value, index);
}

/// One grid-stride loop computing `value` everywhere into `target`
/// (a float buffer, or result `outer` when `stacked` writes step t of it).
LogicalResult RecurrenceEmitter::phase(Value value, const std::string &target,
                                       Operation *computing, bool stacked,
                                       Value outer) {
  CodeWriter &w = k.out;
  w.open("for (attnc_index e = gtid; e < " + num(numElements(value)) +
         "; e += gsize)");
  Index index = delinearize("e", shapeOf(value));
  ScalarEmitter scalar(w, [&](Value v, const Index &i) {
    return load(v, i, computing);
  });
  FailureOr<std::string> element = scalar.emit(value, index);
  if (failed(element))
    return failure();
  if (stacked) {
    Index full(index);
    ActiveScan &level = active.back();
    full.insert(full.begin() + level.op.getDim(), level.time);
    std::string offset = linearize(full, shapeOf(outer));
    if (target.rfind("out", 0) == 0)
      w.line("attnc_store(" + target + ", " + offset + ", " + *element + ");");
    else
      w.line(target + "[" + offset + "] = " + *element + ";");
  } else if (target.rfind("out", 0) == 0) {
    w.line("attnc_store(" + target + ", e, " + *element + ");");
  } else {
    w.line(target + "[e] = " + *element + ";");
  }
  w.close();
  return success();
}

LogicalResult RecurrenceEmitter::emitMatmul(graph::MatmulOp matmul,
                                            const std::string &target) {
  CodeWriter &w = k.out;
  Value result = matmul.getResult();
  ArrayRef<int64_t> out = shapeOf(result);
  size_t batch = out.size() - 2;
  ArrayRef<int64_t> lhs = shapeOf(matmul.getLhs());
  int64_t depth = matmul.getTransposeLhs() ? lhs[lhs.size() - 2] : lhs.back();
  w.open("for (attnc_index e = gtid; e < " + num(numElements(result)) +
         "; e += gsize)");
  Index index = delinearize("e", out);
  auto operand = [&](Value v, bool transposed, const std::string &row,
                     const std::string &col) {
    Index full(index);
    Index at = broadcastIndex(full, out, shapeOf(v));
    at.resize(at.size() - 2);
    at.push_back(transposed ? col : row);
    at.push_back(transposed ? row : col);
    return at;
  };
  w.line("float s = 0.0f;");
  w.open("for (attnc_index kk = 0; kk < " + num(depth) + "; ++kk)");
  ScalarEmitter scalar(w, [&](Value v, const Index &i) {
    return load(v, i, nullptr);
  });
  FailureOr<std::string> a =
      scalar.emit(matmul.getLhs(), operand(matmul.getLhs(),
                                           matmul.getTransposeLhs(),
                                           index[batch], "kk"));
  if (failed(a))
    return failure();
  FailureOr<std::string> b =
      scalar.emit(matmul.getRhs(), operand(matmul.getRhs(),
                                           matmul.getTransposeRhs(), "kk",
                                           index[batch + 1]));
  if (failed(b))
    return failure();
  w.line("s += " + *a + " * " + *b + ";");
  w.close();
  w.line(target + "[e] = " + roundTo(result, "s") + ";");
  w.close();
  return success();
}

LogicalResult RecurrenceEmitter::run() {
  CodeWriter &w = k.out;
  std::string barrierName = k.addTemp("unsigned int", 1, /*zeroed=*/true);
  w.line("unsigned int *barrier = " + barrierName + ";");
  w.line("const attnc_index gtid = (attnc_index)blockIdx.x * blockDim.x + "
         "threadIdx.x;");
  w.line("const attnc_index gsize = (attnc_index)gridDim.x * blockDim.x;");

  // Every op result of every (nested) body gets a scratch buffer.
  scan.getBody().walk([&](Operation *op) {
    if (isa<graph::YieldOp>(op) || op->getParentOfType<graph::FusedOp>())
      return;
    for (Value result : op->getResults())
      scratch[result] = k.addTemp("float", numElements(result));
  });
  return emitSteps(scan, /*outermost=*/true);
}

/// Steps `op` to the end: its carries' buffers, their initial values, and
/// per step each body op as a phase (nested scans recursively), then the
/// yield. The outermost scan writes kernel results; a nested one writes
/// its results into their scratch buffers.
LogicalResult RecurrenceEmitter::emitSteps(graph::ScanOp op, bool outermost) {
  CodeWriter &w = k.out;
  Block &body = op.getBody().front();
  ActiveScan level{op, "t" + num(nesting++), {}, {}};
  for (auto [i, init] : llvm::enumerate(op.getInits())) {
    std::string a = k.addTemp("float", numElements(init));
    std::string b = k.addTemp("float", numElements(init));
    std::string now = "carryNow" + level.time + "_" + num(i);
    std::string next = "carryNext" + level.time + "_" + num(i);
    w.line("float *" + now + " = " + a + ";");
    w.line("float *" + next + " = " + b + ";");
    level.carryNow.push_back(now);
    level.carryNext.push_back(next);
  }
  // The initial state, read in the enclosing scope.
  for (auto [i, init] : llvm::enumerate(op.getInits()))
    if (failed(phase(init, level.carryNow[i], nullptr)))
      return failure();
  barrier();

  int64_t length = op.getLength();
  w.open("for (attnc_index step" + level.time + " = 0; step" + level.time +
         " < " + num(length) + "; ++step" + level.time + ")");
  w.line("const attnc_index " + level.time + " = " +
         (op.getReverse() ? num(length - 1) + " - step" + level.time
                          : "step" + level.time) +
         ";");
  active.push_back(level);
  for (Operation &nested : body.without_terminator()) {
    if (auto inner = dyn_cast<graph::ScanOp>(nested)) {
      if (failed(emitSteps(inner, /*outermost=*/false)))
        return failure();
      continue;
    }
    if (auto matmul = dyn_cast<graph::MatmulOp>(nested)) {
      if (failed(emitMatmul(matmul, scratch[matmul.getResult()])))
        return failure();
    } else {
      for (Value result : nested.getResults())
        if (failed(phase(result, scratch[result], &nested)))
          return failure();
    }
    barrier();
  }
  // Yield: this step's outputs, then the next state.
  Operation *yield = body.getTerminator();
  unsigned numStacked = op.getStackedOutputs().size();
  for (auto [s, stacked] : llvm::enumerate(op.getStackedOutputs())) {
    if (!outermost) {
      if (failed(phase(yield->getOperand(s), scratch[stacked], nullptr,
                       /*stacked=*/true, stacked)))
        return failure();
      continue;
    }
    for (auto [r, kernelValue] : llvm::enumerate(k.results()))
      if (kernelValue == stacked &&
          failed(phase(yield->getOperand(s), "out" + num(r), nullptr,
                       /*stacked=*/true, stacked)))
        return failure();
  }
  for (auto [i, next] : llvm::enumerate(level.carryNext))
    if (failed(phase(yield->getOperand(numStacked + i), next, nullptr)))
      return failure();
  barrier();
  for (size_t i = 0; i < level.carryNow.size(); ++i)
    w.line("{ float *swap = " + level.carryNow[i] + "; " + level.carryNow[i] +
           " = " + level.carryNext[i] + "; " + level.carryNext[i] +
           " = swap; }");
  active.pop_back();
  w.close();

  // Final state.
  for (auto [i, final] : llvm::enumerate(op.getFinalCarries())) {
    std::string source = level.carryNow[i];
    if (!outermost) {
      w.open("for (attnc_index e = gtid; e < " + num(numElements(final)) +
             "; e += gsize)");
      w.line(scratch[final] + "[e] = " + source + "[e];");
      w.close();
      continue;
    }
    for (auto [r, kernelValue] : llvm::enumerate(k.results()))
      if (kernelValue == final) {
        w.open("for (attnc_index e = gtid; e < " + num(numElements(final)) +
               "; e += gsize)");
        w.line("attnc_store(out" + num(r) + ", e, " + source + "[e]);");
        w.close();
      }
  }
  if (!outermost)
    barrier();
  return success();
}

LogicalResult attn::cuda::emitRecurrence(KernelEmission &k) {
  graph::ScanOp scan;
  for (Operation &op : k.block())
    if (auto s = dyn_cast<graph::ScanOp>(op))
      scan = s;
  WalkResult walk = scan.getBody().walk([&](Operation *op) {
    if (op->getNumRegions() != 0 && !isa<graph::FusedOp, graph::ScanOp>(op)) {
      op->emitOpError("CUDA emission: this op cannot run inside a "
                      "recurrence kernel yet");
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  k.threads = k.scheduledThreads();
  k.blocks = k.scheduledBlocks();
  k.cooperative = true;
  return RecurrenceEmitter(k, scan).run();
}
