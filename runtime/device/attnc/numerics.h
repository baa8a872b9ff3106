//===- numerics.h - f16/bf16 conversions shared by host and device -*- C++ -*-===//
//
// The one definition of how attnc rounds to f16 and bf16: round to nearest
// even, NaNs kept quiet, overflow to infinity. The interpreter
// (lib/Support/Float16.cpp), generated CUDA kernels and their CPU
// emulation all call these functions, so every level of attnc rounds the
// same way bit for bit. Plain C++ that also compiles under NVRTC: no
// standard headers on the device side, unsigned int/short instead of the
// <cstdint> names.
//
//===----------------------------------------------------------------------===//

#ifndef ATTNC_DEVICE_NUMERICS_H
#define ATTNC_DEVICE_NUMERICS_H

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define ATTNC_HD __host__ __device__ __forceinline__
#define ATTNC_DEVICE_COMPILE 1
#else
#include <cstring>
#define ATTNC_HD inline
#endif

namespace attnc_numerics {

ATTNC_HD unsigned int floatBits(float value) {
#if defined(ATTNC_DEVICE_COMPILE) && defined(__CUDA_ARCH__)
  return __float_as_uint(value);
#else
  unsigned int bits;
  memcpy(&bits, &value, sizeof bits);
  return bits;
#endif
}

ATTNC_HD float bitsFloat(unsigned int bits) {
#if defined(ATTNC_DEVICE_COMPILE) && defined(__CUDA_ARCH__)
  return __uint_as_float(bits);
#else
  float value;
  memcpy(&value, &bits, sizeof value);
  return value;
#endif
}

/// `value >> shift`, rounded to nearest even on the dropped bits.
ATTNC_HD unsigned int shiftRoundEven(unsigned int value, unsigned shift) {
  unsigned int kept = value >> shift;
  unsigned int rest = value & ((1u << shift) - 1u);
  unsigned int half = 1u << (shift - 1);
  if (rest > half || (rest == half && (kept & 1u)))
    ++kept;
  return kept;
}

ATTNC_HD unsigned short floatToHalfBits(float value) {
  unsigned int bits = floatBits(value);
  unsigned short sign = (unsigned short)((bits >> 16) & 0x8000u);
  unsigned int magnitude = bits & 0x7fffffffu;
  // NaN: keep the top payload bits and set the quiet bit, so a signalling
  // NaN whose payload lives only in the low bits cannot become infinity.
  if (magnitude > 0x7f800000u)
    return (unsigned short)(sign | 0x7e00u | ((magnitude >> 13) & 0x3ffu));
  // 65520 is halfway between the largest half (65504, odd mantissa) and
  // 2^16, so it and everything above round to infinity.
  if (magnitude >= 0x477ff000u)
    return (unsigned short)(sign | 0x7c00u);
  // Below 2^-14 the result is subnormal, counted in units of 2^-24: a value
  // of exponent e and 24-bit significand m is m >> (126 - e) such units;
  // from 2^-25 down everything rounds to zero (2^-25 ties to even 0).
  if (magnitude < 0x38800000u) {
    unsigned int exponent = magnitude >> 23;
    unsigned shift = 126u - exponent;
    if (shift > 24u)
      return sign;
    unsigned int significand = (magnitude & 0x7fffffu) | 0x800000u;
    // A carry into bit 10 gives the smallest normal, which is right.
    return (unsigned short)(sign | shiftRoundEven(significand, shift));
  }
  // Normal: rebias the exponent (127 -> 15), drop 13 mantissa bits; a carry
  // out of the mantissa bumps the exponent, also right.
  unsigned int rebiased = magnitude - ((127u - 15u) << 23);
  return (unsigned short)(sign | shiftRoundEven(rebiased, 13));
}

ATTNC_HD float halfBitsToFloat(unsigned short bits) {
  unsigned int sign = (unsigned int)(bits & 0x8000u) << 16;
  unsigned int exponent = (bits >> 10) & 0x1fu;
  unsigned int mantissa = bits & 0x3ffu;
  if (exponent == 0x1fu)
    return bitsFloat(sign | 0x7f800000u | (mantissa << 13));
  if (exponent != 0)
    return bitsFloat(sign | ((exponent + 127u - 15u) << 23) | (mantissa << 13));
  if (mantissa == 0)
    return bitsFloat(sign);
  // Subnormal half, normal float: shift the leading one into the implicit
  // position, one exponent step each (2^-14 has f32 exponent field 113).
  unsigned int floatExponent = 127u - 14u;
  while (!(mantissa & 0x400u)) {
    mantissa <<= 1;
    --floatExponent;
  }
  return bitsFloat(sign | (floatExponent << 23) | ((mantissa & 0x3ffu) << 13));
}

ATTNC_HD unsigned short floatToBFloat16Bits(float value) {
  unsigned int bits = floatBits(value);
  // Rounding a NaN like a number could carry into the sign or clear the
  // payload into infinity; truncate and force the quiet bit instead.
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    return (unsigned short)((bits >> 16) | 0x0040u);
  // Adding 0x7fff plus the lowest kept bit rounds to nearest even; a carry
  // into the exponent (or to infinity) is the right result.
  return (unsigned short)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

ATTNC_HD float bfloat16BitsToFloat(unsigned short bits) {
  return bitsFloat((unsigned int)bits << 16);
}

} // namespace attnc_numerics

#endif // ATTNC_DEVICE_NUMERICS_H
