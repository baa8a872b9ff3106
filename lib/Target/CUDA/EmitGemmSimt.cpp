//===- EmitGemmSimt.cpp - kernel.gemm as a register-tiled SIMT loop -------===//
//
// The GEMM for mixed operand types, and for f32 ones under
// --f32-matmul=simt: f32 FMAs, no tensor cores. The threads form a
// 16-wide grid; each accumulates an rm x rn micro-tile (rows ty + TY i)
// from rank-1 updates read out of shared memory. The K loop is not
// unrolled beyond 4 k: full unrolling made every f32 GEMM cost NVRTC
// ~0.4 s. The block's output tile then goes through a row-major shared
// tile to the fused epilogue, as on the tensor-core path (EmitGemm.cpp).
//
//===----------------------------------------------------------------------===//

#include "KernelPatterns.h"

#include "attn/Dialect/Graph/IR/GraphOps.h"

using namespace mlir;
using namespace attn;
using namespace attn::cuda;

LogicalResult attn::cuda::emitSimtGemm(KernelEmission &k,
                                       graph::MatmulOp matmul,
                                       const SimtGemmShape &shape,
                                       OperandIndexFn operandIndex,
                                       OutputIndexFn outputIndex) {
  const int64_t tm = shape.tm, tn = shape.tn, tk = shape.tk;
  const int64_t depth = shape.depth, totalRows = shape.totalRows,
                cols = shape.cols;
  CodeWriter &w = k.out;
  // When the tile has whole 64-column groups (rn a multiple of 4), each
  // thread's columns are 4 adjacent ones in each 64 (tx * 4 + 64 g + q)
  // and both operands are read as float4: A row-major (rows padded by 4
  // floats, so the two rows a warp reads fall in different banks) along
  // k, B along n. Per 4 k a thread then issues rm + rn shared loads for
  // 4 rm rn FMAs (16 for 256 at 8 x 8), where one float each (rm + rn per
  // k) would keep shared memory as busy as the FMA pipe. Otherwise A is
  // staged transposed (k-major, its stride padded by one so the
  // transposing stores spread over banks), a warp's A reads broadcasts
  // and its B reads consecutive words.
  const int64_t tx = 16, ty = std::max<int64_t>(1, k.threads / 16);
  const int64_t rm = (tm + ty - 1) / ty, rn = (tn + tx - 1) / tx;
  const bool wide = rn % 4 == 0 && tn == tx * rn && tk > 0 && tk % 4 == 0;
  // The two rows a warp reads are strideA floats apart: tk + 4 puts them
  // on different banks unless that is a multiple of 32 (tk of 28 or 60).
  const int64_t paddedK = (tk + 4) % 32 == 0 ? tk + 8 : tk + 4;
  const int64_t strideA = wide ? paddedK : ty * rm + 1, strideB = tx * rn;
  const int64_t rowsA = ty * rm;
  // Plain row-major f32 operands whose rows split into 16-byte chunks
  // stream in through cp.async, two stages, the next K tile arriving while
  // the block computes on this one (the wide layout: both tiles are
  // straight copies of the operands' rows).
  auto isF32 = [](Value v) {
    return elementOf(v).isF32();
  };
  const bool streamed = wide && isF32(matmul.getLhs()) &&
                        isF32(matmul.getRhs()) && !matmul.getTransposeLhs() &&
                        !matmul.getTransposeRhs() &&
                        shapeOf(matmul.getRhs()).size() == 2 &&
                        shape.plainRows && depth % 4 == 0 &&
                        cols % 4 == 0;
  const int64_t stageFloats =
      wide ? rowsA * strideA + strideB * tk : (strideA + strideB) * tk;
  k.dynamicShared = std::max((streamed ? 2 : 1) * stageFloats * 4,
                             tm * tn * int64_t(4));
  w.line("const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;");
  w.line("float acc[" + num(rm) + "][" + num(rn) + "];");
  w.line("for (int i = 0; i < " + num(rm) + "; ++i) for (int j = 0; j < " +
         num(rn) + "; ++j) acc[i][j] = 0.0f;");

  // The wide layout's rank-4 updates from As and Bs.
  auto wideUpdates = [&] {
    const int64_t groups = rn / 4;
    w.line("#pragma unroll 1");
    w.open("for (int kk = 0; kk < " + num(tk) + "; kk += 4)");
    w.line("float4 a[" + num(rm) + "];");
    w.line("#pragma unroll");
    w.line("for (int i = 0; i < " + num(rm) + "; ++i) a[i] = "
           "*reinterpret_cast<const float4 *>(As + (ty + " + num(ty) +
           " * i) * " + num(strideA) + " + kk);");
    w.line("#pragma unroll");
    w.open("for (int q = 0; q < 4; ++q)");
    w.line("float4 b[" + num(groups) + "];");
    w.line("#pragma unroll");
    w.line("for (int g = 0; g < " + num(groups) + "; ++g) b[g] = "
           "*reinterpret_cast<const float4 *>(Bs + (kk + q) * " +
           num(strideB) + " + 64 * g + 4 * tx);");
    w.line("#pragma unroll");
    w.open("for (int i = 0; i < " + num(rm) + "; ++i)");
    w.line("const float ai = q == 0 ? a[i].x : q == 1 ? a[i].y : q == 2 ? "
           "a[i].z : a[i].w;");
    w.line("#pragma unroll");
    w.line("for (int g = 0; g < " + num(groups) + "; ++g) { "
           "acc[i][4 * g] += ai * b[g].x; acc[i][4 * g + 1] += ai * b[g].y; "
           "acc[i][4 * g + 2] += ai * b[g].z; acc[i][4 * g + 3] += ai * b[g].w; }");
    w.close();
    w.close();
    w.close();
  };

  if (streamed) {
    const int64_t tilesK = (depth + tk - 1) / tk;
    const std::string lhs = "in" + num(*k.inputNumber(matmul.getLhs()));
    const std::string rhs = "in" + num(*k.inputNumber(matmul.getRhs()));
    k.copiedInputs = {*k.inputNumber(matmul.getLhs()),
                      *k.inputNumber(matmul.getRhs())};
    // K tile `kt` into stage kt % 2, zero-filled past the matrices.
    auto issue = [&](const std::string &kt) {
      w.open("");
      w.line("float *stageA = smem + (" + kt + ") % 2 * " + num(stageFloats) +
             ", *stageB = stageA + " + num(rowsA * strideA) + ";");
      w.open("for (int c = threadIdx.x; c < " + num(rowsA * tk / 4) +
             "; c += blockDim.x)");
      w.line("const int r = c / " + num(tk / 4) + ", kc = c % " + num(tk / 4) +
             " * 4;");
      w.line("const attnc_index gm = tileM * " + num(tm) + " + r, gk = (" + kt +
             ") * " + num(tk) + " + kc;");
      w.line("const bool valid = r < " + num(tm) + " && gm < " +
             num(totalRows) + " && gk < " + num(depth) + ";");
      w.line("attnc_cp_async_16(stageA + r * " + num(strideA) + " + kc, " + lhs +
             " + (valid ? gm * " + num(depth) + " + gk : 0), valid);");
      w.close();
      w.open("for (int c = threadIdx.x; c < " + num(tk * tn / 4) +
             "; c += blockDim.x)");
      w.line("const int kk = c / " + num(tn / 4) + ", nc = c % " + num(tn / 4) +
             " * 4;");
      w.line("const attnc_index gk = (" + kt + ") * " + num(tk) +
             " + kk, gn = tileN * " + num(tn) + " + nc;");
      w.line("const bool valid = gk < " + num(depth) + " && gn < " + num(cols) +
             ";");
      w.line("attnc_cp_async_16(stageB + kk * " + num(strideB) + " + nc, " +
             rhs + " + (valid ? gk * " + num(cols) + " + gn : 0), valid);");
      w.close();
      w.close();
    };
    issue("0");
    w.line("attnc_cp_async_commit();");
    w.open("for (attnc_index kt = 0; kt < " + num(tilesK) + "; ++kt)");
    w.open("if (kt + 1 < " + num(tilesK) + ")");
    issue("kt + 1");
    w.close();
    w.line("attnc_cp_async_commit();");
    w.line("attnc_cp_async_wait<1>(); // this tile's copies, not the next's");
    w.line("__syncthreads();");
    w.line("const float *As = smem + kt % 2 * " + num(stageFloats) +
           ", *Bs = As + " + num(rowsA * strideA) + ";");
    wideUpdates();
    w.line("__syncthreads(); // the copy two tiles on refills this stage");
    w.close();
  } else {
    w.line("float *As = smem;");
    w.line("float *Bs = smem + " +
           num(wide ? rowsA * strideA : strideA * tk) + ";");
    w.open("for (attnc_index k0 = 0; k0 < " + num(depth) + "; k0 += " +
           num(tk) + ")");
    w.open("for (int i = threadIdx.x; i < " + num(rowsA * tk) +
           "; i += blockDim.x)");
    w.line("const int r = i / " + num(tk) + ", kk = i % " + num(tk) + ";");
    w.line("const attnc_index gm = tileM * " + num(tm) + " + r, gk = k0 + kk;");
    w.line("As[" +
           (wide ? "r * " + num(strideA) + " + kk"
                 : "kk * " + num(strideA) + " + r") +
           "] = (r < " + num(tm) + " && gm < " + num(totalRows) + " && gk < " +
           num(depth) + ") ? " +
           *k.loadInput(matmul.getLhs(),
                        operandIndex(matmul.getLhs(), matmul.getTransposeLhs(),
                                     "gm", "gk", "gm")) +
           " : 0.0f;");
    w.close();
    w.open("for (int i = threadIdx.x; i < " + num(tk * strideB) +
           "; i += blockDim.x)");
    w.line("const int kk = i / " + num(strideB) + ", c = i % " + num(strideB) +
           ";");
    w.line("const attnc_index gk = k0 + kk, gn = tileN * " + num(tn) + " + c;");
    w.line("Bs[i] = (c < " + num(tn) + " && gk < " + num(depth) + " && gn < " +
           num(cols) + ") ? " +
           *k.loadInput(matmul.getRhs(),
                        operandIndex(matmul.getRhs(), matmul.getTransposeRhs(),
                                     "gk", "gn", "")) +
           " : 0.0f;");
    w.close();
    w.line("__syncthreads();");
    if (wide) {
      wideUpdates();
    } else {
      w.line("#pragma unroll 4");
      w.open("for (int kk = 0; kk < " + num(tk) + "; ++kk)");
      w.line("float a[" + num(rm) + "], b[" + num(rn) + "];");
      w.line("#pragma unroll");
      w.line("for (int i = 0; i < " + num(rm) + "; ++i) a[i] = As[kk * " +
             num(strideA) + " + ty + " + num(ty) + " * i];");
      w.line("#pragma unroll");
      w.line("for (int j = 0; j < " + num(rn) + "; ++j) b[j] = Bs[kk * " +
             num(strideB) + " + tx + 16 * j];");
      w.line("#pragma unroll");
      w.line("for (int i = 0; i < " + num(rm) + "; ++i) for (int j = 0; j < " +
             num(rn) + "; ++j) acc[i][j] += a[i] * b[j];");
      w.close();
    }
    w.line("__syncthreads();");
    w.close();
  }

  // Epilogue through a row-major shared tile, as on the tensor-core path:
  // one compact loop runs the fused epilogue once per element.
  w.line("float *outTile = smem;");
  w.line("#pragma unroll");
  w.open("for (int i = 0; i < " + num(rm) + "; ++i)");
  w.line("#pragma unroll");
  if (wide) {
    // Each thread's 4 adjacent columns per 64 as one 16-byte store.
    w.open("for (int g = 0; g < " + num(rn / 4) + "; ++g)");
    w.line("const int r = ty + " + num(ty) + " * i;");
    w.line("if (r < " + num(tm) + ") *reinterpret_cast<float4 *>(outTile + r * " +
           num(tn) + " + 64 * g + 4 * tx) = make_float4(acc[i][4 * g], "
           "acc[i][4 * g + 1], acc[i][4 * g + 2], acc[i][4 * g + 3]);");
  } else {
    w.open("for (int j = 0; j < " + num(rn) + "; ++j)");
    w.line("const int r = ty + " + num(ty) + " * i, c = tx + 16 * j;");
    w.line("if (r < " + num(tm) + " && c < " + num(tn) + ") outTile[r * " +
           num(tn) + " + c] = acc[i][j];");
  }
  w.close();
  w.close();
  w.line("__syncthreads();");
  k.endSharedPart();
  return emitTileEpilogue(k, matmul, tm, tn, tn, totalRows, cols,
                          outputIndex);
}
