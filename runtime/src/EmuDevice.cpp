//===- EmuDevice.cpp - running a model's CUDA source on the CPU -----------===//
//
// The emu device compiles the exact CUDA source embedded in the model file
// with the host C++ compiler, against the emulation layer (threads as
// fibers, per-block shared memory, warp collectives, grid barriers), into
// a shared library that it loads with dlopen. The library is cached on
// disk under a key hashing the source, the headers and the compiler
// command, and published with an atomic rename, so two processes compiling
// the same model at once both end up with a complete file. Buffers are
// plain host memory.
//
//===----------------------------------------------------------------------===//

#include "Cache.h"
#include "Device.h"

#include "EmuHeaders.inc"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <fstream>
#include <map>
#include <sys/stat.h>
#include <unistd.h>

using namespace attnc::rt;

namespace {

using LaunchFn = int (*)(void (*)(void **), void **, unsigned, unsigned,
                         unsigned, unsigned, unsigned, unsigned, size_t, int,
                         char *, size_t);
using ThunkFn = void (*)(void **);

bool onPath(const std::string &program) {
  std::string command = "command -v '" + program + "' >/dev/null 2>&1";
  return std::system(command.c_str()) == 0;
}

/// $ATTNC_HOST_CXX, else the first of c++, clang++, g++ on PATH.
std::string hostCompiler() {
  if (const char *cxx = std::getenv("ATTNC_HOST_CXX"); cxx && *cxx)
    return cxx;
  for (const char *candidate : {"c++", "clang++", "g++"})
    if (onPath(candidate))
      return candidate;
  return "";
}

bool writeFile(const std::string &path, const std::string &text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  return bool(out.flush());
}

std::string readHead(const std::string &path, size_t lines) {
  std::ifstream in(path);
  std::string text, line;
  for (size_t i = 0; i < lines && std::getline(in, line); ++i)
    text += (i ? " | " : "") + line;
  return text;
}

class EmuDevice : public Device {
public:
  ~EmuDevice() override {
    for (auto &[address, memory] : allocations)
      std::free(memory);
    // The library stays loaded: kernels may be referenced by a launch that
    // failed halfway, and unloading buys nothing in a short-lived session.
  }

  Failure load(const LoadedModel &model) override {
    std::string compiler = hostCompiler();
    bool found = !compiler.empty() &&
                 (compiler.find('/') != std::string::npos
                      ? access(compiler.c_str(), X_OK) == 0
                      : onPath(compiler));
    if (!found)
      return {ATTNC_NO_COMPILER,
              "the emu device compiles the model's kernels with a host C++ "
              "compiler, and none was found (tried " +
                  (compiler.empty() ? std::string("c++, clang++, g++")
                                    : compiler) +
                  "); install one or set ATTNC_HOST_CXX"};
    // CUDA code reads memory through other types (float4 over floats,
    // fragments over halves), which C++'s aliasing rules do not allow.
    const std::string flags =
        "-std=c++17 -O1 -fno-strict-aliasing -fPIC -shared -DATTNC_EMU";
    std::string keyText = model.contents.source + kEmuHeader +
                          kDeviceHeader + kNumericsHeader + kMmaHeader +
                          kWarpgroupHeader +
                          compiler + flags;
    std::string key = hex64(fnv1a64(keyText.data(), keyText.size()));
    std::string directory = cacheDirectory() + "/emu";
    std::string library = directory + "/" + key + ".so";
    if (access(library.c_str(), R_OK) != 0) {
      if (Failure f = compile(model, compiler, flags, directory, library))
        return f;
    }
    handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle)
      return {ATTNC_INTERNAL, std::string("cannot load the compiled kernels: ") +
                                  dlerror()};
    launchFn = reinterpret_cast<LaunchFn>(dlsym(handle, "attnc_emu_launch"));
    if (!launchFn)
      return {ATTNC_INTERNAL, "the compiled kernels lack attnc_emu_launch"};
    for (const PlanStep &step : model.plan.steps) {
      if (step.op != PlanStep::Op::Launch)
        continue;
      auto thunk = reinterpret_cast<ThunkFn>(
          dlsym(handle, (step.kernel + "_emu").c_str()));
      if (!thunk)
        return {ATTNC_CORRUPT_MODEL, "the model's source has no kernel '" +
                                         step.kernel + "'"};
      thunks[step.kernel] = thunk;
    }
    return Failure::ok();
  }

  Failure compile(const LoadedModel &model, const std::string &compiler,
                  const std::string &flags, const std::string &directory,
                  const std::string &library) {
    if (!makeDirectories(directory))
      return {ATTNC_IO_ERROR, "cannot create the kernel cache " + directory};
    // A private scratch directory: concurrent compilers never share files.
    std::string pattern = directory + "/build-XXXXXX";
    std::vector<char> scratch(pattern.begin(), pattern.end());
    scratch.push_back('\0');
    if (!mkdtemp(scratch.data()))
      return {ATTNC_IO_ERROR, "cannot create a directory in " + directory};
    std::string work = scratch.data();
    mkdir((work + "/attnc").c_str(), 0755);
    bool written = writeFile(work + "/kernels.cpp", model.contents.source) &&
                   writeFile(work + "/attnc/device.h", kDeviceHeader) &&
                   writeFile(work + "/attnc/numerics.h", kNumericsHeader) &&
                   writeFile(work + "/attnc/mma.h", kMmaHeader) &&
                   writeFile(work + "/attnc/warpgroup.h", kWarpgroupHeader) &&
                   writeFile(work + "/attnc/emu.h", kEmuHeader);
    if (!written)
      return {ATTNC_IO_ERROR, "cannot write the kernel source to " + work};
    std::string output = work + "/kernels.so", log = work + "/log";
    std::string command = compiler + " " + flags + " -I'" + work + "' '" +
                          work + "/kernels.cpp' -o '" + output + "' > '" + log +
                          "' 2>&1";
    int status = std::system(command.c_str());
    Failure result = Failure::ok();
    if (status != 0)
      result = {ATTNC_NO_COMPILER,
                "the host compiler (" + compiler + ") rejected the model's "
                "kernels: " + readHead(log, 3)};
    else if (std::rename(output.c_str(), library.c_str()) != 0)
      result = {ATTNC_IO_ERROR, "cannot publish the compiled kernels to " +
                                    library};
    for (const char *file : {"/kernels.cpp", "/attnc/device.h",
                             "/attnc/numerics.h", "/attnc/mma.h",
                             "/attnc/warpgroup.h",
                             "/attnc/emu.h", "/log", "/kernels.so"})
      std::remove((work + file).c_str());
    rmdir((work + "/attnc").c_str());
    rmdir(work.c_str());
    return result;
  }

  Failure allocate(size_t bytes, uint64_t *address) override {
    void *memory = std::calloc(bytes ? bytes : 1, 1);
    if (!memory)
      return {ATTNC_DEVICE_ERROR, "out of host memory"};
    *address = reinterpret_cast<uint64_t>(memory);
    allocations[*address] = memory;
    return Failure::ok();
  }
  void free(uint64_t address) override {
    auto it = allocations.find(address);
    if (it != allocations.end()) {
      std::free(it->second);
      allocations.erase(it);
    }
  }
  Failure toDevice(uint64_t to, const void *from, size_t bytes,
                   void *) override {
    std::memcpy(reinterpret_cast<void *>(to), from, bytes);
    return Failure::ok();
  }
  Failure toHost(void *to, uint64_t from, size_t bytes, void *) override {
    std::memcpy(to, reinterpret_cast<const void *>(from), bytes);
    return Failure::ok();
  }
  Failure copy(uint64_t to, uint64_t from, size_t bytes, void *) override {
    std::memcpy(reinterpret_cast<void *>(to),
                reinterpret_cast<const void *>(from), bytes);
    return Failure::ok();
  }
  Failure zero(uint64_t address, size_t bytes, void *) override {
    std::memset(reinterpret_cast<void *>(address), 0, bytes);
    return Failure::ok();
  }
  Failure launch(const PlanStep &step, const std::vector<uint64_t> &args,
                 void *) override {
    std::vector<void *> pointers;
    for (uint64_t arg : args)
      pointers.push_back(reinterpret_cast<void *>(arg));
    // The emulation's tensor maps (attnc/warpgroup.h, attnc_tensor_map):
    // base, rows, columns, row stride in bytes, box rows, box columns,
    // slices.
    struct alignas(64) TensorMap {
      unsigned long long words[16];
    };
    std::vector<TensorMap> maps(step.maps.size());
    for (size_t i = 0; i < step.maps.size(); ++i) {
      const TensorMapDesc &m = step.maps[i];
      unsigned long long *w = maps[i].words;
      std::fill(w, w + 16, 0ull);
      w[0] = args[m.arg];
      w[1] = (unsigned long long)m.rows;
      w[2] = (unsigned long long)m.cols;
      w[3] = (unsigned long long)m.cols * 2;
      w[4] = (unsigned long long)m.boxRows;
      w[5] = (unsigned long long)m.boxCols;
      w[6] = (unsigned long long)m.outer;
      pointers.push_back(maps[i].words);
    }
    std::vector<long long> scalars(step.scalars.begin(), step.scalars.end());
    for (long long &value : scalars)
      pointers.push_back(&value);
    char error[512] = "";
    int status = launchFn(thunks.at(step.kernel), pointers.data(), step.grid[0],
                          step.grid[1], step.grid[2], step.block[0],
                          step.block[1], step.block[2], step.dynamicShared,
                          step.cooperative ? 1 : 0, error, sizeof error);
    if (status != 0)
      return {ATTNC_DEVICE_ERROR, "emulated launch of " + step.kernel + " (" +
                                      step.kind + ") failed: " + error};
    return Failure::ok();
  }
  Failure synchronize(void *) override { return Failure::ok(); }
  Failure startTimer(void *) override {
    timerStart = std::chrono::steady_clock::now();
    return Failure::ok();
  }
  Failure stopTimer(void *, double *milliseconds) override {
    std::chrono::duration<double, std::milli> elapsed =
        std::chrono::steady_clock::now() - timerStart;
    *milliseconds = elapsed.count();
    return Failure::ok();
  }

private:
  std::chrono::steady_clock::time_point timerStart;
  void *handle = nullptr;
  LaunchFn launchFn = nullptr;
  std::map<std::string, ThunkFn> thunks;
  std::map<uint64_t, void *> allocations;
};

} // namespace

std::unique_ptr<Device> attnc::rt::createEmuDevice(Failure *failure) {
  (void)failure;
  return std::make_unique<EmuDevice>();
}
