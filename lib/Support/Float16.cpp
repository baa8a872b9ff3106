//===- Float16.cpp - IEEE half and bfloat16 conversions -------------------===//
//
// The conversions work on bit patterns only, never on float arithmetic, so
// the result does not depend on the host's rounding mode, on flush-to-zero
// settings or on what the compiler does with excess precision: a value
// rounded here is bit for bit the value a GPU kernel stores.
//
//===----------------------------------------------------------------------===//

#include "attn/Support/Float16.h"

#include <cstring>

using namespace attn;

static uint32_t floatBits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

static float bitsFloat(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

/// `value >> shift` rounded to nearest, ties to even; 1 <= shift <= 31.
static uint32_t shiftRoundEven(uint32_t value, unsigned shift) {
  uint32_t kept = value >> shift;
  uint32_t rest = value & ((uint32_t(1) << shift) - 1);
  uint32_t half = uint32_t(1) << (shift - 1);
  if (rest > half || (rest == half && (kept & 1)))
    ++kept;
  return kept;
}

uint16_t attn::floatToHalfBits(float value) {
  uint32_t bits = floatBits(value);
  uint16_t sign = uint16_t((bits >> 16) & 0x8000);
  uint32_t magnitude = bits & 0x7fffffff;

  // NaN: keep the top payload bits and set the quiet bit, so that a
  // signalling NaN whose payload lives only in the low bits cannot turn
  // into infinity.
  if (magnitude > 0x7f800000)
    return uint16_t(sign | 0x7e00 | ((magnitude >> 13) & 0x3ff));
  // 65520 is halfway between the largest half (65504, odd mantissa) and
  // 2^16, so it and everything above round to infinity.
  if (magnitude >= 0x477ff000)
    return uint16_t(sign | 0x7c00);
  // Below 2^-14 the result is subnormal: count units of 2^-24. A value of
  // exponent e and 24-bit significand m is m * 2^(e-150), that is
  // m >> (126 - e) such units. From 2^-25 down everything rounds to zero
  // (2^-25 itself is a tie that goes to the even 0).
  if (magnitude < 0x38800000) {
    uint32_t exponent = magnitude >> 23;
    unsigned shift = 126 - exponent;
    if (shift > 24)
      return sign;
    uint32_t significand = (magnitude & 0x7fffff) | 0x800000;
    // A carry into bit 10 gives the smallest normal, which is right.
    return uint16_t(sign | shiftRoundEven(significand, shift));
  }
  // Normal: rebias the exponent (127 -> 15) and drop 13 mantissa bits. A
  // carry out of the mantissa bumps the exponent, which is also right; the
  // overflow check above keeps it below infinity.
  uint32_t rebiased = magnitude - ((127 - 15) << 23);
  return uint16_t(sign | shiftRoundEven(rebiased, 13));
}

float attn::halfBitsToFloat(uint16_t bits) {
  uint32_t sign = uint32_t(bits & 0x8000) << 16;
  uint32_t exponent = (bits >> 10) & 0x1f;
  uint32_t mantissa = bits & 0x3ff;
  if (exponent == 0x1f)
    return bitsFloat(sign | 0x7f800000 | (mantissa << 13));
  if (exponent != 0)
    return bitsFloat(sign | ((exponent + 127 - 15) << 23) | (mantissa << 13));
  if (mantissa == 0)
    return bitsFloat(sign);
  // Subnormal half, normal float: shift the leading one into the implicit
  // position, lowering the exponent once per step. 2^-14 has f32 exponent
  // field 113; each step halves.
  uint32_t floatExponent = 127 - 14;
  while (!(mantissa & 0x400)) {
    mantissa <<= 1;
    --floatExponent;
  }
  return bitsFloat(sign | (floatExponent << 23) | ((mantissa & 0x3ff) << 13));
}

uint16_t attn::floatToBFloat16Bits(float value) {
  uint32_t bits = floatBits(value);
  // Rounding a NaN like a number could carry into the sign or clear the
  // payload into infinity; truncate and force the quiet bit instead.
  if ((bits & 0x7fffffff) > 0x7f800000)
    return uint16_t((bits >> 16) | 0x0040);
  // Adding 0x7fff plus the lowest kept bit rounds to nearest even; a carry
  // through the exponent lands on infinity exactly when it should.
  bits += 0x7fff + ((bits >> 16) & 1);
  return uint16_t(bits >> 16);
}

float attn::bfloat16BitsToFloat(uint16_t bits) {
  return bitsFloat(uint32_t(bits) << 16);
}
