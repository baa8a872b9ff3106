//===- EmitGemm.cpp - kernel.gemm as a shared-memory tiled GEMM ----------===//
//
// The correctness-first GEMM: each block computes one tm x tn output tile
// (the kernel op's tiles), staging tm x tk of A and tk x tn of B per K step
// in dynamic shared memory as f32, each thread accumulating a strided set
// of the tile's outputs in registers. The epilogue runs on each
// accumulator before its single store, through the scalar emitter, so bias,
// activation, residual add and cast never touch memory twice. Batch dims
// are grid loops, or folded into m when the kernel op says so (no "b"
// loops). With f16 or bf16 operands the main loop runs on tensor cores
// (mma.sync through attnc/mma.h, sm_80 and later); the cp.async pipeline
// and the sm_90a wgmma path are still to come.
//
//===----------------------------------------------------------------------===//

#include "KernelPatterns.h"

#include "attn/Dialect/Graph/IR/GraphOps.h"
#include "attn/Dialect/Kernel/IR/KernelOps.h"

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

/// Tensor cores take 16-bit operands of one type (f16 or bf16).
static bool useTensorCores(graph::MatmulOp matmul) {
  Type lhs = cast<RankedTensorType>(matmul.getLhs().getType()).getElementType();
  Type rhs = cast<RankedTensorType>(matmul.getRhs().getType()).getElementType();
  return lhs == rhs && (lhs.isF16() || lhs.isBF16());
}

/// The tensor-core main loop and epilogue (sm_80 and later): A and B tiles
/// staged in shared memory as 16-bit bits (rows padded by 8 elements so
/// ldmatrix rows stay 16-byte aligned and spread over banks), fragments
/// loaded with ldmatrix (.x4 for A, .x4.trans for the k-major B), and
/// mma.sync m16n8k16 with f32 accumulators. Each warp owns 16 x 16 pieces
/// of the block tile, round-robin; its accumulators stay in the C/D
/// fragment layout of the PTX ISA until the epilogue.
static LogicalResult emitTensorCoreLoop(
    KernelEmission &k, graph::MatmulOp matmul, int64_t tm, int64_t tn,
    int64_t tk, int64_t depth, int64_t totalRows, int64_t cols,
    llvm::function_ref<Index(bool, const std::string &, const std::string &)>
        operandAt,
    llvm::function_ref<Index(const std::string &, const std::string &)>
        outputIndex) {
  auto num = [](int64_t v) { return std::to_string(v); };
  // The K step is a whole number of m16n8k16 steps (a short K, whose
  // looped tile is K itself, is zero-padded up to one).
  tk = (tk + 15) / 16 * 16;
  CodeWriter &w = k.out;
  bool bf16 =
      cast<RankedTensorType>(matmul.getLhs().getType()).getElementType().isBF16();
  int64_t strideA = tk + 8, strideB = tn + 8;
  int64_t warps = k.threads / 32;
  int64_t pieces = (tm / 16) * (tn / 16);
  int64_t perWarp = (pieces + warps - 1) / warps;
  // The f32 staging of the scalar path is replaced by 16-bit tiles.
  k.dynamicShared = (tm * strideA + tk * strideB) * 2;
  std::string mma = bf16 ? "attnc_mma_m16n8k16_bf16" : "attnc_mma_m16n8k16_f16";
  auto bits = [&](bool lhs, const std::string &row, const std::string &col) {
    Value v = lhs ? matmul.getLhs() : matmul.getRhs();
    return "in" + std::to_string(lhs ? 0 : 1) + "[" +
           linearize(operandAt(lhs, row, col), shapeOf(v)) + "].bits";
  };

  w.line("unsigned short *tileA = reinterpret_cast<unsigned short *>(smemTiles);");
  w.line("unsigned short *tileB = tileA + " + num(tm * strideA) + ";");
  w.line("const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;");
  w.line("const int group = lane >> 2, inGroup = lane & 3;");
  w.line("float acc[" + num(perWarp) + "][2][4];");
  w.line("for (int p = 0; p < " + num(perWarp) +
         "; ++p) for (int j = 0; j < 2; ++j) for (int i = 0; i < 4; ++i) "
         "acc[p][j][i] = 0.0f;");
  w.open("for (attnc_index k0 = 0; k0 < " + num(depth) + "; k0 += " + num(tk) +
         ")");
  w.open("for (int e = threadIdx.x; e < " + num(tm * tk) + "; e += blockDim.x)");
  w.line("const int r = e / " + num(tk) + ", c = e % " + num(tk) + ";");
  w.line("const attnc_index gm = tileM * " + num(tm) + " + r, gk = k0 + c;");
  w.line("tileA[r * " + num(strideA) + " + c] = (gm < " + num(totalRows) +
         " && gk < " + num(depth) + ") ? " + bits(true, "gm", "gk") + " : 0;");
  w.close();
  w.open("for (int e = threadIdx.x; e < " + num(tk * tn) + "; e += blockDim.x)");
  w.line("const int r = e / " + num(tn) + ", c = e % " + num(tn) + ";");
  w.line("const attnc_index gk = k0 + r, gn = tileN * " + num(tn) + " + c;");
  w.line("tileB[r * " + num(strideB) + " + c] = (gk < " + num(depth) +
         " && gn < " + num(cols) + ") ? " + bits(false, "gk", "gn") + " : 0;");
  w.close();
  w.line("__syncthreads();");
  w.open("for (int kk = 0; kk < " + num(tk) + "; kk += 16)");
  // Unrolled so the accumulators stay in registers (indexed by constants).
  w.line("#pragma unroll");
  w.open("for (int p = 0; p < " + num(perWarp) + "; ++p)");
  w.line("const int piece = warp + p * " + num(warps) + ";");
  w.line("if (piece >= " + num(pieces) + ") break;");
  w.line("const int pieceRow = (piece / " + num(tn / 16) +
         ") * 16, pieceCol = (piece % " + num(tn / 16) + ") * 16;");
  w.line("unsigned fragA[4], fragB[4];");
  // A: lanes 0-15 address rows 0-15 at k 0, lanes 16-31 at k 8: the four
  // 8x8 quarters in a0a1, a2a3, a4a5, a6a7 order.
  w.line("attnc_ldmatrix_x4(fragA, tileA + (pieceRow + (lane & 15)) * " +
         num(strideA) + " + kk + (lane >> 4) * 8);");
  // B (k-major): .trans gives each lane its k pairs of one column; matrices
  // 0-1 are k 0-7 and 8-15 of n 0-7, matrices 2-3 of n 8-15.
  w.line("attnc_ldmatrix_x4_trans(fragB, tileB + (kk + (lane & 15)) * " +
         num(strideB) + " + pieceCol + (lane >> 4) * 8);");
  w.line(mma + "(acc[p][0], fragA, fragB, acc[p][0]);");
  w.line(mma + "(acc[p][1], fragA, fragB + 2, acc[p][1]);");
  w.close();
  w.close();
  w.line("__syncthreads();");
  w.close();

  // Epilogue from the accumulator layout: c_i at row group (+8 for i >= 2),
  // column 2 * inGroup + (i & 1) of n-tile j.
  w.line("#pragma unroll");
  w.open("for (int p = 0; p < " + num(perWarp) + "; ++p)");
  w.line("const int piece = warp + p * " + num(warps) + ";");
  w.line("if (piece >= " + num(pieces) + ") break;");
  w.line("const int pieceRow = (piece / " + num(tn / 16) +
         ") * 16, pieceCol = (piece % " + num(tn / 16) + ") * 16;");
  w.line("#pragma unroll");
  w.open("for (int j = 0; j < 2; ++j)");
  w.line("#pragma unroll");
  w.open("for (int i = 0; i < 4; ++i)");
  w.line("const attnc_index gm = tileM * " + num(tm) +
         " + pieceRow + group + (i >= 2 ? 8 : 0);");
  w.line("const attnc_index gn = tileN * " + num(tn) +
         " + pieceCol + 8 * j + 2 * inGroup + (i & 1);");
  w.line("if (gm >= " + num(totalRows) + " || gn >= " + num(cols) +
         ") continue;");
  if (failed(storeEpilogue(k, matmul.getResult(), "acc[p][j][i]",
                           outputIndex("gm", "gn"))))
    return failure();
  w.close();
  w.close();
  w.close();
  return success();
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
  k.dynamicShared = (tm * tk + tk * tn) * 4;
  int64_t perThread = (tm * tn + k.threads - 1) / k.threads;
  auto num = [](int64_t v) { return std::to_string(v); };

  CodeWriter &w = k.out;
  if (useTensorCores(matmul)) {
    // 16-byte elements keep the tiles aligned for ldmatrix.
    w.line("ATTNC_DYNAMIC_SHARED(attnc_b128, smemTiles);");
  } else {
    w.line("ATTNC_DYNAMIC_SHARED(float, smem);");
    w.line("float *As = smem;");
    w.line("float *Bs = smem + " + num(tm * tk) + ";");
  }
  // Block index: batch loops outermost, then m, then n fastest.
  w.line("attnc_index bid = blockIdx.x;");
  w.line("const attnc_index tileN = bid % " + num(loops.numN) + "; bid /= " +
         num(loops.numN) + ";");
  w.line("const attnc_index tileM = bid % " + num(loops.numM) + "; bid /= " +
         num(loops.numM) + ";");
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
      Index full = batchIndex;
      full.append({"0", "0"});
      llvm::SmallVector<int64_t> outBatch(out.begin(), out.end());
      index = broadcastIndex(full, outBatch, shape);
      index.resize(shape.size() - 2);
    }
    index.push_back(transposed ? col : row);
    index.push_back(transposed ? row : col);
    return index;
  };

  if (useTensorCores(matmul))
    return emitTensorCoreLoop(k, matmul, tm, tn, tk, depth, totalRows, cols,
                              [&](bool lhs, const std::string &row,
                                  const std::string &col) {
                                Value v = lhs ? matmul.getLhs() : matmul.getRhs();
                                bool transposed = lhs ? matmul.getTransposeLhs()
                                                      : matmul.getTransposeRhs();
                                return operandIndex(v, transposed, row, col,
                                                    lhs ? row : "");
                              },
                              outputIndex);

  w.line("float acc[" + num(perThread) + "];");
  w.line("for (int j = 0; j < " + num(perThread) + "; ++j) acc[j] = 0.0f;");
  w.open("for (attnc_index k0 = 0; k0 < " + num(depth) + "; k0 += " + num(tk) +
         ")");
  w.open("for (int i = threadIdx.x; i < " + num(tm * tk) +
         "; i += blockDim.x)");
  w.line("const attnc_index gm = tileM * " + num(tm) + " + i / " + num(tk) +
         ", gk = k0 + i % " + num(tk) + ";");
  w.line("As[i] = (gm < " + num(totalRows) + " && gk < " + num(depth) +
         ") ? " +
         *k.loadInput(matmul.getLhs(),
                      operandIndex(matmul.getLhs(), matmul.getTransposeLhs(),
                                   "gm", "gk", "gm")) +
         " : 0.0f;");
  w.close();
  w.open("for (int i = threadIdx.x; i < " + num(tk * tn) +
         "; i += blockDim.x)");
  w.line("const attnc_index gk = k0 + i / " + num(tn) + ", gn = tileN * " +
         num(tn) + " + i % " + num(tn) + ";");
  w.line("Bs[i] = (gk < " + num(depth) + " && gn < " + num(cols) + ") ? " +
         *k.loadInput(matmul.getRhs(),
                      operandIndex(matmul.getRhs(), matmul.getTransposeRhs(),
                                   "gk", "gn", "")) +
         " : 0.0f;");
  w.close();
  w.line("__syncthreads();");
  w.open("for (int j = 0; j < " + num(perThread) + "; ++j)");
  w.line("const int e = threadIdx.x + j * blockDim.x;");
  w.line("if (e >= " + num(tm * tn) + ") break;");
  w.line("const int r = e / " + num(tn) + ", c = e % " + num(tn) + ";");
  w.line("float s = acc[j];");
  w.line("for (int kk = 0; kk < " + num(tk) + "; ++kk) s += As[r * " + num(tk) +
         " + kk] * Bs[kk * " + num(tn) + " + c];");
  w.line("acc[j] = s;");
  w.close();
  w.line("__syncthreads();");
  w.close();

  // Epilogue: each accumulator, rounded to the product's type, through the
  // fused elementwise ops to its store.
  w.open("for (int j = 0; j < " + num(perThread) + "; ++j)");
  w.line("const int e = threadIdx.x + j * blockDim.x;");
  w.line("if (e >= " + num(tm * tn) + ") break;");
  w.line("const attnc_index gm = tileM * " + num(tm) + " + e / " + num(tn) +
         ", gn = tileN * " + num(tn) + " + e % " + num(tn) + ";");
  w.line("if (gm >= " + num(totalRows) + " || gn >= " + num(cols) +
         ") continue;");
  if (failed(storeEpilogue(k, matmul.getResult(), "acc[j]",
                           outputIndex("gm", "gn"))))
    return failure();
  w.close();
  return success();
}
