//===- AttentionKernels.cpp - attn.attention ------------------------------===//
//
// The reference of the attention op's numerics contract: scores, softmax
// statistics and the weighted sum in f32 (f64 in f64 runs), and one
// rounding to the result type at the end. The score modification region
// runs between the two halves, through the interpreter itself.
//
//===----------------------------------------------------------------------===//

#include "attn/Interpreter/Kernels.h"

#include "attn/Dialect/Graph/IR/GraphOps.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace attn;
using namespace attn::interp;
using namespace attn::graph;

/// Calls `fn(batchIndex, qBase, kBase, vBase)` for every batch index of
/// the result, with the operands' matrix offsets under broadcasting.
template <typename Fn>
static void forEachBatch(AttentionOp op, const Tensor &q, const Tensor &k,
                         const Tensor &v, Fn fn) {
  auto type = cast<RankedTensorType>(op.getResult().getType());
  std::vector<int64_t> batch(type.getShape().begin(),
                             type.getShape().end() - 2);
  auto stridesFor = [&](const Tensor &t) {
    std::vector<int64_t> own(t.shape.begin(), t.shape.end() - 2);
    std::vector<int64_t> strides = broadcastStrides(own, batch);
    for (int64_t &s : strides)
      s *= t.shape[t.rank() - 2] * t.shape[t.rank() - 1];
    return strides;
  };
  const std::vector<int64_t> strides[] = {stridesFor(q), stridesFor(k),
                                          stridesFor(v)};
  int64_t index = 0;
  if (batch.empty()) {
    fn(0, 0, 0, 0);
    return;
  }
  forEachIndex(batch, strides, [&](const int64_t *at) {
    fn(index++, at[0], at[1], at[2]);
  });
}

template <typename T>
static Tensor scores(AttentionOp op, const Tensor &q, const Tensor &k) {
  RankedTensorType type = op.getScoresType();
  Tensor out(DType::F32, type.getShape());
  int64_t sq = q.shape[q.rank() - 2], sk = k.shape[k.rank() - 2];
  int64_t d = q.shape.back();
  T scale = static_cast<T>(op.getScale().convertToDouble());
  forEachBatch(op, q, k, q, [&](int64_t b, int64_t qb, int64_t kb, int64_t) {
    for (int64_t i = 0; i < sq; ++i)
      for (int64_t j = 0; j < sk; ++j) {
        T dot = 0;
        for (int64_t c = 0; c < d; ++c)
          dot += static_cast<T>(q.data[qb + i * d + c]) *
                 static_cast<T>(k.data[kb + j * d + c]);
        out.data[(b * sq + i) * sk + j] = static_cast<T>(scale * dot);
      }
  });
  return out;
}

template <typename T>
static Tensor weighted(AttentionOp op, const Tensor &s, const Tensor &q,
                       const Tensor &k, const Tensor &v, Precision precision) {
  Tensor out = emptyResult(op);
  int64_t sq = s.shape[s.rank() - 2], sk = s.shape.back();
  int64_t e = v.shape.back();
  std::optional<int64_t> causal = op.getCausalOffset();
  std::vector<T> p(sk), acc(e);
  forEachBatch(op, q, k, v, [&](int64_t b, int64_t, int64_t, int64_t vb) {
    for (int64_t i = 0; i < sq; ++i) {
      const double *row = s.data.data() + (b * sq + i) * sk;
      auto visible = [&](int64_t j) { return !causal || j - i <= *causal; };
      T max = -std::numeric_limits<T>::infinity();
      for (int64_t j = 0; j < sk; ++j)
        if (visible(j))
          max = std::max(max, static_cast<T>(row[j]));
      T sum = 0;
      for (int64_t j = 0; j < sk; ++j) {
        p[j] = visible(j) ? std::exp(static_cast<T>(row[j]) - max) : T(0);
        sum += p[j];
      }
      std::fill(acc.begin(), acc.end(), T(0));
      for (int64_t j = 0; j < sk; ++j)
        for (int64_t c = 0; c < e; ++c)
          acc[c] += p[j] / sum * static_cast<T>(v.data[vb + j * e + c]);
      for (int64_t c = 0; c < e; ++c)
        out.data[(b * sq + i) * e + c] = storeAs(acc[c], out.dtype, precision);
    }
  });
  return out;
}

Tensor attn::interp::attentionScores(AttentionOp op, const Tensor &q,
                                     const Tensor &k, Precision precision) {
  return precision == Precision::F32 ? scores<float>(op, q, k)
                                     : scores<double>(op, q, k);
}

Tensor attn::interp::attentionOutput(AttentionOp op, const Tensor &s,
                                     const Tensor &q, const Tensor &k,
                                     const Tensor &v, Precision precision) {
  return precision == Precision::F32
             ? weighted<float>(op, s, q, k, v, precision)
             : weighted<double>(op, s, q, k, v, precision);
}
