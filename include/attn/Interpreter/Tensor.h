//===- Tensor.h - values of the reference interpreter -----------*- C++ -*-===//
//
// The interpreter keeps every tensor as doubles plus its element type. In
// f32 precision each op computes in float and rounds its results to the
// element type (f16 and bf16 stored as such, round to nearest even), which
// is what a GPU kernel with f32 compute stores. In f64 precision ops compute
// in double and nothing is rounded except by an explicit attn.cast, which
// is part of the model: that run is the reference the others approximate. Doubles hold every f32, f16, bf16 and i1 value exactly, so
// one storage type serves both modes.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_INTERPRETER_TENSOR_H
#define ATTN_INTERPRETER_TENSOR_H

#include "attn/Support/DType.h"
#include "attn/Support/Npy.h"

#include "mlir/IR/Types.h"
#include "llvm/ADT/ArrayRef.h"

#include <cstdint>
#include <optional>
#include <vector>

namespace attn::interp {

/// The arithmetic an interpreter run uses.
enum class Precision { F32, F64 };

struct Tensor {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<double> data;

  Tensor() = default;
  Tensor(DType dtype, llvm::ArrayRef<int64_t> shape)
      : dtype(dtype), shape(shape.begin(), shape.end()),
        data(numElements(this->shape), 0.0) {}

  int64_t size() const { return static_cast<int64_t>(data.size()); }
  int64_t rank() const { return static_cast<int64_t>(shape.size()); }
};

/// The element type of an MLIR tensor type, if it is one attnc supports.
std::optional<DType> dtypeOf(mlir::Type type);

/// `value` as stored in a tensor of `dtype` by a run in `precision`: i1
/// becomes 0 or 1; in f32 precision floats round to the dtype.
double storeAs(double value, DType dtype, Precision precision);

/// Row-major strides of `shape`.
std::vector<int64_t> stridesOf(llvm::ArrayRef<int64_t> shape);

/// Strides that read a tensor of `shape` broadcast (numpy-style) to
/// `target`: aligned from the right, 0 where the tensor repeats.
std::vector<int64_t> broadcastStrides(llvm::ArrayRef<int64_t> shape,
                                      llvm::ArrayRef<int64_t> target);

/// Conversions to and from .npy arrays; `toNpy` writes `dtype` storage.
Tensor fromNpy(const NpyArray &array);
NpyArray toNpy(const Tensor &tensor, DType dtype);

/// Walks every multi-index of `shape` in row-major order, keeping one
/// linear offset per stride vector in step; calls `body(offsets)` with the
/// current offsets (one per stride vector).
template <unsigned N, typename Body>
void forEachIndex(llvm::ArrayRef<int64_t> shape,
                  const std::vector<int64_t> (&strides)[N], Body body) {
  int64_t total = numElements(std::vector<int64_t>(shape.begin(), shape.end()));
  if (total == 0)
    return;
  std::vector<int64_t> index(shape.size(), 0);
  int64_t offsets[N] = {};
  for (int64_t n = 0; n < total; ++n) {
    body(static_cast<const int64_t *>(offsets));
    // Odometer increment, carrying offsets along.
    for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
      ++index[d];
      for (unsigned s = 0; s < N; ++s)
        offsets[s] += strides[s][d];
      if (index[d] < shape[d])
        break;
      for (unsigned s = 0; s < N; ++s)
        offsets[s] -= strides[s][d] * shape[d];
      index[d] = 0;
    }
  }
}

} // namespace attn::interp

#endif // ATTN_INTERPRETER_TENSOR_H
