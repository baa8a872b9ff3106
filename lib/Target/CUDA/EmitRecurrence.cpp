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
// weights stay in shared memory for all steps (planResidentWeights).
//
// When a step is one matmul whose columns reach the new state only
// through elementwise ops and an even split of its columns (the LSTM's
// and GRU's gates: h U is [B, 4H], split into four [B, H] gates), the
// hidden units are split across blocks instead (findUnitSplit): block b
// computes the matmul columns of its units in every gate, then their new
// state after a block barrier, so a step costs one grid barrier.
//
//===----------------------------------------------------------------------===//

#include "KernelPatterns.h"

#include "attn/Dialect/Graph/IR/GraphOps.h"
#include "attn/Dialect/Kernel/IR/KernelOps.h"

#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Regex.h"

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

/// Whether `op` computes each result element from its operands at the same
/// position (broadcast operands included): an elementwise op, or a fused
/// body of them.
static bool isSamePositionOp(Operation *op) {
  if (auto fused = dyn_cast<graph::FusedOp>(op)) {
    for (Operation &inner : fused.getBody().front().without_terminator())
      if (kernel::classifyGraphOp(&inner) != kernel::GraphOpRole::Elementwise)
        return false;
    return true;
  }
  return kernel::classifyGraphOp(op) == kernel::GraphOpRole::Elementwise;
}

namespace {
/// The hidden-unit split of a recurrence step (see the file comment): the
/// matmul's N columns are `groups` blocks of `units`; each grid block owns
/// `perBlock` units, i.e. columns g * units + blockIdx.x * perBlock + u.
struct UnitSplit {
  Operation *matmul;
  int64_t rows, groups, units, perBlock;
};

class RecurrenceEmitter {
public:
  RecurrenceEmitter(KernelEmission &k, graph::ScanOp scan) : k(k), scan(scan) {}
  void findUnitSplit(int64_t blocks);
  void planResidentWeights(int64_t blocks, int64_t budget);
  LogicalResult run();

private:
  /// Where a value of the scan body lives while a phase reads it.
  std::optional<std::string> load(Value value, const Index &index,
                                  Operation *computing);
  std::optional<std::string> locate(Value value, const Index &index,
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
  /// The loop header of a phase over `count` elements: grid-stride, or
  /// this block's units under a unit split.
  void openElementLoop(int64_t count);
  LogicalResult emitMatmul(graph::MatmulOp matmul, const std::string &target);
  void barrier() { k.out.line("attnc_grid_sync(barrier);"); }

  /// A scan being stepped: its time variable and carry buffers.
  struct ActiveScan {
    graph::ScanOp op;
    std::string time;
    llvm::SmallVector<std::string> carryNow, carryNext;
  };
  LogicalResult emitSteps(graph::ScanOp op, bool outermost);
  llvm::SmallVector<Write> yieldWrites(const ActiveScan &level,
                                       bool outermost);
  FailureOr<llvm::StringMap<std::string>>
  preloadYieldOperands(ArrayRef<Write> writes);
  void prefetchSequences(graph::ScanOp op, const std::string &time);

  struct ResidentPlan {
    int64_t offset, perBlock, depth, cols; // offset in floats
  };
  /// How a block's dot products over its own columns are shared out when
  /// its weights stay in global memory: each thread takes `rows` rows of
  /// one column (the weight it reads serves all of them, and their sums are
  /// independent chains), `lanes` adjacent threads take every lanes-th k of
  /// it and add up with shuffles.
  struct DotSplit {
    int64_t rows, lanes;
  };
  DotSplit dotSplit(const ResidentPlan &plan, int64_t rows) const;
  /// The register tile of a product with resident weights
  /// (emitResidentMatmul): each thread accumulates `rows` x `cols` outputs
  /// over every lanes-th group of 4 k, `lanes` adjacent threads sharing a
  /// tile. `swizzle` (0: none) spreads a warp's weight reads over the
  /// banks; see residentSlot.
  struct TileSplit {
    int64_t rows, cols, lanes, swizzle;
  };
  TileSplit tileSplit(const ResidentPlan &plan, int64_t rows) const;
  std::string residentSlot(const ResidentPlan &plan, const TileSplit &split,
                           const std::string &k4, const std::string &c) const;
  std::optional<std::string> plainBuffer(Value value);
  FailureOr<std::string> leftOperandAt(graph::MatmulOp matmul);
  LogicalResult emitResidentMatmul(graph::MatmulOp matmul,
                                   const ResidentPlan &plan,
                                   const std::string &target);
  void loadResidentWeights();
  /// The matmul column that this block's c-th owned column is, and whether
  /// it exists (the last block's share may run past the end).
  std::string ownedColumn(const ResidentPlan &plan, const std::string &c);
  std::string ownedColumnValid(const ResidentPlan &plan, const std::string &c,
                               const std::string &col);

  KernelEmission &k;
  graph::ScanOp scan;
  // In body order, so the generated text is deterministic.
  llvm::MapVector<Operation *, ResidentPlan> resident;
  llvm::DenseMap<Value, std::string> scratch; // body op results
  llvm::SmallVector<ActiveScan> active;       // outermost first
  unsigned nesting = 0;
  std::optional<UnitSplit> units;
  /// Shared memory after the resident weights, in floats: the staged left
  /// operand of a resident product (stagingFloats of it) and, under a unit
  /// split, the block's tile of the product (-1: none).
  int64_t stagingOffset = -1, stagingFloats = 0, productOffset = -1;
  /// Loads of the unit split's gates done at the start of the step
  /// (preloadYieldOperands): expression -> the register holding it; set
  /// only while the gates are emitted.
  llvm::StringMap<std::string> preloaded;
  /// While set, load() appends here what it reads of kernel inputs and
  /// carries, with the writer's depth (deeper: inside a branch).
  std::vector<std::pair<std::string, int>> *recordLoads = nullptr;
};
} // namespace

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
/// al. 2016). Behind the weights come, under a unit split, the block's
/// tile of the product, which its gates then read without leaving the SM,
/// and the staging area for the products' left operands: all of them, or
/// at least 16 k of every row, which each placed matrix leaves room for.
void RecurrenceEmitter::planResidentWeights(int64_t blocks, int64_t budget) {
  llvm::SmallVector<graph::MatmulOp> candidates;
  for (Operation &op : scan.getBody().front().without_terminator()) {
    auto matmul = dyn_cast<graph::MatmulOp>(op);
    if (!matmul || !k.inputNumber(matmul.getRhs()) ||
        shapeOf(matmul.getRhs()).size() != 2 ||
        shapeOf(matmul.getResult()).size() != 2)
      continue;
    candidates.push_back(matmul);
  }
  int64_t productBytes = 0;
  if (units)
    productBytes =
        llvm::alignTo(units->rows * units->groups * units->perBlock * 4, 16);
  int64_t offset = 0, stagingNeed = 0, reserve = 0;
  bool productPlaced = false;
  for (graph::MatmulOp matmul : candidates) {
    int64_t rows = shapeOf(matmul.getResult())[0];
    ArrayRef<int64_t> rhs = shapeOf(matmul.getRhs());
    int64_t depth = matmul.getTransposeRhs() ? rhs[1] : rhs[0];
    int64_t cols = matmul.getTransposeRhs() ? rhs[0] : rhs[1];
    int64_t perBlock = units ? units->groups * units->perBlock
                             : (cols + blocks - 1) / blocks;
    // Rows of 4 k (float4 reads), the last one zero-padded.
    int64_t paddedDepth = llvm::alignTo(depth, 4);
    int64_t bytes = paddedDepth * perBlock * 4;
    int64_t withReserve = std::max(reserve, rows * 16 * 4);
    bool product = units && units->matmul == matmul.getOperation();
    int64_t tile = productPlaced || product ? productBytes : 0;
    if (offset + bytes + withReserve + tile > budget)
      continue;
    resident[matmul] = {offset / 4, perBlock, depth, cols};
    offset += bytes;
    reserve = withReserve;
    productPlaced |= product;
    stagingNeed = std::max(stagingNeed, rows * paddedDepth * 4);
  }
  if (resident.empty())
    return;
  if (productPlaced) {
    productOffset = offset / 4;
    offset += productBytes;
  }
  stagingOffset = offset / 4;
  stagingFloats = (std::min(stagingNeed, budget - offset) & ~int64_t(15)) / 4;
  k.dynamicShared = offset + stagingFloats * 4;
}

std::string RecurrenceEmitter::ownedColumn(const ResidentPlan &plan,
                                           const std::string &c) {
  if (!units)
    return "blockIdx.x * " + num(plan.perBlock) + " + " + c;
  return "(" + c + ") / " + num(units->perBlock) + " * " + num(units->units) +
         " + blockIdx.x * " + num(units->perBlock) + " + (" + c + ") % " +
         num(units->perBlock);
}

std::string RecurrenceEmitter::ownedColumnValid(const ResidentPlan &plan,
                                                const std::string &c,
                                                const std::string &col) {
  if (!units)
    return col + " < " + num(plan.cols);
  return "blockIdx.x * " + num(units->perBlock) + " + (" + c + ") % " +
         num(units->perBlock) + " < " + num(units->units);
}

RecurrenceEmitter::DotSplit
RecurrenceEmitter::dotSplit(const ResidentPlan &plan, int64_t rows) const {
  DotSplit split{1, 1};
  while (split.rows * 2 <= std::min<int64_t>(rows, 8))
    split.rows *= 2;
  int64_t products = (rows + split.rows - 1) / split.rows * plan.perBlock;
  while (split.lanes < 32 && products * split.lanes * 2 <= k.threads)
    split.lanes *= 2;
  return split;
}

/// Up to 8 rows and 2 columns per thread. Per group of 4 k a thread then
/// reads 2 float4 of weights and 8 float4 of the left operand for 64
/// FMAs: the FMA pipe, not shared memory, bounds the step (one column per
/// thread would read as many bytes as it does FMAs). Lanes share tiles
/// while the block has threads to spare, so a small batch still keeps
/// every thread busy and a step's latency is a slice of the contraction.
RecurrenceEmitter::TileSplit
RecurrenceEmitter::tileSplit(const ResidentPlan &plan, int64_t rows) const {
  TileSplit split{1, plan.perBlock % 2 == 0 ? 2 : 1, 1, 0};
  while (split.rows * 2 <= std::min<int64_t>(rows, 8))
    split.rows *= 2;
  int64_t products = (rows + split.rows - 1) / split.rows *
                     (plan.perBlock / split.cols);
  while (split.lanes < 32 && products * split.lanes * 2 <= k.threads)
    split.lanes *= 2;
  int64_t warpColumns = 32 / split.lanes;
  if (plan.perBlock % 8 == 0 && warpColumns < 8)
    split.swizzle = warpColumns;
  return split;
}

/// The float4 slot of the resident weights that holds k = 4 k4 .. 4 k4 + 3
/// of the block's column c: row k4 of perBlock slots. A warp reads
/// 32 / lanes adjacent columns at each of `lanes` consecutive k4; eight
/// slots fill the 32 banks, so with fewer than eight columns the slot
/// index is XORed with (k4 % lanes) * columns (mod 8), which gives each
/// k4 of the warp its own banks: 4 wavefronts for 512 bytes, the minimum.
/// The XOR stays within an aligned group of 8 columns (perBlock % 8 == 0).
std::string RecurrenceEmitter::residentSlot(const ResidentPlan &plan,
                                            const TileSplit &split,
                                            const std::string &k4,
                                            const std::string &c) const {
  std::string column = "(" + c + ")";
  if (split.swizzle)
    column = "(" + column + " ^ (" + k4 + ") % " + num(split.lanes) + " * " +
             num(split.swizzle) + " % 8)";
  return "(" + k4 + ") * " + num(plan.perBlock) + " + " + column;
}

/// Loads each resident block's columns into shared memory (as f32), in
/// the float4 slots of residentSlot, zeros past the last k and column.
void RecurrenceEmitter::loadResidentWeights() {
  if (resident.empty())
    return;
  CodeWriter &w = k.out;
  // Declared as 16-byte elements, so the float4 reads and cp.async
  // destinations are aligned whatever the compiler would give floats.
  w.line("ATTNC_DYNAMIC_SHARED(attnc_b128, residentRaw);");
  w.line("float *residentWeights = reinterpret_cast<float *>(residentRaw);");
  for (auto &[op, plan] : resident) {
    auto matmul = cast<graph::MatmulOp>(op);
    Value rhs = matmul.getRhs();
    TileSplit split = tileSplit(plan, shapeOf(matmul.getResult())[0]);
    w.open("for (int e = threadIdx.x; e < " +
           num(llvm::alignTo(plan.depth, 4) * plan.perBlock) +
           "; e += blockDim.x)");
    w.line("const attnc_index kk = e / " + num(plan.perBlock) + ", c = e % " +
           num(plan.perBlock) + ";");
    w.line("const attnc_index col = " + ownedColumn(plan, "c") + ";");
    Index at = matmul.getTransposeRhs() ? Index{"col", "kk"} : Index{"kk", "col"};
    w.line("residentWeights[" + num(plan.offset) + " + (" +
           residentSlot(plan, split, "kk / 4", "c") + ") * 4 + kk % 4] = kk < " +
           num(plan.depth) + " && " + ownedColumnValid(plan, "c", "col") +
           " ? " + *k.loadInput(rhs, at) + " : 0.0f;");
    w.close();
  }
  w.line("__syncthreads();");
}

/// The left operand of a product at (row, kk) in scope, through a fresh
/// scalar emitter (nothing computed for another element is reused).
FailureOr<std::string>
RecurrenceEmitter::leftOperandAt(graph::MatmulOp matmul) {
  ScalarEmitter scalar(k.out, [&](Value v, const Index &i) {
    return load(v, i, nullptr);
  });
  Index at = matmul.getTransposeLhs() ? Index{"kk", "row"} : Index{"row", "kk"};
  return scalar.emit(matmul.getLhs(), at);
}

/// The left operand of a product as a plain row-major f32 buffer: a carry
/// of a scan being stepped, or an earlier phase's result.
std::optional<std::string> RecurrenceEmitter::plainBuffer(Value value) {
  auto it = scratch.find(value);
  if (it != scratch.end())
    return it->second;
  for (ActiveScan &level : active)
    for (auto [i, arg] : llvm::enumerate(level.op.getCarriedArgs()))
      if (arg == value)
        return level.carryNow[i];
  return std::nullopt;
}

/// The block's columns of a product whose weights are resident, every
/// row, as tileSplit shares them out. The left operand is staged in
/// shared memory (in chunks of k when it does not fit), so the dot
/// products read float4s of it next to float4s of the weights; rows past
/// the last are computed on the last row's operands and not stored. The
/// trip counts are the same for every lane of a warp's tiles, so whole
/// warps reach the shuffles.
///
/// When the left operand is a plain buffer (the recurrent state, as a
/// rule), it streams in through cp.async, at least four chunks into two
/// buffers: the block computes on one chunk while the next arrives. Every
/// block reads all of it each step (B x H: 64 KiB per block at batch 16
/// and H = 1024, f32), so without the overlap the step would wait for L2
/// as long as it computes. Otherwise the threads stage it through the
/// scalar emitter, then compute.
LogicalResult RecurrenceEmitter::emitResidentMatmul(graph::MatmulOp matmul,
                                                    const ResidentPlan &plan,
                                                    const std::string &target) {
  CodeWriter &w = k.out;
  Value result = matmul.getResult();
  const int64_t rows = shapeOf(result)[0], perBlock = plan.perBlock;
  const int64_t depth4 = (plan.depth + 3) / 4;
  std::optional<std::string> buffer = plainBuffer(matmul.getLhs());
  const bool async =
      buffer && !matmul.getTransposeLhs() && plan.depth % 4 == 0;
  const TileSplit split = tileSplit(plan, rows);
  // Float4s of a row per chunk; streamed chunks are whole multiples of the
  // lanes (so no lane idles) when the buffers allow it.
  int64_t chunk4 = std::min(depth4, stagingFloats / rows / 4);
  if (async) {
    int64_t room = stagingFloats / 2 / rows / 4;
    if (room > split.lanes)
      room = llvm::alignDown(room, split.lanes);
    // At least one float4 per row: a buffer that holds the whole of a
    // shallow h (depth 4) leaves no room for a second.
    chunk4 = std::max<int64_t>(
        1, std::min<int64_t>(room, llvm::alignTo((depth4 + 3) / 4, split.lanes)));
  }
  const int64_t chunks = (depth4 + chunk4 - 1) / chunk4;
  const bool oneChunk = !async && chunks == 1;
  // Streamed chunks: as many buffers as fit, all chunks in flight at once
  // when h fits (a chunk's FMAs at batch 1 take less than an L2 round
  // trip, so a two-buffer ring would wait once per chunk).
  const int64_t slots =
      std::min(chunks, stagingFloats / std::max<int64_t>(1, rows * chunk4 * 4));
  const int64_t colGroups = perBlock / split.cols;
  const int64_t products = (rows + split.rows - 1) / split.rows * colGroups;
  const int64_t bases = (products * split.lanes + k.threads - 1) / k.threads;
  const std::string lanes = num(split.lanes), r = num(split.rows),
                    c = num(split.cols);
  const std::string weights4 = "reinterpret_cast<const float4 *>("
                               "residentWeights + " + num(plan.offset) + ")";
  std::string staged4 = "reinterpret_cast<const float4 *>(residentWeights + " +
                        num(stagingOffset) + ")";
  if (async)
    staged4 = "reinterpret_cast<const float4 *>(residentWeights + " +
              num(stagingOffset) + " + chunk % " + num(slots) + " * " +
              num(rows * chunk4 * 4) +
              ")";

  // Rows x 4 chunk4 k of the left operand (from k = 4 first4 when
  // chunked), zeros past the end.
  auto stage = [&]() -> LogicalResult {
    w.open("for (int i = threadIdx.x; i < " + num(rows * chunk4 * 4) +
           "; i += blockDim.x)");
    w.line("const attnc_index row = i / " + num(chunk4 * 4) + ", kk = " +
           (oneChunk ? "" : "first4 * 4 + ") + "i % " + num(chunk4 * 4) +
           ";");
    w.line("float value = 0.0f;");
    w.open("if (kk < " + num(plan.depth) + ")");
    FailureOr<std::string> a = leftOperandAt(matmul);
    if (failed(a))
      return failure();
    w.line("value = " + *a + ";");
    w.close();
    w.line("residentWeights[" + num(stagingOffset) + " + i] = value;");
    w.close();
    return success();
  };
  // Starts copying chunk `which` into its buffer, zeros past the end.
  auto issue = [&](const std::string &which) {
    w.open("for (int i = threadIdx.x; i < " + num(rows * chunk4) +
           "; i += blockDim.x)");
    w.line("const attnc_index row = i / " + num(chunk4) + ", k4 = (" + which +
           ") * " + num(chunk4) + " + i % " + num(chunk4) + ";");
    w.line("attnc_cp_async_16(residentWeights + " + num(stagingOffset) +
           " + (" + which + ") % " + num(slots) + " * " +
           num(rows * chunk4 * 4) +
           " + i * 4, " + *buffer + " + row * " + num(plan.depth) +
           " + (k4 < " + num(depth4) + " ? k4 : 0) * 4, k4 < " + num(depth4) +
           ");");
    w.close();
  };

  if (oneChunk) {
    if (failed(stage()))
      return failure();
    w.line("__syncthreads();");
  }
  w.open("for (attnc_index base = 0; base < " + num(products) +
         "; base += blockDim.x / " + lanes + ")");
  w.line("const attnc_index e = base + threadIdx.x / " + lanes +
         ", lane = threadIdx.x % " + lanes + ";");
  w.line("const attnc_index rowBase = e / " + num(colGroups) + " * " + r +
         ", group = e % " + num(colGroups) + ";");
  w.line("float acc[" + r + "][" + c + "] = {};");
  std::string global4 = "k4";
  if (async) {
    global4 = "chunk * " + num(chunk4) + " + k4";
    const std::string ahead = num(slots - 1);
    w.open("for (attnc_index chunk = 0; chunk < " + ahead + "; ++chunk)");
    issue("chunk");
    w.line("attnc_cp_async_commit();");
    w.close();
    w.open("for (attnc_index chunk = 0; chunk < " + num(chunks) + "; ++chunk)");
    w.open("if (chunk + " + ahead + " < " + num(chunks) + ")");
    issue("chunk + " + ahead);
    w.close();
    w.line("attnc_cp_async_commit();");
    w.line("attnc_cp_async_wait<" + ahead +
           ">(); // this chunk's copies, not the later ones'");
    w.line("__syncthreads();");
  } else if (!oneChunk) {
    global4 = "first4 + k4";
    w.open("for (attnc_index first4 = 0; first4 < " + num(depth4) +
           "; first4 += " + num(chunk4) + ")");
    w.line("__syncthreads(); // every thread is done with the last chunk");
    if (failed(stage()))
      return failure();
    w.line("__syncthreads();");
  }
  // Unrolled twice, so one iteration's shared loads issue under the
  // other's FMAs (a block has only two warps per scheduler to hide them).
  w.line("#pragma unroll 2");
  w.open("for (attnc_index k4 = lane; k4 < " + num(chunk4) +
         (oneChunk ? "" : " && " + global4 + " < " + num(depth4)) +
         "; k4 += " + lanes + ")");
  w.line("float4 b[" + c + "];");
  w.line("#pragma unroll");
  w.line("for (int j = 0; j < " + c + "; ++j) b[j] = " + weights4 + "[" +
         residentSlot(plan, split, global4, "group + j * " + num(colGroups)) +
         "];");
  w.line("#pragma unroll");
  w.open("for (int r = 0; r < " + r + "; ++r)");
  w.line("const attnc_index row = rowBase + r < " + num(rows) +
         " ? rowBase + r : " + num(rows - 1) + ";");
  w.line("const float4 a = " + staged4 + "[row * " + num(chunk4) + " + k4];");
  w.line("#pragma unroll");
  w.line("for (int j = 0; j < " + c + "; ++j) acc[r][j] = fmaf(a.w, b[j].w, "
         "fmaf(a.z, b[j].z, fmaf(a.y, b[j].y, fmaf(a.x, b[j].x, acc[r][j]))));");
  w.close();
  w.close();
  if (async && slots < chunks)
    w.line("__syncthreads(); // a later chunk's copies refill this buffer");
  if (!oneChunk)
    w.close();
  if (async && slots == chunks && bases > 1)
    w.line("__syncthreads(); // the next tiles' copies refill the buffers");

  // Add up the lanes' sums; the first lane stores.
  w.line("#pragma unroll");
  w.open("for (int r = 0; r < " + r + "; ++r)");
  w.line("#pragma unroll");
  w.open("for (int j = 0; j < " + c + "; ++j)");
  for (int64_t offset = split.lanes / 2; offset >= 1; offset /= 2)
    w.line("acc[r][j] += __shfl_xor_sync(0xffffffffu, acc[r][j], " +
           num(offset) + ");");
  w.line("const attnc_index c = group + j * " + num(colGroups) + ";");
  std::string stores = "lane == 0 && e < " + num(products) +
                       " && rowBase + r < " + num(rows);
  if (productOffset >= 0 && units && units->matmul == matmul.getOperation()) {
    w.line("if (" + stores + ") residentWeights[" + num(productOffset) +
           " + (rowBase + r) * " + num(perBlock) + " + c] = " +
           roundTo(result, "acc[r][j]") + ";");
  } else {
    w.line("const attnc_index col = " + ownedColumn(plan, "c") + ";");
    w.line("if (" + stores + " && " + ownedColumnValid(plan, "c", "col") +
           ") " + target + "[(rowBase + r) * " + num(plan.cols) + " + col] = " +
           roundTo(result, "acc[r][j]") + ";");
  }
  w.close();
  w.close();
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
    // weights stay in global memory: every row, shared out as dotSplit
    // says. With few dot products per block (a small batch), several
    // lanes share one: all threads stay busy, and a step's latency is a
    // slice of the contraction rather than all of it. The loop's trip
    // count is the same for every thread, so whole warps reach the
    // shuffles. Rows past the last are computed on the last row's
    // operands and not stored.
    const ResidentPlan owned{-1, units->groups * units->perBlock, depth,
                             out.back()};
    const ResidentPlan &plan = owned;
    const int64_t rows = out[0];
    DotSplit split = dotSplit(plan, rows);
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
/// Has the grid fetch this step's slice of each sequence the kernel reads
/// from its inputs into L2, as the step begins: the projected inputs
/// (x W, hoisted out of the recurrence) are too large to stay in L2 from
/// the GEMM that wrote them, and the gates would otherwise wait on HBM
/// after the product, on the critical path. The product and the staging
/// before it take longer than the fetch. Only slices along dim 0 are
/// contiguous lines.
void RecurrenceEmitter::prefetchSequences(graph::ScanOp op,
                                          const std::string &time) {
  CodeWriter &w = k.out;
  for (Value sequence : op.getSequences()) {
    std::optional<unsigned> input = k.inputNumber(sequence);
    if (!input || op.getDim() != 0)
      continue;
    auto type = cast<RankedTensorType>(sequence.getType());
    int64_t sliceBytes = numElements(sequence) / type.getShape()[0] *
                         ((type.getElementTypeBitWidth() + 7) / 8);
    w.line("for (attnc_index line = gtid; line < " +
           num((sliceBytes + 127) / 128) +
           "; line += gsize) attnc_prefetch_l2(reinterpret_cast<const char "
           "*>(in" + num(*input) + ") + " + time + " * " + num(sliceBytes) +
           " + line * 128);");
  }
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
    writes.push_back({yield->getOperand(numStacked + i), next});
  return writes;
}

/// Under a unit split with at most one gate element per thread, loads the
/// gates' operands from global memory (the step's slice of x W, the
/// carried cell state, the bias) into registers as the step begins, so
/// their L2 and HBM latency passes during the product instead of after
/// it, on the critical path. A dry run of the gates' phase finds them:
/// loads of kernel inputs and carries (which nothing in the step writes)
/// that every element makes (not inside a branch, such as a concat's)
/// at indices made of the element and step indices alone. Returns what
/// it preloaded, for load() to use while the gates are emitted.
FailureOr<llvm::StringMap<std::string>>
RecurrenceEmitter::preloadYieldOperands(ArrayRef<Write> writes) {
  llvm::StringMap<std::string> chosen;
  const int64_t count = units->rows * units->perBlock;
  for (const Write &write : writes)
    if (numElements(write.value) != units->rows * units->units)
      return chosen; // more than one phase
  if (writes.empty() || count > k.threads)
    return chosen;
  std::vector<std::pair<std::string, int>> loads;
  const size_t mark = k.body.size();
  const int bodyDepth = k.out.depth() + 1;
  recordLoads = &loads;
  LogicalResult dryRun = phase(writes, nullptr);
  recordLoads = nullptr;
  k.body.resize(mark);
  if (failed(dryRun))
    return failure();
  // Identifiers an index may use at the start of the step.
  static const llvm::Regex allowed(
      "^(attnc_load|in[0-9]+|carryNowt[0-9_]+|t[0-9]+|e)$");
  auto inScope = [&](StringRef load) {
    for (size_t i = 0; i < load.size();) {
      if (!isalpha(load[i]) && load[i] != '_') {
        // Skip a number whole, so its digits are not read as a name.
        size_t j = i;
        while (j < load.size() && isalnum(load[j]))
          ++j;
        i = std::max(i + 1, j);
        continue;
      }
      size_t j = i;
      while (j < load.size() && (isalnum(load[j]) || load[j] == '_'))
        ++j;
      if (!allowed.match(load.substr(i, j - i)))
        return false;
      i = j;
    }
    return true;
  };
  llvm::SmallVector<std::string> order;
  for (const auto &[load, depth] : loads) {
    if (order.size() == 16 || depth != bodyDepth || chosen.count(load) ||
        !inScope(load))
      continue;
    chosen[load] = "preload" + num(order.size());
    order.push_back(load);
  }
  if (order.empty())
    return chosen;
  CodeWriter &w = k.out;
  std::string declare = "float";
  for (size_t i = 0; i < order.size(); ++i)
    declare += (i ? ", preload" : " preload") + num(i) + " = 0.0f";
  w.line(declare + ";");
  openElementLoop(units->rows * units->units);
  for (const std::string &load : order)
    w.line(chosen[load] + " = " + load + ";");
  w.close();
  return chosen;
}

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
  emitter.findUnitSplit(k.blocks);
  // Shared memory for resident weights: the target's per-block maximum,
  // less room for the compiler's own use.
  int64_t budget = k.target.kernels.smemPerBlockBytes - 8 * 1024;
  emitter.planResidentWeights(k.blocks, budget);
  return emitter.run();
}
