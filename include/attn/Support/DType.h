//===- DType.h - element types shared by compiler and runtime ---*- C++ -*-===//
//
// The element types a model's tensors may have, in a form that needs no
// MLIR: the .npy reader/writer, the random input generator and (later) the
// runtime all speak it.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_SUPPORT_DTYPE_H
#define ATTN_SUPPORT_DTYPE_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace attn {

enum class DType : uint8_t { F32 = 0, F16 = 1, BF16 = 2, I1 = 3 };

/// "f32", "f16", "bf16" or "i1".
const char *dtypeName(DType dtype);

/// Bytes per element in memory and in .npy files (i1 takes one byte).
size_t dtypeSize(DType dtype);

/// Product of the extents (1 for rank 0).
int64_t numElements(const std::vector<int64_t> &shape);

/// "4x8" for {4, 8}, "scalar" for rank 0.
std::string shapeString(const std::vector<int64_t> &shape);

} // namespace attn

#endif // ATTN_SUPPORT_DTYPE_H
