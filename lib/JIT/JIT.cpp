//===- JIT.cpp - attnc_jit_compile: in-process compilation with a cache ---===//
//
// The compiler is keyed by its own bytes: the hash of the shared library
// this code lives in (found through dladdr) changes whenever any part of
// the compiler does, so a rebuilt attnc never reuses a stale cached model.
// The key also covers the IR text, the architecture and the options.
//
//===----------------------------------------------------------------------===//

#include "attnc/jit.h"

#include "attn/Driver/Driver.h"

#include "Cache.h"

#include <dlfcn.h>
#include <fstream>
#include <iterator>

using namespace attnc::rt;

/// Hash of the file holding this function (the JIT library or the
/// executable it is linked into).
static uint64_t compilerIdentity() {
  static uint64_t identity = [] {
    Dl_info info;
    if (!dladdr(reinterpret_cast<void *>(&compilerIdentity), &info) ||
        !info.dli_fname)
      return uint64_t(0);
    std::ifstream in(info.dli_fname, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                            std::istreambuf_iterator<char>());
    return fnv1a64(bytes.data(), bytes.size());
  }();
  return identity;
}

extern "C" attnc_status attnc_jit_compile(const char *ir, size_t size,
                                          const char *name, const char *arch,
                                          attnc_model *model) {
  if (!ir || !model)
    return attnc_status_create(ATTNC_INVALID_ARGUMENT,
                               "null IR text or model handle");
  std::string target = arch ? arch : "";
  // For the GPU present: its architecture and SM count (a persistent
  // recurrence takes at most one block per SM, all resident at once).
  int sms = 0;
  if (target.empty()) {
    char found[32];
    attnc_status status = attnc_cuda_device_arch(0, found, sizeof found);
    target = status ? "sm_90" : found;
    if (!status)
      status = attnc_cuda_device_sms(0, &sms);
    if (status)
      sms = 0;
    attnc_status_release(status);
  }
  std::string options =
      "arch=" + target + ";sms=" + std::to_string(sms) + ";format=1";
  uint64_t key = fnv1a64(ir, size);
  key = fnv1a64(options.data(), options.size(), key);
  uint64_t compiler = compilerIdentity();
  key = fnv1a64(&compiler, sizeof compiler, key);
  std::string path = cacheDirectory() + "/models/" + hex64(key) + ".cubin";

  // A cached file is used only if it loads cleanly (checksum included);
  // otherwise it is rebuilt and replaced.
  if (attnc_status status = attnc_model_load(path.c_str(), model); !status)
    return nullptr;
  else
    attnc_status_release(status);

  std::vector<char> file;
  std::string error;
  if (!attn::driver::compileToModelFile(llvm::StringRef(ir, size),
                                        name ? name : "model.ir", target,
                                        /*entry=*/"", file, error, "3xtf32",
                                        sms)) {
    return attnc_status_create(ATTNC_INVALID_ARGUMENT, error.c_str());
  }
  std::string publishError;
  // A failed publish only costs the cache; the model is still returned.
  publishFile(path, file.data(), file.size(), &publishError);
  return attnc_model_load_memory(file.data(), file.size(), model);
}
