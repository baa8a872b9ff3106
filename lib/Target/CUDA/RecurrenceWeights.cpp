//===- RecurrenceWeights.cpp - a recurrence's weights kept on chip ------===//
//
// Which products of a persistent recurrence (h U) keep their step-invariant
// weights in shared memory for all steps (planResidentWeights), the
// columns each block owns (ownedColumn), and how the weights are laid out
// and loaded once before the first step: f32 as float4 slots of 4 k,
// swizzled against bank conflicts (residentSlot); f16/bf16 as words of two
// k (loadResidentWeights). The products that read them are in
// RecurrenceProduct.cpp (FMAs) and RecurrenceTensorProduct.cpp.
//
//===----------------------------------------------------------------------===//

#include "RecurrenceEmitter.h"

#include <cassert>
#include <functional>

using namespace mlir;
using namespace attn;
using namespace attn::cuda;

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
