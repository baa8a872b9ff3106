//===- NVRTCCompiler.cpp - NVRTC to a sealed model file -------------------===//
//
// Compiles the emitted module with NVRTC for one architecture. The device
// library headers are handed to NVRTC from memory (embedded at build time),
// so the compiler needs no include path at run time. The kernels are split
// over several NVRTC programs compiled on parallel threads, whose
// relocatable cubins nvJitLink joins (one program, and no link, with -j 1
// or without nvJitLink). Three data arrays (ModelFile.h) go in as well:
// the model header and plan, the kernel source itself, and space for
// ptxas's resource report, which is filled in, with the checksum, once
// NVRTC is done. They are PTX for the link, or part of the one program. NVRTC's diagnostics are mapped back to the kernel op whose
// generated lines they name.
//
//===----------------------------------------------------------------------===//

#include "attn/Target/CUDA/CUDAEmitter.h"

#include "DeviceHeaders.inc"

#include "ModelFile.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Regex.h"

#include <cstdio>

#if ATTNC_HAVE_NVRTC
#include <nvrtc.h>
#endif
#if ATTNC_HAVE_NVJITLINK
#include <nvJitLink.h>
#endif

#include <algorithm>
#include <chrono>
#include <thread>

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

/// The same array as a PTX global for nvJitLink, in 64-bit words (the
/// bytes in order, little-endian, zero-padded past the NUL). ptxas takes
/// such a list in about a third of the time NVRTC takes for the string
/// literal; with the data linked this way, no NVRTC program carries it.
static std::string ptxByteArray(const std::string &name, const std::string &text,
                                size_t reserve = 0) {
  std::string bytes = text;
  if (bytes.size() < reserve)
    bytes.append(reserve - bytes.size(), ' ');
  bytes.push_back('\0');
  bytes.append((8 - bytes.size() % 8) % 8, '\0');
  std::string out = ".visible .global .align 8 .b64 " + name + "[" +
                    std::to_string(bytes.size() / 8) + "] = {";
  out.reserve(out.size() + bytes.size() * 3);
  for (size_t i = 0; i < bytes.size(); i += 8) {
    uint64_t word = 0;
    for (int b = 7; b >= 0; --b)
      word = (word << 8) | uint64_t((unsigned char)bytes[i + b]);
    char hex[24];
    std::snprintf(hex, sizeof hex, "%s0x%llx", i ? "," : "",
                  (unsigned long long)word);
    out += hex;
    if (i % 256 == 248)
      out += '\n';
  }
  out += "};\n";
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
  // Lines every program shares (the prologue) fail in each: once is enough.
  llvm::StringSet<> seen;
  for (llvm::StringRef line : lines) {
    llvm::SmallVector<llvm::StringRef> m;
    if (!where.match(line, &m) || m[2] != "error" || !seen.insert(line).second)
      continue;
    unsigned number = 0;
    m[1].getAsInteger(10, number);
    Location at = loc;
    std::string kernel = "the module prologue";
    for (const std::vector<SourceSpan> *spans : {&module.spans, &module.opSpans})
      for (const SourceSpan &span : *spans)
        if (number >= span.firstLine && number <= span.lastLine) {
          at = span.loc;
          kernel = span.kernel;
        }
    emitError(at) << "NVRTC rejected the CUDA generated for this op ("
                  << kernel << ", line " << number
                  << " of --emit=cuda): " << m[3];
    reported = true;
  }
  if (!reported) {
    // No line of the source named: the first line that says what failed
    // (ptxas, say), not the first of the log.
    llvm::StringRef first = llvm::StringRef(log).trim().split('\n').first;
    for (llvm::StringRef line : lines)
      if (line.contains("error") || line.contains("failed")) {
        first = line.trim();
        break;
      }
    emitError(loc) << "NVRTC failed: " << first;
  }
}

static bool check(nvrtcResult result, const char *what, Location loc) {
  if (result == NVRTC_SUCCESS)
    return true;
  emitError(loc) << what << " failed: " << nvrtcGetErrorString(result);
  return false;
}
#endif

#if ATTNC_HAVE_NVRTC
/// ptxas serialises a kernel's wgmma instructions (warning C7512) when it
/// cannot keep their accumulators in registers: the kernel still runs,
/// at a fraction of its speed. Said as a warning at the kernel's op.
static void warnSerializedWgmma(const std::string &log,
                                const EmittedModule &module, Location loc) {
  // C7512 (registers) says "for the function", C7510 and C7515 (other
  // causes) "in the function".
  llvm::Regex serialized("wgmma.mma_async instructions are serialized due to "
                         "([^']*) (for|in) the function '([A-Za-z0-9_]+)'");
  llvm::SmallVector<llvm::StringRef> lines;
  llvm::StringRef(log).split(lines, '\n');
  for (llvm::StringRef line : lines) {
    llvm::SmallVector<llvm::StringRef> m;
    if (!serialized.match(line, &m))
      continue;
    Location at = loc;
    for (const SourceSpan &span : module.spans)
      if (span.kernel == m[3])
        at = span.loc;
    emitWarning(at) << "ptxas serialised the wgmma instructions of " << m[3]
                    << " (" << llvm::StringRef(m[1]).trim()
                    << "): it runs far below the tensor cores' rate";
  }
}

/// Warns when ptxas ignored a kernel's setmaxnreg (C7504, C7508): the
/// kernel still runs, with the launch bound's registers everywhere.
static void warnIgnoredSetmaxnreg(const std::string &log, Location loc) {
  llvm::SmallVector<llvm::StringRef> lines;
  llvm::StringRef(log).split(lines, '\n');
  for (llvm::StringRef line : lines)
    if (line.contains("'setmaxnreg' ignored")) {
      size_t at = line.find("(C75");
      emitWarning(loc) << "ptxas ignored setmaxnreg: "
                       << line.substr(at == llvm::StringRef::npos ? 0 : at).trim();
      return;
    }
}

/// Refuses a kernel whose setmaxnreg limits need more registers than
/// ptxas gave it per thread (module.minRegisters): on the GPU its
/// consumers' setmaxnreg.inc would wait for them forever. (ptxas gives
/// such a kernel its launch bound's limit; this holds it to that.)
static LogicalResult checkRegisterPools(const std::string &resources,
                                        const EmittedModule &module,
                                        Location loc) {
  for (size_t i = 0; i < module.kernelNames.size(); ++i) {
    if (module.minRegisters[i] == 0)
      continue;
    llvm::Regex used("(^|\n)" + module.kernelNames[i] + " registers ([0-9]+)");
    llvm::SmallVector<llvm::StringRef> m;
    int64_t registers = 0;
    bool reported = used.match(resources, &m) &&
                    !m[2].getAsInteger(10, registers);
    if (reported && registers >= module.minRegisters[i])
      continue;
    Location at = loc;
    for (const SourceSpan &span : module.spans)
      if (span.kernel == module.kernelNames[i])
        at = span.loc;
    if (!reported)
      return emitError(at) << "ptxas reported no register count for "
                           << module.kernelNames[i]
                           << ", whose setmaxnreg limits need "
                           << module.minRegisters[i] << " per thread";
    return emitError(at) << "ptxas gave " << module.kernelNames[i] << " "
                         << registers << " registers per thread, fewer than "
                         << "the " << module.minRegisters[i]
                         << " its setmaxnreg limits take from the block: on "
                            "the GPU it would wait for them forever";
  }
  return success();
}

namespace {
/// One NVRTC program's outcome.
struct Program {
  std::string text;
  bool ok = false;
  std::vector<char> cubin;
  std::string log;
  double ms = 0; // wall time of the compile
};
} // namespace

static const char *const kHeaders[] = {kDeviceHeader, kNumericsHeader,
                                       kMmaHeader, kWarpgroupHeader};
static const char *const kHeaderNames[] = {"attnc/device.h", "attnc/numerics.h",
                                           "attnc/mma.h", "attnc/warpgroup.h"};
static constexpr int kNumHeaders = sizeof kHeaders / sizeof kHeaders[0];

/// Whether this NVRTC knows --minimal (CUDA 12.4 and later): it leaves out
/// of NVRTC's built-in header what generated kernels never use (textures,
/// surfaces, the device-side runtime API), 7-15 ms less per program.
static bool nvrtcHasMinimal() {
  static const bool has = [] {
    int major = 0, minor = 0;
    return nvrtcVersion(&major, &minor) == NVRTC_SUCCESS &&
           (major > 12 || (major == 12 && minor >= 4));
  }();
  return has;
}

/// Compiles `program.text` to a cubin (relocatable when `relocatable`, for
/// nvJitLink). Thread-safe: NVRTC programs are independent.
static void compileProgram(Program &program, const std::string &arch,
                           bool relocatable) {
  auto start = std::chrono::steady_clock::now();
  auto finish = llvm::make_scope_exit([&] {
    program.ms = std::chrono::duration<double, std::milli>(
                     std::chrono::steady_clock::now() - start)
                     .count();
  });
  nvrtcProgram handle;
  if (nvrtcCreateProgram(&handle, program.text.c_str(), "model.cu",
                         kNumHeaders, kHeaders, kHeaderNames) !=
      NVRTC_SUCCESS) {
    program.log = "nvrtcCreateProgram failed";
    return;
  }
  std::string archFlag = "--gpu-architecture=" + arch;
  std::vector<const char *> flags = {archFlag.c_str(), "--std=c++17",
                                     "--ptxas-options=-v",
                                     "--device-as-default-execution-space"};
  if (nvrtcHasMinimal())
    flags.push_back("--minimal");
  if (relocatable)
    flags.push_back("--relocatable-device-code=true");
  nvrtcResult compiled =
      nvrtcCompileProgram(handle, int(flags.size()), flags.data());
  size_t logSize = 0;
  nvrtcGetProgramLogSize(handle, &logSize);
  program.log.assign(logSize, '\0');
  if (logSize)
    nvrtcGetProgramLog(handle, program.log.data());
  size_t size = 0;
  if (compiled == NVRTC_SUCCESS &&
      nvrtcGetCUBINSize(handle, &size) == NVRTC_SUCCESS) {
    program.cubin.resize(size);
    program.ok = nvrtcGetCUBIN(handle, program.cubin.data()) == NVRTC_SUCCESS;
  }
  nvrtcDestroyProgram(&handle);
}

/// How many programs to split `module` into.
static unsigned programCount(const EmittedModule &module, unsigned jobs) {
#if !ATTNC_HAVE_NVJITLINK
  (void)module;
  (void)jobs;
  return 1;
#else
  if (jobs == 0)
    jobs = std::min(8u, std::max(1u, std::thread::hardware_concurrency()));
  return std::max<unsigned>(
      1, std::min<unsigned>(jobs, unsigned(module.spans.size())));
#endif
}

/// The texts of `count` programs that split the kernels of `module`, the
/// largest first, each to the program with the fewest lines so far (a
/// line of kernel code costs NVRTC about a millisecond, whatever the
/// kernel). Every program is the whole module with the other programs'
/// kernels blanked out, so line numbers in NVRTC's diagnostics are the
/// module's.
static std::vector<std::string> splitModule(const EmittedModule &module,
                                            unsigned count) {
  llvm::SmallVector<llvm::StringRef> lines;
  llvm::StringRef(module.source).split(lines, '\n');
  std::vector<unsigned> owner(lines.size() + 2, ~0u); // ~0u: every program
  std::vector<size_t> order(module.spans.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  auto length = [&](size_t i) {
    return module.spans[i].lastLine - module.spans[i].firstLine;
  };
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return length(a) != length(b) ? length(a) > length(b) : a < b;
  });
  std::vector<size_t> load(count, 0);
  for (size_t i : order) {
    unsigned to = unsigned(std::min_element(load.begin(), load.end()) -
                           load.begin());
    load[to] += length(i);
    const SourceSpan &span = module.spans[i];
    for (unsigned line = span.firstLine;
         line <= span.lastLine && line <= lines.size(); ++line)
      owner[line] = to;
  }
  std::vector<std::string> texts(count);
  for (unsigned p = 0; p < count; ++p) {
    std::string &text = texts[p];
    text.reserve(module.source.size());
    for (size_t i = 0; i < lines.size(); ++i) {
      unsigned line = unsigned(i) + 1;
      if (owner[line] == ~0u || owner[line] == p)
        text += lines[i];
      if (i + 1 < lines.size())
        text += '\n';
    }
  }
  return texts;
}

/// Links the relocatable cubins of `programs` into one; errors at `loc`.
static FailureOr<std::vector<char>> link(std::vector<Program> &programs,
                                         const std::string &dataPtx,
                                         const std::string &arch,
                                         Location loc) {
#if !ATTNC_HAVE_NVJITLINK
  (void)programs;
  (void)dataPtx;
  (void)arch;
  return emitError(loc) << "this attnc was built without nvJitLink";
#else
  std::string archFlag = "-arch=" + arch;
  const char *flags[] = {archFlag.c_str()};
  nvJitLinkHandle handle;
  if (nvJitLinkCreate(&handle, 1, flags) != NVJITLINK_SUCCESS)
    return emitError(loc) << "nvJitLinkCreate failed";
  nvJitLinkResult result = NVJITLINK_SUCCESS;
  for (size_t i = 0; i < programs.size() && result == NVJITLINK_SUCCESS; ++i)
    result = nvJitLinkAddData(handle, NVJITLINK_INPUT_CUBIN,
                              programs[i].cubin.data(),
                              programs[i].cubin.size(), "kernels");
  if (result == NVJITLINK_SUCCESS)
    result = nvJitLinkAddData(handle, NVJITLINK_INPUT_PTX, dataPtx.data(),
                              dataPtx.size(), "data");
  if (result == NVJITLINK_SUCCESS)
    result = nvJitLinkComplete(handle);
  std::vector<char> cubin;
  size_t size = 0;
  if (result == NVJITLINK_SUCCESS)
    result = nvJitLinkGetLinkedCubinSize(handle, &size);
  if (result == NVJITLINK_SUCCESS) {
    cubin.resize(size);
    result = nvJitLinkGetLinkedCubin(handle, cubin.data());
  }
  std::string log;
  if (result != NVJITLINK_SUCCESS) {
    size_t logSize = 0;
    nvJitLinkGetErrorLogSize(handle, &logSize);
    log.assign(logSize, '\0');
    if (logSize)
      nvJitLinkGetErrorLog(handle, log.data());
  }
  nvJitLinkDestroy(&handle);
  if (result != NVJITLINK_SUCCESS)
    return emitError(loc) << "nvJitLink could not link the kernels: "
                          << llvm::StringRef(log).trim().split('\n').first;
  return cubin;
#endif
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
  // The embedded data (runtime/src/ModelFile.h): in the NVRTC program
  // when there is one, else as PTX for the link.
  std::string model = attnc::rt::modelHeader() + module.plan;
  size_t reserve = attnc::rt::resourceReserve(module.spans.size());
  std::string data = "\n// Embedded model data (see runtime/src/ModelFile.h).\n";
  data += byteArray("attnc_model", model);
  data += byteArray("attnc_source", module.source);
  data += byteArray("attnc_resources", "", reserve);
  // PTX 8.0 is the oldest that knows sm_90a; ptxas reads it for sm_80 too.
  std::string dataPtx = ".version 8.0\n.target " + options.arch +
                        "\n.address_size 64\n";
  dataPtx += ptxByteArray("attnc_model", model);
  dataPtx += ptxByteArray("attnc_source", module.source);
  dataPtx += ptxByteArray("attnc_resources", "", reserve);

  // NVRTC compiles one program on one thread, and most of its time goes to
  // optimising each kernel on its own: kernels split over programs compile
  // in parallel, and nvJitLink joins the relocatable cubins and the data
  // (10-20 ms, most of it reading the data's PTX).
  unsigned count = programCount(module, options.jobs);
  // ptxas honours setmaxnreg only in whole programs: in relocatable code
  // it ignores it (C7504, "to maintain compatibility across compilation
  // units"), and the consumers that needed the registers spill and get
  // their wgmma serialised.
  if (llvm::any_of(module.minRegisters, [](int64_t r) { return r > 0; }))
    count = 1;
  std::vector<Program> programs;
  auto compileAll = [&]() {
    programs.assign(count, Program());
    if (count == 1) {
      programs[0].text = module.source;
    } else {
      std::vector<std::string> texts = splitModule(module, count);
      for (unsigned p = 0; p < count; ++p)
        programs[p].text = std::move(texts[p]);
    }
    if (count == 1)
      programs[0].text += data;
    std::vector<std::thread> workers;
    for (unsigned p = 1; p < count; ++p)
      workers.emplace_back(compileProgram, std::ref(programs[p]), options.arch,
                           true);
    compileProgram(programs[0], options.arch, count > 1);
    for (std::thread &worker : workers)
      worker.join();
  };
  compileAll();
  // Relocatable code makes ptxas treat its own subroutines (IEEE division
  // and square root) as external calls, and it then serialises every
  // wgmma of the kernel (C7509). Such a module compiles as one whole
  // program instead: slower to build, full speed to run.
  if (count > 1 &&
      llvm::any_of(programs, [](const Program &program) {
        return llvm::StringRef(program.log).contains(
            "serialized due to the presence of Extern calls");
      })) {
    count = 1;
    compileAll();
  }
  std::string log, failedLog;
  bool ok = true;
  for (const Program &program : programs) {
    log += program.log;
    ok &= program.ok;
    if (!program.ok)
      failedLog += program.log;
  }
  if (!ok) {
    reportLog(module, failedLog, loc);
    return failure();
  }
  CompiledModule result;
  if (count == 1) {
    result.cubin = std::move(programs[0].cubin);
  } else {
    auto start = std::chrono::steady_clock::now();
    FailureOr<std::vector<char>> linked = link(programs, dataPtx, options.arch, loc);
    result.linkMs = std::chrono::duration<double, std::milli>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    if (failed(linked))
      return failure();
    result.cubin = std::move(*linked);
  }
  for (const Program &program : programs)
    result.programMs.push_back(program.ms);
  result.resources = summarizeResources(log, module);
  warnSerializedWgmma(log, module, loc);
  warnIgnoredSetmaxnreg(log, loc);
  if (failed(checkRegisterPools(result.resources, module, loc)))
    return failure();

  if (options.wantPTX) {
    // PTX needs a virtual architecture: compile again for compute_XX.
    std::string virtualArch =
        "--gpu-architecture=compute_" + options.arch.substr(3);
    nvrtcProgram ptxProgram;
    if (!check(nvrtcCreateProgram(&ptxProgram, module.source.c_str(),
                                  "model.cu", kNumHeaders, kHeaders,
                                  kHeaderNames),
               "nvrtcCreateProgram", loc))
      return failure();
    std::vector<const char *> ptxFlags = {virtualArch.c_str(), "--std=c++17",
                                          "--device-as-default-execution-space"};
    if (nvrtcHasMinimal())
      ptxFlags.push_back("--minimal");
    if (nvrtcCompileProgram(ptxProgram, int(ptxFlags.size()),
                            ptxFlags.data()) != NVRTC_SUCCESS) {
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

  // The reserve holds about 175 bytes per kernel's report line in 256;
  // should that ever fall short, say so rather than cut it silently.
  if (result.resources.size() >= reserve)
    emitWarning(loc) << "ptxas's resource report (" << result.resources.size()
                     << " bytes) exceeds the model file's reserve of "
                     << reserve << "; attnc inspect will show it cut short";
  std::string error;
  if (!attnc::rt::sealModelFile(result.cubin, result.resources, &error))
    return emitError(loc) << "cannot finish the model file: " << error;
  return result;
#endif
}
