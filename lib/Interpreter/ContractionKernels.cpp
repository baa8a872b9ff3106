//===- ContractionKernels.cpp - ops that combine many elements ------------===//
//
// Kernels of the ops whose result elements each combine many input
// elements: matmul, softmax, the reductions and the normalisations. All of
// them accumulate in the run's arithmetic (f32 or f64), whatever the
// storage type, as the op definitions promise.
//
//===----------------------------------------------------------------------===//

#include "attn/Interpreter/Kernels.h"

#include "attn/Dialect/Graph/IR/GraphOps.h"

#include "llvm/ADT/TypeSwitch.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace attn;
using namespace attn::interp;
using namespace attn::graph;

//===----------------------------------------------------------------------===//
// Matmul
//===----------------------------------------------------------------------===//

template <typename T>
static Tensor matmul(MatmulOp op, const Tensor &lhs, const Tensor &rhs,
                     Precision precision) {
  Tensor out = emptyResult(op);
  int64_t rank = out.rank();
  int64_t m = out.shape[rank - 2], n = out.shape[rank - 1];
  int64_t l = lhs.rank(), r = rhs.rank();
  int64_t k = op.getTransposeLhs() ? lhs.shape[l - 2] : lhs.shape[l - 1];
  // Element (row, col) of each operand's trailing matrix, transposed or not.
  int64_t lhsRow = op.getTransposeLhs() ? 1 : k;
  int64_t lhsCol = op.getTransposeLhs() ? m : 1;
  int64_t rhsRow = op.getTransposeRhs() ? 1 : n;
  int64_t rhsCol = op.getTransposeRhs() ? k : 1;

  std::vector<int64_t> batch(out.shape.begin(), out.shape.end() - 2);
  std::vector<int64_t> lhsBatch(lhs.shape.begin(), lhs.shape.end() - 2);
  std::vector<int64_t> rhsBatch(rhs.shape.begin(), rhs.shape.end() - 2);
  // Batch strides in units of whole matrices, broadcast to the result.
  std::vector<int64_t> strides[] = {broadcastStrides(lhsBatch, batch),
                                    broadcastStrides(rhsBatch, batch)};
  for (int64_t &s : strides[0])
    s *= lhs.shape[l - 2] * lhs.shape[l - 1];
  for (int64_t &s : strides[1])
    s *= rhs.shape[r - 2] * rhs.shape[r - 1];

  std::vector<T> row(n);
  int64_t outBase = 0;
  auto product = [&](const int64_t *at) {
    const double *a = lhs.data.data() + at[0];
    const double *b = rhs.data.data() + at[1];
    for (int64_t i = 0; i < m; ++i) {
      std::fill(row.begin(), row.end(), T(0));
      for (int64_t kk = 0; kk < k; ++kk) {
        T av = static_cast<T>(a[i * lhsRow + kk * lhsCol]);
        for (int64_t j = 0; j < n; ++j)
          row[j] += av * static_cast<T>(b[kk * rhsRow + j * rhsCol]);
      }
      for (int64_t j = 0; j < n; ++j)
        out.data[outBase + i * n + j] = storeAs(row[j], out.dtype, precision);
    }
    outBase += m * n;
  };
  if (batch.empty()) {
    int64_t origin[2] = {0, 0};
    product(origin);
  } else {
    forEachIndex(batch, strides, product);
  }
  return out;
}

//===----------------------------------------------------------------------===//
// Row ops: softmax and normalisations
//===----------------------------------------------------------------------===//

/// Calls `fn(base, stride, extent)` for every row along `dim` of `shape`:
/// the row's elements are at base + i * stride.
template <typename Fn>
static void forEachRow(llvm::ArrayRef<int64_t> shape, int64_t dim, Fn fn) {
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d)
    outer *= shape[d];
  for (size_t d = dim + 1; d < shape.size(); ++d)
    inner *= shape[d];
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i)
      fn(o * shape[dim] * inner + i, inner, shape[dim]);
}

template <typename T>
static Tensor softmax(SoftmaxOp op, const Tensor &in, Precision precision) {
  Tensor out = emptyResult(op);
  forEachRow(in.shape, op.getDim(), [&](int64_t base, int64_t stride,
                                        int64_t extent) {
    T max = -std::numeric_limits<T>::infinity();
    for (int64_t i = 0; i < extent; ++i)
      max = std::max(max, static_cast<T>(in.data[base + i * stride]));
    T sum = 0;
    for (int64_t i = 0; i < extent; ++i)
      sum += std::exp(static_cast<T>(in.data[base + i * stride]) - max);
    for (int64_t i = 0; i < extent; ++i)
      out.data[base + i * stride] = storeAs(
          std::exp(static_cast<T>(in.data[base + i * stride]) - max) / sum,
          out.dtype, precision);
  });
  return out;
}

/// layer_norm (with `beta`) and rms_norm (without) over the last dim.
template <typename T>
static Tensor normalize(Operation *op, const Tensor &in, const Tensor &gamma,
                        const Tensor *beta, double epsilon, bool centered,
                        Precision precision) {
  Tensor out = emptyResult(op);
  forEachRow(in.shape, in.rank() - 1, [&](int64_t base, int64_t,
                                          int64_t extent) {
    const double *x = in.data.data() + base;
    T mean = 0;
    if (centered) {
      for (int64_t i = 0; i < extent; ++i)
        mean += static_cast<T>(x[i]);
      mean /= static_cast<T>(extent);
    }
    T power = 0;
    for (int64_t i = 0; i < extent; ++i) {
      T centeredValue = static_cast<T>(x[i]) - mean;
      power += centeredValue * centeredValue;
    }
    T inverse = T(1) / std::sqrt(power / static_cast<T>(extent) +
                                 static_cast<T>(epsilon));
    for (int64_t i = 0; i < extent; ++i) {
      T value = (static_cast<T>(x[i]) - mean) * inverse *
                static_cast<T>(gamma.data[i]);
      if (beta)
        value += static_cast<T>(beta->data[i]);
      out.data[base + i] = storeAs(value, out.dtype, precision);
    }
  });
  return out;
}

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

enum class ReduceKind { Sum, Max, Mean };

template <typename T>
static Tensor reduce(Operation *op, const Tensor &in,
                     llvm::ArrayRef<int64_t> dims, ReduceKind kind,
                     Precision precision) {
  Tensor out = emptyResult(op);
  // Each input element lands on the output element with the reduced dims
  // dropped: stride 0 along them.
  std::vector<int64_t> outStrides(in.rank(), 0);
  int64_t stride = 1, count = 1;
  for (int64_t d = in.rank() - 1; d >= 0; --d) {
    if (llvm::is_contained(dims, d)) {
      count *= in.shape[d];
      continue;
    }
    outStrides[d] = stride;
    stride *= in.shape[d];
  }
  T init = kind == ReduceKind::Max ? -std::numeric_limits<T>::infinity() : 0;
  std::vector<T> acc(out.size(), init);
  const std::vector<int64_t> strides[] = {stridesOf(in.shape), outStrides};
  forEachIndex(in.shape, strides, [&](const int64_t *at) {
    T value = static_cast<T>(in.data[at[0]]);
    acc[at[1]] = kind == ReduceKind::Max ? std::max(acc[at[1]], value)
                                         : acc[at[1]] + value;
  });
  for (int64_t i = 0; i < out.size(); ++i) {
    T value = kind == ReduceKind::Mean ? acc[i] / static_cast<T>(count)
                                       : acc[i];
    out.data[i] = storeAs(value, out.dtype, precision);
  }
  return out;
}

//===----------------------------------------------------------------------===//
// Dispatch
//===----------------------------------------------------------------------===//

template <typename T>
static bool evaluate(Operation *op, Operands in, Precision precision,
                     Results &results) {
  auto reduceKind = [&]() -> std::optional<ReduceKind> {
    if (isa<ReduceSumOp>(op))
      return ReduceKind::Sum;
    if (isa<ReduceMaxOp>(op))
      return ReduceKind::Max;
    if (isa<ReduceMeanOp>(op))
      return ReduceKind::Mean;
    return std::nullopt;
  }();
  if (reduceKind) {
    auto dims = op->getAttrOfType<DenseI64ArrayAttr>("dims").asArrayRef();
    results.push_back(reduce<T>(op, *in[0], dims, *reduceKind, precision));
    return true;
  }
  return llvm::TypeSwitch<Operation *, bool>(op)
      .Case([&](MatmulOp matmulOp) {
        results.push_back(matmul<T>(matmulOp, *in[0], *in[1], precision));
        return true;
      })
      .Case([&](SoftmaxOp softmaxOp) {
        results.push_back(softmax<T>(softmaxOp, *in[0], precision));
        return true;
      })
      .Case([&](LayerNormOp norm) {
        results.push_back(normalize<T>(op, *in[0], *in[1], in[2],
                                       norm.getEpsilon().convertToDouble(),
                                       /*centered=*/true, precision));
        return true;
      })
      .Case([&](RMSNormOp norm) {
        results.push_back(normalize<T>(op, *in[0], *in[1], nullptr,
                                       norm.getEpsilon().convertToDouble(),
                                       /*centered=*/false, precision));
        return true;
      })
      .Default([](Operation *) { return false; });
}

bool attn::interp::tryEvaluateContraction(Operation *op, Operands operands,
                                          Precision precision,
                                          Results &results) {
  if (precision == Precision::F32)
    return evaluate<float>(op, operands, precision, results);
  return evaluate<double>(op, operands, precision, results);
}
