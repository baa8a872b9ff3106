//===- EmitRecurrence.cpp - kernel.recurrence as one cooperative launch ---===//
//
// The persistent recurrence: one cooperative launch runs
// all time steps, the grid stepping in lockstep through grid-wide
// barriers instead of one launch per step. Within a step each matmul (and
// whatever feeds one) is a phase: all threads of the grid compute its
// elements (grid-stride), write them to a scratch buffer, and meet at the
// barrier before the next phase reads them; elementwise work is computed
// inline by its readers (see materialized()). Carried state lives in two buffers that
// swap each step. Any body the scalar emitter handles works, plus matmuls
// (the recurrent h U) as explicit dot products, whose step-invariant
// weights stay in shared memory for all steps (RecurrenceProduct.cpp),
// and row ops and attention of the state, a warp per row
// (RecurrenceRowOps.cpp).
//
// When a step is one matmul whose columns reach the new state only
// through elementwise ops and an even split of its columns (the LSTM's
// and GRU's gates: h U is [B, 4H], split into four [B, H] gates), the
// hidden units are split across blocks instead (findUnitSplit): block b
// computes the matmul columns of its units in every gate, then their new
// state after a block barrier, so a step costs one grid barrier.
//
//===----------------------------------------------------------------------===//

#include "RecurrenceEmitter.h"

#include "attn/Dialect/Kernel/IR/KernelOps.h"

using namespace mlir;
using namespace attn;
using namespace attn::cuda;

/// Whether a scan body op gets its own phase (a scratch buffer written by
/// the whole grid, then a grid barrier). Matmuls, nested scans, row ops
/// and attention always do: each of their elements reads a whole row or
/// column. So does whatever a matmul or a nested scan reads, and the key
/// and value of an attention: recomputing those per use would multiply
/// their work by the contraction length (an attention reads its query
/// once per row). Everything else (elementwise ops, data movement, fused
/// bodies) is recomputed by each reader at the index it needs, which
/// saves a barrier and a round trip through memory per op: the LSTM step
/// becomes one matmul phase and one phase computing the gates and the new
/// state.
static bool materialized(Operation *op) {
  if (isa<graph::MatmulOp, graph::ScanOp, graph::AttentionOp>(op) ||
      kernel::classifyGraphOp(op) == kernel::GraphOpRole::Row)
    return true;
  for (OpOperand &use : op->getUses()) {
    Operation *user = use.getOwner();
    auto attention = dyn_cast<graph::AttentionOp>(user);
    if (isa<graph::MatmulOp, graph::ScanOp>(user) ||
        (attention && use.get() != attention.getQuery()) ||
        user->getBlock() != op->getBlock())
      return true;
  }
  return false;
}

/// Whether `op` computes each result element from its operands at the same
/// position (broadcast operands included): an elementwise op, or a fused
/// body of them.
bool attn::cuda::isSamePositionOp(Operation *op) {
  if (auto fused = dyn_cast<graph::FusedOp>(op)) {
    for (Operation &inner : fused.getBody().front().without_terminator())
      if (kernel::classifyGraphOp(&inner) != kernel::GraphOpRole::Elementwise)
        return false;
    return true;
  }
  return kernel::classifyGraphOp(op) == kernel::GraphOpRole::Elementwise;
}


/// Finds the unit split of the scan's step, if it has one: no nested
/// scans, a single materialized op which is a 2-D matmul [R, N], every
/// yield [R, N / G], and every path from the product to a yield made of
/// same-position ops on [R, N], at most one split of dim 1 into G equal
/// parts, then same-position ops on [R, N / G].
void RecurrenceEmitter::findUnitSplit(int64_t blocks) {
  Block &body = scan.getBody().front();
  Operation *matmul = nullptr;
  for (Operation &op : body.without_terminator()) {
    if (isa<graph::ScanOp>(op) || (materialized(&op) && matmul))
      return;
    if (materialized(&op))
      matmul = &op;
  }
  if (!matmul || !isa<graph::MatmulOp>(matmul))
    return;
  ArrayRef<int64_t> product = shapeOf(matmul->getResult(0));
  if (product.size() != 2)
    return;
  int64_t rows = product[0], cols = product[1], groups = 1;
  // Walk forward from the product; `wide` values are [R, N].
  llvm::SmallVector<std::pair<Value, bool>> work = {{matmul->getResult(0), true}};
  Operation *yield = body.getTerminator();
  while (!work.empty()) {
    auto [value, wide] = work.pop_back_val();
    for (Operation *user : value.getUsers()) {
      if (user == yield) {
        if (wide && groups != 1)
          return;
        continue;
      }
      if (auto split = dyn_cast<graph::SplitOp>(user)) {
        int64_t parts = split->getNumResults();
        if (!wide || split.getDim() != 1 || cols % parts != 0 ||
            (groups != 1 && groups != parts))
          return;
        for (Value part : split->getResults())
          if (shapeOf(part) != ArrayRef<int64_t>{rows, cols / parts})
            return;
        groups = parts;
        for (Value part : split->getResults())
          work.push_back({part, false});
        continue;
      }
      if (!isSamePositionOp(user) || user->getNumResults() != 1)
        return;
      Value result = user->getResult(0);
      if (wide && shapeOf(result) != product)
        return;
      if (!wide && shapeOf(result) != ArrayRef<int64_t>{rows, cols / groups})
        return;
      work.push_back({result, wide});
    }
  }
  int64_t unitCount = cols / groups;
  for (Value yielded : yield->getOperands())
    if (shapeOf(yielded) != ArrayRef<int64_t>{rows, unitCount})
      return;
  units = UnitSplit{matmul, rows, groups, unitCount,
                    (unitCount + blocks - 1) / blocks};
}

void RecurrenceEmitter::openElementLoop(int64_t count) {
  CodeWriter &w = k.out;
  if (!units) {
    w.open("for (attnc_index e = gtid; e < " + num(count) + "; e += gsize)");
    return;
  }
  // Element (row, unit) of this block's units, as e = row * units + unit.
  w.open("for (attnc_index local = threadIdx.x; local < " +
         num(units->rows * units->perBlock) + "; local += blockDim.x)");
  w.line("const attnc_index unit = blockIdx.x * " + num(units->perBlock) +
         " + local % " + num(units->perBlock) + ";");
  w.line("if (unit >= " + num(units->units) + ") continue;");
  w.line("const attnc_index e = local / " + num(units->perBlock) + " * " +
         num(units->units) + " + unit;");
}

/// locate's expression, or the register it was preloaded into; a dry run
/// (recordLoads) collects the loads of kernel inputs and carries, which
/// nothing in the step writes, instead.
std::optional<std::string> RecurrenceEmitter::load(Value value,
                                                   const Index &index,
                                                   Operation *computing) {
  std::optional<std::string> expression = locate(value, index, computing);
  if (!expression)
    return expression;
  if (recordLoads) {
    bool carried = llvm::any_of(active, [&](ActiveScan &level) {
      return llvm::is_contained(level.op.getCarriedArgs(), value);
    });
    if (k.inputNumber(value) || carried)
      recordLoads->push_back({*expression, k.out.depth()});
    return expression;
  }
  auto it = preloaded.find(*expression);
  return it != preloaded.end() ? it->second : *expression;
}

std::optional<std::string> RecurrenceEmitter::locate(Value value,
                                                     const Index &index,
                                                     Operation *computing) {
  // Values inside the op being computed (a fused body) are computed.
  if (Operation *def = value.getDefiningOp())
    if (computing && (def == computing || computing->isAncestor(def)))
      return std::nullopt;
  // The unit split's product, in the block's shared tile: column col is
  // owned column (col / units) * perBlock + col % units - the block's
  // first unit (only the block's own units read it).
  if (productOffset >= 0 && value == units->matmul->getResult(0)) {
    std::string col = "(" + index[1] + ")";
    return "residentWeights[" + num(productOffset) + " + (" + index[0] +
           ") * " + num(units->groups * units->perBlock) + " + " + col +
           " / " + num(units->units) + " * " + num(units->perBlock) + " + " +
           col + " % " + num(units->units) + " - blockIdx.x * " +
           num(units->perBlock) + "]";
  }
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
  openElementLoop(numElements(first));
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
    if (!write.shadow.empty())
      w.line("attnc_store(" + write.shadow + ", e, " + *element + ");");
    if (!write.tagged.empty())
      w.line("attnc_store_tagged(" + write.tagged + ", e, " + *element + ", " +
             write.tag + ");");
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
  auto it = resident.find(matmul);
  if (it != resident.end())
    return emitResidentMatmul(matmul, it->second, target);
  if (units && units->matmul == matmul.getOperation() && out.size() == 2) {
    // Under a unit split the block computes its own columns even when the
    // weights stay in global memory: every row, one column per thread,
    // shared out as tileSplit says. With few dot products per block (a
    // small batch), several lanes share one: all threads stay busy, and a
    // step's latency is a slice of the contraction rather than all of it. The loop's trip
    // count is the same for every thread, so whole warps reach the
    // shuffles. Rows past the last are computed on the last row's
    // operands and not stored.
    const ResidentPlan owned{-1, units->groups * units->perBlock, depth,
                             out.back()};
    const ResidentPlan &plan = owned;
    const int64_t rows = out[0];
    TileSplit split = tileSplit(plan, rows, /*cols=*/1);
    const int64_t rowGroups = (rows + split.rows - 1) / split.rows;
    const int64_t products = rowGroups * plan.perBlock;
    const std::string lanes = num(split.lanes), r = num(split.rows);
    w.open("for (attnc_index base = 0; base < " + num(products) +
           "; base += blockDim.x / " + lanes + ")");
    w.line("const attnc_index e = base + threadIdx.x / " + lanes + ";");
    w.line("const attnc_index rowBase = e / " + num(plan.perBlock) + " * " + r +
           ", c = e % " + num(plan.perBlock) + ";");
    w.line("const attnc_index col = " + ownedColumn(plan, "c") + ";");
    w.line("const bool valid = e < " + num(products) + " && " +
           ownedColumnValid(plan, "c", "col") + ";");
    w.line("float s[" + r + "] = {};");
    w.open("for (attnc_index kk = threadIdx.x % " + lanes + "; valid && kk < " +
           num(depth) + "; kk += " + lanes + ")");
    ScalarEmitter scalar(w, [&](Value v, const Index &i) {
      return load(v, i, nullptr);
    });
    Index weightAt =
        matmul.getTransposeRhs() ? Index{"col", "kk"} : Index{"kk", "col"};
    FailureOr<std::string> b = scalar.emit(matmul.getRhs(), weightAt);
    if (failed(b))
      return failure();
    w.line("const float weight = " + *b + ";");
    w.line("#pragma unroll");
    w.open("for (int r = 0; r < " + r + "; ++r)");
    w.line("const attnc_index row = rowBase + r < " + num(rows) +
           " ? rowBase + r : " + num(rows - 1) + ";");
    // The left operand is loaded inside the row loop (a fresh emitter:
    // nothing it computes is reused across rows).
    FailureOr<std::string> a = leftOperandAt(matmul);
    if (failed(a))
      return failure();
    w.line("s[r] += " + *a + " * weight;");
    w.close();
    w.close();
    std::string leader = split.lanes > 1
                             ? " && threadIdx.x % " + lanes + " == 0"
                             : "";
    w.line("#pragma unroll");
    w.open("for (int r = 0; r < " + r + "; ++r)");
    for (int64_t offset = split.lanes / 2; offset >= 1; offset /= 2)
      w.line("s[r] += __shfl_xor_sync(0xffffffffu, s[r], " + num(offset) +
             ");");
    w.line("if (valid" + leader + " && rowBase + r < " + num(rows) + ") " +
           target + "[(rowBase + r) * " + num(plan.cols) + " + col] = " +
           roundTo(result, "s[r]") + ";");
    w.close();
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
  w.line("unsigned int barrierEpoch = 0; // grid barriers passed");
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
  loadRegisterWeights();
  return emitSteps(scan, /*outermost=*/true);
}

/// What a step of `level` writes as it ends: its outputs (kernel results,
/// or the stacked results of a nested scan), then the next state.
llvm::SmallVector<RecurrenceEmitter::Write>
RecurrenceEmitter::yieldWrites(const ActiveScan &level, bool outermost) {
  graph::ScanOp op = level.op;
  Operation *yield = op.getBody().front().getTerminator();
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
    writes.push_back({yield->getOperand(numStacked + i), next, false, {},
                      level.halfNext[i], level.taggedNext[i],
                      "(unsigned)(step" + level.time + " + 1)"});
  return writes;
}

/// Steps `op` to the end: its carries' buffers, their initial values, and
/// per step each body op as a phase (nested scans recursively), then the
/// yield. The outermost scan writes kernel results; a nested one writes
/// its results into their scratch buffers.
LogicalResult RecurrenceEmitter::emitSteps(graph::ScanOp op, bool outermost) {
  CodeWriter &w = k.out;
  Block &body = op.getBody().front();
  ActiveScan level{op, "t" + num(nesting++), {}, {}};
  const int exchanged = outermost ? taggedExchange(op) : -1;
  for (auto [i, init] : llvm::enumerate(op.getInits())) {
    std::string a = k.addTemp("float", numElements(init));
    std::string b = k.addTemp("float", numElements(init));
    std::string now = "carryNow" + level.time + "_" + num(i);
    std::string next = "carryNext" + level.time + "_" + num(i);
    w.line("float *" + now + " = " + a + ";");
    w.line("float *" + next + " = " + b + ";");
    level.carryNow.push_back(now);
    level.carryNext.push_back(next);
    std::string halfNow, halfNext;
    Value arg = op.getCarriedArgs()[i];
    if (outermost && needsHalfShadow(arg)) {
      // Two bytes an element, in 4-byte temporaries.
      int64_t words = (numElements(init) + 1) / 2;
      std::string type =
          elementOf(arg).isBF16() ? "attnc_bf16 *" : "attnc_f16 *";
      halfNow = "halfNow" + level.time + "_" + num(i);
      halfNext = "halfNext" + level.time + "_" + num(i);
      w.line(type + halfNow + " = reinterpret_cast<" + type + ">(" +
             k.addTemp("unsigned int", words) + ");");
      w.line(type + halfNext + " = reinterpret_cast<" + type + ">(" +
             k.addTemp("unsigned int", words) + ");");
    }
    level.halfNow.push_back(halfNow);
    level.halfNext.push_back(halfNext);
    std::string taggedNow, taggedNext;
    if (int(i) == exchanged) {
      // 8 bytes an element, in 4-byte temporaries.
      taggedNow = "taggedNow" + level.time + "_" + num(i);
      taggedNext = "taggedNext" + level.time + "_" + num(i);
      for (const std::string &name : {taggedNow, taggedNext})
        w.line("unsigned long long *" + name +
               " = reinterpret_cast<unsigned long long *>(" +
               k.addTemp("unsigned int", 2 * numElements(init)) + ");");
    }
    level.taggedNow.push_back(taggedNow);
    level.taggedNext.push_back(taggedNext);
  }
  // The initial state, read in the enclosing scope; a tagged copy holds it
  // with tag 0, and the other copy a tag no step expects, so that nothing
  // left from an earlier run passes for this run's step 1.
  for (auto [i, init] : llvm::enumerate(op.getInits())) {
    if (failed(phase({Write{init, level.carryNow[i], false, {},
                            level.halfNow[i], level.taggedNow[i], "0u"}},
                     nullptr)))
      return failure();
    if (!level.taggedNext[i].empty()) {
      w.open("for (attnc_index e = gtid; e < " + num(numElements(init)) +
             "; e += gsize)");
      w.line("attnc_store_tagged(" + level.taggedNext[i] +
             ", e, 0.0f, ~0u);");
      w.close();
    }
  }
  barrier();

  int64_t length = op.getLength();
  w.open("for (attnc_index step" + level.time + " = 0; step" + level.time +
         " < " + num(length) + "; ++step" + level.time + ")");
  w.line("const attnc_index " + level.time + " = " +
         (op.getReverse() ? num(length - 1) + " - step" + level.time
                          : "step" + level.time) +
         ";");
  active.push_back(level);
  llvm::SmallVector<Write> writes = yieldWrites(level, outermost);
  llvm::StringMap<std::string> gateOperands;
  if (outermost) {
    prefetchSequences(op, level.time);
    if (units) {
      FailureOr<llvm::StringMap<std::string>> preloads =
          preloadYieldOperands(writes);
      if (failed(preloads))
        return failure();
      gateOperands = std::move(*preloads);
    }
  }
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
      if (units) {
        // The block's own columns feed only its own units.
        w.line("__syncthreads();");
        continue;
      }
    } else if (auto attention = dyn_cast<graph::AttentionOp>(nested)) {
      if (failed(emitAttentionPhase(attention, scratch[attention.getResult()])))
        return failure();
    } else if (kernel::classifyGraphOp(&nested) == kernel::GraphOpRole::Row) {
      if (failed(emitRowPhase(&nested, scratch[nested.getResult(0)])))
        return failure();
    } else {
      for (Value result : nested.getResults())
        if (failed(phase(result, scratch[result], &nested)))
          return failure();
    }
    barrier();
  }
  // Yield: this step's outputs, then the next state.
  preloaded = std::move(gateOperands);
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
  preloaded.clear();
  // With the state exchanged through tagged copies, each block goes on
  // once its own threads are done (their next product overwrites the
  // shared memory this step's gates read); readers wait on the tags.
  if (exchanged >= 0)
    w.line("__syncthreads();");
  else
    barrier();
  auto swap = [&](const std::string &type, const std::string &a,
                  const std::string &b) {
    w.line("{ " + type + "swap = " + a + "; " + a + " = " + b + "; " + b +
           " = swap; }");
  };
  for (size_t i = 0; i < level.carryNow.size(); ++i) {
    swap("float *", level.carryNow[i], level.carryNext[i]);
    if (!level.halfNow[i].empty())
      swap("auto *", level.halfNow[i], level.halfNext[i]);
    if (!level.taggedNow[i].empty())
      swap("auto *", level.taggedNow[i], level.taggedNext[i]);
  }
  active.pop_back();
  w.close();
  // The final state is read across blocks below.
  if (exchanged >= 0)
    barrier();

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
  k.threads = k.scheduledThreads();
  k.blocks = k.scheduledBlocks();
  k.cooperative = true;
  RecurrenceEmitter emitter(k, scan);
  emitter.findUnitSplit(k.blocks);
  // Shared memory for resident weights: the target's per-block maximum,
  // less room for the compiler's own use.
  int64_t budget = k.target.kernels.smemPerBlockBytes - 8 * 1024;
  emitter.planResidentWeights(k.blocks, budget);
  return emitter.run();
}
