//===- AttentionFragments.cpp - code the attention kernels share ----------===//
//
// Every attention kernel decodes its block (query tile, batch indices) the
// same way, and the causal ones stop at the same last key. Beyond that,
// what the tensor-core kernels share: the FA2 kernel
// (mma.sync, EmitFlashAttention.cpp) and the FA3-style kernel (wgmma,
// EmitWarpgroupAttention.cpp) hold S and O in the same fragment layout, a
// thread owning rows rowBase and rowBase + 8 of its 16 and, for every
// 8-column tile t, columns 2 (lane % 4) and 2 (lane % 4) + 1:
// s[t][e] and o[t][e] with e / 2 choosing the row and e % 2 the column.
// Only how S is multiplied and P V accumulated differs, so the scale,
// masks, score modification, online softmax and final normalisation are
// emitted here once. Expects in scope: s, o, rowMax, rowSum, rowBase,
// inGroup, q0 (the block's first query), kv0, and the batch indices.
//
//===----------------------------------------------------------------------===//

#include "KernelPatterns.h"

using namespace mlir;
using namespace attn;
using namespace attn::cuda;

Index attn::cuda::emitAttentionBlock(KernelEmission &k, graph::AttentionOp op,
                                     ArrayRef<int64_t> out,
                                     int64_t queryTiles) {
  CodeWriter &w = k.out;
  w.line("attnc_index bid = blockIdx.x;");
  // Causal blocks' work grows with their query tile: the GPU starts blocks
  // in index order, so within each batch and head the longest go first
  // (as FlashAttention-3's grid does). Query tiles stay the fastest index,
  // so the blocks running at once share few heads' K and V in L2.
  std::string tile = "bid % " + num(queryTiles);
  if (op.getCausalOffset())
    tile = num(queryTiles - 1) + " - " + tile;
  w.line("const attnc_index tileI = " + tile + "; bid /= " + num(queryTiles) +
         ";");
  Index batch(out.size() - 2);
  for (size_t d = batch.size(); d-- > 0;) {
    batch[d] = "b" + num(d);
    w.line("const attnc_index b" + num(d) + " = bid % " + num(out[d]) +
           "; bid /= " + num(out[d]) + ";");
  }
  return batch;
}

std::string attn::cuda::attentionKeyEnd(graph::AttentionOp op, int64_t keys,
                                        int64_t blockQ) {
  // Causal: keys after the block's last query (plus offset) are all masked.
  if (std::optional<int64_t> offset = op.getCausalOffset())
    return "min((attnc_index)" + num(keys) + ", q0 + " + num(blockQ) + " + " +
           num(*offset) + ")";
  return num(keys);
}

FailureOr<ExponentForm> attn::cuda::emitScoreTile(KernelEmission &k,
                                                 graph::AttentionOp op,
                                                 const Index &batch,
                                                 int64_t sTiles,
                                                 int64_t queries,
                                                 int64_t keys) {
  CodeWriter &w = k.out;
  // A loop over the thread's elements of the S tile, each with its key
  // and, where the loop uses it, its query row (an unused one is an
  // NVRTC warning).
  auto openElementLoop = [&](bool row) {
    w.line("#pragma unroll");
    w.open("for (int t = 0; t < " + num(sTiles) + "; ++t)");
    w.line("#pragma unroll");
    w.open("for (int e = 0; e < 4; ++e)");
    if (row)
      w.line("const attnc_index rowI = rowBase + (e >= 2 ? 8 : 0);");
    w.line("const attnc_index keyJ = kv0 + t * 8 + 2 * inGroup + (e & 1);");
  };
  // Without a score modification a positive scale commutes with the
  // maximum, so S stays unscaled and the scale joins log2(e) in the one
  // FMA that forms each exponent (as FlashAttention does): two fewer
  // operations per score in the softmax-bound loop.
  const double scale = op.getScale().convertToDouble();
  const bool foldScale = op.getScoreMod().empty() && scale > 0;
  const double log2e = 1.4426950408889634;
  if (!foldScale) {
    // Scale and score modification. Padded rows and keys are clamped for
    // the score modification (which may read buffers at i and j) and
    // masked below.
    openElementLoop(true);
    w.line("const attnc_index i = rowI < " + num(queries) + " ? rowI : " +
           num(queries - 1) + ";");
    w.line("const attnc_index j = keyJ < " + num(keys) + " ? keyJ : " +
           num(keys - 1) + ";");
    // Not every score modification reads buffers at i and j.
    w.line("(void)i;");
    w.line("(void)j;");
    w.line("float sval = " + floatLiteral(scale) + " * s[t][e];");
    if (failed(applyScoreMod(k, op, batch, "sval")))
      return failure();
    w.line("s[t][e] = sval;");
    w.close();
    w.close();
  }
  // The mask, only in tiles that reach past the keys or (causal) past the
  // block's first query: the others, all of a long causal row but its
  // last tile or two, skip its compares in the softmax-bound loop. The
  // test is uniform over the block, so the branch does not diverge.
  int64_t blockKV = sTiles * 8;
  std::string partial = "kv0 + " + num(blockKV) + " > " + num(keys);
  std::string masked = "keyJ >= " + num(keys);
  if (std::optional<int64_t> offset = op.getCausalOffset()) {
    partial += " || kv0 + " + num(blockKV - 1) + " - q0 > " + num(*offset);
    masked += " || keyJ - rowI > " + num(*offset);
  }
  w.open("if (" + partial + ")");
  openElementLoop(op.getCausalOffset().has_value());
  w.line("if (" + masked + ") s[t][e] = __int_as_float(0xff800000);");
  w.close();
  w.close();
  w.close();
  // The row maxima in four independent chains each, combined at the end:
  // one chain over a row's 32 scores (head dim 128) is 32 dependent FMNMX,
  // about 150 clocks before the first exponential can issue, on the path
  // the ping-pong must hide under the other warpgroup's MMAs; four are 8
  // deep. Each chain starts from a score: fmaxf(-inf, x) is not x for a
  // NaN x, so ptxas would keep a FMNMX per chain for a -inf start.
  if (sTiles >= 2) {
    w.line("float partMax[2][4] = {{s[0][0], s[0][1], s[1][0], s[1][1]}, "
           "{s[0][2], s[0][3], s[1][2], s[1][3]}};");
    w.line("#pragma unroll");
    w.line("for (int t = 2; t < " + num(sTiles) +
           "; ++t) for (int e = 0; e < 4; ++e) partMax[e >> 1][(t & 1) * 2 + "
           "(e & 1)] = fmaxf(partMax[e >> 1][(t & 1) * 2 + (e & 1)], "
           "s[t][e]);");
    w.line("float tileMax[2] = {fmaxf(fmaxf(partMax[0][0], partMax[0][1]), "
           "fmaxf(partMax[0][2], partMax[0][3])), "
           "fmaxf(fmaxf(partMax[1][0], partMax[1][1]), "
           "fmaxf(partMax[1][2], partMax[1][3]))};");
  } else {
    w.line("float tileMax[2] = {fmaxf(s[0][0], s[0][1]), "
           "fmaxf(s[0][2], s[0][3])};");
  }
  return ExponentForm{floatLiteral(foldScale ? scale * log2e : log2e),
                      foldScale};
}

void attn::cuda::emitOnlineSoftmax(CodeWriter &w, int64_t sTiles,
                                   int64_t oTiles, const ExponentForm &form,
                                   StringRef rescaleArray) {
  // Row maxima over the four lanes of a row; O and the sum rescaled; P in
  // S's registers. Exponentials in base 2: the factor to base 2 (and the
  // scale, when emitScoreTile folded it) and the row's maximum applied by
  // one FMA, as FlashAttention does; one ex2 each (attnc_exp2_ftz).
  const std::string &factor = form.factor;
  const bool fma = form.fma;
  w.line("#pragma unroll");
  w.open("for (int h = 0; h < 2; ++h)");
  w.line("tileMax[h] = fmaxf(tileMax[h], __shfl_xor_sync(0xffffffffu, "
         "tileMax[h], 1));");
  w.line("tileMax[h] = fmaxf(tileMax[h], __shfl_xor_sync(0xffffffffu, "
         "tileMax[h], 2));");
  w.line("const float newMax = fmaxf(rowMax[h], tileMax[h]);");
  // A row with nothing visible yet keeps max -inf: exp(-inf - base) must be
  // 0 and the rescale 1, never exp(-inf + inf) = NaN.
  //
  // With the scale folded, S holds raw products (finite, or -inf where
  // masked), and each exponent is one FMA with base = -max * factor. A
  // score modification may mask with a large finite value instead (-1e9,
  // -1e30): rounding max * factor there would be an error of whole units
  // in the exponent (2^18 at -1e9), so then the maximum is subtracted
  // first, exactly, as before the scale was folded. The correction always
  // subtracts first: exact for close maxima, and the same for both forms.
  w.line("const float base = newMax == __int_as_float(0xff800000) ? 0.0f : " +
         std::string(fma ? "-newMax * " + factor : "newMax") + ";");
  w.line("const float correction = rowMax[h] == newMax ? 1.0f : "
         "attnc_exp2_ftz((rowMax[h] - newMax) * " + factor + ");");
  w.line("rowMax[h] = newMax;");
  w.line("rowSum[h] *= correction;");
  if (!rescaleArray.empty()) {
    w.line(rescaleArray.str() + "[h] = correction;");
  } else {
    w.line("#pragma unroll");
    w.line("for (int t = 0; t < " + num(oTiles) +
           "; ++t) { o[t][2 * h] *= correction; o[t][2 * h + 1] *= correction; }");
  }
  w.line("#pragma unroll");
  w.line("for (int t = 0; t < " + num(sTiles) +
         "; ++t) for (int c = 0; c < 2; ++c) { const float p = "
         "attnc_exp2_ftz(" +
         (fma ? "fmaf(s[t][2 * h + c], " + factor + ", base)"
                : "(s[t][2 * h + c] - base) * " + factor) +
         "); s[t][2 * h + c] = p; rowSum[h] += p; }");
  w.close();
}

void attn::cuda::emitAttentionStore(KernelEmission &k, const Index &batch,
                                    int64_t oTiles, int64_t queries) {
  CodeWriter &w = k.out;
  // Row sums over the four lanes of a row, then one reciprocal per row and
  // a multiply per element. __fdividef (div.approx, 2 ulp): a row sum is
  // at least about 1 (its maximum contributes exp2 of 0, or of the
  // rounding error of max * factor), far inside the range
  // where it is accurate; IEEE division would be a ptxas subroutine, which
  // in relocatable code serialises a kernel's wgmma (docs/codegen.md).
  w.line("#pragma unroll");
  w.open("for (int h = 0; h < 2; ++h)");
  w.line("rowSum[h] += __shfl_xor_sync(0xffffffffu, rowSum[h], 1);");
  w.line("rowSum[h] += __shfl_xor_sync(0xffffffffu, rowSum[h], 2);");
  w.close();
  // Each register pair is two adjacent columns of one row: one paired
  // store (4 bytes for f16/bf16), fewer and wider than element stores.
  w.line("#pragma unroll");
  w.open("for (int h = 0; h < 2; ++h)");
  w.line("const attnc_index i = rowBase + 8 * h;");
  w.line("if (i >= " + num(queries) + ") continue;");
  w.line("const float inverse = __fdividef(1.0f, rowSum[h]);");
  w.line("#pragma unroll");
  w.open("for (int t = 0; t < " + num(oTiles) + "; ++t)");
  w.line("const attnc_index c = t * 8 + 2 * inGroup;");
  Index index = batch;
  index.append({"i", "c"});
  w.line("attnc_store2(out0, " +
         linearize(index, shapeOf(k.kernel->getResult(0))) +
         ", o[t][2 * h] * inverse, o[t][2 * h + 1] * inverse);");
  w.close();
  w.close();
}
