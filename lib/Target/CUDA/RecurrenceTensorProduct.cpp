//===- RecurrenceTensorProduct.cpp - the step product on tensor cores ----===//
//
// The tensor-core form of a persistent recurrence's step product, from
// weights resident in shared memory: m16n8k16 for f16/bf16 operands, TF32
// (one MMA, or 3xTF32) for f32 ones. tensorWork decides when it beats the
// FMA product and how warps split the block's tiles;
// emitTensorCoreProduct writes it.
//
//===----------------------------------------------------------------------===//

#include "RecurrenceEmitter.h"

#include <cassert>
#include <functional>

using namespace mlir;
using namespace attn;
using namespace attn::cuda;

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
