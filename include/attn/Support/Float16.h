//===- Float16.h - IEEE half and bfloat16 conversions -----------*- C++ -*-===//
//
// Bit-exact conversions between f32 and the two 16-bit float formats, with
// round-to-nearest-even as GPUs do, so that values stored as f16 or bf16 on
// the CPU are exactly the values a GPU kernel would store.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_SUPPORT_FLOAT16_H
#define ATTN_SUPPORT_FLOAT16_H

#include <cstdint>

namespace attn {

/// f32 -> IEEE binary16 bits, round to nearest even; overflow gives inf,
/// NaN stays NaN (quiet).
uint16_t floatToHalfBits(float value);
float halfBitsToFloat(uint16_t bits);

/// f32 -> bfloat16 bits (upper half of the f32 pattern), round to nearest
/// even; NaN stays NaN (quiet).
uint16_t floatToBFloat16Bits(float value);
float bfloat16BitsToFloat(uint16_t bits);

/// The f32 value nearest to `value` that the 16-bit format can hold.
inline float roundToHalf(float value) {
  return halfBitsToFloat(floatToHalfBits(value));
}
inline float roundToBFloat16(float value) {
  return bfloat16BitsToFloat(floatToBFloat16Bits(value));
}

} // namespace attn

#endif // ATTN_SUPPORT_FLOAT16_H
