//===- RandomInputs.h - the documented random model inputs ------*- C++ -*-===//
//
// Arguments without an input file get random values that are a documented
// function of (seed, argument position, shape, dtype) alone, so every
// device, and a model given as .ir or as a compiled file, sees the same
// inputs. The definition (docs/cli.md):
//
//   key   = mix(seed, position, dtype code, rank, extent_0, ..., extent_n-1)
//           where mix folds each 64-bit word w into h as
//           h = splitmix64(h ^ w), starting from h = 0x6174746e63 ("attnc")
//   r_i   = splitmix64(key + i)              for element i (row-major)
//   u_i   = (r_i >> 40) / 2^24               uniform in [0, 1), 24 bits
//   float dtypes: value_i = 2 * u_i - 1, rounded to the dtype (RNE);
//                 in [-1, 1) for f32, [-1, 1] for f16 and bf16, where
//                 the rounding can reach 1
//   i1:           value_i = u_i < 0.5
//
// splitmix64(x): z = x + 0x9e3779b97f4a7c15;
//   z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
//   z = (z ^ (z >> 27)) * 0x94d049bb133111eb; return z ^ (z >> 31).
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_SUPPORT_RANDOMINPUTS_H
#define ATTN_SUPPORT_RANDOMINPUTS_H

#include "attn/Support/Npy.h"

#include <cstdint>
#include <vector>

namespace attn {

uint64_t splitmix64(uint64_t x);

/// The random array for argument `position` (0-based) of the given shape
/// and dtype, as defined above, in the dtype's storage format.
NpyArray randomInput(uint64_t seed, unsigned position,
                     const std::vector<int64_t> &shape, DType dtype);

} // namespace attn

#endif // ATTN_SUPPORT_RANDOMINPUTS_H
