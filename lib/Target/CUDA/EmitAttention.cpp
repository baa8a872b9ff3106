//===- EmitAttention.cpp - kernel.attention with online softmax -----------===//
//
// The correctness-first attention kernel: blocks cover (batch..., query
// tile); each thread owns one query row and walks the keys once with the
// online softmax (running maximum m and sum l, accumulator rescaled by
// exp(m_old - m_new)), so scores are never stored. Causal masking skips
// keys with j - i > offset; the score modification region is inlined on
// each score through the scalar emitter. Scores, statistics and the
// accumulator are f32, the output is rounded once to its type: the
// attn.attention numerics contract. 16-bit operands with head dims that
// are multiples of 16 take the tensor-core kernel instead
// (EmitFlashAttention.cpp).
//
//===----------------------------------------------------------------------===//

#include "KernelPatterns.h"

#include "attn/Dialect/Graph/IR/GraphOps.h"
#include "attn/Dialect/Kernel/IR/KernelOps.h"

using namespace mlir;
using namespace attn;
using namespace attn::cuda;

LogicalResult attn::cuda::emitAttention(KernelEmission &k) {
  graph::AttentionOp op;
  for (Operation &nested : k.block())
    if (auto a = dyn_cast<graph::AttentionOp>(nested))
      op = a;
  ArrayRef<int64_t> out = shapeOf(op.getResult());
  size_t batchRank = out.size() - 2;
  int64_t queries = out[batchRank], width = out[batchRank + 1];
  int64_t keys = shapeOf(op.getKey())[shapeOf(op.getKey()).size() - 2];
  int64_t depth = shapeOf(op.getQuery()).back();
  int64_t tileQ = 1;
  for (Attribute attr : k.kernel->getAttrOfType<ArrayAttr>("loops"))
    if (cast<kernel::LoopAttr>(attr).getName() == "i")
      tileQ = cast<kernel::LoopAttr>(attr).getTile();
  if (k.target.name == "sm_90a" && kernel::isWarpgroupAttention(op))
    return emitWarpgroupAttention(k, op);
  if (canUseFlashAttention(op))
    return emitFlashAttention(k, op, tileQ);
  int64_t queryTiles = (queries + tileQ - 1) / tileQ;
  k.threads = tileQ;
  k.blocks = queryTiles;
  for (size_t d = 0; d < batchRank; ++d)
    k.blocks *= out[d];

  CodeWriter &w = k.out;
  Index batch = emitAttentionBlock(k, op, out, queryTiles);
  w.line("const attnc_index i = tileI * " + num(tileQ) + " + threadIdx.x;");
  w.line("if (i >= " + num(queries) + ") return;");

  // Operand element (row, col) under batch broadcasting.
  auto at = [&](Value operand, const std::string &row, const std::string &col) {
    Index index = matrixBatchIndex(batch, out, shapeOf(operand));
    index.append({row, col});
    return *k.loadInput(operand, index);
  };

  w.line("float m = __int_as_float(0xff800000), l = 0.0f;");
  w.line("float acc[" + num(width) + "];");
  w.line("for (int c = 0; c < " + num(width) + "; ++c) acc[c] = 0.0f;");
  w.open("for (attnc_index j = 0; j < " + num(keys) + "; ++j)");
  if (std::optional<int64_t> offset = op.getCausalOffset())
    w.line("if (j - i > " + num(*offset) + ") continue;");
  w.line("float dot = 0.0f;");
  w.line("for (attnc_index c = 0; c < " + num(depth) + "; ++c) dot += " +
         at(op.getQuery(), "i", "c") + " * " + at(op.getKey(), "j", "c") + ";");
  w.line("float s = " + floatLiteral(op.getScale().convertToDouble()) +
         " * dot;");
  if (failed(applyScoreMod(k, op, batch, "s")))
    return failure();
  emitOnlineSoftmaxStep(w);
  w.line("for (int c = 0; c < " + num(width) + "; ++c) acc[c] = acc[c] * "
         "correction + p * " + at(op.getValue(), "j", "c") + ";");
  w.line("m = mNew;");
  w.close();
  Index index = batch;
  index.append({"i", "c"});
  w.open("for (attnc_index c = 0; c < " + num(width) + "; ++c)");
  w.line(storeResult(k, 0, index, "acc[c] / l"));
  w.close();
  return success();
}
