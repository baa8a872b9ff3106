//===- DType.cpp - element types shared by compiler and runtime -----------===//
//
// Names, sizes and shape helpers for DType. They live here rather than in
// the header so that every message that names a dtype or a shape spells it
// the same way, whichever tool prints it.
//
//===----------------------------------------------------------------------===//

#include "attn/Support/DType.h"

using namespace attn;

const char *attn::dtypeName(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return "f32";
  case DType::F16:
    return "f16";
  case DType::BF16:
    return "bf16";
  case DType::I1:
    return "i1";
  }
  return "<invalid dtype>";
}

size_t attn::dtypeSize(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return 4;
  case DType::F16:
  case DType::BF16:
    return 2;
  case DType::I1:
    return 1;
  }
  return 0;
}

int64_t attn::numElements(const std::vector<int64_t> &shape) {
  int64_t count = 1;
  for (int64_t extent : shape)
    count *= extent;
  return count;
}

std::string attn::shapeString(const std::vector<int64_t> &shape) {
  if (shape.empty())
    return "scalar";
  std::string text;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      text += 'x';
    text += std::to_string(shape[i]);
  }
  return text;
}
