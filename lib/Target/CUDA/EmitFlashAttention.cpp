//===- EmitFlashAttention.cpp - attention on tensor cores -----------------===//
//
// kernel.attention with f16 or bf16 Q, K and V whose head dims are
// multiples of 16, in the FlashAttention-2 structure on mma.sync: a block
// owns 16 query rows per warp, stages its Q tile once and streams K and V
// tiles of 64 keys through two shared-memory buffers with cp.async (the
// next tile loads while this one is used), computes S = Q K^T with m16n8k16 MMAs into
// registers, applies scale, causal mask and score modification per
// element, updates the running maximum and sum per row (f32, reduced over
// the four lanes that share a row), converts P to the input type in place
// (the C fragment layout of S is the A fragment layout of P), and
// accumulates O += P V with more MMAs. Key tiles entirely after a causal
// block's last query are skipped. O is divided by the row sums once, at
// the end. Layouts are the PTX ISA's (docs/emulation.md); EmitAttention.cpp
// keeps the scalar kernel for everything else.
//
//===----------------------------------------------------------------------===//

#include "KernelPatterns.h"

#include "attn/Dialect/Graph/IR/GraphOps.h"
#include "attn/Dialect/Kernel/IR/KernelOps.h"

using namespace mlir;
using namespace attn;
using namespace attn::cuda;

bool attn::cuda::canUseFlashAttention(graph::AttentionOp op) {
  Type type = elementOf(op.getQuery());
  if (!(type.isF16() || type.isBF16()) || elementOf(op.getKey()) != type ||
      elementOf(op.getValue()) != type)
    return false;
  int64_t depth = shapeOf(op.getQuery()).back();
  int64_t width = shapeOf(op.getValue()).back();
  return depth % 16 == 0 && width % 16 == 0 && depth <= 256 && width <= 256;
}

LogicalResult attn::cuda::emitFlashAttention(KernelEmission &k,
                                             graph::AttentionOp op,
                                             int64_t tileQ) {
  ArrayRef<int64_t> out = shapeOf(op.getResult());
  size_t batchRank = out.size() - 2;
  int64_t queries = out[batchRank], width = out[batchRank + 1];
  int64_t keys = shapeOf(op.getKey())[shapeOf(op.getKey()).size() - 2];
  int64_t depth = shapeOf(op.getQuery()).back();
  bool bf16 = elementOf(op.getQuery()).isBF16();
  std::string mma = bf16 ? "attnc_mma_m16n8k16_bf16" : "attnc_mma_m16n8k16_f16";
  std::string pack = bf16 ? "attnc_pack_bf16" : "attnc_pack_f16";

  int64_t warps = std::max<int64_t>(1, std::min<int64_t>(tileQ, 128) / 16);
  int64_t blockQ = 16 * warps, blockKV = 64;
  int64_t queryTiles = (queries + blockQ - 1) / blockQ;
  int64_t strideQK = depth + 8, strideV = width + 8;
  int64_t sTiles = blockKV / 8, oTiles = width / 8;
  k.threads = 32 * warps;
  k.blocks = queryTiles;
  for (size_t d = 0; d < batchRank; ++d)
    k.blocks *= out[d];
  // Q once; K and V double-buffered, so the next key tile's cp.async
  // copies overlap this tile's MMAs.
  int64_t kvElements = blockKV * strideQK + blockKV * strideV;
  k.dynamicShared = (blockQ * strideQK + 2 * kvElements) * 2;

  CodeWriter &w = k.out;
  w.line("ATTNC_DYNAMIC_SHARED(attnc_b128, smemTiles);");
  w.line("unsigned short *tileQ = reinterpret_cast<unsigned short *>(smemTiles);");
  w.line("unsigned short *kvTiles = tileQ + " + num(blockQ * strideQK) + ";");
  Index batch = emitAttentionBlock(k, op, out, queryTiles);
  w.line("const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;");
  w.line("const int group = lane >> 2, inGroup = lane & 3;");
  w.line("const attnc_index q0 = tileI * " + num(blockQ) + ";");
  w.line("const attnc_index rowBase = q0 + warp * 16 + group;");

  // The address of an operand's element (row, col) under batch
  // broadcasting, in its input buffer.
  auto element = [&](Value operand, const std::string &row,
                     const std::string &col) {
    Index index = matrixBatchIndex(batch, out, shapeOf(operand));
    index.append({row, col});
    return "in" + num(*k.inputNumber(operand)) + " + " +
           linearize(index, shapeOf(operand));
  };
  // Q once, synchronously: rows past the last query are zeros.
  w.open("for (int e = threadIdx.x; e < " + num(blockQ * depth) +
         "; e += blockDim.x)");
  w.line("const int r = e / " + num(depth) + ", c = e % " + num(depth) + ";");
  w.line("const attnc_index row = q0 + r;");
  w.line("tileQ[r * " + num(strideQK) + " + c] = row < " + num(queries) +
         " ? (" + element(op.getQuery(), "row", "c") + ")->bits : 0;");
  w.close();

  // The K and V tile starting at key `start` into buffer `buffer`, as
  // 16-byte cp.async chunks (head dims are multiples of 16, so rows split
  // evenly), zero-filled past the last key.
  w.open("auto issueKV = [&](attnc_index start, int buffer)");
  w.line("unsigned short *stageK = kvTiles + buffer * " + num(kvElements) + ";");
  w.line("unsigned short *stageV = stageK + " + num(blockKV * strideQK) + ";");
  for (auto [tile, cols, stride, operand] :
       {std::make_tuple("stageK", depth, strideQK, op.getKey()),
        std::make_tuple("stageV", width, strideV, op.getValue())}) {
    w.open("for (int e = threadIdx.x; e < " + num(blockKV * cols / 8) +
           "; e += blockDim.x)");
    w.line("const int r = e / " + num(cols / 8) + ", c = (e % " +
           num(cols / 8) + ") * 8;");
    w.line("const attnc_index key = start + r;");
    w.line("const bool valid = key < " + num(keys) + ";");
    w.line(std::string("attnc_cp_async_16(") + tile + " + r * " + num(stride) +
           " + c, valid ? (const void *)(" + element(operand, "key", "c") +
           ") : (const void *)in" + num(*k.inputNumber(operand)) + ", valid);");
    w.close();
  }
  w.close("};");
  w.line("issueKV(0, 0);");
  w.line("attnc_cp_async_commit();");

  w.line("float rowMax[2] = {__int_as_float(0xff800000), "
         "__int_as_float(0xff800000)};");
  w.line("float rowSum[2] = {0.0f, 0.0f};");
  w.line("float o[" + num(oTiles) + "][4];");
  w.line("#pragma unroll");
  w.line("for (int t = 0; t < " + num(oTiles) +
         "; ++t) o[t][0] = o[t][1] = o[t][2] = o[t][3] = 0.0f;");
  w.line("const attnc_index kvEnd = " + attentionKeyEnd(op, keys, blockQ) +
         ";");
  w.open("for (attnc_index kv0 = 0, it = 0; kv0 < kvEnd; kv0 += " +
         num(blockKV) + ", ++it)");
  // Prefetch the next tile into the other buffer (its previous contents
  // were last read before the barrier that ended the previous iteration),
  // then wait for this one: at most the prefetch may stay in flight.
  w.line("if (kv0 + " + num(blockKV) + " < kvEnd) issueKV(kv0 + " +
         num(blockKV) + ", (it + 1) & 1);");
  w.line("attnc_cp_async_commit();");
  w.line("attnc_cp_async_wait<1>();");
  w.line("__syncthreads(); // this tile (and Q) visible to every warp");
  w.line("unsigned short *tileK = kvTiles + (it & 1) * " + num(kvElements) + ";");
  w.line("unsigned short *tileV = tileK + " + num(blockKV * strideQK) + ";");

  // S = Q K^T for this warp's 16 rows and the tile's keys.
  w.line("float s[" + num(sTiles) + "][4];");
  w.line("#pragma unroll");
  w.line("for (int t = 0; t < " + num(sTiles) +
         "; ++t) s[t][0] = s[t][1] = s[t][2] = s[t][3] = 0.0f;");
  w.line("#pragma unroll");
  w.open("for (int d0 = 0; d0 < " + num(depth) + "; d0 += 16)");
  w.line("unsigned fragQ[4];");
  w.line("attnc_ldmatrix_x4(fragQ, tileQ + (warp * 16 + (lane & 15)) * " +
         num(strideQK) + " + d0 + (lane >> 4) * 8);");
  // K rows are B's columns (col layout): without .trans, matrices are
  // (keys +0..7, d lo), (keys +0..7, d hi), (keys +8..15, d lo), (+8, hi).
  w.line("#pragma unroll");
  w.open("for (int t = 0; t < " + num(sTiles) + "; t += 2)");
  w.line("unsigned fragK[4];");
  w.line("attnc_ldmatrix_x4(fragK, tileK + (t * 8 + (lane & 7) + ((lane >> 4) "
         "<< 3)) * " +
         num(strideQK) + " + d0 + ((lane >> 3) & 1) * 8);");
  w.line(mma + "(s[t], fragQ, fragK, s[t]);");
  w.line(mma + "(s[t + 1], fragQ, fragK + 2, s[t + 1]);");
  w.close();
  w.close();

  // Scale, masks, score modification, online softmax (shared with the
  // wgmma kernel: AttentionFragments.cpp).
  FailureOr<ExponentForm> exponents =
      emitScoreTile(k, op, batch, sTiles, queries, keys);
  if (failed(exponents))
    return failure();
  emitOnlineSoftmax(w, sTiles, oTiles, *exponents);

  // O += P V: P's registers from S's (C layout = A layout), V k-major.
  w.line("#pragma unroll");
  w.open("for (int kk = 0; kk < " + num(blockKV / 16) + "; ++kk)");
  w.line("unsigned fragP[4];");
  w.line("fragP[0] = " + pack + "(s[2 * kk][0], s[2 * kk][1]);");
  w.line("fragP[1] = " + pack + "(s[2 * kk][2], s[2 * kk][3]);");
  w.line("fragP[2] = " + pack + "(s[2 * kk + 1][0], s[2 * kk + 1][1]);");
  w.line("fragP[3] = " + pack + "(s[2 * kk + 1][2], s[2 * kk + 1][3]);");
  w.line("#pragma unroll");
  w.open("for (int t = 0; t < " + num(oTiles) + "; t += 2)");
  w.line("unsigned fragV[4];");
  w.line("attnc_ldmatrix_x4_trans(fragV, tileV + (kk * 16 + (lane & 15)) * " +
         num(strideV) + " + t * 8 + (lane >> 4) * 8);");
  w.line(mma + "(o[t], fragP, fragV, o[t]);");
  w.line(mma + "(o[t + 1], fragP, fragV + 2, o[t + 1]);");
  w.close();
  w.close();
  w.line("__syncthreads(); // this buffer is refilled two tiles on");
  w.close(); // key tiles
  w.line("attnc_cp_async_wait<0>();");

  emitAttentionStore(k, batch, oTiles, queries);
  return success();
}
