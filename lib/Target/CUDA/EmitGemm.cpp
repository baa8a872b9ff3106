//===- EmitGemm.cpp - kernel.gemm as a shared-memory tiled GEMM ----------===//
//
// The correctness-first GEMM: each block computes one tm x tn output tile
// (the kernel op's tiles), staging tm x tk of A and tk x tn of B per K step
// in dynamic shared memory as f32, each thread accumulating a strided set
// of the tile's outputs in registers. The epilogue runs on each
// accumulator before its single store, through the scalar emitter, so bias,
// activation, residual add and cast never touch memory twice. Batch dims
// are grid loops, or folded into m when the kernel op says so (no "b"
// loops). The tensor-core pipelines of issue 6 replace the inner loops; the
// tile bookkeeping and the epilogue stay.
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
  w.line("ATTNC_DYNAMIC_SHARED(float, smem);");
  w.line("float *As = smem;");
  w.line("float *Bs = smem + " + num(tm * tk) + ";");
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
  Index index = outputIndex("gm", "gn");
  Value product = matmul.getResult();
  ScalarEmitter scalar(w, [&](Value v, const Index &i) -> std::optional<std::string> {
    if (v == product)
      return roundTo(product, "acc[j]");
    return k.loadInput(v, i);
  });
  for (auto [r, value] : llvm::enumerate(k.results())) {
    FailureOr<std::string> element = scalar.emit(value, index);
    if (failed(element))
      return failure();
    w.line(storeResult(k, r, index, *element));
  }
  w.close();
  return success();
}
