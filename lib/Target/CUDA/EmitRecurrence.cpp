//===- EmitRecurrence.cpp - kernel.recurrence as one cooperative launch ---===//
//
// The correctness-first persistent recurrence: one cooperative launch runs
// all time steps, the grid stepping in lockstep through grid-wide
// barriers instead of one launch per step. Within a step each matmul (and
// whatever feeds one) is a phase: all threads of the grid compute its
// elements (grid-stride), write them to a scratch buffer, and meet at the
// barrier before the next phase reads them; elementwise work is computed
// inline by its readers (see materialized()). Carried state lives in two buffers that
// swap each step. Any body the scalar emitter handles works, plus matmuls
// (the recurrent h U) as explicit dot products, whose step-invariant
// weights stay in shared memory for all steps (planResidentWeights).
//
//===----------------------------------------------------------------------===//

#include "KernelPatterns.h"

#include "attn/Dialect/Graph/IR/GraphOps.h"

#include "llvm/ADT/MapVector.h"

using namespace mlir;
using namespace attn;
using namespace attn::cuda;

/// Whether a scan body op gets its own phase (a scratch buffer written by
/// the whole grid, then a grid barrier). Matmuls and nested scans always
/// do, and so does whatever a matmul or a nested scan reads: recomputing
/// those per use would multiply their work by the contraction length.
/// Everything else (elementwise ops, data movement, fused bodies) is
/// recomputed by each reader at the index it needs, which saves a barrier
/// and a round trip through memory per op: the LSTM step becomes one
/// matmul phase and one phase computing the gates and the new state.
static bool materialized(Operation *op) {
  if (isa<graph::MatmulOp, graph::ScanOp>(op))
    return true;
  for (Operation *user : op->getUsers())
    if (isa<graph::MatmulOp, graph::ScanOp>(user) ||
        user->getBlock() != op->getBlock())
      return true;
  return false;
}

namespace {
class RecurrenceEmitter {
public:
  RecurrenceEmitter(KernelEmission &k, graph::ScanOp scan) : k(k), scan(scan) {}
  void planResidentWeights(int64_t blocks, int64_t budget);
  LogicalResult run();

private:
  /// Where a value of the scan body lives while a phase reads it.
  std::optional<std::string> load(Value value, const Index &index,
                                  Operation *computing);
  /// Writes `value` to `target` (a float buffer or an output; `stacked`
  /// writes step t of the stacked result `outer`).
  struct Write {
    Value value;
    std::string target;
    bool stacked = false;
    Value outer;
  };
  LogicalResult phase(Value value, const std::string &target,
                      Operation *computing, bool stacked = false,
                      Value outer = {});
  LogicalResult phase(ArrayRef<Write> writes, Operation *computing);
  LogicalResult emitMatmul(graph::MatmulOp matmul, const std::string &target);
  void barrier() { k.out.line("attnc_grid_sync(barrier);"); }

  /// A scan being stepped: its time variable and carry buffers.
  struct ActiveScan {
    graph::ScanOp op;
    std::string time;
    llvm::SmallVector<std::string> carryNow, carryNext;
  };
  LogicalResult emitSteps(graph::ScanOp op, bool outermost);

  struct ResidentPlan {
    int64_t offset, perBlock, depth, cols; // offset in floats
  };
  void loadResidentWeights();

  KernelEmission &k;
  graph::ScanOp scan;
  // In body order, so the generated text is deterministic.
  llvm::MapVector<Operation *, ResidentPlan> resident;
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
  return phase({Write{value, target, stacked, outer}}, computing);
}

/// One grid-stride loop over the element count the writes share, each
/// write storing its value at that element; values read by several
/// writes (the new hidden state, yielded as output and as carry) are
/// computed once.
LogicalResult RecurrenceEmitter::phase(ArrayRef<Write> writes,
                                       Operation *computing) {
  CodeWriter &w = k.out;
  Value first = writes.front().value;
  w.open("for (attnc_index e = gtid; e < " + num(numElements(first)) +
         "; e += gsize)");
  ScalarEmitter scalar(w, [&](Value v, const Index &i) {
    return load(v, i, computing);
  });
  for (const Write &write : writes) {
    Index index = delinearize("e", shapeOf(write.value));
    FailureOr<std::string> element = scalar.emit(write.value, index);
    if (failed(element))
      return failure();
    const std::string &target = write.target;
    if (write.stacked) {
      Index full(index);
      ActiveScan &level = active.back();
      full.insert(full.begin() + level.op.getDim(), level.time);
      std::string offset = linearize(full, shapeOf(write.outer));
      if (target.rfind("out", 0) == 0)
        w.line("attnc_store(" + target + ", " + offset + ", " + *element +
               ");");
      else
        w.line(target + "[" + offset + "] = " + *element + ";");
    } else if (target.rfind("out", 0) == 0) {
      w.line("attnc_store(" + target + ", e, " + *element + ");");
    } else {
      w.line(target + "[e] = " + *element + ";");
    }
  }
  w.close();
  return success();
}

/// Plans which recurrent matmuls keep their weights on chip: those of the
/// outermost scan whose right operand is a kernel input (step-invariant,
/// so the same matrix every step) of rank 2, as many as fit in `budget`
/// bytes of shared memory. Block b owns columns [b * cols, (b + 1) * cols)
/// of each such matrix, loads them once before the first step, and
/// computes exactly those columns of the product every step: the weights
/// cross HBM once instead of once per step (Persistent RNNs, Diamos et
/// al. 2016).
void RecurrenceEmitter::planResidentWeights(int64_t blocks, int64_t budget) {
  int64_t offset = 0;
  for (Operation &op : scan.getBody().front().without_terminator()) {
    auto matmul = dyn_cast<graph::MatmulOp>(op);
    if (!matmul || !k.inputNumber(matmul.getRhs()) ||
        shapeOf(matmul.getRhs()).size() != 2 ||
        shapeOf(matmul.getResult()).size() != 2)
      continue;
    ArrayRef<int64_t> rhs = shapeOf(matmul.getRhs());
    int64_t depth = matmul.getTransposeRhs() ? rhs[1] : rhs[0];
    int64_t cols = matmul.getTransposeRhs() ? rhs[0] : rhs[1];
    int64_t perBlock = (cols + blocks - 1) / blocks;
    int64_t bytes = depth * perBlock * 4;
    if (offset + bytes > budget)
      continue;
    resident[matmul] = {offset / 4, perBlock, depth, cols};
    offset += bytes;
  }
  k.dynamicShared = offset;
}

/// Loads each resident block's columns into shared memory (as f32).
void RecurrenceEmitter::loadResidentWeights() {
  if (resident.empty())
    return;
  CodeWriter &w = k.out;
  w.line("ATTNC_DYNAMIC_SHARED(float, residentWeights);");
  for (auto &[op, plan] : resident) {
    auto matmul = cast<graph::MatmulOp>(op);
    Value rhs = matmul.getRhs();
    w.open("for (int e = threadIdx.x; e < " + num(plan.depth * plan.perBlock) +
           "; e += blockDim.x)");
    w.line("const attnc_index kk = e / " + num(plan.perBlock) +
           ", col = blockIdx.x * " + num(plan.perBlock) + " + e % " +
           num(plan.perBlock) + ";");
    Index at = matmul.getTransposeRhs() ? Index{"col", "kk"} : Index{"kk", "col"};
    w.line("residentWeights[" + num(plan.offset) + " + e] = col < " +
           num(plan.cols) + " ? " + *k.loadInput(rhs, at) + " : 0.0f;");
    w.close();
  }
  w.line("__syncthreads();");
}

LogicalResult RecurrenceEmitter::emitMatmul(graph::MatmulOp matmul,
                                            const std::string &target) {
  CodeWriter &w = k.out;
  Value result = matmul.getResult();
  ArrayRef<int64_t> out = shapeOf(result);
  size_t batch = out.size() - 2;
  ArrayRef<int64_t> lhs = shapeOf(matmul.getLhs());
  int64_t depth = matmul.getTransposeLhs() ? lhs[lhs.size() - 2] : lhs.back();
  auto it = resident.find(matmul);
  if (it != resident.end()) {
    // This block's columns, every row, from the on-chip copy.
    const ResidentPlan &plan = it->second;
    w.open("for (attnc_index e = threadIdx.x; e < " +
           num(out[0] * plan.perBlock) + "; e += blockDim.x)");
    w.line("const attnc_index row = e / " + num(plan.perBlock) +
           ", c = e % " + num(plan.perBlock) + ";");
    w.line("const attnc_index col = blockIdx.x * " + num(plan.perBlock) +
           " + c;");
    w.line("if (col >= " + num(plan.cols) + ") continue;");
    w.line("float s = 0.0f;");
    w.open("for (attnc_index kk = 0; kk < " + num(depth) + "; ++kk)");
    ScalarEmitter scalar(w, [&](Value v, const Index &i) {
      return load(v, i, nullptr);
    });
    Index at = matmul.getTransposeLhs() ? Index{"kk", "row"} : Index{"row", "kk"};
    FailureOr<std::string> a = scalar.emit(matmul.getLhs(), at);
    if (failed(a))
      return failure();
    w.line("s += " + *a + " * residentWeights[" + num(plan.offset) + " + kk * " +
           num(plan.perBlock) + " + c];");
    w.close();
    w.line(target + "[row * " + num(plan.cols) + " + col] = " +
           roundTo(result, "s") + ";");
    w.close();
    return success();
  }
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

  // Materialized values get a scratch buffer and a phase; all others are
  // computed inline where they are read.
  scan.getBody().walk([&](Operation *op) {
    if (isa<graph::YieldOp>(op) || op->getParentOfType<graph::FusedOp>() ||
        !materialized(op))
      return;
    for (Value result : op->getResults())
      scratch[result] = k.addTemp("float", numElements(result));
  });
  loadResidentWeights();
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
    if (!materialized(&nested))
      continue; // computed inline by its readers
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
  llvm::SmallVector<Write> writes;
  for (auto [s, stacked] : llvm::enumerate(op.getStackedOutputs())) {
    if (!outermost) {
      writes.push_back({yield->getOperand(s), scratch[stacked], true, stacked});
      continue;
    }
    for (auto [r, kernelValue] : llvm::enumerate(k.results()))
      if (kernelValue == stacked)
        writes.push_back({yield->getOperand(s), "out" + num(r), true, stacked});
  }
  for (auto [i, next] : llvm::enumerate(level.carryNext))
    writes.push_back({yield->getOperand(numStacked + i), next});
  // One loop per element count, so equal-shaped yields share their work.
  while (!writes.empty()) {
    int64_t count = numElements(writes.front().value);
    llvm::SmallVector<Write> same, rest;
    for (Write &write : writes)
      (numElements(write.value) == count ? same : rest).push_back(write);
    if (failed(phase(same, nullptr)))
      return failure();
    writes = std::move(rest);
  }
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
  RecurrenceEmitter emitter(k, scan);
  // Shared memory for resident weights: the target's per-block maximum,
  // less room for the compiler's own use.
  int64_t budget = k.target.kernels.smemPerBlockBytes - 8 * 1024;
  emitter.planResidentWeights(k.blocks, budget);
  return emitter.run();
}
