//===- elf_driver_test.cpp - Elf.cpp, CudaDriver.cpp and CudaDevice.cpp ---===//
//
// A plain program (no test framework, so that it builds wherever the
// runtime builds) that prints one PASS/FAIL line per check and exits
// non-zero if any check failed. The ELF reader is tested against an ELF64
// image built here in memory, whole, truncated at every length and with
// single bytes corrupted; it is meant to run under AddressSanitizer, which
// turns any read outside the image into a failure. The driver loader is
// tested against the real environment (libcuda.so.1 and the toolkit's stub
// when present) and against a fake cuGetProcAddress that plays each kind
// of driver the loader must explain. The CUDA device's own checks (a
// cooperative launch that cannot be resident, runs ordered across
// streams) run against the same fake, which plays an H100 PCIe's 114 SMs
// and logs the calls that matter.
//
// Usage: elf_driver_test [CUBIN...]
//   Each CUBIN must define `attnc_plan`; its bytes are printed.
// Environment:
//   ATTNC_TEST_STUB  path of the toolkit's stub libcuda.so (default: looked
//                    for under /usr/local/cuda/).
//   The test sets ATTNC_LIBCUDA itself, to the stub, before CudaDriver::get.
//
//===----------------------------------------------------------------------===//

#include "CudaDriver.h"
#include "Device.h"
#include "Elf.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <unistd.h>
#include <vector>

using namespace attnc::rt;

namespace {

int failures = 0;

void check(bool ok, const std::string &what, const std::string &detail = "") {
  std::printf("%s: %s%s%s\n", ok ? "PASS" : "FAIL", what.c_str(),
              detail.empty() ? "" : " -- ", detail.c_str());
  if (!ok)
    ++failures;
}

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

//===----------------------------------------------------------------------===//
// A tiny ELF64 writer
//===----------------------------------------------------------------------===//

void put(std::vector<uint8_t> &out, size_t at, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i)
    out[at + i] = uint8_t(value >> (8 * i));
}

struct Sym {
  std::string name;
  uint16_t shndx;
  uint64_t value;
  uint64_t size;
};

struct ImageOptions {
  uint16_t type = 2;     // ET_EXEC, like the cubins NVRTC writes.
  uint64_t dataAddr = 0; // sh_addr of .nv.global.init.
  bool extendedNumbering = false;
};

/// Where the writer put things, so tests can corrupt them.
struct Layout {
  size_t shoff = 0;
  size_t dataOffset = 0;
  size_t symtabOffset = 0;
};

constexpr uint16_t kData = 4; // index of .nv.global.init
constexpr uint16_t kBss = 5;  // index of .nv.global (NOBITS)
const char kPlan[] = "hello plan";
const char kOther[] = "0123456789abcdefXYZ";

/// Sections: [0] null, [1] .shstrtab, [2] .strtab, [3] .symtab,
/// [4] .nv.global.init holding kPlan then kOther, [5] .nv.global (NOBITS).
/// The section header table comes last, so any truncation cuts it.
std::vector<uint8_t> buildImage(const ImageOptions &options,
                                Layout *layout = nullptr) {
  std::vector<Sym> syms = {
      {"", 0, 0, 0},
      {"attnc_plan", kData, options.dataAddr, sizeof kPlan},
      {"other", kData, options.dataAddr + sizeof kPlan, sizeof kOther},
      {"in_bss", kBss, 0, 64},
      {"undefined_sym", 0, 0, 0},
      {"absolute_sym", 0xfff1, 0x1234, 4},
      {"too_long", kData, options.dataAddr + 8, 100},
      {"wraps", kData, options.dataAddr + 8, ~uint64_t(0) - 4},
      {"far_away", kData, options.dataAddr + (uint64_t(1) << 63), 1},
      {"bad_section", 77, 0, 1},
  };
  static const char names[] =
      "\0.shstrtab\0.strtab\0.symtab\0.nv.global.init\0.nv.global";
  std::string shstr(names, sizeof names); // offsets 1, 11, 19, 27, 43
  std::string str(1, '\0');
  std::vector<uint32_t> symName;
  for (const Sym &s : syms) {
    symName.push_back(s.name.empty() ? 0 : uint32_t(str.size()));
    if (!s.name.empty())
      str += s.name + '\0';
  }
  std::string data(kPlan, sizeof kPlan);
  data.append(kOther, sizeof kOther);

  std::vector<uint8_t> out(64, 0);
  auto append = [&](const void *p, size_t n) {
    size_t at = out.size();
    out.insert(out.end(), static_cast<const uint8_t *>(p),
               static_cast<const uint8_t *>(p) + n);
    return at;
  };
  size_t shstrOff = append(shstr.data(), shstr.size());
  size_t strOff = append(str.data(), str.size());
  while (out.size() % 8)
    out.push_back(0);
  size_t symOff = out.size();
  out.resize(out.size() + syms.size() * 24, 0);
  for (size_t i = 0; i < syms.size(); ++i) {
    size_t at = symOff + i * 24;
    put(out, at + 0, symName[i], 4);
    out[at + 4] = 0x11; // STB_GLOBAL, STT_OBJECT
    put(out, at + 6, syms[i].shndx, 2);
    put(out, at + 8, syms[i].value, 8);
    put(out, at + 16, syms[i].size, 8);
  }
  size_t dataOff = append(data.data(), data.size());
  while (out.size() % 8)
    out.push_back(0);
  size_t shoff = out.size();
  const int shnum = 6;
  out.resize(out.size() + shnum * 64, 0);
  auto section = [&](int i, uint32_t name, uint32_t type, uint64_t addr,
                     uint64_t offset, uint64_t size, uint32_t link,
                     uint64_t entsize) {
    size_t at = shoff + size_t(i) * 64;
    put(out, at + 0, name, 4);
    put(out, at + 4, type, 4);
    put(out, at + 16, addr, 8);
    put(out, at + 24, offset, 8);
    put(out, at + 32, size, 8);
    put(out, at + 40, link, 4);
    put(out, at + 56, entsize, 8);
  };
  // Section 0 carries the real count and string-table index when the
  // header says "extended numbering".
  section(0, 0, 0, 0, 0, options.extendedNumbering ? shnum : 0,
          options.extendedNumbering ? 1 : 0, 0);
  section(1, 1, 3, 0, shstrOff, shstr.size(), 0, 0);
  section(2, 11, 3, 0, strOff, str.size(), 0, 0);
  section(3, 19, 2, 0, symOff, syms.size() * 24, 2, 24);
  section(4, 27, 1, options.dataAddr, dataOff, data.size(), 0, 0);
  section(5, 43, 8, 0, dataOff, 64, 0, 0); // NOBITS: no bytes in the file

  static const uint8_t ident[16] = {0x7f, 'E', 'L', 'F', 2, 1, 1};
  std::memcpy(out.data(), ident, 16);
  put(out, 16, options.type, 2);
  put(out, 18, 190, 2); // EM_CUDA
  put(out, 20, 1, 4);
  put(out, 40, shoff, 8);
  put(out, 52, 64, 2);
  put(out, 58, 64, 2);
  put(out, 60, options.extendedNumbering ? 0 : shnum, 2);
  put(out, 62, options.extendedNumbering ? 0xffff : 1, 2);
  if (layout) {
    layout->shoff = shoff;
    layout->dataOffset = dataOff;
    layout->symtabOffset = symOff;
  }
  return out;
}

/// Runs the reader on an exact-size heap copy, so that AddressSanitizer
/// reports any read past its end.
bool find(const std::vector<uint8_t> &image, size_t length,
          const std::string &name, ElfSymbol *symbol, std::string *error) {
  std::vector<uint8_t> copy(image.begin(), image.begin() + length);
  copy.shrink_to_fit();
  bool ok = findElfSymbol(copy.empty() ? nullptr : copy.data(), copy.size(),
                          name, symbol, error);
  if (ok && (symbol->fileOffset > length ||
             symbol->size > length - symbol->fileOffset)) {
    *error = "reader returned a range outside the image";
    return false;
  }
  return ok;
}

bool find(const std::vector<uint8_t> &image, const std::string &name,
          ElfSymbol *symbol, std::string *error) {
  return find(image, image.size(), name, symbol, error);
}

std::string bytesAt(const std::vector<uint8_t> &image, const ElfSymbol &s) {
  return std::string(
      reinterpret_cast<const char *>(image.data()) + s.fileOffset, s.size);
}

/// Expects `name` to be found with exactly `expected` as its bytes.
void expectFound(const std::string &what, const std::vector<uint8_t> &image,
                 const std::string &name, const std::string &expected) {
  ElfSymbol s;
  std::string error;
  bool ok = find(image, name, &s, &error);
  check(ok && bytesAt(image, s) == expected, what,
        ok ? "offset " + std::to_string(s.fileOffset) + ", size " +
                 std::to_string(s.size)
           : error);
}

/// Expects failure with a message containing `part`; prints the message.
void expectError(const std::string &what, const std::vector<uint8_t> &image,
                 const std::string &name, const std::string &part) {
  ElfSymbol s;
  std::string error;
  bool ok = find(image, name, &s, &error);
  check(!ok && contains(error, part), what, ok ? "unexpectedly found" : error);
}

void testElf() {
  std::string plan(kPlan, sizeof kPlan), other(kOther, sizeof kOther);
  Layout layout;
  std::vector<uint8_t> image = buildImage({}, &layout);

  expectFound("elf: finds attnc_plan (bytes include the NUL)", image,
              "attnc_plan", plan);
  expectFound("elf: finds a symbol at a non-zero st_value", image, "other",
              other);
  expectError("elf: missing symbol", image, "attnc", "no symbol 'attnc'");
  expectError("elf: name is not a prefix match", image, "attnc_pla",
              "no symbol");
  expectError("elf: NOBITS section", image, "in_bss", "SHT_NOBITS");
  expectError("elf: undefined symbol", image, "undefined_sym",
              "only referenced");
  expectError("elf: absolute symbol", image, "absolute_sym", "absolute");
  expectError("elf: symbol longer than its section", image, "too_long",
              "runs outside");
  expectError("elf: symbol size that would wrap", image, "wraps",
              "runs outside");
  expectError("elf: symbol far past its section", image, "far_away",
              "runs outside");
  expectError("elf: symbol in a section that does not exist", image,
              "bad_section", "names section 77");

  // Executables: st_value is an address; the section is mapped at sh_addr.
  ImageOptions exec;
  exec.dataAddr = 0x10000;
  std::vector<uint8_t> mapped = buildImage(exec);
  expectFound("elf: ET_EXEC with sh_addr != 0 maps st_value - sh_addr", mapped,
              "other", other);
  // Relocatable files: st_value is already the offset in the section, so
  // a non-zero st_value/sh_addr pair built for ET_EXEC must be rejected...
  ImageOptions rel = exec;
  rel.type = 1;
  expectError("elf: ET_REL takes st_value as the section offset",
              buildImage(rel), "other", "runs outside");
  // ...and the plain relocatable image works.
  ImageOptions relZero;
  relZero.type = 1;
  expectFound("elf: ET_REL", buildImage(relZero), "attnc_plan", plan);
  ImageOptions extended;
  extended.extendedNumbering = true;
  expectFound("elf: extended section numbering (e_shnum = 0)",
              buildImage(extended), "other", other);

  // Identification.
  std::vector<uint8_t> bad = image;
  bad[1] = 'X';
  expectError("elf: bad magic", bad, "attnc_plan", "not an ELF file");
  bad = image;
  bad[4] = 1;
  expectError("elf: ELF32", bad, "attnc_plan", "not an ELF64 file");
  bad = image;
  bad[5] = 2;
  expectError("elf: big-endian", bad, "attnc_plan", "not a little-endian");

  // Corrupted section table.
  bad = image;
  put(bad, layout.shoff + kData * 64 + 24, 0xfffffffffffffff0ull, 8);
  expectError("elf: section offset flipped to near 2^64", bad, "attnc_plan",
              "runs past the end");
  bad = image;
  put(bad, layout.shoff + kData * 64 + 24, image.size() - 4, 8);
  expectError("elf: section offset moved so the section straddles the end", bad,
              "attnc_plan", "runs past the end");
  bad = image;
  put(bad, layout.shoff + kData * 64 + 32, ~uint64_t(0), 8);
  expectError("elf: section size flipped to 2^64-1", bad, "attnc_plan",
              "runs past the end");
  bad = image;
  put(bad, 40, ~uint64_t(0) - 8, 8);
  expectError("elf: e_shoff near 2^64", bad, "attnc_plan",
              "truncated section table");
  bad = image;
  put(bad, 60, 0xfff0, 2);
  expectError("elf: e_shnum too large", bad, "attnc_plan",
              "truncated section table");
  bad = image;
  put(bad, 40, 0, 8);
  expectError("elf: no section table", bad, "attnc_plan", "no section table");
  bad = image;
  put(bad, layout.shoff + 3 * 64 + 4, 1, 4); // .symtab -> PROGBITS
  expectError("elf: no .symtab", bad, "attnc_plan", "no .symtab");
  bad = image;
  put(bad, layout.shoff + 3 * 64 + 40, 4, 4); // .symtab links to data
  expectError("elf: .symtab links a non-string table", bad, "attnc_plan",
              "not a string table");
  bad = image;
  put(bad, layout.symtabOffset + 24 + 0, 0xfffffff0u, 4); // st_name
  expectError("elf: st_name outside .strtab", bad, "attnc_plan", "no symbol");

  // Truncation at every length: all must fail (the section table is last),
  // none may read outside the copy.
  int truncatedOk = 0;
  std::string first, last;
  for (size_t n = 0; n < image.size(); ++n) {
    ElfSymbol s;
    std::string error;
    if (find(image, n, "attnc_plan", &s, &error))
      ++truncatedOk;
    if (n == 0)
      first = error;
    last = error;
  }
  check(truncatedOk == 0,
        "elf: truncated at each of 0.." + std::to_string(image.size() - 1) +
            " bytes fails cleanly",
        "length 0: \"" + first + "\"; length " +
            std::to_string(image.size() - 1) + ": \"" + last + "\"");

  // Every single-byte corruption: the reader may succeed or fail, but
  // must stay in bounds (checked by `find` and by AddressSanitizer).
  int runs = 0, found = 0, outOfRange = 0;
  for (size_t at = 0; at < image.size(); ++at)
    for (uint8_t value :
         {uint8_t(0), uint8_t(0xff), uint8_t(0x80), uint8_t(image[at] ^ 1)}) {
      std::vector<uint8_t> corrupt = image;
      corrupt[at] = value;
      ElfSymbol s;
      std::string error;
      ++runs;
      if (find(corrupt, "attnc_plan", &s, &error))
        ++found;
      else if (contains(error, "outside the image"))
        ++outOfRange;
    }
  check(outOfRange == 0,
        "elf: " + std::to_string(runs) +
            " single-byte corruptions stay in bounds",
        std::to_string(found) + " still found the symbol");
}

//===----------------------------------------------------------------------===//
// A fake driver behind cuGetProcAddress
//===----------------------------------------------------------------------===//

struct FakeDriver {
  int version = 12040;
  CUresult initResult = CUDA_SUCCESS;
  int deviceCount = 1;
  std::string missing; // an entry point the fake does not have
  int blocksPerSM = 1; // cuOccupancyMaxActiveBlocksPerMultiprocessor's answer
  std::vector<std::string> calls; // events and stream waits, in order
} fake;

CUresult fakeInit(unsigned) { return fake.initResult; }
CUresult fakeVersion(int *v) {
  *v = fake.version;
  return CUDA_SUCCESS;
}
CUresult fakeCount(int *n) {
  *n = fake.deviceCount;
  return CUDA_SUCCESS;
}
CUresult fakeDeviceGet(CUdevice *d, int ordinal) {
  if (ordinal < 0 || ordinal >= fake.deviceCount)
    return 101; // CUDA_ERROR_INVALID_DEVICE
  *d = ordinal;
  return CUDA_SUCCESS;
}
CUresult fakeAttribute(int *value, int attribute, CUdevice) {
  if (attribute == CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)
    *value = 9;
  else if (attribute == CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)
    *value = 0;
  else if (attribute == CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)
    *value = 114; // an H100 PCIe
  else
    return CUDA_ERROR_INVALID_VALUE;
  return CUDA_SUCCESS;
}
CUresult fakeErrorName(CUresult code, const char **s) {
  switch (code) {
  case 101:
    *s = "CUDA_ERROR_INVALID_DEVICE";
    return CUDA_SUCCESS;
  case CUDA_ERROR_UNSUPPORTED_PTX_VERSION:
    *s = "CUDA_ERROR_UNSUPPORTED_PTX_VERSION";
    return CUDA_SUCCESS;
  case 700:
    *s = "CUDA_ERROR_ILLEGAL_ADDRESS";
    return CUDA_SUCCESS;
  }
  *s = nullptr;
  return CUDA_ERROR_INVALID_VALUE;
}
CUresult fakeErrorString(CUresult code, const char **s) {
  switch (code) {
  case 101:
    *s = "invalid device ordinal";
    return CUDA_SUCCESS;
  case CUDA_ERROR_UNSUPPORTED_PTX_VERSION:
    *s = "the provided PTX was compiled with an unsupported toolchain.";
    return CUDA_SUCCESS;
  case 700:
    *s = "an illegal memory access was encountered";
    return CUDA_SUCCESS;
  }
  *s = nullptr;
  return CUDA_ERROR_INVALID_VALUE;
}
CUresult fakeAny() { return CUDA_SUCCESS; }
// Handles are small integers cast to pointers: never dereferenced.
template <typename Handle> Handle fakeHandle(uintptr_t value) {
  return reinterpret_cast<Handle>(value);
}
CUresult fakeRetain(CUcontext *context, CUdevice) {
  *context = fakeHandle<CUcontext>(0x10);
  return CUDA_SUCCESS;
}
CUresult fakeModuleLoad(CUmodule *module, const void *) {
  *module = fakeHandle<CUmodule>(0x20);
  return CUDA_SUCCESS;
}
CUresult fakeGetFunction(CUfunction *function, CUmodule, const char *) {
  *function = fakeHandle<CUfunction>(0x30);
  return CUDA_SUCCESS;
}
CUresult fakeOccupancy(int *blocks, CUfunction, int, size_t) {
  *blocks = fake.blocksPerSM;
  return CUDA_SUCCESS;
}
CUresult fakeDeviceName(char *name, int size, CUdevice) {
  std::snprintf(name, size_t(size), "Fake H100 PCIe");
  return CUDA_SUCCESS;
}
CUresult fakeEventCreate(CUevent *event, unsigned) {
  *event = fakeHandle<CUevent>(0x40);
  fake.calls.push_back("create");
  return CUDA_SUCCESS;
}
CUresult fakeEventRecord(CUevent, CUstream stream) {
  fake.calls.push_back("record on " +
                       std::to_string(reinterpret_cast<uintptr_t>(stream)));
  return CUDA_SUCCESS;
}
CUresult fakeStreamWaitEvent(CUstream stream, CUevent, unsigned) {
  fake.calls.push_back("wait on " +
                       std::to_string(reinterpret_cast<uintptr_t>(stream)));
  return CUDA_SUCCESS;
}

/// Follows the documented contract: versions above the driver's are
/// refused with CUDA_ERROR_INVALID_VALUE, unknown names give a null pointer,
/// CUDA_SUCCESS and CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND.
CUresult fakeGetProcAddress(const char *symbol, void **pfn, int cudaVersion,
                            unsigned long long, int *status) {
  *pfn = nullptr;
  if (cudaVersion > fake.version)
    return CUDA_ERROR_INVALID_VALUE;
  std::string name = symbol;
  if (status)
    *status = 1;
  if (name == fake.missing)
    return CUDA_SUCCESS;
  if (name == "cuInit")
    *pfn = reinterpret_cast<void *>(&fakeInit);
  else if (name == "cuDriverGetVersion")
    *pfn = reinterpret_cast<void *>(&fakeVersion);
  else if (name == "cuDeviceGetCount")
    *pfn = reinterpret_cast<void *>(&fakeCount);
  else if (name == "cuDeviceGet")
    *pfn = reinterpret_cast<void *>(&fakeDeviceGet);
  else if (name == "cuDeviceGetAttribute")
    *pfn = reinterpret_cast<void *>(&fakeAttribute);
  else if (name == "cuGetErrorName")
    *pfn = reinterpret_cast<void *>(&fakeErrorName);
  else if (name == "cuGetErrorString")
    *pfn = reinterpret_cast<void *>(&fakeErrorString);
  else if (name == "cuDevicePrimaryCtxRetain")
    *pfn = reinterpret_cast<void *>(&fakeRetain);
  else if (name == "cuModuleLoadData")
    *pfn = reinterpret_cast<void *>(&fakeModuleLoad);
  else if (name == "cuModuleGetFunction")
    *pfn = reinterpret_cast<void *>(&fakeGetFunction);
  else if (name == "cuOccupancyMaxActiveBlocksPerMultiprocessor")
    *pfn = reinterpret_cast<void *>(&fakeOccupancy);
  else if (name == "cuDeviceGetName")
    *pfn = reinterpret_cast<void *>(&fakeDeviceName);
  else if (name == "cuEventCreate")
    *pfn = reinterpret_cast<void *>(&fakeEventCreate);
  else if (name == "cuEventRecord")
    *pfn = reinterpret_cast<void *>(&fakeEventRecord);
  else if (name == "cuStreamWaitEvent")
    *pfn = reinterpret_cast<void *>(&fakeStreamWaitEvent);
  else if (name.rfind("cu", 0) == 0)
    *pfn = reinterpret_cast<void *>(&fakeAny); // success, no outputs
  if (*pfn && status)
    *status = 0;
  return CUDA_SUCCESS;
}

std::unique_ptr<CudaDriver> loadFake(std::string *error) {
  return CudaDriver::fromGetProcAddress(&fakeGetProcAddress, "fake-libcuda",
                                        error);
}

void testFakeDriver() {
  std::string error;
  fake = FakeDriver();
  std::unique_ptr<CudaDriver> driver = loadFake(&error);
  check(driver && driver->version == 12040 &&
            driver->versionString() == "12.4" && driver->cuMemAlloc &&
            driver->cuLaunchCooperativeKernel && driver->cuGetErrorString &&
            driver->cuEventElapsedTime && driver->cuStreamWaitEvent &&
            driver->cuOccupancyMaxActiveBlocksPerMultiprocessor,
        "driver: fake 12.4 driver loads, every entry point resolved", error);
  if (driver) {
    std::string arch;
    check(deviceArch(*driver, 0, &arch, &error) && arch == "sm_90",
          "driver: deviceArch of device 0 is sm_90", arch);
    int sms = 0;
    check(deviceArch(*driver, 0, nullptr, &error, &sms) && sms == 114,
          "driver: deviceArch counts device 0's SMs",
          std::to_string(sms));
    check(!deviceArch(*driver, 3, &arch, &error) &&
              contains(error, "CUDA_ERROR_INVALID_DEVICE: invalid device"),
          "driver: deviceArch of a missing device", error);
    check(driver->describe(700) ==
              "CUDA_ERROR_ILLEGAL_ADDRESS: an illegal memory access was "
              "encountered",
          "driver: describe", driver->describe(700));
    check(driver->describe(12345) == "CUDA error 12345",
          "driver: describe an unknown code", driver->describe(12345));
    std::string m = explainModuleLoadFailure(
        *driver, CUDA_ERROR_NO_BINARY_FOR_GPU, "sm_80", "sm_90");
    check(m == "the model was compiled for sm_80 but the device is sm_90; "
               "recompile with --arch sm_90",
          "driver: explain NO_BINARY_FOR_GPU", m);
    m = explainModuleLoadFailure(*driver, CUDA_ERROR_UNSUPPORTED_PTX_VERSION,
                                 "sm_90", "sm_90");
    check(contains(m, "12.4 is too old for the model") &&
              contains(m, "CUDA_ERROR_UNSUPPORTED_PTX_VERSION"),
          "driver: explain UNSUPPORTED_PTX_VERSION", m);
    m = explainModuleLoadFailure(*driver, 700, "sm_90", "sm_90");
    check(m == driver->describe(700), "driver: explain another failure", m);
  }

  fake = FakeDriver();
  fake.version = 11080;
  check(!loadFake(&error) && contains(error, "11.8 is too old") &&
            contains(error, "cuDeviceGetCount"),
        "driver: CUDA 11.8 driver is too old", error);

  fake = FakeDriver();
  fake.missing = "cuLaunchCooperativeKernel";
  check(!loadFake(&error) && contains(error, "12.4 is too old") &&
            contains(error, "cuLaunchCooperativeKernel"),
        "driver: missing entry point is named", error);

  fake = FakeDriver();
  fake.initResult = CUDA_ERROR_NO_DEVICE;
  check(!loadFake(&error) && error.rfind("no CUDA device", 0) == 0,
        "driver: cuInit says NO_DEVICE", error);

  fake = FakeDriver();
  fake.deviceCount = 0;
  check(!loadFake(&error) && error.rfind("no CUDA device", 0) == 0,
        "driver: zero devices", error);

  fake = FakeDriver();
  fake.initResult = CUDA_ERROR_STUB_LIBRARY;
  check(!loadFake(&error) && contains(error, "stub library"),
        "driver: cuInit says STUB_LIBRARY", error);
}

std::string findStub() {
  if (const char *env = std::getenv("ATTNC_TEST_STUB"))
    return env;
  for (const char *candidate :
       {"/usr/local/cuda/lib64/stubs/libcuda.so",
        "/usr/local/cuda/targets/x86_64-linux/lib/stubs/libcuda.so",
        "/usr/local/cuda/targets/sbsa-linux/lib/stubs/libcuda.so"})
    if (access(candidate, R_OK) == 0)
      return candidate;
  return "";
}

void testRealDriver() {
  std::string error;
  // libcuda.so.1 first: the stub's soname is also libcuda.so.1, so once the
  // stub is loaded, dlopen("libcuda.so.1") would return it.
  std::unique_ptr<CudaDriver> system = CudaDriver::load("libcuda.so.1", &error);
  if (system) {
    std::string arch;
    bool ok = deviceArch(*system, 0, &arch, &error);
    check(ok,
          "driver: libcuda.so.1 is a driver, version " +
              system->versionString() + ", device 0 is " + arch,
          ok ? "" : error);
  } else {
    check(error.rfind("no CUDA driver: libcuda.so.1 could not be loaded (",
                      0) == 0 ||
              error.rfind("no CUDA device", 0) == 0,
          "driver: this machine has no usable driver", error);
  }

  check(!CudaDriver::load("/nonexistent/libcuda.so", &error) &&
            contains(error, "no CUDA driver: /nonexistent/libcuda.so could "
                            "not be loaded"),
        "driver: a path that does not exist", error);
  check(!CudaDriver::load("libm.so.6", &error) &&
            contains(error, "is not a usable CUDA driver"),
        "driver: a library that is not a driver", error);

  std::string stub = findStub();
  if (stub.empty()) {
    std::printf("SKIP: driver: no CUDA toolkit stub libcuda.so found\n");
    return;
  }
  // Through get(), as a user would meet it: ATTNC_LIBCUDA picks the
  // library, and the outcome is cached for the process.
  setenv("ATTNC_LIBCUDA", stub.c_str(), 1);
  const CudaDriver *viaGet = CudaDriver::get(&error);
  check(!viaGet && contains(error, "stub library from the CUDA toolkit") &&
            contains(error, "ATTNC_LIBCUDA"),
        "driver: ATTNC_LIBCUDA=" + stub + " is recognised as the stub", error);
  std::string again;
  check(!CudaDriver::get(&again) && again == error,
        "driver: get() caches its outcome", again);
}

void dumpCubin(const char *path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  ElfSymbol s;
  std::string error;
  bool ok = in.good() || in.eof();
  ok = ok && !bytes.empty() &&
       findElfSymbol(bytes.data(), bytes.size(), "attnc_plan", &s, &error);
  std::string shown;
  if (ok)
    for (size_t i = 0; i < s.size && i < 80; ++i) {
      char c = char(bytes[s.fileOffset + i]);
      shown += (c >= 0x20 && c < 0x7f) ? std::string(1, c)
               : c == 0                ? std::string("\\0")
                                       : std::string("?");
    }
  check(ok, std::string("elf: attnc_plan in ") + path,
        ok ? "offset " + std::to_string(s.fileOffset) + ", " +
                 std::to_string(s.size) + " bytes: \"" + shown + "\""
           : (bytes.empty() ? "cannot read the file" : error));
  if (!ok)
    return;
  // The same reader on every prefix of a real cubin: whatever it answers,
  // it must stay inside the prefix.
  int found = 0, outOfRange = 0;
  for (size_t n = 0; n < bytes.size(); ++n) {
    ElfSymbol t;
    if (find(bytes, n, "attnc_plan", &t, &error))
      ++found;
    else if (contains(error, "outside the image"))
      ++outOfRange;
  }
  check(outOfRange == 0,
        std::string("elf: every truncation of ") + path + " stays in bounds",
        std::to_string(found) + " of " + std::to_string(bytes.size()) +
            " prefixes still hold the symbol");
}

} // namespace

/// A model of one cooperative launch of `grid` blocks (a recurrence).
LoadedModel cooperativeModel(int grid) {
  LoadedModel model;
  std::string error;
  bool parsed = parsePlan("attnc-plan 3\narch sm_90\nentry f\n"
                          "buffer 0 output 0 f32 [4] out0\n"
                          "launch attnc_k0 recurrence grid " +
                              std::to_string(grid) +
                              " 1 1 block 256 1 1 smem 150000 coop 1 args 0\n"
                              "end\n",
                          &model.plan, &error);
  check(parsed, "device: the test's plan parses", error);
  model.file.assign(16, '\0'); // the fake loads anything
  return model;
}

void testFakeDevice() {
  fake = FakeDriver();
  std::string error;
  std::unique_ptr<CudaDriver> driver = loadFake(&error);
  if (!driver) {
    check(false, "device: the fake driver loads", error);
    return;
  }
  Failure failure;
  std::unique_ptr<Device> device = createCudaDevice(*driver, 0, &failure);
  check(device != nullptr, "device: opens on the fake driver",
        failure.message);
  if (!device)
    return;
  // 128 blocks of a recurrence, one per SM, on 114 SMs: refused at load,
  // naming what to recompile with.
  failure = device->load(cooperativeModel(128));
  check(failure.code == ATTNC_INCOMPATIBLE &&
            failure.message ==
                "attnc_k0 (recurrence) needs its 128 blocks resident at "
                "once for its grid barrier, but Fake H100 PCIe holds 114 "
                "(1 per SM on 114 SMs); recompile the model with --sms 114",
        "device: a cooperative grid larger than the GPU holds is refused",
        failure.message);
  // Each load on a device of its own (a device loads one model).
  auto loadAlone = [&](int grid) {
    Failure opened;
    std::unique_ptr<Device> fresh = createCudaDevice(*driver, 0, &opened);
    return fresh ? fresh->load(cooperativeModel(grid)) : opened;
  };
  failure = loadAlone(114);
  check(!failure, "device: a cooperative grid of one block per SM loads",
        failure.message);
  fake.blocksPerSM = 0;
  failure = loadAlone(8);
  check(failure.code == ATTNC_INCOMPATIBLE &&
            failure.message.find("cannot run even one block per SM on Fake "
                                 "H100 PCIe") != std::string::npos,
        "device: a kernel no SM can hold is refused as such",
        failure.message);

  // Runs on streams 1, 1, then 2: each after the last one's end event,
  // the first with nothing to wait for.
  fake.calls.clear();
  void *one = fakeHandle<void *>(1), *two = fakeHandle<void *>(2);
  bool ok = !device->beginRun(one) && !device->endRun(one) &&
            !device->beginRun(one) && !device->endRun(one) &&
            !device->beginRun(two) && !device->endRun(two);
  std::string calls;
  for (const std::string &call : fake.calls)
    calls += (calls.empty() ? "" : ", ") + call;
  check(ok && calls == "create, record on 1, wait on 1, record on 1, wait on "
                       "2, record on 2",
        "device: each run waits for the previous run's end event", calls);
}

int main(int argc, char **argv) {
  testElf();
  for (int i = 1; i < argc; ++i)
    dumpCubin(argv[i]);
  testFakeDriver();
  testFakeDevice();
  testRealDriver();
  std::printf("%s: %d failure(s)\n", failures ? "FAILED" : "OK", failures);
  return failures ? 1 : 0;
}
