//===- RandomInputsTest.cpp - tests of the documented random inputs -------===//
//
// The random inputs are a published formula, so the tests pin it down:
// golden values derived independently of this implementation, a reference
// implementation written from the header comment, and the properties users
// rely on (determinism, dependence on every part of the key, range).
//
//===----------------------------------------------------------------------===//

#include "attn/Support/RandomInputs.h"

#include "attn/Support/Float16.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <cmath>
#include <cstring>

using namespace attn;

namespace {

uint16_t word(const NpyArray &array, size_t i) {
  return uint16_t(array.data[2 * i] | (array.data[2 * i + 1] << 8));
}

uint32_t f32Bits(const NpyArray &array, size_t i) {
  uint32_t bits = 0;
  for (unsigned b = 0; b < 4; ++b)
    bits |= uint32_t(array.data[4 * i + b]) << (8 * b);
  return bits;
}

/// Element `i` of `array` as a float, whatever its dtype.
float valueAt(const NpyArray &array, size_t i) {
  switch (array.dtype) {
  case DType::F32: {
    uint32_t bits = f32Bits(array, i);
    float value;
    std::memcpy(&value, &bits, 4);
    return value;
  }
  case DType::F16:
    return halfBitsToFloat(word(array, i));
  case DType::BF16:
    return bfloat16BitsToFloat(word(array, i));
  case DType::I1:
    return array.data[i];
  }
  return NAN;
}

/// The u_i of the formula, written out step by step from the header.
double referenceU(uint64_t seed, unsigned position,
                  const std::vector<int64_t> &shape, DType dtype, size_t i) {
  std::vector<uint64_t> words = {seed, position, uint64_t(dtype), shape.size()};
  for (int64_t extent : shape)
    words.push_back(uint64_t(extent));
  uint64_t h = 0x6174746e63;
  for (uint64_t w : words)
    h = splitmix64(h ^ w);
  return double(splitmix64(h + i) >> 40) / 16777216.0;
}

TEST(RandomInputsTest, SplitMix64) {
  // The reference SplitMix64 generator (Steele, Lea and Flood) seeded with
  // 0 returns these first, and each call adds the golden gamma to the
  // state, so splitmix64(k * gamma) is its (k+1)-th output.
  EXPECT_EQ(splitmix64(0), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(splitmix64(0x9e3779b97f4a7c15ULL), 0x6e789e6aa1b965f4ULL);
  // From the Python implementation used for the goldens below.
  EXPECT_EQ(splitmix64(1), 0x910a2dec89025cc1ULL);
}

// Golden values, derived without this code: a Python implementation of the
// formula in RandomInputs.h (arbitrary-precision ints masked to 64 bits for
// splitmix64, numpy's float16 cast for f16, the f32-bits + 0x7fff + lsb
// rule for bf16) printed these for the given arguments.
TEST(RandomInputsTest, GoldenF32) {
  NpyArray array = randomInput(42, 0, {2, 3}, DType::F32);
  ASSERT_EQ(array.data.size(), 24u);
  // key = 0xd17fbbb0adcd2672; element 0: splitmix64(key) =
  // 0xa1e90e2174942c5c, top 24 bits 0xa1e90e = 10611982, so the value is
  // 2 * 10611982 / 2^24 - 1 = 0.2649247646331787 = 0x3e87a438.
  const uint32_t expected[] = {0x3e87a438, 0xbf48577c, 0xbe8f4df0,
                               0x3f5397dc, 0xbeddc6a0, 0x3f11f140};
  for (size_t i = 0; i < 6; ++i)
    EXPECT_EQ(f32Bits(array, i), expected[i]) << i;
  EXPECT_FLOAT_EQ(valueAt(array, 0), 0.2649247646331787f);
}

TEST(RandomInputsTest, GoldenF16BF16I1) {
  NpyArray f16 = randomInput(42, 1, {2, 3}, DType::F16);
  const uint16_t f16Expected[] = {0x382a, 0x35ed, 0xbbdb,
                                  0x3601, 0x3af0, 0x335c};
  ASSERT_EQ(f16.data.size(), 12u);
  for (size_t i = 0; i < 6; ++i)
    EXPECT_EQ(word(f16, i), f16Expected[i]) << i;

  NpyArray bf16 = randomInput(42, 0, {4}, DType::BF16);
  const uint16_t bf16Expected[] = {0x3dbd, 0x3f23, 0x3e52, 0xbf31};
  ASSERT_EQ(bf16.data.size(), 8u);
  for (size_t i = 0; i < 4; ++i)
    EXPECT_EQ(word(bf16, i), bf16Expected[i]) << i;

  // u = 0.185, 0.437, 0.710, 0.757, 0.782.
  NpyArray i1 = randomInput(7, 2, {5}, DType::I1);
  EXPECT_EQ(i1.data, (std::vector<uint8_t>{1, 1, 0, 0, 0}));

  NpyArray scalar = randomInput(0, 0, {}, DType::F32);
  ASSERT_EQ(scalar.data.size(), 4u);
  EXPECT_EQ(f32Bits(scalar, 0), 0xbf1652a4u);
}

TEST(RandomInputsTest, MatchesReferenceFormula) {
  std::vector<int64_t> shape = {3, 17, 5};
  for (DType dtype : {DType::F32, DType::F16, DType::BF16, DType::I1}) {
    NpyArray array = randomInput(1234567, 3, shape, dtype);
    ASSERT_EQ(array.dtype, dtype);
    ASSERT_EQ(array.shape, shape);
    ASSERT_EQ(array.data.size(), 255 * dtypeSize(dtype));
    for (size_t i = 0; i < 255; ++i) {
      double u = referenceU(1234567, 3, shape, dtype, i);
      float expected = float(2 * u - 1);
      if (dtype == DType::F16)
        expected = roundToHalf(expected);
      else if (dtype == DType::BF16)
        expected = roundToBFloat16(expected);
      else if (dtype == DType::I1)
        expected = u < 0.5 ? 1.0f : 0.0f;
      ASSERT_EQ(valueAt(array, i), expected) << dtypeName(dtype) << " " << i;
    }
  }
}

TEST(RandomInputsTest, Deterministic) {
  for (DType dtype : {DType::F32, DType::F16, DType::BF16, DType::I1})
    EXPECT_EQ(randomInput(9, 1, {8, 8}, dtype).data,
              randomInput(9, 1, {8, 8}, dtype).data);
}

TEST(RandomInputsTest, EveryPartOfTheKeyMatters) {
  NpyArray base = randomInput(1, 0, {4, 6}, DType::F32);
  EXPECT_NE(base.data, randomInput(2, 0, {4, 6}, DType::F32).data);
  EXPECT_NE(base.data, randomInput(1, 1, {4, 6}, DType::F32).data);
  // Same element count, different shape.
  EXPECT_NE(base.data, randomInput(1, 0, {6, 4}, DType::F32).data);
  EXPECT_NE(base.data, randomInput(1, 0, {24}, DType::F32).data);
  EXPECT_NE(base.data, randomInput(1, 0, {1, 4, 6}, DType::F32).data);
  // A prefix of a longer array is not the shorter array.
  NpyArray longer = randomInput(1, 0, {4, 7}, DType::F32);
  EXPECT_FALSE(
      std::equal(base.data.begin(), base.data.end(), longer.data.begin()));
  // f16 and bf16 are not just roundings of the f32 values: the dtype is in
  // the key.
  NpyArray f16 = randomInput(1, 0, {4, 6}, DType::F16);
  NpyArray bf16 = randomInput(1, 0, {4, 6}, DType::BF16);
  unsigned sameAsF32 = 0, sameF16BF16 = 0;
  for (size_t i = 0; i < 24; ++i) {
    sameAsF32 += valueAt(f16, i) == roundToHalf(valueAt(base, i));
    sameF16BF16 += word(f16, i) == word(bf16, i);
  }
  EXPECT_LT(sameAsF32, 3u);
  EXPECT_LT(sameF16BF16, 3u);
}

TEST(RandomInputsTest, RangesAndRepresentability) {
  const size_t count = 1 << 14;
  NpyArray f32 = randomInput(5, 0, {int64_t(count)}, DType::F32);
  float lo = 1, hi = -1;
  double sum = 0;
  for (size_t i = 0; i < count; ++i) {
    float value = valueAt(f32, i);
    ASSERT_GE(value, -1.0f);
    ASSERT_LT(value, 1.0f);
    // 2u - 1 with 24-bit u lies on the grid of multiples of 2^-23.
    ASSERT_EQ(std::ldexp(value, 23), std::round(std::ldexp(value, 23)));
    lo = std::min(lo, value);
    hi = std::max(hi, value);
    sum += value;
  }
  EXPECT_LT(lo, -0.99f);
  EXPECT_GT(hi, 0.99f);
  EXPECT_LT(std::fabs(sum / count), 0.03);

  // Rounding to 16 bits can reach exactly 1.0 (from u >= 1 - 2^-10 for
  // bf16, 1 - 2^-12 for f16), so their range is [-1, 1].
  for (DType dtype : {DType::F16, DType::BF16}) {
    NpyArray array = randomInput(5, 0, {int64_t(count)}, dtype);
    for (size_t i = 0; i < count; ++i) {
      float value = valueAt(array, i);
      ASSERT_GE(value, -1.0f) << dtypeName(dtype);
      ASSERT_LE(value, 1.0f) << dtypeName(dtype);
      uint16_t bits = word(array, i);
      float widened = dtype == DType::F16 ? halfBitsToFloat(bits)
                                          : bfloat16BitsToFloat(bits);
      ASSERT_FALSE(std::isnan(widened));
      // The stored word is canonical: converting back gives it again.
      ASSERT_EQ(dtype == DType::F16 ? floatToHalfBits(widened)
                                    : floatToBFloat16Bits(widened),
                bits);
    }
  }
  NpyArray bf16 = randomInput(5, 0, {int64_t(count)}, DType::BF16);
  unsigned ones = 0;
  for (size_t i = 0; i < count; ++i)
    ones += valueAt(bf16, i) == 1.0f;
  EXPECT_GT(ones, 0u) << "expected ~16 values rounded up to 1.0";

  NpyArray i1 = randomInput(5, 0, {int64_t(count)}, DType::I1);
  size_t trues = 0;
  for (uint8_t byte : i1.data) {
    ASSERT_LE(byte, 1);
    trues += byte;
  }
  EXPECT_GT(trues, count * 45 / 100);
  EXPECT_LT(trues, count * 55 / 100);
}

TEST(RandomInputsTest, EmptyAndScalarShapes) {
  EXPECT_TRUE(randomInput(1, 0, {0, 5}, DType::F32).data.empty());
  EXPECT_EQ(randomInput(1, 0, {}, DType::F16).data.size(), 2u);
  EXPECT_EQ(randomInput(1, 0, {}, DType::I1).data.size(), 1u);
}

} // namespace
