//===- Float16Test.cpp - tests of the f16 and bf16 conversions ------------===//
//
// Known bit patterns at every boundary the conversions handle specially
// (zero, subnormals, the normal range, overflow, NaN), ties to even in both
// formats, and a property check that the half result is the nearest value
// over a wide sample of f32 inputs.
//
//===----------------------------------------------------------------------===//

#include "attn/Support/Float16.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstring>
#include <limits>

using namespace attn;

namespace {

float fromBits(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

uint32_t toBits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

bool isHalfNaN(uint16_t bits) {
  return (bits & 0x7c00) == 0x7c00 && (bits & 0x3ff) != 0;
}

//===----------------------------------------------------------------------===//
// f32 -> f16
//===----------------------------------------------------------------------===//

TEST(Float16Test, HalfKnownValues) {
  EXPECT_EQ(floatToHalfBits(1.0f), 0x3c00);
  EXPECT_EQ(floatToHalfBits(-2.0f), 0xc000);
  EXPECT_EQ(floatToHalfBits(0.5f), 0x3800);
  EXPECT_EQ(floatToHalfBits(0.0f), 0x0000);
  EXPECT_EQ(floatToHalfBits(-0.0f), 0x8000);
  EXPECT_EQ(floatToHalfBits(65504.0f), 0x7bff); // largest finite half
  EXPECT_EQ(floatToHalfBits(std::ldexp(1.0f, -14)), 0x0400); // smallest normal
  // 1/3 is 0x3eaaaaab; the 13 dropped mantissa bits are below half.
  EXPECT_EQ(floatToHalfBits(1.0f / 3.0f), 0x3555);
}

TEST(Float16Test, HalfOverflow) {
  float inf = std::numeric_limits<float>::infinity();
  // 65520 is the tie between 65504 (odd mantissa) and 2^16: goes to inf.
  EXPECT_EQ(floatToHalfBits(65520.0f), 0x7c00);
  EXPECT_EQ(floatToHalfBits(-65520.0f), 0xfc00);
  // Just below the tie still rounds down to the largest finite value.
  EXPECT_EQ(floatToHalfBits(fromBits(toBits(65520.0f) - 1)), 0x7bff);
  EXPECT_EQ(floatToHalfBits(1e10f), 0x7c00);
  EXPECT_EQ(floatToHalfBits(std::numeric_limits<float>::max()), 0x7c00);
  EXPECT_EQ(floatToHalfBits(inf), 0x7c00);
  EXPECT_EQ(floatToHalfBits(-inf), 0xfc00);
}

TEST(Float16Test, HalfSubnormals) {
  // Units of the smallest subnormal, 2^-24.
  auto units = [](float u) { return std::ldexp(u, -24); };
  EXPECT_EQ(floatToHalfBits(units(1)), 0x0001);
  EXPECT_EQ(floatToHalfBits(-units(1)), 0x8001);
  EXPECT_EQ(floatToHalfBits(units(1023)), 0x03ff); // largest subnormal
  // Ties go to even: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, 1023.5 -> 1024 (the
  // smallest normal, by carry).
  EXPECT_EQ(floatToHalfBits(units(0.5f)), 0x0000);
  EXPECT_EQ(floatToHalfBits(-units(0.5f)), 0x8000);
  EXPECT_EQ(floatToHalfBits(units(1.5f)), 0x0002);
  EXPECT_EQ(floatToHalfBits(units(2.5f)), 0x0002);
  EXPECT_EQ(floatToHalfBits(units(1023.5f)), 0x0400);
  // Just above half a unit rounds up; far below rounds to zero.
  EXPECT_EQ(floatToHalfBits(fromBits(toBits(units(0.5f)) + 1)), 0x0001);
  EXPECT_EQ(floatToHalfBits(fromBits(toBits(units(0.5f)) - 1)), 0x0000);
  EXPECT_EQ(floatToHalfBits(1e-30f), 0x0000);
  EXPECT_EQ(floatToHalfBits(fromBits(0x00000001)), 0x0000); // f32 subnormal
  EXPECT_EQ(floatToHalfBits(fromBits(0x80000001)), 0x8000);
}

TEST(Float16Test, HalfTiesToEven) {
  // Half has 10 mantissa bits, so near 1 the spacing is 2^-10.
  float ulp = std::ldexp(1.0f, -10);
  EXPECT_EQ(floatToHalfBits(1.0f + ulp / 2), 0x3c00);     // tie, keep even
  EXPECT_EQ(floatToHalfBits(1.0f + 3 * ulp / 2), 0x3c02); // tie, round up
  EXPECT_EQ(floatToHalfBits(fromBits(toBits(1.0f + ulp / 2) + 1)), 0x3c01);
  EXPECT_EQ(floatToHalfBits(fromBits(toBits(1.0f + 3 * ulp / 2) - 1)), 0x3c01);
  EXPECT_EQ(floatToHalfBits(-(1.0f + 3 * ulp / 2)), 0xbc02);
  // A carry out of the mantissa bumps the exponent: 2 - 2^-11 is the tie
  // between 0x3bff (odd) and 2.0.
  EXPECT_EQ(floatToHalfBits(2.0f - ulp / 2), 0x4000);
}

TEST(Float16Test, HalfNaN) {
  float qnan = std::numeric_limits<float>::quiet_NaN();
  uint16_t bits = floatToHalfBits(qnan);
  EXPECT_TRUE(isHalfNaN(bits));
  EXPECT_TRUE(bits & 0x0200) << "quiet bit";
  // A signalling NaN whose payload sits only in bits the conversion drops
  // must not become infinity.
  bits = floatToHalfBits(fromBits(0x7f800001));
  EXPECT_TRUE(isHalfNaN(bits));
  EXPECT_TRUE(bits & 0x0200);
  bits = floatToHalfBits(fromBits(0xff800001));
  EXPECT_TRUE(isHalfNaN(bits));
  EXPECT_TRUE(bits & 0x8000) << "sign kept";
  EXPECT_TRUE(std::isnan(halfBitsToFloat(0x7e00)));
  EXPECT_TRUE(std::isnan(halfBitsToFloat(0x7c01)));
}

//===----------------------------------------------------------------------===//
// f16 -> f32
//===----------------------------------------------------------------------===//

TEST(Float16Test, HalfWidening) {
  EXPECT_EQ(halfBitsToFloat(0x3c00), 1.0f);
  EXPECT_EQ(halfBitsToFloat(0xc000), -2.0f);
  EXPECT_EQ(halfBitsToFloat(0x7bff), 65504.0f);
  EXPECT_EQ(halfBitsToFloat(0x0400), std::ldexp(1.0f, -14));
  EXPECT_EQ(halfBitsToFloat(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(halfBitsToFloat(0x03ff), std::ldexp(1023.0f, -24));
  EXPECT_EQ(halfBitsToFloat(0x8001), -std::ldexp(1.0f, -24));
  EXPECT_EQ(halfBitsToFloat(0x3555), (1.0f + 0x155 / 1024.0f) * 0.25f);
  EXPECT_EQ(halfBitsToFloat(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(halfBitsToFloat(0xfc00), -std::numeric_limits<float>::infinity());
  EXPECT_EQ(toBits(halfBitsToFloat(0x0000)), 0x00000000u);
  EXPECT_EQ(toBits(halfBitsToFloat(0x8000)), 0x80000000u);
}

TEST(Float16Test, HalfRoundTripsEveryPattern) {
  for (uint32_t bits = 0; bits <= 0xffff; ++bits) {
    float value = halfBitsToFloat(uint16_t(bits));
    if (isHalfNaN(uint16_t(bits))) {
      EXPECT_TRUE(std::isnan(value)) << std::hex << bits;
      continue;
    }
    // The widened value is exactly what the bits say: subnormals as
    // multiples of 2^-24, normals as (1 + m/1024) * 2^(e-15).
    uint32_t exponent = (bits >> 10) & 0x1f, mantissa = bits & 0x3ff;
    double expected = exponent == 0x1f ? INFINITY
                      : exponent == 0  ? std::ldexp(double(mantissa), -24)
                                       : std::ldexp(1.0 + mantissa / 1024.0,
                                                    int(exponent) - 15);
    if (bits & 0x8000)
      expected = -expected;
    ASSERT_EQ(double(value), expected) << std::hex << bits;
    ASSERT_EQ(floatToHalfBits(value), bits) << std::hex << bits;
  }
}

// For a wide, deterministic sample of f32 patterns (every sign, exponent
// and many mantissas), the half result is a nearest half and, on a tie,
// the even one.
TEST(Float16Test, HalfIsNearestEven) {
  const double maxHalf = 65504.0, halfwayToInf = 65520.0;
  unsigned checked = 0;
  for (uint64_t pattern = 0; pattern <= 0xffffffffull; pattern += 65521) {
    // Sample the tie neighbourhood too: clear or set the 13 dropped bits.
    for (uint32_t low : {0u, 0x1000u, 0x0fffu, 0x1001u, 0xffffffffu}) {
      uint32_t bits = low == 0xffffffffu ? uint32_t(pattern)
                                         : (uint32_t(pattern) & ~0x1fffu) | low;
      float value = fromBits(bits);
      if (std::isnan(value))
        continue;
      uint16_t half = floatToHalfBits(value);
      double magnitude = std::fabs(double(value));
      ASSERT_EQ(bool(half & 0x8000), std::signbit(value)) << std::hex << bits;
      if (magnitude >= halfwayToInf) {
        ASSERT_EQ(half & 0x7fff, 0x7c00) << std::hex << bits;
        continue;
      }
      uint16_t mag = half & 0x7fff;
      ASSERT_LE(mag, 0x7bff) << std::hex << bits;
      double chosen = halfBitsToFloat(mag);
      double error = std::fabs(magnitude - chosen);
      double below = mag > 0 ? halfBitsToFloat(uint16_t(mag - 1))
                             : -double(halfBitsToFloat(1));
      double above = mag < 0x7bff ? double(halfBitsToFloat(uint16_t(mag + 1)))
                                  : 2 * maxHalf;
      ASSERT_LE(error, std::fabs(magnitude - below)) << std::hex << bits;
      ASSERT_LE(error, std::fabs(magnitude - above)) << std::hex << bits;
      if (error == std::fabs(magnitude - below) ||
          error == std::fabs(magnitude - above)) {
        ASSERT_EQ(mag & 1, 0) << "tie not to even: " << std::hex << bits;
      }
      ++checked;
    }
  }
  // About half the patterns are NaN, infinite or beyond 65520.
  EXPECT_GT(checked, 150000u);
}

//===----------------------------------------------------------------------===//
// bfloat16
//===----------------------------------------------------------------------===//

TEST(Float16Test, BFloat16KnownValues) {
  EXPECT_EQ(floatToBFloat16Bits(1.0f), 0x3f80);
  EXPECT_EQ(floatToBFloat16Bits(-1.0f), 0xbf80);
  EXPECT_EQ(floatToBFloat16Bits(0.0f), 0x0000);
  EXPECT_EQ(floatToBFloat16Bits(-0.0f), 0x8000);
  EXPECT_EQ(floatToBFloat16Bits(3.0f), 0x4040);
  // 1/3 = 0x3eaaaaab: dropped half 0xaaab > 0x8000 rounds up.
  EXPECT_EQ(floatToBFloat16Bits(1.0f / 3.0f), 0x3eab);
  EXPECT_EQ(bfloat16BitsToFloat(0x3f80), 1.0f);
  EXPECT_EQ(bfloat16BitsToFloat(0xc040), -3.0f);
  EXPECT_EQ(bfloat16BitsToFloat(0x0001), fromBits(0x00010000));
}

TEST(Float16Test, BFloat16TiesToEven) {
  EXPECT_EQ(floatToBFloat16Bits(fromBits(0x3f808000)), 0x3f80); // tie, even
  EXPECT_EQ(floatToBFloat16Bits(fromBits(0x3f818000)), 0x3f82); // tie, odd
  EXPECT_EQ(floatToBFloat16Bits(fromBits(0x3f808001)), 0x3f81);
  EXPECT_EQ(floatToBFloat16Bits(fromBits(0x3f807fff)), 0x3f80);
  EXPECT_EQ(floatToBFloat16Bits(fromBits(0xbf818000)), 0xbf82);
  // Carry into the exponent: 0x3fffffff rounds to 2.0.
  EXPECT_EQ(floatToBFloat16Bits(fromBits(0x3fffffff)), 0x4000);
  // Subnormals round the same way.
  EXPECT_EQ(floatToBFloat16Bits(fromBits(0x00008000)), 0x0000);
  EXPECT_EQ(floatToBFloat16Bits(fromBits(0x00018000)), 0x0002);
}

TEST(Float16Test, BFloat16OverflowAndNaN) {
  float inf = std::numeric_limits<float>::infinity();
  // The largest f32 is above the tie with the largest bf16 (0x7f7f).
  EXPECT_EQ(floatToBFloat16Bits(std::numeric_limits<float>::max()), 0x7f80);
  EXPECT_EQ(floatToBFloat16Bits(fromBits(0x7f7f7fff)), 0x7f7f);
  EXPECT_EQ(floatToBFloat16Bits(fromBits(0x7f7f8000)), 0x7f80); // odd: up
  EXPECT_EQ(floatToBFloat16Bits(inf), 0x7f80);
  EXPECT_EQ(floatToBFloat16Bits(-inf), 0xff80);
  // NaN with payload only in the low half must stay NaN, and quiet.
  EXPECT_EQ(floatToBFloat16Bits(fromBits(0x7f800001)), 0x7fc0);
  EXPECT_EQ(floatToBFloat16Bits(fromBits(0xffc00000)), 0xffc0);
  EXPECT_EQ(floatToBFloat16Bits(fromBits(0x7fffffff)), 0x7fff);
  EXPECT_TRUE(std::isnan(bfloat16BitsToFloat(0x7fc0)));
}

TEST(Float16Test, BFloat16RoundTripsEveryPattern) {
  for (uint32_t bits = 0; bits <= 0xffff; ++bits) {
    float value = bfloat16BitsToFloat(uint16_t(bits));
    ASSERT_EQ(toBits(value), bits << 16);
    if (std::isnan(value))
      continue;
    ASSERT_EQ(floatToBFloat16Bits(value), bits) << std::hex << bits;
  }
}

TEST(Float16Test, RoundHelpers) {
  EXPECT_EQ(roundToHalf(1.0f + std::ldexp(1.0f, -12)), 1.0f);
  EXPECT_EQ(roundToHalf(0.1f), 0.0999755859375f);
  EXPECT_EQ(roundToBFloat16(0.1f), 0.10009765625f);
  EXPECT_EQ(roundToBFloat16(1.0f + std::ldexp(1.0f, -9)), 1.0f);
}

} // namespace
