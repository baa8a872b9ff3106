//===- EmitGemm.cpp - kernel.gemm as a shared-memory tiled GEMM ----------===//
//
// Each block computes one tm x tn output tile (the kernel op's tiles),
// staging tm x tk of A and tk x tn of B per K step in dynamic shared
// memory. The epilogue runs once per output element, from a shared f32
// tile, through the scalar emitter, so bias, activation, residual add and
// cast never touch memory twice. Batch dims are grid loops, or folded into
// m when the kernel op says so (no "b" loops). The main loop runs on
// tensor cores (mma.sync through attnc/mma.h, sm_80 and later): m16n8k16
// for f16 or bf16 operands, m16n8k8 on TF32 parts for f32 operands
// (EmitGemmTf32.cpp), fed by a cp.async multi-stage pipeline when the
// operands are plain row-major matrices. On sm_90a 16-bit GEMMs use the
// warp-specialised wgmma kernel instead (EmitWarpgroupGemm.cpp). Mixed
// operand types, and f32 ones under --f32-matmul=simt, run a
// register-tiled SIMT loop (a micro-tile of outputs per thread,
// EmitGemmSimt.cpp).
//
//===----------------------------------------------------------------------===//

#include "TensorCoreGemm.h"

#include "attn/Dialect/Graph/IR/GraphOps.h"
#include "attn/Dialect/Kernel/IR/KernelOps.h"

#include <cassert>

using namespace mlir;
using namespace attn;
using namespace attn::cuda;

namespace {
struct GemmLoops {
  int64_t tm = 0, tn = 0, tk = 0, numM = 0, numN = 0;
  llvm::SmallVector<int64_t> batch; // extents of "b" loops, outermost first
};
} // namespace

static GemmLoops readLoops(Operation *kernel) {
  GemmLoops loops;
  for (Attribute attr : kernel->getAttrOfType<ArrayAttr>("loops")) {
    auto loop = cast<kernel::LoopAttr>(attr);
    if (loop.getName() == "m") {
      loops.tm = loop.getTile();
      loops.numM = loop.getNumBlocks();
    } else if (loop.getName() == "n") {
      loops.tn = loop.getTile();
      loops.numN = loop.getNumBlocks();
    } else if (loop.getName() == "k") {
      loops.tk = loop.getTile();
    } else {
      loops.batch.push_back(loop.getExtent());
    }
  }
  return loops;
}

/// Tensor cores take 16-bit operands of one type (f16 or bf16), or, as
/// TF32, f32 operands unless --f32-matmul=simt.
static bool useTensorCores(graph::MatmulOp matmul, F32Matmul f32Matmul) {
  Type lhs = elementOf(matmul.getLhs()), rhs = elementOf(matmul.getRhs());
  return lhs == rhs && (lhs.isF16() || lhs.isBF16() ||
                        (lhs.isF32() && f32Matmul != F32Matmul::Simt));
}

void TensorCoreMath::chooseWarpGrid(int64_t tm, int64_t tn, int64_t warps,
                                    int64_t nUnit, int64_t regsA,
                                    int64_t regsB) {
  // Kernel formation's GEMM tiles are powers of two of at least 16
  // (KernelSchedules.cpp): one warp with one tile always fits.
  assert(tm % 16 == 0 && tn % 16 == 0 && "GEMM tiles of whole 16 x 16");
  totalWarps = warps;
  for (int64_t active = warps; active >= 1; active /= 2) {
    double best = 0;
    for (int64_t wm = 1; wm <= active; wm *= 2) {
      int64_t wn = active / wm;
      if (active % wm || tm % (16 * wm) || tn % (nUnit * wn))
        continue;
      int64_t mt = tm / (16 * wm), nt = tn / (nUnit * wn);
      double cost = double(regsA * mt + regsB * nt) / double(mt * nt);
      if (best == 0 || cost < best) {
        best = cost;
        activeWarps = active;
        warpsN = wn;
        mTiles = mt;
        nTiles = nt;
      }
    }
    if (best != 0)
      return;
  }
}

void TensorCoreMath::declareWarp(CodeWriter &w, int64_t nUnit,
                                 int64_t n8Tiles) const {
  w.line("const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;");
  w.line("const int group = lane >> 2, inGroup = lane & 3;");
  w.line("const int warpRow = warp / " + num(warpsN) + " * " +
         num(16 * mTiles) + ", warpCol = warp % " + num(warpsN) + " * " +
         num(nUnit * nTiles) + ";");
  w.line("float acc[" + num(mTiles) + "][" + num(n8Tiles) + "][4];");
  w.line("for (int i = 0; i < " + num(mTiles) + "; ++i) for (int j = 0; j < " +
         num(n8Tiles) + "; ++j) for (int r = 0; r < 4; ++r) acc[i][j][r] = "
         "0.0f;");
}

void TensorCoreMath::openActive(CodeWriter &w) const {
  if (activeWarps < totalWarps)
    w.open("if (warp < " + num(activeWarps) + ")");
}

void TensorCoreMath::closeActive(CodeWriter &w) const {
  if (activeWarps < totalWarps)
    w.close();
}

void TensorCoreMath::storeAccumulators(CodeWriter &w, int64_t n8Tiles) const {
  openActive(w);
  w.line("#pragma unroll");
  w.open("for (int i = 0; i < " + num(mTiles) + "; ++i)");
  w.line("#pragma unroll");
  w.open("for (int j = 0; j < " + num(n8Tiles) + "; ++j)");
  w.line("float2 *row0 = reinterpret_cast<float2 *>(outTile + (warpRow + "
         "16 * i + group) * " +
         num(outStride) + " + warpCol + 8 * j + 2 * inGroup), *row8 = row0 + " +
         num(4 * outStride) + ";");
  w.line("*row0 = make_float2(acc[i][j][0], acc[i][j][1]);");
  w.line("*row8 = make_float2(acc[i][j][2], acc[i][j][3]);");
  w.close();
  w.close();
  closeActive(w);
}

namespace {
/// m16n8k16 on f16 or bf16 tiles. Each warp owns mTiles x nTiles tiles of
/// 16 x 16 (64 x 32 of a 128 x 128 block tile), so per K step of 16 it
/// loads mTiles + nTiles fragments with ldmatrix .x4 for 2 mTiles nTiles
/// MMAs (6 for 16: a warp owning a strip of single 16 x 16 pieces loaded
/// 16, more than shared memory can feed at the tensor cores' rate). A
/// comes with .x4 (lanes 0-15 address rows 0-15 at k 0, lanes 16-31 at
/// k 8: the a0a1, a2a3, a4a5, a6a7 quarters), B (k-major) with .x4.trans
/// (matrices 0-1 are k 0-7 and 8-15 of n 0-7, 2-3 of n 8-15: two n8
/// tiles). Tile rows are padded by 8 elements so ldmatrix rows stay
/// 16-byte aligned and spread over banks.
class Mma16Math : public TensorCoreMath {
public:
  Mma16Math(int64_t tm, int64_t tn, int64_t tk, int64_t threads, bool bf16)
      : mma(bf16 ? "attnc_mma_m16n8k16_bf16" : "attnc_mma_m16n8k16_f16") {
    element = "unsigned short";
    elementBytes = 2;
    this->tk = (tk + 15) / 16 * 16;
    strideA = this->tk + 8;
    strideB = tn + 8;
    outStride = tn;
    chooseWarpGrid(tm, tn, threads / 32, 16, 1, 1);
  }

  void declare(CodeWriter &w) const override {
    declareWarp(w, 16, 2 * nTiles);
  }

  void tile(CodeWriter &w, const std::string &tileA,
            const std::string &tileB) const override {
    openActive(w);
    w.open("for (int kk = 0; kk < " + num(tk) + "; kk += 16)");
    w.line("unsigned fragB[" + num(nTiles) + "][4];");
    // Unrolled so the accumulators stay in registers (indexed by constants).
    w.line("#pragma unroll");
    w.line("for (int j = 0; j < " + num(nTiles) + "; ++j) "
           "attnc_ldmatrix_x4_trans(fragB[j], " + tileB + " + (kk + (lane & 15)) * " +
           num(strideB) + " + warpCol + 16 * j + (lane >> 4) * 8);");
    w.line("#pragma unroll");
    w.open("for (int i = 0; i < " + num(mTiles) + "; ++i)");
    w.line("unsigned fragA[4];");
    w.line("attnc_ldmatrix_x4(fragA, " + tileA +
           " + (warpRow + 16 * i + (lane & 15)) * " + num(strideA) +
           " + kk + (lane >> 4) * 8);");
    w.line("#pragma unroll");
    w.open("for (int j = 0; j < " + num(nTiles) + "; ++j)");
    w.line(mma + "(acc[i][2 * j], fragA, fragB[j], acc[i][2 * j]);");
    w.line(mma + "(acc[i][2 * j + 1], fragA, fragB[j] + 2, acc[i][2 * j + 1]);");
    w.close();
    w.close();
    w.close();
    closeActive(w);
  }

  void store(CodeWriter &w) const override {
    storeAccumulators(w, 2 * nTiles);
  }

private:
  std::string mma;
};
} // namespace

/// Whether both operands are plain row-major matrices whose rows split into
/// 16-byte chunks (`perChunk` elements), so cp.async can copy them: A not
/// transposed (its batch dims, if any, folded into m), B not transposed and
/// 2-D, and K and N multiples of the chunk.
static bool canPipeline(graph::MatmulOp matmul, int64_t depth, int64_t cols,
                        bool folded, size_t batchRank, int64_t perChunk) {
  return !matmul.getTransposeLhs() && !matmul.getTransposeRhs() &&
         shapeOf(matmul.getRhs()).size() == 2 && (folded || batchRank == 0) &&
         depth % perChunk == 0 && cols % perChunk == 0;
}

LogicalResult attn::cuda::emitTileEpilogue(KernelEmission &k,
                                          graph::MatmulOp matmul, int64_t tm,
                                          int64_t tn, int64_t stride,
                                          int64_t totalRows, int64_t cols,
                                          OutputIndexFn outputIndex) {
  CodeWriter &w = k.out;
  // A plain product (the kernel's one result, no fused ops) of f32, f16 or
  // bf16 with whole 8-column groups: each thread copies 8 adjacent
  // elements at a time, two float4 reads of the tile and one 16-byte
  // store (32 for f32), where the generic loop below takes a read, an
  // index computation and a 2-byte store per element. Rows of the tile
  // start 16-byte aligned: its strides are multiples of 4 floats.
  Type resultType = elementOf(matmul.getResult());
  if (k.results().size() == 1 && k.results()[0] == matmul.getResult() &&
      tn % 8 == 0 && cols % 8 == 0 && stride % 4 == 0 &&
      (resultType.isF32() || resultType.isF16() || resultType.isBF16())) {
    w.open("for (int e = threadIdx.x * 8; e < " + num(tm * tn) +
           "; e += blockDim.x * 8)");
    w.line("const attnc_index gm = tileM * " + num(tm) + " + e / " + num(tn) +
           ", gn = tileN * " + num(tn) + " + e % " + num(tn) + ";");
    w.line("if (gm >= " + num(totalRows) + " || gn >= " + num(cols) +
           ") continue;");
    w.line("const float4 *from = reinterpret_cast<const float4 *>(outTile + "
           "e / " + num(tn) + " * " + num(stride) + " + e % " + num(tn) +
           ");");
    // A quarter warp's 16-byte reads, 32 bytes apart, would meet in pairs
    // on the same banks: every other group of four threads reads its
    // second half first.
    w.line("const int swap = (threadIdx.x >> 2) & 1;");
    w.line("const float4 first = from[swap], second = from[swap ^ 1];");
    w.line("attnc_store8(out0, " +
           linearize(outputIndex("gm", "gn"),
                     shapeOf(matmul.getResult())) +
           ", swap ? second : first, swap ? first : second);");
    w.close();
    return success();
  }
  std::string element =
      stride == tn ? "outTile[e]"
                   : "outTile[e / " + num(tn) + " * " + num(stride) +
                         " + e % " + num(tn) + "]";
  w.open("for (int e = threadIdx.x; e < " + num(tm * tn) + "; e += blockDim.x)");
  w.line("const attnc_index gm = tileM * " + num(tm) + " + e / " + num(tn) +
         ", gn = tileN * " + num(tn) + " + e % " + num(tn) + ";");
  w.line("if (gm >= " + num(totalRows) + " || gn >= " + num(cols) +
         ") continue;");
  if (failed(storeEpilogue(k, matmul.getResult(), element,
                           outputIndex("gm", "gn"))))
    return failure();
  w.close();
  return success();
}

/// The staged element of an operand at (row, col) of the product, for
/// synchronous staging: an expression of the tile's element type.
using StagedElementFn = llvm::function_ref<std::string(
    bool lhs, const std::string &row, const std::string &col)>;

/// The tensor-core main loop and epilogue (sm_80 and later) around the
/// arithmetic of `math`, whose accumulators stay in registers until the
/// epilogue. With `stages` > 1 the K tiles stream through a ring of shared
/// memory stages filled by cp.async, `stages - 1` tiles ahead of the MMAs
/// (the multi-stage pipeline of sm_80 GEMMs); otherwise each tile is
/// staged synchronously (any layout, transposes and broadcast batch dims
/// included), element by element through `stagedElement`.
static LogicalResult
emitTensorCoreLoop(KernelEmission &k, graph::MatmulOp matmul,
                   const TensorCoreMath &math, int64_t tm, int64_t tn,
                   int64_t depth, int64_t totalRows, int64_t cols,
                   int64_t stages, StagedElementFn stagedElement,
                   OutputIndexFn outputIndex) {
  CodeWriter &w = k.out;
  const int64_t tk = math.tk, perChunk = 16 / math.elementBytes;
  const std::string zero = math.element == "float" ? "0.0f" : "0";
  int64_t numTiles = (depth + tk - 1) / tk;
  stages = std::max<int64_t>(1, std::min(stages, numTiles));
  // The pipelined loop reads the operands' extents as scalars, so that
  // GEMMs differing only in them share one kernel (the synchronous one
  // indexes through the operands' full shapes).
  std::string rowsM = stages > 1 ? k.scalar("rowsM", totalRows) : num(totalRows);
  std::string depthK = stages > 1 ? k.scalar("depthK", depth) : num(depth);
  std::string colsN = stages > 1 ? k.scalar("colsN", cols) : num(cols);
  std::string tilesK = stages > 1 ? k.scalar("tilesK", numTiles) : num(numTiles);
  // The operands' parameters (one, when both are the same tensor).
  std::string lhsBuffer = "in" + num(*k.inputNumber(matmul.getLhs()));
  std::string rhsBuffer = "in" + num(*k.inputNumber(matmul.getRhs()));
  if (stages > 1)
    k.copiedInputs = {*k.inputNumber(matmul.getLhs()),
                      *k.inputNumber(matmul.getRhs())};
  int64_t stageElements = tm * math.strideA + tk * math.strideB;
  k.dynamicShared = stages * stageElements * math.elementBytes;

  w.line(math.element + " *tiles = reinterpret_cast<" + math.element +
         " *>(smemTiles);");
  math.declare(w);

  if (stages > 1) {
    // K tile `kt` into stage `s`: 16-byte chunks, zero-filled past the
    // matrices (the padded products add nothing).
    int64_t chunksA = tk / perChunk, chunksB = tn / perChunk;
    w.open("auto issue = [&](attnc_index kt, int s)");
    w.line(math.element + " *stageA = tiles + s * " + num(stageElements) + ";");
    w.line(math.element + " *stageB = stageA + " + num(tm * math.strideA) + ";");
    w.open("for (int c = threadIdx.x; c < " + num(tm * chunksA) +
           "; c += blockDim.x)");
    w.line("const int r = c / " + num(chunksA) + ", kc = (c % " +
           num(chunksA) + ") * " + num(perChunk) + ";");
    w.line("const attnc_index gm = tileM * " + num(tm) + " + r, gk = kt * " +
           num(tk) + " + kc;");
    w.line("const bool valid = gm < " + rowsM + " && gk < " + depthK + ";");
    w.line("attnc_cp_async_16(stageA + r * " + num(math.strideA) + " + kc, " +
           lhsBuffer + " + (valid ? gm * " + depthK + " + gk : 0), valid);");
    w.close();
    w.open("for (int c = threadIdx.x; c < " + num(tk * chunksB) +
           "; c += blockDim.x)");
    w.line("const int r = c / " + num(chunksB) + ", nc = (c % " +
           num(chunksB) + ") * " + num(perChunk) + ";");
    w.line("const attnc_index gk = kt * " + num(tk) + " + r, gn = tileN * " +
           num(tn) + " + nc;");
    w.line("const bool valid = gk < " + depthK + " && gn < " + colsN + ";");
    w.line("attnc_cp_async_16(stageB + r * " + num(math.strideB) + " + nc, " +
           rhsBuffer + " + (valid ? gk * " + colsN + " + gn : 0), valid);");
    w.close();
    w.close("};");
    // Fill the first stages - 1 stages; every iteration commits a group,
    // empty or not, so "at most stages - 2 pending" always means "tile kt
    // has landed".
    w.line("for (int s = 0; s < " + num(stages - 1) + "; ++s) { if (s < " +
           tilesK + ") issue(s, s); attnc_cp_async_commit(); }");
    w.open("for (attnc_index kt = 0; kt < " + tilesK + "; ++kt)");
    w.line("attnc_cp_async_wait<" + num(stages - 2) + ">();");
    w.line("__syncthreads(); // tile kt is visible; stage (kt - 1) is free");
    w.line("const int s = kt % " + num(stages) + ";");
    w.line(math.element + " *tileA = tiles + s * " + num(stageElements) + ";");
    w.line(math.element + " *tileB = tileA + " + num(tm * math.strideA) + ";");
    w.line("if (kt + " + num(stages - 1) + " < " + tilesK +
           ") issue(kt + " + num(stages - 1) + ", (kt + " + num(stages - 1) +
           ") % " + num(stages) + ");");
    w.line("attnc_cp_async_commit();");
    math.tile(w, "tileA", "tileB");
    w.close();
  } else {
    w.line(math.element + " *tileA = tiles;");
    w.line(math.element + " *tileB = tileA + " + num(tm * math.strideA) + ";");
    w.open("for (attnc_index k0 = 0; k0 < " + num(depth) + "; k0 += " +
           num(tk) + ")");
    w.open("for (int e = threadIdx.x; e < " + num(tm * tk) +
           "; e += blockDim.x)");
    w.line("const int r = e / " + num(tk) + ", c = e % " + num(tk) + ";");
    w.line("const attnc_index gm = tileM * " + num(tm) + " + r, gk = k0 + c;");
    w.line("tileA[r * " + num(math.strideA) + " + c] = (gm < " +
           num(totalRows) + " && gk < " + num(depth) + ") ? " +
           stagedElement(true, "gm", "gk") + " : " + zero + ";");
    w.close();
    w.open("for (int e = threadIdx.x; e < " + num(tk * tn) +
           "; e += blockDim.x)");
    w.line("const int r = e / " + num(tn) + ", c = e % " + num(tn) + ";");
    w.line("const attnc_index gk = k0 + r, gn = tileN * " + num(tn) + " + c;");
    w.line("tileB[r * " + num(math.strideB) + " + c] = (gk < " + num(depth) +
           " && gn < " + num(cols) + ") ? " + stagedElement(false, "gk", "gn") +
           " : " + zero + ";");
    w.close();
    w.line("__syncthreads();");
    math.tile(w, "tileA", "tileB");
    w.line("__syncthreads();");
    w.close();
  }

  // Epilogue through shared memory: the accumulators leave the fragment
  // layout for a row-major f32 tile, then one loop over the tile runs the
  // fused epilogue once per element, with consecutive threads on
  // consecutive columns (coalesced stores), as compact code: unrolling it
  // per fragment register would repeat the epilogue for each.
  k.dynamicShared =
      std::max<int64_t>(k.dynamicShared, tm * math.outStride * 4);
  if (stages > 1)
    w.line("attnc_cp_async_wait<0>();");
  w.line("__syncthreads(); // the tiles are free");
  w.line("float *outTile = reinterpret_cast<float *>(smemTiles);");
  math.store(w);
  w.line("__syncthreads();");
  k.endSharedPart();
  return emitTileEpilogue(k, matmul, tm, tn, math.outStride, totalRows, cols,
                          outputIndex);
}

LogicalResult attn::cuda::emitGemm(KernelEmission &k) {
  graph::MatmulOp matmul;
  for (Operation &op : k.block())
    if (auto m = dyn_cast<graph::MatmulOp>(op))
      matmul = m;
  GemmLoops loops = readLoops(k.kernel);
  ArrayRef<int64_t> out = shapeOf(matmul.getResult());
  ArrayRef<int64_t> lhs = shapeOf(matmul.getLhs()), rhs = shapeOf(matmul.getRhs());
  size_t batchRank = out.size() - 2;
  bool folded = loops.batch.size() != batchRank;
  int64_t rows = out[batchRank], cols = out[batchRank + 1];
  int64_t depth = matmul.getTransposeLhs() ? lhs[lhs.size() - 2] : lhs.back();
  int64_t totalRows = rows;
  if (folded)
    for (size_t d = 0; d < batchRank; ++d)
      totalRows *= out[d];

  k.threads = k.scheduledThreads();
  k.blocks = k.scheduledBlocks();
  int64_t tm = loops.tm, tn = loops.tn, tk = loops.tk;

  CodeWriter &w = k.out;
  const bool tensorCores = useTensorCores(matmul, k.f32Matmul);
  if (tensorCores) {
    // 16-byte elements keep the tiles aligned for ldmatrix.
    w.line("ATTNC_DYNAMIC_SHARED(attnc_b128, smemTiles);");
  } else {
    // 16-byte elements: the SIMT loop reads its tiles as float4.
    w.line("ATTNC_DYNAMIC_SHARED(attnc_b128, smemRaw);");
    w.line("float *smem = reinterpret_cast<float *>(smemRaw);");
  }
  // Block index: batch loops outermost, then m, then n fastest.
  w.line("attnc_index bid = blockIdx.x;");
  // Tile counts as scalars: GEMMs that differ only in them share a kernel.
  std::string tilesN = k.scalar("tilesN", loops.numN);
  std::string tilesM = k.scalar("tilesM", loops.numM);
  w.line("const attnc_index tileN = bid % " + tilesN + "; bid /= " + tilesN +
         ";");
  w.line("const attnc_index tileM = bid % " + tilesM + "; bid /= " + tilesM +
         ";");
  Index batchIndex(batchRank);
  if (!folded)
    for (size_t d = batchRank; d-- > 0;) {
      batchIndex[d] = "b" + num(d);
      w.line("const attnc_index b" + num(d) + " = bid % " + num(out[d]) +
             "; bid /= " + num(out[d]) + ";");
    }

  // Index of an output row gm (all folded batch dims included) and col.
  auto outputIndex = [&](const std::string &gm, const std::string &gn) {
    Index index;
    if (folded) {
      llvm::SmallVector<int64_t> rowShape(out.begin(), out.end() - 1);
      index = delinearize(gm, rowShape);
    } else {
      index = batchIndex;
      index.push_back(gm);
    }
    index.push_back(gn);
    return index;
  };
  auto operandIndex = [&](Value operand, bool transposed,
                          const std::string &row, const std::string &col,
                          const std::string &gmForBatch) {
    ArrayRef<int64_t> shape = shapeOf(operand);
    Index index;
    if (folded && operand == matmul.getLhs()) {
      llvm::SmallVector<int64_t> rowShape(shape.begin(), shape.end() - 1);
      index = delinearize(gmForBatch, rowShape);
      index.push_back(col);
      return index;
    }
    if (!folded) {
      index = matrixBatchIndex(batchIndex, out, shape);
    }
    index.push_back(transposed ? col : row);
    index.push_back(transposed ? row : col);
    return index;
  };

  if (k.target.name == "sm_90a" && kernel::isWarpgroupGemm(matmul)) {
    // Kernel formation scheduled it for wgmma (KernelSchedules.cpp).
    WarpgroupGemmShape shape{tm, tn, depth, totalRows, cols,
                             k.target.kernels.gemmStages};
    return emitWarpgroupGemm(k, matmul, shape, outputIndex);
  }
  if (tensorCores) {
    Type type = elementOf(matmul.getLhs());
    std::unique_ptr<TensorCoreMath> math =
        type.isF32()
            ? makeTf32Math(tm, tn, tk, k.threads,
                           k.f32Matmul == F32Matmul::Tf32x3)
            : std::make_unique<Mma16Math>(tm, tn, tk, k.threads, type.isBF16());
    // Pipeline depth from the target (targets/targets.json, gemm_stages),
    // as many as fit its shared memory (f32 stages are twice as large).
    int64_t stages = 1;
    if (canPipeline(matmul, depth, cols, folded, batchRank,
                    16 / math->elementBytes)) {
      int64_t stageBytes =
          (tm * math->strideA + math->tk * math->strideB) * math->elementBytes;
      stages = std::min(k.target.kernels.gemmStages,
                        k.target.kernels.smemPerBlockBytes / stageBytes);
    }
    auto stagedElement = [&](bool lhs, const std::string &row,
                             const std::string &col) {
      Value v = lhs ? matmul.getLhs() : matmul.getRhs();
      bool transposed =
          lhs ? matmul.getTransposeLhs() : matmul.getTransposeRhs();
      Index index = operandIndex(v, transposed, row, col, lhs ? row : "");
      if (type.isF32())
        return *k.loadInput(v, index);
      return "in" + num(*k.inputNumber(v)) + "[" +
             linearize(index, shapeOf(v)) + "].bits";
    };
    return emitTensorCoreLoop(k, matmul, *math, tm, tn, depth, totalRows, cols,
                              stages < 2 ? 1 : stages, stagedElement,
                              outputIndex);
  }

  // Mixed operands (or f32 ones under --f32-matmul=simt).
  SimtGemmShape shape{tm, tn, tk, depth, totalRows, cols,
                      folded || batchRank == 0};
  return emitSimtGemm(k, matmul, shape, operandIndex, outputIndex);
}
