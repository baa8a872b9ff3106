//===- ModelFile.cpp - sealing and checking model files -------------------===//
//
// See ModelFile.h. The embedded arrays are NUL-terminated C strings; their
// text is read up to the first NUL inside the symbol's bytes.
//
//===----------------------------------------------------------------------===//

#include "ModelFile.h"

#include "Cache.h"
#include "Elf.h"

#include <algorithm>
#include <cstring>

using namespace attnc::rt;

static const char kChecksumKey[] = "checksum ";

std::string attnc::rt::modelHeader() {
  return "attnc-model " + std::to_string(kModelFormatVersion) + "\n" +
         kChecksumKey + std::string(16, '0') + "\n";
}

bool attnc::rt::locateModelSections(const std::vector<char> &file,
                                    ModelSections *sections,
                                    std::string *error) {
  auto data = reinterpret_cast<const uint8_t *>(file.data());
  ElfSymbol model, source, resources;
  std::string why;
  if (!findElfSymbol(data, file.size(), "attnc_model", &model, &why)) {
    *error = "not an attnc model file (" + why + ")";
    return false;
  }
  if (!findElfSymbol(data, file.size(), "attnc_source", &source, &why) ||
      !findElfSymbol(data, file.size(), "attnc_resources", &resources, &why)) {
    *error = "damaged attnc model file (" + why + ")";
    return false;
  }
  sections->modelOffset = model.fileOffset;
  sections->modelSize = model.size;
  sections->sourceOffset = source.fileOffset;
  sections->sourceSize = source.size;
  sections->resourcesOffset = resources.fileOffset;
  sections->resourcesSize = resources.size;
  // "attnc-model N\nchecksum XXXXXXXXXXXXXXXX\n"
  const char *text = file.data() + model.fileOffset;
  std::string head(text, std::min<size_t>(model.size, 64));
  size_t line = head.find('\n');
  if (head.rfind("attnc-model ", 0) != 0 || line == std::string::npos) {
    *error = "not an attnc model file (no model header)";
    return false;
  }
  int version = std::atoi(head.c_str() + 12);
  if (version != kModelFormatVersion) {
    *error = "model file format version " + std::to_string(version) +
             ", but this runtime reads version " +
             std::to_string(kModelFormatVersion) +
             "; recompile the model with a matching attnc";
    return false;
  }
  size_t key = line + 1;
  if (head.compare(key, sizeof kChecksumKey - 1, kChecksumKey) != 0 ||
      key + sizeof kChecksumKey - 1 + 16 > head.size()) {
    *error = "damaged attnc model file (no checksum)";
    return false;
  }
  sections->checksumOffset = model.fileOffset + key + sizeof kChecksumKey - 1;
  return true;
}

uint64_t attnc::rt::modelChecksum(const std::vector<char> &file,
                                  size_t checksumOffset) {
  static const char zeros[17] = "0000000000000000";
  size_t end = std::min(checksumOffset + 16, file.size());
  uint64_t hash = fnv1a64(file.data(), std::min(checksumOffset, file.size()));
  hash = fnv1a64(zeros, end - std::min(checksumOffset, end), hash);
  return fnv1a64(file.data() + end, file.size() - end, hash);
}

bool attnc::rt::sealModelFile(std::vector<char> &file,
                              const std::string &resources,
                              std::string *error) {
  ModelSections sections;
  if (!locateModelSections(file, &sections, error))
    return false;
  // Keep the final NUL of the reserved array.
  size_t room = sections.resourcesSize ? sections.resourcesSize - 1 : 0;
  std::string text = resources.substr(0, room);
  std::memset(file.data() + sections.resourcesOffset, ' ', room);
  std::memcpy(file.data() + sections.resourcesOffset, text.data(), text.size());
  std::string digits = hex64(modelChecksum(file, sections.checksumOffset));
  std::memcpy(file.data() + sections.checksumOffset, digits.data(), 16);
  return true;
}

/// The NUL-terminated text at [offset, offset + size).
static std::string cString(const std::vector<char> &file, size_t offset,
                           size_t size) {
  const char *begin = file.data() + offset;
  const char *end = static_cast<const char *>(std::memchr(begin, 0, size));
  return std::string(begin, end ? end : begin + size);
}

bool attnc::rt::readModelContents(const std::vector<char> &file,
                                  ModelContents *contents,
                                  std::string *error) {
  ModelSections sections;
  if (!locateModelSections(file, &sections, error))
    return false;
  std::string stored(file.data() + sections.checksumOffset, 16);
  std::string actual = hex64(modelChecksum(file, sections.checksumOffset));
  if (stored != actual) {
    *error = "model file is corrupted: checksum " + stored +
             " does not match its contents (" + actual +
             "); recompile or copy it again";
    return false;
  }
  std::string model = cString(file, sections.modelOffset, sections.modelSize);
  size_t planStart = model.find('\n', model.find('\n') + 1);
  contents->plan = planStart == std::string::npos ? "" : model.substr(planStart + 1);
  contents->source = cString(file, sections.sourceOffset, sections.sourceSize);
  std::string resources =
      cString(file, sections.resourcesOffset, sections.resourcesSize);
  size_t last = resources.find_last_not_of(' ');
  contents->resources = last == std::string::npos ? "" : resources.substr(0, last + 1);
  return true;
}
