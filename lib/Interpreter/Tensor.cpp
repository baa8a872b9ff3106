//===- Tensor.cpp - values of the reference interpreter -------------------===//
//
// Rounding to storage types, stride arithmetic, and conversion between
// interpreter tensors and .npy arrays.
//
//===----------------------------------------------------------------------===//

#include "attn/Interpreter/Tensor.h"

#include "attn/Support/Float16.h"

#include "mlir/IR/BuiltinTypes.h"

#include <cstring>

using namespace attn;
using namespace attn::interp;

std::optional<DType> attn::interp::dtypeOf(mlir::Type type) {
  if (auto tensor = llvm::dyn_cast<mlir::RankedTensorType>(type))
    type = tensor.getElementType();
  if (type.isF32())
    return DType::F32;
  if (type.isF16())
    return DType::F16;
  if (type.isBF16())
    return DType::BF16;
  if (type.isInteger(1))
    return DType::I1;
  return std::nullopt;
}

double attn::interp::storeAs(double value, DType dtype, Precision precision) {
  if (dtype == DType::I1)
    return value != 0.0 ? 1.0 : 0.0;
  if (precision == Precision::F64)
    return value;
  float single = static_cast<float>(value);
  switch (dtype) {
  case DType::F16:
    return roundToHalf(single);
  case DType::BF16:
    return roundToBFloat16(single);
  default:
    return single;
  }
}

std::vector<int64_t> attn::interp::stridesOf(llvm::ArrayRef<int64_t> shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int64_t d = static_cast<int64_t>(shape.size()) - 2; d >= 0; --d)
    strides[d] = strides[d + 1] * shape[d + 1];
  return strides;
}

std::vector<int64_t>
attn::interp::broadcastStrides(llvm::ArrayRef<int64_t> shape,
                               llvm::ArrayRef<int64_t> target) {
  std::vector<int64_t> own = stridesOf(shape);
  std::vector<int64_t> strides(target.size(), 0);
  size_t offset = target.size() - shape.size();
  for (size_t d = 0; d < shape.size(); ++d)
    strides[d + offset] = shape[d] == 1 ? 0 : own[d];
  return strides;
}

Tensor attn::interp::fromNpy(const NpyArray &array) {
  Tensor tensor(array.dtype, array.shape);
  const uint8_t *bytes = array.data.data();
  for (int64_t i = 0; i < tensor.size(); ++i) {
    switch (array.dtype) {
    case DType::F32: {
      float value;
      std::memcpy(&value, bytes + 4 * i, 4);
      tensor.data[i] = value;
      break;
    }
    case DType::F16:
    case DType::BF16: {
      uint16_t bits;
      std::memcpy(&bits, bytes + 2 * i, 2);
      tensor.data[i] = array.dtype == DType::F16 ? halfBitsToFloat(bits)
                                                 : bfloat16BitsToFloat(bits);
      break;
    }
    case DType::I1:
      tensor.data[i] = bytes[i] != 0;
      break;
    }
  }
  return tensor;
}

NpyArray attn::interp::toNpy(const Tensor &tensor, DType dtype) {
  NpyArray array;
  array.dtype = dtype;
  array.shape = tensor.shape;
  array.data.resize(tensor.size() * dtypeSize(dtype));
  uint8_t *bytes = array.data.data();
  for (int64_t i = 0; i < tensor.size(); ++i) {
    float value = static_cast<float>(tensor.data[i]);
    switch (dtype) {
    case DType::F32:
      std::memcpy(bytes + 4 * i, &value, 4);
      break;
    case DType::F16:
    case DType::BF16: {
      uint16_t bits = dtype == DType::F16 ? floatToHalfBits(value)
                                          : floatToBFloat16Bits(value);
      std::memcpy(bytes + 2 * i, &bits, 2);
      break;
    }
    case DType::I1:
      bytes[i] = tensor.data[i] != 0.0;
      break;
    }
  }
  return array;
}
