//===- NVRTCCompiler.cpp - NVRTC to a sealed model file -------------------===//
//
// Compiles the emitted module with NVRTC for one architecture. The device
// library headers are handed to NVRTC from memory (embedded at build time),
// so the compiler needs no include path at run time. The translation unit
// is the kernels followed by three data arrays (ModelFile.h): the model
// header and plan, the kernel source itself, and space for ptxas's
// resource report, which is filled in, with the checksum, once NVRTC is
// done. NVRTC's diagnostics are mapped back to the kernel op whose
// generated lines they name.
//
//===----------------------------------------------------------------------===//

#include "attn/Target/CUDA/CUDAEmitter.h"

#include "DeviceHeaders.inc"

#include "ModelFile.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Regex.h"

#include <cstdio>

#if ATTNC_HAVE_NVRTC
#include <nvrtc.h>
#endif

using namespace mlir;
using namespace attn;
using namespace attn::cuda;

bool attn::cuda::haveNVRTC() { return ATTNC_HAVE_NVRTC; }

/// `text` as a NUL-terminated `__device__` character array, padded with
/// spaces to at least `reserve` bytes. Written as string literals (split
/// into adjacent pieces, every byte outside printable ASCII and the quote
/// and backslash as a three-digit octal escape) rather than a list of
/// numbers: NVRTC parses a literal several times faster, which matters for
/// compile time.
static std::string byteArray(const std::string &name, const std::string &text,
                             size_t reserve = 0) {
  std::string padded = text;
  if (padded.size() < reserve)
    padded.append(reserve - padded.size(), ' ');
  std::string out = "extern \"C\" __device__ const char " + name + "[] =\n\"";
  out.reserve(out.size() + padded.size() * 2);
  size_t column = 0;
  for (unsigned char byte : padded) {
    if (byte >= 0x20 && byte < 0x7f && byte != '"' && byte != '\\' &&
        byte != '?') {
      out += char(byte);
      ++column;
    } else {
      char escape[5];
      std::snprintf(escape, sizeof escape, "\\%03o", byte);
      out += escape;
      column += 4;
    }
    if (column >= 4000) {
      out += "\"\n\"";
      column = 0;
    }
  }
  out += "\";\n";
  return out;
}

/// ptxas's report (from -v) as one line per kernel, with the special
/// instructions the kernel's code uses:
///   attnc_k0 registers 40 shared 0 stack 0 spill_stores 0 spill_loads 0
///   uses mma.sync.m16n8k16,ldmatrix,cp.async
static std::string summarizeResources(const std::string &log,
                                      const EmittedModule &module) {
  std::string summary;
  llvm::Regex function("Function properties for ([A-Za-z0-9_]+)");
  llvm::Regex frame("([0-9]+) bytes stack frame, ([0-9]+) bytes spill stores, "
                    "([0-9]+) bytes spill loads");
  llvm::Regex used("Used ([0-9]+) registers(.*)");
  llvm::Regex smem("([0-9]+) bytes smem");
  std::string kernel, stack = "0", stores = "0", loads = "0";
  llvm::SmallVector<llvm::StringRef> lines;
  llvm::StringRef(log).split(lines, '\n');
  for (llvm::StringRef line : lines) {
    llvm::SmallVector<llvm::StringRef> m;
    if (function.match(line, &m)) {
      kernel = m[1].str();
    } else if (frame.match(line, &m)) {
      stack = m[1].str();
      stores = m[2].str();
      loads = m[3].str();
    } else if (used.match(line, &m) && !kernel.empty()) {
      std::string shared = "0";
      llvm::SmallVector<llvm::StringRef> s;
      if (smem.match(m[2], &s))
        shared = s[1].str();
      std::string uses = "-";
      for (size_t i = 0; i < module.kernelNames.size(); ++i)
        if (module.kernelNames[i] == kernel && !module.instructions[i].empty())
          uses = module.instructions[i];
      summary += kernel + " registers " + m[1].str() + " shared " + shared +
                 " stack " + stack + " spill_stores " + stores +
                 " spill_loads " + loads + " uses " + uses + "\n";
      kernel.clear();
    }
  }
  return summary;
}

#if ATTNC_HAVE_NVRTC
/// Reports NVRTC's log: each error line at the kernel op that produced the
/// line it names, anything else at `loc`.
static void reportLog(const EmittedModule &module, const std::string &log,
                      Location loc) {
  llvm::Regex where("model\\.cu\\(([0-9]+)\\): (error|warning)[^:]*: (.*)");
  bool reported = false;
  llvm::SmallVector<llvm::StringRef> lines;
  llvm::StringRef(log).split(lines, '\n');
  for (llvm::StringRef line : lines) {
    llvm::SmallVector<llvm::StringRef> m;
    if (!where.match(line, &m) || m[2] != "error")
      continue;
    unsigned number = 0;
    m[1].getAsInteger(10, number);
    Location at = loc;
    std::string kernel = "the module prologue";
    for (const SourceSpan &span : module.spans)
      if (number >= span.firstLine && number <= span.lastLine) {
        at = span.loc;
        kernel = span.kernel;
      }
    emitError(at) << "NVRTC rejected the CUDA generated for this op ("
                  << kernel << ", line " << number
                  << " of --emit=cuda): " << m[3];
    reported = true;
  }
  if (!reported)
    emitError(loc) << "NVRTC failed: "
                   << llvm::StringRef(log).trim().split('\n').first;
}

static bool check(nvrtcResult result, const char *what, Location loc) {
  if (result == NVRTC_SUCCESS)
    return true;
  emitError(loc) << what << " failed: " << nvrtcGetErrorString(result);
  return false;
}
#endif

FailureOr<CompiledModule>
attn::cuda::compileModule(const EmittedModule &module,
                          const CompileOptions &options, Location loc) {
#if !ATTNC_HAVE_NVRTC
  (void)module;
  (void)options;
  return emitError(loc) << "this attnc was built without NVRTC (the CUDA "
                           "toolkit was not found); install it and rebuild "
                           "to produce cubins";
#else
  std::string unit = module.source;
  unit += "\n// Embedded model data (see runtime/src/ModelFile.h).\n";
  unit += byteArray("attnc_model", attnc::rt::modelHeader() + module.plan);
  unit += byteArray("attnc_source", module.source);
  unit += byteArray("attnc_resources", "", attnc::rt::kResourceReserve);

  const char *headers[] = {kDeviceHeader, kNumericsHeader, kMmaHeader,
                           kWarpgroupHeader};
  const char *names[] = {"attnc/device.h", "attnc/numerics.h", "attnc/mma.h",
                         "attnc/warpgroup.h"};
  const int numHeaders = sizeof headers / sizeof headers[0];
  nvrtcProgram program;
  if (!check(nvrtcCreateProgram(&program, unit.c_str(), "model.cu", numHeaders,
                                headers, names),
             "nvrtcCreateProgram", loc))
    return failure();
  std::string arch = "--gpu-architecture=" + options.arch;
  const char *flags[] = {arch.c_str(), "--std=c++17", "--ptxas-options=-v",
                         "--device-as-default-execution-space"};
  nvrtcResult compiled = nvrtcCompileProgram(program, 4, flags);
  size_t logSize = 0;
  nvrtcGetProgramLogSize(program, &logSize);
  std::string log(logSize, '\0');
  if (logSize)
    nvrtcGetProgramLog(program, log.data());
  if (compiled != NVRTC_SUCCESS) {
    reportLog(module, log, loc);
    nvrtcDestroyProgram(&program);
    return failure();
  }
  CompiledModule result;
  size_t size = 0;
  bool got = check(nvrtcGetCUBINSize(program, &size), "nvrtcGetCUBINSize", loc);
  if (got) {
    result.cubin.resize(size);
    got = check(nvrtcGetCUBIN(program, result.cubin.data()), "nvrtcGetCUBIN",
                loc);
  }
  nvrtcDestroyProgram(&program);
  if (!got)
    return failure();
  result.resources = summarizeResources(log, module);

  if (options.wantPTX) {
    // PTX needs a virtual architecture: compile again for compute_XX.
    std::string virtualArch =
        "--gpu-architecture=compute_" + options.arch.substr(3);
    nvrtcProgram ptxProgram;
    if (!check(nvrtcCreateProgram(&ptxProgram, module.source.c_str(),
                                  "model.cu", numHeaders, headers, names),
               "nvrtcCreateProgram", loc))
      return failure();
    const char *ptxFlags[] = {virtualArch.c_str(), "--std=c++17",
                              "--device-as-default-execution-space"};
    if (nvrtcCompileProgram(ptxProgram, 3, ptxFlags) != NVRTC_SUCCESS) {
      nvrtcDestroyProgram(&ptxProgram);
      return emitError(loc) << "NVRTC failed to produce PTX";
    }
    size_t ptxSize = 0;
    nvrtcGetPTXSize(ptxProgram, &ptxSize);
    result.ptx.resize(ptxSize);
    nvrtcGetPTX(ptxProgram, result.ptx.data());
    if (!result.ptx.empty() && result.ptx.back() == '\0')
      result.ptx.pop_back();
    nvrtcDestroyProgram(&ptxProgram);
  }

  std::string error;
  if (!attnc::rt::sealModelFile(result.cubin, result.resources, &error))
    return emitError(loc) << "cannot finish the model file: " << error;
  return result;
#endif
}
