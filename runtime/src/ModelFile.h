//===- ModelFile.h - what model.cubin holds besides the kernels -*- C++ -*-===//
//
// A model file is a genuine cubin (cuModuleLoadData accepts it as is) into
// which the compiler embeds three `__device__` character arrays:
//
//   attnc_model      "attnc-model 1\nchecksum <16 hex>\n" + the launch plan
//   attnc_source     the kernels' CUDA source, for the emulation device
//   attnc_resources  ptxas's per-kernel report, written after compilation
//                    into space reserved for it
//
// The checksum is FNV-1a (64-bit) over the whole file with the 16 hex
// digits read as '0', so any damage to the file (kernels included) is
// caught before a driver sees it. Shared by the compiler (which seals the
// file) and the runtime (which checks it); no MLIR, no CUDA.
//
//===----------------------------------------------------------------------===//

#ifndef ATTNC_RUNTIME_MODELFILE_H
#define ATTNC_RUNTIME_MODELFILE_H

#include <cstdint>
#include <string>
#include <vector>

namespace attnc::rt {

constexpr int kModelFormatVersion = 1;
/// Bytes reserved for ptxas's report of `kernels` kernels (one line of
/// about 80 bytes each). Sized to the module: every byte of the reserve
/// is an initializer NVRTC compiles.
constexpr size_t resourceReserve(size_t kernels) {
  return 1024 + 256 * kernels;
}

/// The three embedded symbols' places in the file.
struct ModelSections {
  size_t modelOffset = 0, modelSize = 0;
  size_t sourceOffset = 0, sourceSize = 0;
  size_t resourcesOffset = 0, resourcesSize = 0;
  size_t checksumOffset = 0; // the 16 hex digits
};

/// Finds the sections and the checksum field; fails on a file that is not
/// an attnc model (with the reason).
bool locateModelSections(const std::vector<char> &file, ModelSections *sections,
                         std::string *error);

/// FNV-1a over `file` with the checksum digits read as '0'.
uint64_t modelChecksum(const std::vector<char> &file, size_t checksumOffset);

/// Writes ptxas's report into the reserved space (truncated to fit, the rest
/// blank) and then the checksum: the last step of producing a model file.
bool sealModelFile(std::vector<char> &file, const std::string &resources,
                   std::string *error);

struct ModelContents {
  std::string plan;      // launch plan text
  std::string source;    // CUDA source of the kernels
  std::string resources; // ptxas report
};

/// Checks the format version and checksum and returns the embedded texts.
bool readModelContents(const std::vector<char> &file, ModelContents *contents,
                       std::string *error);

/// The start of the text the compiler embeds as attnc_model: the header
/// with a zero checksum, then the plan.
std::string modelHeader();

} // namespace attnc::rt

#endif // ATTNC_RUNTIME_MODELFILE_H
