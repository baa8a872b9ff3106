//===- Cache.h - the on-disk cache shared by the runtime and the JIT -*- C++ -*-===//
//
// Where compiled artifacts are kept ($ATTNC_CACHE_DIR, else
// $XDG_CACHE_HOME/attnc, else ~/.cache/attnc), the hash that names them,
// and the one way to publish a file there: write a private temporary file
// in the same directory, then rename it over the final name, so a reader
// never sees a partial file and two writers racing both leave a complete
// one.
//
//===----------------------------------------------------------------------===//

#ifndef ATTNC_RUNTIME_CACHE_H
#define ATTNC_RUNTIME_CACHE_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace attnc::rt {

std::string cacheDirectory();
/// mkdir -p.
bool makeDirectories(const std::string &path);
/// FNV-1a, 64-bit, continuing from `seed`.
uint64_t fnv1a64(const void *data, size_t size,
                 uint64_t seed = 0xcbf29ce484222325ull);
std::string hex64(uint64_t value);
/// Writes `bytes` to `path` atomically (temporary file + rename).
bool publishFile(const std::string &path, const void *bytes, size_t size,
                 std::string *error);

} // namespace attnc::rt

#endif
