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

  KernelEmission &k;
  graph::ScanOp scan;
  llvm::DenseMap<Value, std::string> scratch; // body op results
  llvm::SmallVector<std::string> carryNow, carryNext;
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
  for (auto [i, arg] : llvm::enumerate(scan.getCarriedArgs()))
    if (arg == value)
      return carryNow[i] + "[" + linearize(index, shapeOf(value)) + "]";
  for (auto [arg, sequence] :
       llvm::zip(scan.getSequenceArgs(), scan.getSequences()))
    if (arg == value) {
      Index full(index);
      full.insert(full.begin() + scan.getDim(), "t");
      return k.loadInput(sequence, full);
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
    full.insert(full.begin() + scan.getDim(), "t");
    w.line("attnc_store(" + target + ", " + linearize(full, shapeOf(outer)) +
           ", " + *element + ");");
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
  Block &body = scan.getBody().front();
  std::string barrierName = k.addTemp("unsigned int", 1, /*zeroed=*/true);
  w.line("unsigned int *barrier = " + barrierName + ";");
  w.line("const attnc_index gtid = (attnc_index)blockIdx.x * blockDim.x + "
         "threadIdx.x;");
  w.line("const attnc_index gsize = (attnc_index)gridDim.x * blockDim.x;");

  for (Operation &op : body.without_terminator())
    for (Value result : op.getResults())
      scratch[result] = k.addTemp("float", numElements(result));
  for (auto [i, init] : llvm::enumerate(scan.getInits())) {
    std::string a = k.addTemp("float", numElements(init));
    std::string b = k.addTemp("float", numElements(init));
    carryNow.push_back("carryNow" + num(i));
    carryNext.push_back("carryNext" + num(i));
    w.line("float *carryNow" + num(i) + " = " + a + ";");
    w.line("float *carryNext" + num(i) + " = " + b + ";");
  }

  // The initial state.
  for (auto [i, init] : llvm::enumerate(scan.getInits()))
    if (failed(phase(init, carryNow[i], nullptr)))
      return failure();
  barrier();

  int64_t length = scan.getLength();
  w.open("for (attnc_index step = 0; step < " + num(length) + "; ++step)");
  w.line("const attnc_index t = " +
         (scan.getReverse() ? num(length - 1) + " - step" : std::string("step")) +
         ";");
  for (Operation &op : body.without_terminator()) {
    if (auto matmul = dyn_cast<graph::MatmulOp>(op)) {
      if (failed(emitMatmul(matmul, scratch[matmul.getResult()])))
        return failure();
    } else {
      for (Value result : op.getResults())
        if (failed(phase(result, scratch[result], &op)))
          return failure();
    }
    barrier();
  }
  // Yield: this step's outputs, then the next state.
  Operation *yield = body.getTerminator();
  unsigned numStacked = scan.getStackedOutputs().size();
  for (auto [r, kernelValue] : llvm::enumerate(k.results()))
    for (auto [s, stacked] : llvm::enumerate(scan.getStackedOutputs()))
      if (kernelValue == stacked &&
          failed(phase(yield->getOperand(s), "out" + num(r), nullptr,
                       /*stacked=*/true, stacked)))
        return failure();
  for (auto [i, next] : llvm::enumerate(carryNext))
    if (failed(phase(yield->getOperand(numStacked + i), next, nullptr)))
      return failure();
  barrier();
  for (size_t i = 0; i < carryNow.size(); ++i)
    w.line("{ float *swap = " + carryNow[i] + "; " + carryNow[i] + " = " +
           carryNext[i] + "; " + carryNext[i] + " = swap; }");
  w.close();

  // Final state.
  for (auto [r, kernelValue] : llvm::enumerate(k.results()))
    for (auto [i, final] : llvm::enumerate(scan.getFinalCarries()))
      if (kernelValue == final) {
        w.open("for (attnc_index e = gtid; e < " + num(numElements(final)) +
               "; e += gsize)");
        w.line("attnc_store(out" + num(r) + ", e, " + carryNow[i] + "[e]);");
        w.close();
      }
  return success();
}

LogicalResult attn::cuda::emitRecurrence(KernelEmission &k) {
  graph::ScanOp scan;
  for (Operation &op : k.block())
    if (auto s = dyn_cast<graph::ScanOp>(op))
      scan = s;
  for (Operation &op : scan.getBody().front().without_terminator())
    if (op.getNumRegions() != 0 && !isa<graph::FusedOp>(op))
      return op.emitOpError("CUDA emission: nested regions in a recurrence "
                            "body are not supported yet");
  k.threads = k.scheduledThreads();
  k.blocks = k.scheduledBlocks();
  k.cooperative = true;
  return RecurrenceEmitter(k, scan).run();
}
