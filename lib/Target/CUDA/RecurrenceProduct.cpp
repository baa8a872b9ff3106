//===- RecurrenceProduct.cpp - a recurrence's products from on-chip weights ===//
//
// The recurrent product of a persistent recurrence (h U) whose
// step-invariant weights stay in shared memory for all steps: which
// products get that (planResidentWeights), how the weights are laid out
// (f32: float4 slots of 4 k, swizzled against bank conflicts,
// residentSlot; f16/bf16: words of two k, loadResidentWeights), and each
// step's product: h staged or streamed into shared memory (from a 16-bit
// copy of a 16-bit state), then tensor cores (m16n8k16 for 16-bit
// operands, TF32 for f32 ones: tensorWork, emitTensorCoreProduct) or a
// register tile of rows x columns per thread, lanes sharing a tile's k
// (tileSplit, emitFmaProduct).
//
//===----------------------------------------------------------------------===//

#include "RecurrenceEmitter.h"

#include <cassert>
#include <functional>

using namespace mlir;
using namespace attn;
using namespace attn::cuda;

/// The packing of two f32 values into a register of 16-bit `type`s.
static std::string packHalves(Type type) {
  return type.isBF16() ? "attnc_pack_bf16" : "attnc_pack_f16";
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
  // Places the candidates in body order, each where it still fits; `widen`
  // (if any) has its 16-bit weights widened to f32 (below).
  struct Placement {
    llvm::MapVector<Operation *, ResidentPlan> resident;
    int64_t offset = 0, stagingNeed = 0;
    bool productPlaced = false;
  };
  auto place = [&](Operation *widen) {
    Placement result;
    int64_t &offset = result.offset, &stagingNeed = result.stagingNeed;
    int64_t reserve = 0;
    for (graph::MatmulOp matmul : candidates) {
      int64_t rows = shapeOf(matmul.getResult())[0];
      ArrayRef<int64_t> rhs = shapeOf(matmul.getRhs());
      int64_t depth = matmul.getTransposeRhs() ? rhs[1] : rhs[0];
      int64_t cols = matmul.getTransposeRhs() ? rhs[0] : rhs[1];
      int64_t perBlock = units ? units->groups * units->perBlock
                               : (cols + blocks - 1) / blocks;
      // 16-bit weights stay 16-bit when tensor cores can take the product:
      // half the room, and no conversion per step.
      Type halves = sixteenBitOperands(matmul);
      std::optional<TensorWork> work =
          tensorWork(rows, perBlock, bool(halves));
      if (!halves || !work || matmul.getOperation() == widen) {
        halves = {};
        work = tensorWork(rows, perBlock, /*halves=*/false);
      }
      // Rows of 4 k (float4 reads) or whole K steps of 16 k (16-bit), the
      // last one zero-padded.
      int64_t paddedDepth = llvm::alignTo(depth, halves ? 16 : 4);
      int64_t bytes = paddedDepth * perBlock * (halves ? 2 : 4);
      // Room to stage one K step of every row at the least: 16-bit weights
      // have no FMA product to fall back on (emitResidentMatmul).
      int64_t withReserve =
          std::max(reserve, rows * (halves ? 16 + 8 : 16) * 4);
      bool product = units && units->matmul == matmul.getOperation();
      int64_t tile = result.productPlaced || product ? productBytes : 0;
      if (offset + bytes + withReserve + tile > budget)
        continue;
      result.resident[matmul] = {offset / 4, perBlock, depth, cols, halves};
      offset += bytes;
      reserve = withReserve;
      result.productPlaced |= product;
      // A product on tensor cores pads each staged row by 4 floats (8 for
      // 16-bit operands) per chunk of k (planStaging): room for 8 chunks'
      // pads keeps a left operand that would fit without them all in
      // flight at once.
      int64_t pads = !work ? 0 : halves ? 64 : 32;
      stagingNeed = std::max(stagingNeed, rows * (paddedDepth + pads) * 4);
      // Where the tagged exchange may apply (RecurrenceExchange.cpp: the
      // unit split's FMA product, up to kTaggedRows rows, whole float4s of
      // k), room too for the FMA staging's rounding of its chunks (four of
      // them, each up to a float4 per lane more: 512 floats a row), so that
      // the whole state is in flight at once, which that exchange needs.
      if (product && !work && !halves && depth % 4 == 0 && rows <= kTaggedRows)
        stagingNeed = std::max(stagingNeed, rows * (paddedDepth + 512) * 4);
      // Room too for every warp's partial product when the warps split the
      // K steps (emitResidentMatmul): at a small batch the operand alone
      // would hold two, and two warps would run every step's MMA chains.
      if (work)
        stagingNeed = std::max(stagingNeed, k.threads / 32 / work->units *
                                                work->paddedRows * perBlock *
                                                4);
    }
    return result;
  };
  Placement chosen = place(nullptr);
  // Up to kTaggedRows rows, the unit split's 16-bit product may have its
  // weights widened to f32 (exactly) for the FMA product: at batch 1 its
  // share of the weights then fits in registers, and the state may travel
  // tagged instead of through a grid barrier every step (taggedExchange
  // takes a 16-bit state the FMA product reads as f32), which the
  // m16n8k16 product, 15 of whose 16 rows would be padding, cannot do. The
  // products are exact either way (a product of two 16-bit values is exact
  // in f32), summed in f32. Only where the step can take the tagged
  // exchange (readsOnlyOwnUnits), no other product loses its place to the
  // twice larger weights, and the whole state still fits the staging.
  if (units && sixteenBitOperands(cast<graph::MatmulOp>(units->matmul)) &&
      units->rows <= kTaggedRows && readsOnlyOwnUnits(scan, units->matmul)) {
    Placement wide = place(units->matmul);
    auto it = wide.resident.find(units->matmul);
    if (it != wide.resident.end() && !it->second.halves &&
        wide.resident.size() == chosen.resident.size() &&
        wide.offset + productBytes + wide.stagingNeed <= budget)
      chosen = std::move(wide);
  }
  resident = std::move(chosen.resident);
  int64_t offset = chosen.offset, stagingNeed = chosen.stagingNeed;
  bool productPlaced = chosen.productPlaced;
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

/// Up to 8 rows and 2 columns per thread. Per group of 4 k a thread then
/// reads 2 float4 of weights and 8 float4 of the left operand for 64
/// FMAs: the FMA pipe, not shared memory, bounds the step (one column per
/// thread would read as many bytes as it does FMAs). Lanes share tiles
/// while the block has threads to spare, so a small batch still keeps
/// every thread busy and a step's latency is a slice of the contraction.
RecurrenceEmitter::TileSplit
RecurrenceEmitter::tileSplit(const ResidentPlan &plan, int64_t rows,
                             int64_t cols) const {
  TileSplit split{1, cols ? cols : plan.perBlock % 2 == 0 ? 2 : 1, 1, 0};
  while (split.rows * 2 <= std::min<int64_t>(rows, 8))
    split.rows *= 2;
  int64_t products =
      (rows + split.rows - 1) / split.rows * (plan.perBlock / split.cols);
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
  // (k4 % lanes) * swizzle % 8 is (k4 * swizzle) % 8, lanes x swizzle
  // being 32: one multiplication and a mask, unsigned, so that the
  // compilers fold it where k4's low bits are known (with swizzle 4, k4 =
  // 2 step or 2 step + 1 in the tensor-core K loops gives a constant),
  // where signed % kept a remainder sequence per load.
  if (split.swizzle) {
    assert(split.lanes * split.swizzle % 8 == 0 && "swizzle spans 8 slots");
    column = "(" + column + " ^ (int)((unsigned)(" + k4 + ") * " +
             num(split.swizzle) + "u & 7u))";
  }
  return "(" + k4 + ") * " + num(plan.perBlock) + " + " + column;
}

/// Loads each resident block's columns into shared memory, zeros past the
/// last k and column: f32 in the float4 slots of residentSlot, or 16-bit
/// (ResidentPlan::halves) as words of two k, word kp % 4 of slot
/// (kp / 4) * perBlock + c, kp = k / 2. A warp's B fragment of 8 columns
/// (two k of each column at each of 4 word offsets) is then 32
/// consecutive words: one wavefront.
void RecurrenceEmitter::loadResidentWeights() {
  if (resident.empty())
    return;
  CodeWriter &w = k.out;
  // Declared as 16-byte elements, so the float4 reads and cp.async
  // destinations are aligned whatever the compiler would give floats.
  w.line("ATTNC_DYNAMIC_SHARED(attnc_b128, residentRaw);");
  w.line("float *residentWeights = reinterpret_cast<float *>(residentRaw);");
  for (auto &entry : resident) {
    auto matmul = cast<graph::MatmulOp>(entry.first);
    const ResidentPlan &plan = entry.second;
    Value rhs = matmul.getRhs();
    auto at = [&](const std::string &kk) {
      return matmul.getTransposeRhs() ? Index{"col", kk} : Index{kk, "col"};
    };
    if (plan.halves) {
      w.open("for (int e = threadIdx.x; e < " +
             num(llvm::alignTo(plan.depth, 16) / 2 * plan.perBlock) +
             "; e += blockDim.x)");
      w.line("const attnc_index kp = e / " + num(plan.perBlock) + ", c = e % " +
             num(plan.perBlock) + ";");
      w.line("const attnc_index col = " + ownedColumn(plan, "c") + ";");
      w.line("const bool valid = " + ownedColumnValid(plan, "c", "col") + ";");
      auto weight = [&](const std::string &kk) {
        return "valid && " + kk + " < " + num(plan.depth) + " ? " +
               *k.loadInput(rhs, at(kk)) + " : 0.0f";
      };
      w.line("reinterpret_cast<unsigned *>(residentWeights + " +
             num(plan.offset) + ")[(kp / 4 * " + num(plan.perBlock) +
             " + c) * 4 + kp % 4] = " + packHalves(plan.halves) + "(" +
             weight("2 * kp") + ", " + weight("2 * kp + 1") + ");");
      w.close();
      continue;
    }
    TileSplit split = tileSplit(plan, shapeOf(matmul.getResult())[0]);
    w.open("for (int e = threadIdx.x; e < " +
           num(llvm::alignTo(plan.depth, 4) * plan.perBlock) +
           "; e += blockDim.x)");
    w.line("const attnc_index kk = e / " + num(plan.perBlock) + ", c = e % " +
           num(plan.perBlock) + ";");
    w.line("const attnc_index col = " + ownedColumn(plan, "c") + ";");
    w.line("residentWeights[" + num(plan.offset) + " + (" +
           residentSlot(plan, split, "kk / 4", "c") +
           ") * 4 + kk % 4] = kk < " + num(plan.depth) + " && " +
           ownedColumnValid(plan, "c", "col") + " ? " +
           *k.loadInput(rhs, at("kk")) + " : 0.0f;");
    w.close();
  }
  w.line("__syncthreads();");
}

/// The left operand of a product at (row, kk) in scope, through a fresh
/// scalar emitter (nothing computed for another element is reused).
FailureOr<std::string>
RecurrenceEmitter::leftOperandAt(graph::MatmulOp matmul) {
  ScalarEmitter scalar(
      k.out, [&](Value v, const Index &i) { return load(v, i, nullptr); });
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

bool RecurrenceEmitter::needsHalfShadow(Value arg) const {
  for (auto &entry : resident) {
    auto matmul = cast<graph::MatmulOp>(entry.first);
    if (entry.second.halves && matmul.getLhs() == arg &&
        !matmul.getTransposeLhs() && entry.second.depth % 8 == 0)
      return true;
  }
  return false;
}

std::optional<std::string> RecurrenceEmitter::halfShadow(Value value) const {
  for (const ActiveScan &level : active)
    for (auto [i, arg] : llvm::enumerate(
             graph::ScanOp(level.op).getCarriedArgs()))
      if (arg == value && !level.halfNow[i].empty())
        return level.halfNow[i];
  return std::nullopt;
}

Type RecurrenceEmitter::sixteenBitOperands(graph::MatmulOp matmul) {
  Type lhs = elementOf(matmul.getLhs()), rhs = elementOf(matmul.getRhs());
  return lhs == rhs && (lhs.isF16() || lhs.isBF16()) ? lhs : Type();
}

/// Tensor cores need whole 8-column groups per block, and take the
/// block's tiles in at most as many blocks (units) as it has warps.
///
/// f32 operands: the weights stay f32 in shared memory (their TF32 parts
/// would need twice the room), so every step converts each fragment
/// element it reads. Counted in the SASS of the benchmark's recurrence
/// (sm_90a, H = 1024; bench/sass_loops.py), per 4096 multiply-adds
/// computed by a warp in the innermost K loop: one TF32 MMA per product
/// (--f32-matmul=tf32, each element rounded once) 62 instructions and
/// 3xTF32 (each split into a rounded part and the exact rest) 117, on a
/// row tile of 16 whatever rows it holds; the FMA loop 179 on tiles of 8
/// rows (128 FFMA) and 198 on tiles of 4, its rows padded to whole tiles
/// (tileSplit). Per product actually needed that makes one TF32 MMA
/// cheaper from 5 rows (62 x 16/5 = 198 against 198 x 8/5 = 317) and
/// 3xTF32 from 9 (117 x 16/9 = 208 against 179 x 16/9 = 318); at 8 rows
/// the FMA loop's one full tile (179) beats 3xTF32's half-empty one (234).
/// Above 16 rows each warp takes two row tiles (rows padded to a multiple
/// of 32 with the last row's operands), so each weight fragment it
/// converts feeds two.
///
/// 16-bit operands need no split, so any batch takes the tensor cores.
/// Shared memory rather than the tensor cores bounds their product: each
/// MMA reads its fragments there, 512 bytes per 16-row A fragment and 256
/// per 8-column B fragment, so a warp's block of m x n tiles costs
/// (512 m + 256 n) / (m n) bytes per MMA, 384 at 1 x 4 and 256 at 2 x 4
/// (shared memory gives 128 bytes a clock; 1024 MMAs a step at batch 64
/// and H = 1024 then take about 2000 clocks instead of 3000). So two row
/// tiles per block above 16 rows, as for TF32 (the warps that are left
/// split the K steps), and four when the blocks would outnumber the warps.
std::optional<RecurrenceEmitter::TensorWork>
RecurrenceEmitter::tensorWork(int64_t rows, int64_t perBlock,
                              bool halves) const {
  const int64_t fromRows = halves                              ? 1
                           : k.f32Matmul == F32Matmul::Simt   ? INT64_MAX
                           : k.f32Matmul == F32Matmul::Tf32   ? 5
                                                              : 9;
  if (perBlock % 8 != 0 || rows < fromRows)
    return std::nullopt;
  const int64_t warps = k.threads / 32, tilesN = perBlock / 8;
  TensorWork work;
  work.kStep = halves ? 16 : 8;
  for (int64_t n = std::min<int64_t>(tilesN, 4); n >= 1; --n)
    if (tilesN % n == 0) {
      work.nTiles = n;
      break;
    }
  work.blocksN = tilesN / work.nTiles;
  for (work.mTiles = rows > 16 ? 2 : 1; work.mTiles <= 4; work.mTiles *= 2) {
    work.paddedRows = llvm::alignTo(rows, 16 * work.mTiles);
    work.units = work.paddedRows / 16 / work.mTiles * work.blocksN;
    if (work.units <= warps)
      return work;
    if (!halves)
      break;
  }
  return std::nullopt;
}

/// The block's columns of a product whose weights are resident, every
/// row. The left operand is staged in shared memory (in chunks of k when it
/// does not fit), so the dot products read it next to the weights. When it
/// is a plain buffer (the recurrent state, as a rule), it streams in
/// through cp.async, at least four chunks into as many buffers as fit: the
/// block computes on one chunk while the next arrive. Every block reads all
/// of it each step (B x H: 64 KiB per block at batch 16 and H = 1024, f32),
/// so without the overlap the step would wait for L2 as long as it
/// computes. Otherwise the threads stage it through the scalar emitter.
///
/// The arithmetic: on tensor cores where tensorWork allows
/// (emitTensorCoreProduct): 16-bit operands on m16n8k16, f32 ones on
/// TF32 as the f32 GEMMs (EmitGemmTf32.cpp), 3xTF32 or, under
/// --f32-matmul=tf32, one MMA; otherwise (or under --f32-matmul=simt) f32
/// FMAs, shared out as tileSplit says (emitFmaProduct).
LogicalResult RecurrenceEmitter::emitResidentMatmul(graph::MatmulOp matmul,
                                                    const ResidentPlan &plan,
                                                    const std::string &target) {
  const int64_t rows = shapeOf(matmul.getResult())[0];
  const int64_t warps = k.threads / 32;
  std::optional<TensorWork> work =
      tensorWork(rows, plan.perBlock, bool(plan.halves));
  if (work) {
    const int64_t step4 = work->kStep / 4;
    // Warps split the K steps while warps and K steps are left and their
    // partial products fit where the operand was staged; fewer of them,
    // and one K step per iteration, when the chunks of k cannot be whole
    // multiples (or there are fewer K steps than that).
    const int64_t kSteps = (plan.depth + work->kStep - 1) / work->kStep;
    int64_t kGroups = 1;
    while (work->units * kGroups * 2 <= warps && kGroups * 2 <= kSteps &&
           kGroups * 2 * work->paddedRows * plan.perBlock <= stagingFloats)
      kGroups *= 2;
    for (work->kGroups = kGroups; work->kGroups >= 1; work->kGroups /= 2)
      for (work->steps = 2; work->steps >= 1; work->steps /= 2) {
        if (work->kGroups * work->steps > std::max<int64_t>(kSteps, 1))
          continue;
        StagedOperand staged =
            planStaging(matmul, plan, true, step4 * work->kGroups * work->steps);
        if (staged.chunk4)
          return emitTensorCoreProduct(matmul, plan, staged, *work, target);
      }
    // 16-bit weights have no FMA product: the threads stage the operand,
    // one K step of every row at the least (planResidentWeights reserved
    // that).
    if (plan.halves) {
      work->kGroups = work->steps = 1;
      StagedOperand staged = planStaging(matmul, plan, true, step4, true);
      if (!staged.chunk4)
        return matmul.emitOpError(
            "CUDA emission: no room in shared memory to stage one K step of "
            "this recurrent product's left operand");
      return emitTensorCoreProduct(matmul, plan, staged, *work, target);
    }
  }
  StagedOperand staged = planStaging(matmul, plan, false, 1);
  if (taggedShadow(matmul.getLhs()) && !staged.tagged)
    return matmul.emitOpError("CUDA emission: the tagged exchange of this "
                              "recurrence's state needs its product to "
                              "stream the state");
  return emitFmaProduct(matmul, plan, staged, target);
}

/// How a product's left operand reaches shared memory: chunk4 float4s of
/// each row per chunk (a multiple of `align`; 0 when none fits), rows
/// rowFloats = 4 chunk4 + pad apart (2 chunk4 + pad words from a 16-bit
/// copy), `slots` buffers (streamed) or one. Tensor cores take chunks of
/// whole iterations of their K steps and rows padded so that a warp's
/// fragment loads hit 32 banks: TF32's 8 rows x 4 words with rows 4 mod 8
/// floats apart (pad 4, chunk4 even); a 16-bit product's half-warp float2
/// loads of 4 rows x 4 pairs of f32 rows 8 mod 16 apart (pad 8), or its 8
/// rows x 4 words of a 16-bit copy's rows 4 mod 8 words apart (pad 4;
/// chunk4 a multiple of 4 for both). `threadsOnly`
/// stages through the threads even a buffer cp.async could stream (one
/// buffer holds more of it).
RecurrenceEmitter::StagedOperand
RecurrenceEmitter::planStaging(graph::MatmulOp matmul, const ResidentPlan &plan,
                               bool tensorCores, int64_t align,
                               bool threadsOnly, bool assumeStreamable) {
  StagedOperand st;
  const int64_t rows = shapeOf(matmul.getResult())[0];
  const int64_t depth4 = (plan.depth + 3) / 4;
  st.buffer = plainBuffer(matmul.getLhs());
  st.async = !threadsOnly && (st.buffer || assumeStreamable) &&
             !matmul.getTransposeLhs() && plan.depth % 4 == 0;
  // A 16-bit state streams from its 16-bit copy: 4 k in 2 words.
  std::optional<std::string> shadow = halfShadow(matmul.getLhs());
  if (st.async && plan.halves && shadow) {
    st.buffer = shadow;
    st.halfRows = true;
  }
  // A state the blocks exchange without a barrier streams from its tagged
  // copy (RecurrenceExchange.cpp), in the same 16-byte pieces.
  if (st.async && !st.halfRows)
    st.tagged = taggedShadow(matmul.getLhs());
  const int64_t perK4 = st.halfRows ? 2 : 4;
  const int64_t pad = !tensorCores                  ? 0
                      : plan.halves && !st.halfRows ? 8
                                                    : 4;
  const TileSplit split = tileSplit(plan, rows);
  // Float4s of a row per chunk; streamed chunks are whole multiples of the
  // lanes (so no lane idles) when the buffers allow it.
  int64_t fit = (stagingFloats / rows - pad) / perK4;
  st.chunk4 = std::min<int64_t>(llvm::alignTo(depth4, align), fit);
  if (st.async) {
    int64_t room = (stagingFloats / 2 / rows - pad) / perK4;
    if (!tensorCores && room > split.lanes)
      room = llvm::alignDown(room, split.lanes);
    // At least one float4 per row: a buffer that holds the whole of a
    // shallow h (depth 4) leaves no room for a second.
    int64_t quarter = (int64_t)llvm::alignTo((depth4 + 3) / 4,
                                             tensorCores ? align : split.lanes);
    st.chunk4 = std::max<int64_t>(1, std::min<int64_t>(room, quarter));
  }
  if (st.chunk4 < align) {
    st.chunk4 = 0;
    return st;
  }
  st.chunk4 = llvm::alignDown(st.chunk4, align);
  st.rowFloats = st.chunk4 * perK4 + pad;
  st.chunks = (depth4 + st.chunk4 - 1) / st.chunk4;
  st.oneChunk = !st.async && st.chunks == 1;
  // Streamed chunks: as many buffers as fit, all chunks in flight at once
  // when h fits (a chunk's FMAs at batch 1 take less than an L2 round
  // trip, so a two-buffer ring would wait once per chunk).
  st.slots = std::min(st.chunks, stagingFloats /
                                     std::max<int64_t>(1, rows * st.rowFloats));
  return st;
}

/// Stages the left operand: the whole of it before the products (one
/// chunk), or opens the loop over its chunks, each streamed or staged,
/// visible to the block inside it; `global4` is set to the global float4
/// index of the chunk's float4 `k4`. closeChunks ends the loop.
LogicalResult RecurrenceEmitter::openChunks(graph::MatmulOp matmul,
                                            const ResidentPlan &plan,
                                            const StagedOperand &st,
                                            std::string &global4) {
  CodeWriter &w = k.out;
  const int64_t rows = shapeOf(matmul.getResult())[0];
  const int64_t depth4 = (plan.depth + 3) / 4;
  const int64_t slot = rows * st.rowFloats;
  // Rows x 4 chunk4 k of the left operand (from k = 4 first4 when
  // chunked), zeros past the end.
  auto stage = [&]() -> LogicalResult {
    w.open("for (int i = threadIdx.x; i < " + num(rows * st.chunk4 * 4) +
           "; i += blockDim.x)");
    w.line("const attnc_index row = i / " + num(st.chunk4 * 4) +
           ", kk = " + (st.oneChunk ? "" : "first4 * 4 + ") + "i % " +
           num(st.chunk4 * 4) + ";");
    w.line("float value = 0.0f;");
    w.open("if (kk < " + num(plan.depth) + ")");
    FailureOr<std::string> a = leftOperandAt(matmul);
    if (failed(a))
      return failure();
    w.line("value = " + *a + ";");
    w.close();
    if (st.rowFloats == st.chunk4 * 4)
      w.line("residentWeights[" + num(stagingOffset) + " + i] = value;");
    else
      w.line("residentWeights[" + num(stagingOffset) + " + row * " +
             num(st.rowFloats) + " + i % " + num(st.chunk4 * 4) + "] = value;");
    w.close();
    return success();
  };
  // Starts copying chunk `which` into its buffer, zeros past the end.
  // 16-byte pieces: a float4 (4 k), or 8 k of a 16-bit copy.
  const int64_t k4PerPiece = st.halfRows ? 2 : 1;
  const int64_t pieces = st.chunk4 / k4PerPiece;
  const std::string piece = st.halfRows ? "k8" : "k4",
                    bound = num(depth4 / k4PerPiece);
  // Where piece `index` of a chunk (row index / pieces) lies in its buffer.
  auto pieceOffset = [&](const std::string &index) {
    return st.rowFloats == pieces * 4
               ? index + " * 4"
               : "row * " + num(st.rowFloats) + " + " + index + " % " +
                     num(pieces) + " * 4";
  };
  auto issue = [&](const std::string &which) {
    w.open("for (int i = threadIdx.x; i < " + num(rows * pieces) +
           "; i += blockDim.x)");
    w.line("const attnc_index row = i / " + num(pieces) + ", " + piece +
           " = (" + which + ") * " + num(pieces) + " + i % " + num(pieces) +
           ";");
    std::string into = pieceOffset("i");
    w.line("attnc_cp_async_16(residentWeights + " + num(stagingOffset) +
           " + (" + which + ") % " + num(st.slots) + " * " + num(slot) + " + " +
           into + ", " + *st.buffer + " + row * " + num(plan.depth) + " + (" +
           piece + " < " + bound + " ? " + piece + " : 0) * " +
           num(4 * k4PerPiece) + ", " + piece + " < " + bound + ");");
    w.close();
  };

  global4 = "k4";
  if (st.oneChunk) {
    if (failed(stage()))
      return failure();
    w.line("__syncthreads();");
    return success();
  }
  if (st.async && st.tagged) {
    // The whole state from its tagged copy (RecurrenceExchange.cpp), every
    // chunk into its own buffer: each thread loads all its pieces first
    // and only then waits for their tags, so that the waits overlap (one
    // round trip to L2, as the cp.async ring's, not one per piece).
    global4 = "chunk * " + num(st.chunk4) + " + k4";
    const int64_t total = rows * st.chunks * pieces;
    const int64_t perThread = (total + k.threads - 1) / k.threads;
    auto pieceAt = [&](const std::string &j) {
      w.line("const int i = threadIdx.x + " + j + " * " + num(k.threads) +
             ", chunk = i / " + num(rows * pieces) + ", inChunk = i % " +
             num(rows * pieces) + ";");
      w.line("const attnc_index row = inChunk / " + num(pieces) +
             ", k4 = chunk * " + num(pieces) + " + inChunk % " + num(pieces) +
             ";");
      w.line("const bool valid = i < " + num(total) + " && k4 < " + bound +
             ";");
      w.line("const unsigned long long *words = " + st.tagged->first +
             " + row * " + num(plan.depth) + " + (valid ? k4 : 0) * 4;");
    };
    w.open("");
    w.line("unsigned long long tagged[" + num(perThread) + "][4];");
    w.line("#pragma unroll");
    w.open("for (int j = 0; j < " + num(perThread) + "; ++j)");
    pieceAt("j");
    w.line("attnc_load_tagged_16(tagged[j], words, valid);");
    w.close();
    w.line("#pragma unroll");
    w.open("for (int j = 0; j < " + num(perThread) + "; ++j)");
    pieceAt("j");
    std::string into = pieceOffset("inChunk");
    w.line("if (i < " + num(total) + ") attnc_wait_tagged_16(residentWeights + " +
           num(stagingOffset) + " + chunk * " + num(slot) + " + " + into +
           ", tagged[j], words, valid, " + st.tagged->second + ");");
    w.close();
    w.close();
    w.line("__syncthreads();");
    if (unrollChunkLoop)
      w.line("#pragma unroll");
    w.open("for (attnc_index chunk = 0; chunk < " + num(st.chunks) +
           "; ++chunk)");
    return success();
  }
  if (st.async) {
    global4 = "chunk * " + num(st.chunk4) + " + k4";
    const std::string ahead = num(st.slots - 1);
    w.open("for (attnc_index chunk = 0; chunk < " + ahead + "; ++chunk)");
    issue("chunk");
    w.line("attnc_cp_async_commit();");
    w.close();
    if (unrollChunkLoop)
      w.line("#pragma unroll");
    w.open("for (attnc_index chunk = 0; chunk < " + num(st.chunks) +
           "; ++chunk)");
    w.open("if (chunk + " + ahead + " < " + num(st.chunks) + ")");
    issue("chunk + " + ahead);
    w.close();
    w.line("attnc_cp_async_commit();");
    w.line("attnc_cp_async_wait<" + ahead +
           ">(); // this chunk's copies, not the later ones'");
    w.line("__syncthreads();");
    return success();
  }
  global4 = "first4 + k4";
  w.open("for (attnc_index first4 = 0; first4 < " + num(depth4) +
         "; first4 += " + num(st.chunk4) + ")");
  w.line("__syncthreads(); // every thread is done with the last chunk");
  if (failed(stage()))
    return failure();
  w.line("__syncthreads();");
  return success();
}

void RecurrenceEmitter::closeChunks(const StagedOperand &st) {
  if (st.async && st.slots < st.chunks)
    k.out.line("__syncthreads(); // a later chunk's copies refill this buffer");
  if (!st.oneChunk)
    k.out.close();
}

/// Stores the block's product element (row, c), c one of its own columns:
/// into its tile in shared memory under the unit split, else into `target`.
void RecurrenceEmitter::storeOwned(graph::MatmulOp matmul,
                                   const ResidentPlan &plan,
                                   const std::string &target,
                                   const std::string &condition,
                                   const std::string &row, const std::string &c,
                                   const std::string &value) {
  CodeWriter &w = k.out;
  Value result = matmul.getResult();
  if (productOffset >= 0 && units && units->matmul == matmul.getOperation()) {
    w.line("if (" + condition + ") residentWeights[" + num(productOffset) +
           " + (" + row + ") * " + num(plan.perBlock) + " + " + c +
           "] = " + roundTo(result, value) + ";");
    return;
  }
  w.line("const attnc_index col = " + ownedColumn(plan, c) + ";");
  w.line("if (" + condition + " && " + ownedColumnValid(plan, c, "col") + ") " +
         target + "[(" + row + ") * " + num(plan.cols) +
         " + col] = " + roundTo(result, value) + ";");
}

/// Row r of the thread's tile (rowBase + r, or the last row past the end)
/// and its float4 `a` of the staged operand at k4.
void RecurrenceEmitter::emitStagedRow(int64_t rows, const StagedOperand &st,
                                      const std::string &staged4) {
  k.out.line("const attnc_index row = rowBase + r < " + num(rows) +
             " ? rowBase + r : " + num(rows - 1) + ";");
  k.out.line("const float4 a = " + staged4 + "[row * " +
             num(st.rowFloats / 4) + " + k4];");
}

/// The FMA product: each thread a register tile of rows x columns, lanes
/// sharing a tile's k (tileSplit); rows past the last are computed on the
/// last row's operands and not stored. The trip counts are the same for
/// every lane of a warp's tiles, so whole warps reach the shuffles. Where
/// a thread holds its share of the weights in registers
/// (RecurrenceRegisterWeights.cpp), the loop reads only the staged operand
/// from shared memory.
LogicalResult RecurrenceEmitter::emitFmaProduct(graph::MatmulOp matmul,
                                                const ResidentPlan &plan,
                                                const StagedOperand &st,
                                                const std::string &target) {
  CodeWriter &w = k.out;
  const int64_t rows = shapeOf(matmul.getResult())[0], perBlock = plan.perBlock;
  const int64_t depth4 = (plan.depth + 3) / 4;
  const TileSplit split = tileSplit(plan, rows);
  const int64_t colGroups = perBlock / split.cols;
  const int64_t products = (rows + split.rows - 1) / split.rows * colGroups;
  const int64_t bases = (products * split.lanes + k.threads - 1) / k.threads;
  const std::string lanes = num(split.lanes), r = num(split.rows),
                    c = num(split.cols);
  const std::string weights4 = "reinterpret_cast<const float4 *>("
                               "residentWeights + " +
                               num(plan.offset) + ")";
  std::string staged4 = "reinterpret_cast<const float4 *>(residentWeights + " +
                        num(stagingOffset) + ")";
  if (st.async)
    staged4 = "reinterpret_cast<const float4 *>(residentWeights + " +
              num(stagingOffset) + " + chunk % " + num(st.slots) + " * " +
              num(rows * st.rowFloats) + ")";

  const bool inRegisters = usesRegisterWeights(matmul, st, split.lanes);
  if (st.oneChunk) {
    std::string unused;
    if (failed(openChunks(matmul, plan, st, unused)))
      return failure();
  }
  w.open("for (attnc_index base = 0; base < " + num(products) +
         "; base += blockDim.x / " + lanes + ")");
  w.line("const attnc_index e = base + threadIdx.x / " + lanes +
         ", lane = threadIdx.x % " + lanes + ";");
  w.line("const attnc_index rowBase = e / " + num(colGroups) + " * " + r +
         ", group = e % " + num(colGroups) + ";");
  w.line("float acc[" + r + "][" + c + "] = {};");
  const int64_t partials =
      inRegisters ? registerWeights.find(matmul)->second.partials : 1;
  if (partials > 1)
    w.line("float part[" + r + "][" + c + "][" + num(partials) + "] = {};");
  std::string global4 = "k4";
  unrollChunkLoop = inRegisters;
  LogicalResult opened = st.oneChunk
                             ? success()
                             : openChunks(matmul, plan, st, global4);
  unrollChunkLoop = false;
  if (failed(opened))
    return failure();
  if (inRegisters) {
    emitRegisterFmaLoop(matmul, plan, st, staged4);
  } else {
    // Unrolled twice, so one iteration's shared loads issue under the
    // other's FMAs (a block has only two warps per scheduler to hide them).
    w.line("#pragma unroll 2");
    w.open("for (attnc_index k4 = lane; k4 < " + num(st.chunk4) +
           (st.oneChunk ? "" : " && " + global4 + " < " + num(depth4)) +
           "; k4 += " + lanes + ")");
    w.line("float4 b[" + c + "];");
    w.line("#pragma unroll");
    w.line("for (int j = 0; j < " + c + "; ++j) b[j] = " + weights4 + "[" +
           residentSlot(plan, split, global4, "group + j * " + num(colGroups)) +
           "];");
    w.line("#pragma unroll");
    w.open("for (int r = 0; r < " + r + "; ++r)");
    emitStagedRow(rows, st, staged4);
    w.line("#pragma unroll");
    w.line("for (int j = 0; j < " + c +
           "; ++j) acc[r][j] = fmaf(a.w, b[j].w, fmaf(a.z, b[j].z, "
           "fmaf(a.y, b[j].y, fmaf(a.x, b[j].x, acc[r][j]))));");
    w.close();
    w.close();
  }
  closeChunks(st);
  if (partials > 1) {
    w.line("#pragma unroll");
    w.line("for (int r = 0; r < " + r + "; ++r) for (int j = 0; j < " + c +
           "; ++j) for (int q = 0; q < " + num(partials) +
           "; ++q) acc[r][j] += part[r][j][q];");
  }
  if (st.async && st.slots == st.chunks && bases > 1)
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
  storeOwned(matmul, plan, target,
             "lane == 0 && e < " + num(products) + " && rowBase + r < " +
                 num(rows),
             "rowBase + r", "c", "acc[r][j]");
  w.close();
  w.close();
  w.close();
  return success();
}

/// The tensor-core product: the block's rows x perBlock outputs as tiles of
/// 16 x 8 (rows padded to paddedRows with the last row's operands, never
/// stored). Each active warp computes a block of mTiles x nTiles tiles
/// over a share of the K steps: kGroups warps split the steps of one block
/// of tiles when there are fewer blocks than warps (a batch of 32 with 32
/// columns on TF32 is one block of 2 x 4 tiles, so 8 warps each take an
/// eighth of K; a batch of 64, two blocks, 4 warps each), and add their
/// partial products in shared memory, in a fixed order, afterwards. Each
/// K step reads A fragments from the staged operand and B fragments from
/// the resident weights once, for all the warp's tiles in their row or
/// column, and each kind of MMA runs over all the warp's tiles before the
/// next, so consecutive MMAs are independent.
///
/// TF32 (f32 operands): K steps of 8 k; a slot's 4 k of 8 adjacent
/// columns are 32 consecutive words; each fragment split into TF32 parts,
/// three MMAs per tile into a zeroed partial sum over `steps` K steps,
/// then an f32 add into the accumulator (EmitGemmTf32.cpp says why).
/// 16-bit operands: K steps of 16 k, m16n8k16 straight into the
/// accumulator as the 16-bit GEMM does; A from pairs of staged f32 values
/// (the state, rounded to its type when written) packed into 16-bit
/// pairs, B words as loadResidentWeights laid them out.
LogicalResult RecurrenceEmitter::emitTensorCoreProduct(
    graph::MatmulOp matmul, const ResidentPlan &plan, const StagedOperand &st,
    const TensorWork &work, const std::string &target) {
  CodeWriter &w = k.out;
  const int64_t rows = shapeOf(matmul.getResult())[0], perBlock = plan.perBlock;
  const int64_t depth4 = (plan.depth + 3) / 4;
  const int64_t mt = work.mTiles, nt = work.nTiles, steps = work.steps;
  const int64_t step4 = work.kStep / 4;
  const int64_t active = work.units * work.kGroups;
  const bool halves = bool(plan.halves);
  const bool compensated = !halves && k.f32Matmul == F32Matmul::Tf32x3;
  const TileSplit tileLayout = tileSplit(plan, rows);
  std::string rowsAt = "residentWeights + " + num(stagingOffset);
  if (st.async)
    rowsAt += " + chunk % " + num(st.slots) + " * " + num(rows * st.rowFloats);

  w.open("");
  w.line("const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;");
  w.line("const int group = lane >> 2, inGroup = lane & 3;");
  w.line("const int kGroup = warp / " + num(work.units) + ", unit = warp % " +
         num(work.units) + ";");
  w.line("const int m0 = unit / " + num(work.blocksN) + " * " + num(16 * mt) +
         ", c0 = unit % " + num(work.blocksN) + " * " + num(8 * nt) + ";");
  w.line("float acc[" + num(mt) + "][" + num(nt) + "][4] = {};");
  std::string global4;
  if (failed(openChunks(matmul, plan, st, global4)))
    return failure();
  w.line("const float *staged = " + rowsAt + ";");
  // K step `step` of the chunk covers its float4s step4 step onwards.
  std::string stepBase = global4;
  stepBase.replace(stepBase.rfind("k4"), 2, num(step4) + " * step");
  // Chunks that run past the operand's end hold zeros there, but the
  // weights past their end (16-bit ones: past the K step that holds it)
  // need not be finite.
  const bool overrun = st.chunks * st.chunk4 > depth4;
  auto tiles = [&](const std::string &body) {
    w.line("#pragma unroll");
    w.line("for (int i = 0; i < " + num(mt) + "; ++i) for (int j = 0; j < " +
           num(nt) + "; ++j) " + body);
  };
  // In a chunk that runs past the end, iterations wholly past it stop.
  std::string firstStep = stepBase;
  firstStep.replace(firstStep.rfind("step"), 4, "s");
  w.open("for (int s = kGroup * " + num(steps) + "; " +
         (active < k.threads / 32 ? "warp < " + num(active) + " && " : "") +
         "s < " + num(st.chunk4 / step4) +
         (overrun ? " && " + firstStep + " < " + num(depth4) : "") +
         "; s += " + num(work.kGroups * steps) + ")");
  // TF32 adds each iteration's products into a zeroed partial sum.
  const std::string sum = halves ? "acc" : "part";
  if (!halves) {
    w.line("float part[" + num(mt) + "][" + num(nt) + "][4];");
    tiles("for (int r = 0; r < 4; ++r) part[i][j][r] = 0.0f;");
  }
  w.line("#pragma unroll");
  w.open("for (int u = 0; u < " + num(steps) + "; ++u)");
  w.line("const int step = s + u;");
  w.line("unsigned aBig[" + num(mt) + "][4], bBig[" + num(nt) + "][2]" +
         (compensated
              ? ", aSmall[" + num(mt) + "][4], bSmall[" + num(nt) + "][2]"
              : "") +
         ";");
  // The TF32 parts of an f32 value (or, with one MMA, the value rounded).
  auto split = [&](const std::string &value, const std::string &big,
                   const std::string &small) {
    return compensated
               ? "attnc_tf32_split(" + value + ", " + big + ", " + small + ");"
               : big + " = attnc_tf32_round(" + value + ");";
  };
  // TF32 a0..a3: (row, k) = (group, inGroup), (group + 8, inGroup),
  // (group, inGroup + 4), (group + 8, inGroup + 4) of the 16-row tile;
  // 16-bit: the same rows, k 2 inGroup and the next, then 8 further.
  w.line("#pragma unroll");
  w.open("for (int i = 0; i < " + num(mt) + "; ++i)");
  w.line("const int r0 = min(m0 + 16 * i + group, " + num(rows - 1) +
         "), r8 = min(m0 + 16 * i + group + 8, " + num(rows - 1) + ");");
  const std::string rowA[4] = {"r0", "r8", "r0", "r8"};
  for (int r = 0; r < 4; ++r) {
    if (st.halfRows) {
      w.line("aBig[i][" + num(r) + "] = reinterpret_cast<const unsigned *>("
             "staged)[" + rowA[r] + " * " + num(st.rowFloats) + " + " +
             num(work.kStep / 2) + " * step + inGroup" +
             (r >= 2 ? " + 4" : "") + "];");
      continue;
    }
    std::string at = rowA[r] + " * " + num(st.rowFloats) + " + " +
                     num(work.kStep) + " * step + ";
    if (halves) {
      w.line(
          "{ const float2 pair = *reinterpret_cast<const float2 *>(staged + " +
          at + "2 * inGroup" + (r >= 2 ? " + 8" : "") + "); aBig[i][" + num(r) +
          "] = " + packHalves(plan.halves) + "(pair.x, pair.y); }");
      continue;
    }
    w.line(split("staged[" + at + "inGroup" + (r >= 2 ? " + 4" : "") + "]",
                 "aBig[i][" + num(r) + "]", "aSmall[i][" + num(r) + "]"));
  }
  w.close();
  // TF32 b0, b1: (k, column) = (inGroup, group), (inGroup + 4, group) of
  // the 8 columns; 16-bit: k 2 inGroup and the next, then 8 further.
  w.line("#pragma unroll");
  w.open("for (int j = 0; j < " + num(nt) + "; ++j)");
  for (int r = 0; r < 2; ++r) {
    if (halves) {
      std::string word = "reinterpret_cast<const unsigned *>("
                         "residentWeights + " + num(plan.offset) + ")[((" +
                         stepBase + ") / 2 + " + num(r) + ") * " +
                         num(4 * perBlock) + " + (c0 + 8 * j + group) * 4 + "
                         "inGroup]";
      if (overrun)
        word = "(" + stepBase + " < " + num(depth4) + " ? " + word + " : 0u)";
      w.line("bBig[j][" + num(r) + "] = " + word + ";");
      continue;
    }
    std::string k4 = stepBase + (r ? " + 1" : "");
    std::string weight =
        "residentWeights[" + num(plan.offset) + " + (" +
        residentSlot(plan, tileLayout, k4, "c0 + 8 * j + group") +
        ") * 4 + inGroup]";
    if (overrun)
      weight = "(" + k4 + " < " + num(depth4) + " ? " + weight + " : 0.0f)";
    w.line(
        split(weight, "bBig[j][" + num(r) + "]", "bSmall[j][" + num(r) + "]"));
  }
  w.close();
  const std::string mma = !halves                ? "attnc_mma_m16n8k8_tf32"
                          : plan.halves.isBF16() ? "attnc_mma_m16n8k16_bf16"
                                                 : "attnc_mma_m16n8k16_f16";
  auto mmas = [&](const std::string &a, const std::string &b) {
    tiles(mma + "(" + sum + "[i][j], " + a + "[i], " + b + "[j], " + sum +
          "[i][j]);");
  };
  if (compensated) {
    mmas("aSmall", "bBig");
    mmas("aBig", "bSmall");
  }
  mmas("aBig", "bBig");
  w.close();
  if (!halves)
    tiles("for (int r = 0; r < 4; ++r) acc[i][j][r] += part[i][j][r];");
  w.close();
  closeChunks(st);

  // c_r of tile (i, j): row m0 + 16 i + group (+ 8 for r >= 2), column
  // c0 + 8 j + 2 inGroup (+ 1 for odd r).
  auto eachResult = [&](const std::function<void()> &body) {
    w.line("#pragma unroll");
    w.open("for (int i = 0; i < " + num(mt) + "; ++i)");
    w.line("#pragma unroll");
    w.open("for (int j = 0; j < " + num(nt) + "; ++j)");
    w.line("#pragma unroll");
    w.open("for (int r = 0; r < 4; ++r)");
    w.line("const int row = m0 + 16 * i + group + (r >> 1) * 8, c = c0 + 8 * j "
           "+ 2 * inGroup + (r & 1);");
    body();
    w.close();
    w.close();
    w.close();
  };
  const std::string isActive =
      active < k.threads / 32 ? "warp < " + num(active) + " && " : "";
  if (work.kGroups == 1) {
    eachResult([&] {
      storeOwned(matmul, plan, target, isActive + "row < " + num(rows), "row",
                 "c", "acc[i][j][r]");
    });
  } else {
    // The staged operand's space holds the kGroups partial products.
    w.line("__syncthreads(); // every warp is done with the staged operand");
    w.line("float *partial = residentWeights + " + num(stagingOffset) + ";");
    eachResult([&] {
      w.line((active < k.threads / 32 ? "if (warp < " + num(active) + ") "
                                      : std::string()) +
             "partial[(kGroup * " + num(work.paddedRows) + " + row) * " +
             num(perBlock) + " + c] = acc[i][j][r];");
    });
    w.line("__syncthreads();");
    w.open("for (int e = threadIdx.x; e < " + num(rows * perBlock) +
           "; e += blockDim.x)");
    w.line("const int row = e / " + num(perBlock) + ", c = e % " +
           num(perBlock) + ";");
    w.line("float sum = partial[e];");
    for (int64_t g = 1; g < work.kGroups; ++g)
      w.line("sum += partial[" + num(g * work.paddedRows * perBlock) +
             " + e];");
    storeOwned(matmul, plan, target, "true", "row", "c", "sum");
    w.close();
  }
  w.close();
  return success();
}
