//===- RandomInputs.cpp - the documented random model inputs --------------===//
//
// Implements the formula in RandomInputs.h literally. Each element depends
// only on the key and its own index, so any element can be recomputed in
// isolation (by a test, a script or another device) without generating the
// ones before it.
//
//===----------------------------------------------------------------------===//

#include "attn/Support/RandomInputs.h"

#include "attn/Support/Float16.h"

#include <cstring>

using namespace attn;

uint64_t attn::splitmix64(uint64_t x) {
  uint64_t z = x + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static uint64_t mix(uint64_t h, uint64_t word) { return splitmix64(h ^ word); }

NpyArray attn::randomInput(uint64_t seed, unsigned position,
                           const std::vector<int64_t> &shape, DType dtype) {
  uint64_t key = 0x6174746e63ULL; // "attnc"
  key = mix(key, seed);
  key = mix(key, position);
  key = mix(key, uint64_t(dtype));
  key = mix(key, shape.size());
  for (int64_t extent : shape)
    key = mix(key, uint64_t(extent));

  NpyArray array;
  array.dtype = dtype;
  array.shape = shape;
  size_t count = size_t(numElements(shape));
  size_t elementSize = dtypeSize(dtype);
  array.data.resize(count * elementSize);
  // Storage is little-endian whatever the host, as in .npy files.
  uint8_t *out = array.data.data();
  for (size_t i = 0; i < count; ++i) {
    uint32_t bits24 = uint32_t(splitmix64(key + i) >> 40);
    // 2 * bits24 - 2^24 is an even integer of magnitude at most 2^24, so
    // it and its quotient by 2^24 are exact in f32: the only rounding is
    // the documented one to the 16-bit formats.
    float value = float(int32_t(2 * bits24) - (1 << 24)) / float(1 << 24);
    switch (dtype) {
    case DType::F32: {
      uint32_t bits;
      std::memcpy(&bits, &value, 4);
      for (unsigned b = 0; b < 4; ++b)
        out[4 * i + b] = uint8_t(bits >> (8 * b));
      break;
    }
    case DType::F16:
    case DType::BF16: {
      uint16_t bits = dtype == DType::F16 ? floatToHalfBits(value)
                                          : floatToBFloat16Bits(value);
      out[2 * i] = uint8_t(bits);
      out[2 * i + 1] = uint8_t(bits >> 8);
      break;
    }
    case DType::I1:
      out[i] = bits24 < (1u << 23);
      break;
    }
  }
  return array;
}
