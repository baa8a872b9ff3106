//===- Float16.cpp - f16 and bf16 conversions ------------------------------===//
//
// The host entry points of the conversions defined once, for host and
// device alike, in runtime/device/attnc/numerics.h: the interpreter, the
// generated kernels and their CPU emulation round identically.
//
//===----------------------------------------------------------------------===//

#include "attn/Support/Float16.h"

#include "attnc/numerics.h"

uint16_t attn::floatToHalfBits(float value) {
  return attnc_numerics::floatToHalfBits(value);
}

float attn::halfBitsToFloat(uint16_t bits) {
  return attnc_numerics::halfBitsToFloat(bits);
}

uint16_t attn::floatToBFloat16Bits(float value) {
  return attnc_numerics::floatToBFloat16Bits(value);
}

float attn::bfloat16BitsToFloat(uint16_t bits) {
  return attnc_numerics::bfloat16BitsToFloat(bits);
}
