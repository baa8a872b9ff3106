//===- CudaDriver.cpp - the CUDA driver API, resolved at run time ---------===//
//
// Loading goes: dlopen the library, find cuGetProcAddress with dlsym, ask
// it for every other entry point, then initialise. Each step that can fail
// on a user's machine (no driver, the toolkit's stub library, no GPU, a
// driver older than the runtime needs) ends in its own one-line message
// saying what to do, because "CUDA_ERROR_STUB_LIBRARY" alone does not tell
// a user that the fix is installing the NVIDIA driver. Entry-point names,
// signatures and result codes follow the CUDA Driver API reference.
//
//===----------------------------------------------------------------------===//

#include "CudaDriver.h"

#include <cstdint>
#include <cstdlib>
#include <dlfcn.h>

using namespace attnc::rt;

/// Either cuGetProcAddress_v2 (CUDA 12.0 and later) or the original one
/// (CUDA 11.3 and later), which lacks the symbolStatus parameter. Flags are
/// CU_GET_PROC_ADDRESS_DEFAULT, which outside nvcc-compiled code means the
/// legacy default stream: a null CUstream is the legacy stream.
struct CudaDriver::ProcAddress {
  using V1 = CUresult (*)(const char *symbol, void **pfn, int cudaVersion,
                          unsigned long long flags);
  GetProcAddressFn v2 = nullptr;
  V1 v1 = nullptr;

  /// Returns the entry point `name` for `cudaVersion`, or null; *result
  /// and *status (CUdriverProcAddressQueryResult, v2 only) say why.
  void *resolve(const char *name, int cudaVersion, CUresult *result,
                int *status) const {
    void *pfn = nullptr;
    *status = 0;
    constexpr unsigned long long kDefault = 0; // CU_GET_PROC_ADDRESS_DEFAULT
    *result = v2 ? v2(name, &pfn, cudaVersion, kDefault, status)
                 : v1(name, &pfn, cudaVersion, kDefault);
    return *result == CUDA_SUCCESS ? pfn : nullptr;
  }
};

namespace {

/// The ABI the runtime is written against: cuGetProcAddress returns, for
/// each base name, the variant current in CUDA 12.0 (cuMemAlloc_v2,
/// cuStreamDestroy_v2, ...), and a driver older than 12.0 refuses the
/// request, which is reported as a driver that is too old.
constexpr int kCudaVersion = 12000;

/// cuGetProcAddress exists since CUDA 11.3. The few entry points needed to
/// report what is wrong (version, init, error names) are asked for at that
/// version, which every driver that has cuGetProcAddress accepts, so that
/// a CUDA 11 driver can still be named in the "too old" message. They have
/// a single ABI variant, so the version does not change what is returned.
constexpr int kBootstrapVersion = 11030;

constexpr const char *kEmuHint = "or use the emu device";

std::string stubMessage(const std::string &path) {
  return "no CUDA driver: " + path +
         " is the stub library from the CUDA toolkit (for linking only), "
         "not a driver; install the NVIDIA driver " +
         kEmuHint;
}

std::string formatVersion(int version) {
  return std::to_string(version / 1000) + "." +
         std::to_string(version % 1000 / 10);
}

/// Stores an entry point of any function-pointer type. POSIX guarantees
/// that a data pointer returned for a function converts back to it.
template <typename Fn> void assign(Fn *&slot, void *pfn) {
  slot = reinterpret_cast<Fn *>(pfn);
}

} // namespace

std::string CudaDriver::versionString() const { return formatVersion(version); }

std::string CudaDriver::describe(CUresult result) const {
  const char *name = nullptr;
  const char *text = nullptr;
  // Both calls set *pStr to null and fail for codes the driver does not
  // know; reset anyway so that a misbehaving driver cannot leave garbage.
  if (!cuGetErrorName || cuGetErrorName(result, &name) != CUDA_SUCCESS)
    name = nullptr;
  if (!cuGetErrorString || cuGetErrorString(result, &text) != CUDA_SUCCESS)
    text = nullptr;
  std::string out = name ? name : "CUDA error " + std::to_string(result);
  if (text)
    out += std::string(": ") + text;
  return out;
}

std::unique_ptr<CudaDriver> CudaDriver::init(const ProcAddress &getProcAddress,
                                             const std::string &path,
                                             std::string *error) {
  auto fail = [&](const std::string &message) {
    if (error)
      *error = message;
    return nullptr;
  };
  std::unique_ptr<CudaDriver> driver(new CudaDriver());
  driver->path = path;
  CUresult result = CUDA_SUCCESS;
  int status = 0;

  // Bootstrap entry points. The toolkit's stub answers every call with
  // CUDA_ERROR_STUB_LIBRARY, possibly already cuGetProcAddress itself.
  struct Bootstrap {
    const char *name;
    void *pfn = nullptr;
  } bootstrap[] = {{"cuGetErrorName"},
                   {"cuGetErrorString"},
                   {"cuDriverGetVersion"},
                   {"cuInit"}};
  for (Bootstrap &entry : bootstrap) {
    entry.pfn =
        getProcAddress.resolve(entry.name, kBootstrapVersion, &result, &status);
    if (result == CUDA_ERROR_STUB_LIBRARY)
      return fail(stubMessage(path));
    if (!entry.pfn)
      return fail(path +
                  " is not a usable CUDA driver: cuGetProcAddress "
                  "found no " +
                  entry.name + " (result " + std::to_string(result) +
                  "); install the NVIDIA driver " + kEmuHint);
  }
  assign(driver->cuGetErrorName, bootstrap[0].pfn);
  assign(driver->cuGetErrorString, bootstrap[1].pfn);
  assign(driver->cuDriverGetVersion, bootstrap[2].pfn);
  assign(driver->cuInit, bootstrap[3].pfn);

  result = driver->cuDriverGetVersion(&driver->version);
  if (result == CUDA_ERROR_STUB_LIBRARY)
    return fail(stubMessage(path));
  if (result != CUDA_SUCCESS)
    return fail("the CUDA driver " + path + " does not report its version (" +
                driver->describe(result) + ")");

  result = driver->cuInit(0);
  if (result == CUDA_ERROR_STUB_LIBRARY)
    return fail(stubMessage(path));
  if (result == CUDA_ERROR_NO_DEVICE)
    return fail("no CUDA device: the CUDA driver " + driver->versionString() +
                " is installed but finds no GPU (check nvidia-smi and "
                "CUDA_VISIBLE_DEVICES), " +
                kEmuHint);
  if (result != CUDA_SUCCESS)
    return fail("the CUDA driver " + driver->versionString() +
                " failed to initialise: " + driver->describe(result));

  // Everything else, at the ABI version the runtime is written against.
  // The first entry point that is missing is the one the message names.
  bool missing = false;
  std::string missingName, missingWhy;
  auto want = [&](const char *name, auto &slot) {
    if (missing)
      return;
    void *pfn = getProcAddress.resolve(name, kCudaVersion, &result, &status);
    if (pfn) {
      assign(slot, pfn);
      return;
    }
    missing = true;
    missingName = name;
    if (result != CUDA_SUCCESS)
      missingWhy = driver->describe(result);
    else if (status == 2) // CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT
      missingWhy = "the driver's version of it is older than CUDA 12.0";
    else
      missingWhy = "not found";
  };
  CudaDriver &d = *driver;
  want("cuDeviceGetCount", d.cuDeviceGetCount);
  want("cuDeviceGet", d.cuDeviceGet);
  want("cuDeviceGetName", d.cuDeviceGetName);
  want("cuDeviceGetAttribute", d.cuDeviceGetAttribute);
  want("cuDevicePrimaryCtxRetain", d.cuDevicePrimaryCtxRetain);
  want("cuDevicePrimaryCtxRelease", d.cuDevicePrimaryCtxRelease);
  want("cuCtxSetCurrent", d.cuCtxSetCurrent);
  want("cuCtxSynchronize", d.cuCtxSynchronize);
  want("cuModuleLoadData", d.cuModuleLoadData);
  want("cuModuleUnload", d.cuModuleUnload);
  want("cuModuleGetFunction", d.cuModuleGetFunction);
  want("cuFuncGetAttribute", d.cuFuncGetAttribute);
  want("cuFuncSetAttribute", d.cuFuncSetAttribute);
  want("cuLaunchKernel", d.cuLaunchKernel);
  want("cuLaunchCooperativeKernel", d.cuLaunchCooperativeKernel);
  want("cuMemAlloc", d.cuMemAlloc);
  want("cuMemFree", d.cuMemFree);
  want("cuMemcpyHtoD", d.cuMemcpyHtoD);
  want("cuMemcpyDtoH", d.cuMemcpyDtoH);
  want("cuMemcpyHtoDAsync", d.cuMemcpyHtoDAsync);
  want("cuMemcpyDtoHAsync", d.cuMemcpyDtoHAsync);
  want("cuMemsetD8Async", d.cuMemsetD8Async);
  want("cuMemcpyDtoDAsync", d.cuMemcpyDtoDAsync);
  want("cuStreamCreate", d.cuStreamCreate);
  want("cuStreamDestroy", d.cuStreamDestroy);
  want("cuStreamSynchronize", d.cuStreamSynchronize);
  want("cuEventCreate", d.cuEventCreate);
  want("cuEventDestroy", d.cuEventDestroy);
  want("cuEventRecord", d.cuEventRecord);
  want("cuEventSynchronize", d.cuEventSynchronize);
  want("cuEventElapsedTime", d.cuEventElapsedTime);
  want("cuStreamWaitEvent", d.cuStreamWaitEvent);
  want("cuOccupancyMaxActiveBlocksPerMultiprocessor",
       d.cuOccupancyMaxActiveBlocksPerMultiprocessor);
  if (!missing)
    if (void *pfn = getProcAddress.resolve("cuTensorMapEncodeTiled",
                                           kCudaVersion, &result, &status))
      assign(d.cuTensorMapEncodeTiled, pfn);
  if (missing)
    return fail("the CUDA driver " + d.versionString() +
                " is too old: it has no " + missingName + " for CUDA 12.0 (" +
                missingWhy +
                "); attnc needs a driver for CUDA 12.0 or newer, update the "
                "NVIDIA driver");

  int count = 0;
  result = d.cuDeviceGetCount(&count);
  if (result == CUDA_ERROR_NO_DEVICE || (result == CUDA_SUCCESS && count == 0))
    return fail("no CUDA device: the CUDA driver " + d.versionString() +
                " is installed but finds no GPU (check nvidia-smi and "
                "CUDA_VISIBLE_DEVICES), " +
                kEmuHint);
  if (result != CUDA_SUCCESS)
    return fail("the CUDA driver " + d.versionString() +
                " cannot count devices: " + d.describe(result));
  return driver;
}

std::unique_ptr<CudaDriver>
CudaDriver::fromGetProcAddress(GetProcAddressFn getProcAddress,
                               const std::string &path, std::string *error) {
  ProcAddress lookup;
  lookup.v2 = getProcAddress;
  if (!getProcAddress) {
    if (error)
      *error = "no cuGetProcAddress given for " + path;
    return nullptr;
  }
  return init(lookup, path, error);
}

std::unique_ptr<CudaDriver> CudaDriver::load(const std::string &path,
                                             std::string *error) {
  auto fail = [&](const std::string &message) {
    if (error)
      *error = message;
    return nullptr;
  };
  // RTLD_LOCAL keeps the driver's symbols out of the global namespace, so
  // nothing else in the process binds to them by accident; RTLD_NOW makes
  // a broken installation fail here rather than at some later call.
  dlerror();
  void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char *why = dlerror();
    return fail("no CUDA driver: " + path + " could not be loaded (" +
                (why ? why : "unknown reason") +
                "); install the NVIDIA driver " + kEmuHint);
  }
  // The handle is never closed (see the header), also on failure: a driver
  // that got as far as cuInit may have started threads.
  ProcAddress lookup;
  assign(lookup.v2, dlsym(handle, "cuGetProcAddress_v2"));
  if (!lookup.v2)
    assign(lookup.v1, dlsym(handle, "cuGetProcAddress"));
  if (!lookup.v2 && !lookup.v1)
    return fail(path +
                " is not a usable CUDA driver: it has no cuGetProcAddress "
                "(drivers have it since CUDA 11.3); install a current "
                "NVIDIA driver " +
                kEmuHint);
  return init(lookup, path, error);
}

const CudaDriver *CudaDriver::get(std::string *error) {
  struct Outcome {
    std::unique_ptr<CudaDriver> driver;
    std::string error;
  };
  // A function-local static is initialised exactly once even when threads
  // race here. It is deliberately leaked: the driver must outlive every
  // static destructor that might still free device memory at exit.
  static const Outcome *outcome = [] {
    auto *o = new Outcome();
    const char *chosen = std::getenv("ATTNC_LIBCUDA");
    bool overridden = chosen && *chosen;
    o->driver = load(overridden ? chosen : "libcuda.so.1", &o->error);
    if (!o->driver && overridden)
      o->error += " [library chosen by ATTNC_LIBCUDA]";
    return o;
  }();
  if (!outcome->driver && error)
    *error = outcome->error;
  return outcome->driver.get();
}

bool attnc::rt::deviceArch(const CudaDriver &driver, int ordinal,
                           std::string *arch, std::string *error, int *sms) {
  auto fail = [&](const std::string &what, CUresult result) {
    if (error)
      *error = "cannot " + what + " CUDA device " + std::to_string(ordinal) +
               ": " + driver.describe(result);
    return false;
  };
  CUdevice device = 0;
  CUresult result = driver.cuDeviceGet(&device, ordinal);
  if (result != CUDA_SUCCESS)
    return fail("open", result);
  int major = 0, minor = 0;
  result = driver.cuDeviceGetAttribute(
      &major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device);
  if (result == CUDA_SUCCESS)
    result = driver.cuDeviceGetAttribute(
        &minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device);
  if (result != CUDA_SUCCESS)
    return fail("query the compute capability of", result);
  if (sms) {
    result = driver.cuDeviceGetAttribute(
        sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, device);
    if (result != CUDA_SUCCESS)
      return fail("count the SMs of", result);
  }
  if (arch)
    *arch = "sm_" + std::to_string(major) + std::to_string(minor);
  return true;
}

std::string attnc::rt::explainModuleLoadFailure(const CudaDriver &driver,
                                                CUresult result,
                                                const std::string &fileArch,
                                                const std::string &deviceArch) {
  switch (result) {
  case CUDA_ERROR_NO_BINARY_FOR_GPU:
    return "the model was compiled for " + fileArch + " but the device is " +
           deviceArch + "; recompile with --arch " + deviceArch;
  case CUDA_ERROR_UNSUPPORTED_PTX_VERSION:
  case CUDA_ERROR_INVALID_PTX:
    return "the CUDA driver " + driver.versionString() +
           " is too old for the model (" + driver.describe(result) +
           "); update the NVIDIA driver";
  default:
    return driver.describe(result);
  }
}
