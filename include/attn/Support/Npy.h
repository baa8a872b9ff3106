//===- Npy.h - reading and writing .npy files -------------------*- C++ -*-===//
//
// Model inputs and outputs travel as numpy .npy files (format versions 1.0,
// 2.0 and 3.0 read; 1.0 written). Supported dtypes and their descr strings:
//
//   f32  '<f4'      f16  '<f2'      i1  '|b1' (read: also '<b1', 'b1')
//   bf16 '|V2'      raw 2-byte little-endian words holding the upper half of
//                   the f32 bit pattern; numpy loads them as void and
//                   `a.view('<u2')` recovers the bits (see docs/cli.md).
//                   '|V2' is how numpy spells a 2-byte void; '<V2' is
//                   read too.
//
// Only C-order (fortran_order False) little-endian arrays are accepted;
// anything else is reported, never guessed. i1 bytes that are not 0 are
// read as 1, as numpy itself treats them.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_SUPPORT_NPY_H
#define ATTN_SUPPORT_NPY_H

#include "attn/Support/DType.h"

#include <cstdint>
#include <string>
#include <vector>

namespace attn {

/// A dense host array: raw element bytes in row-major order.
struct NpyArray {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data; // numElements(shape) * dtypeSize(dtype) bytes
};

/// Reads `path`. On failure returns false and sets `error` to one line
/// naming the file and what is wrong with it (missing, truncated, bad
/// magic, unsupported dtype, fortran order, size mismatch).
bool readNpy(const std::string &path, NpyArray &array, std::string &error);

/// Writes `array` to `path` atomically: into a temporary file in the same
/// directory, then renamed over `path`, so a reader never sees a partial
/// file. On failure returns false and sets `error`.
bool writeNpy(const std::string &path, const NpyArray &array,
              std::string &error);

/// Serialises to / parses from memory (used by the file functions and
/// tests). `parseNpy` uses `name` in its messages.
std::vector<uint8_t> serializeNpy(const NpyArray &array);
bool parseNpy(const std::vector<uint8_t> &bytes, const std::string &name,
              NpyArray &array, std::string &error);

} // namespace attn

#endif // ATTN_SUPPORT_NPY_H
