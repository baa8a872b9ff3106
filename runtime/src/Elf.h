//===- Elf.h - a symbol's bytes in an in-memory ELF64 image -----*- C++ -*-===//
//
// The runtime reads data that the compiler embedded in a cubin (the model's
// plan, a `__device__ const char attnc_plan[]`) without loading the cubin
// on a GPU, so that a model can be inspected on a machine with no driver.
// A cubin is a little-endian ELF64 file; this header offers the one query
// the runtime needs: where a named symbol's initialised bytes lie in the
// file. The image is untrusted input, so every offset and size taken from
// it is bounds-checked and a damaged file yields an error, never a crash.
//
//===----------------------------------------------------------------------===//

#ifndef ATTNC_RUNTIME_ELF_H
#define ATTNC_RUNTIME_ELF_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace attnc::rt {

/// Where a symbol's bytes lie in the file: `data + fileOffset` up to
/// `data + fileOffset + size`, always inside the image.
struct ElfSymbol {
  size_t fileOffset = 0;
  size_t size = 0;
};

/// Finds `name` in the .symtab (the section of type SHT_SYMTAB) of the
/// little-endian ELF64 image `data` of `size` bytes and returns where its
/// initialised bytes lie in the file. Returns false with a one-line message
/// in *error (no trailing newline, no file name: the caller knows it) for:
/// not ELF / not ELF64 / not little-endian, truncated headers or section
/// table, a section whose range runs past the end of the image, no .symtab,
/// no such symbol, a symbol in a section without file data (SHT_NOBITS),
/// or a symbol whose range runs outside its section. If several symbols
/// carry the name, the first defined one in table order wins.
bool findElfSymbol(const uint8_t *data, size_t size, const std::string &name,
                   ElfSymbol *symbol, std::string *error);

} // namespace attnc::rt

#endif // ATTNC_RUNTIME_ELF_H
