//===- CudaDriver.h - the CUDA driver API, resolved at run time -*- C++ -*-===//
//
// The runtime never links libcuda: the same binary must start, run the emu
// device and explain what is missing on a machine without the NVIDIA
// driver. CudaDriver loads libcuda.so.1 with dlopen on first use, resolves
// every entry point the runtime calls through cuGetProcAddress (so that the
// driver, not the dynamic linker, picks the ABI version of each one), and
// turns each way this can fail into one line a user can act on. The few
// driver types are declared here, in this namespace, so that no CUDA header
// is needed to build the runtime.
//
// Environment:
//   ATTNC_LIBCUDA  full path of a libcuda to dlopen instead of libcuda.so.1,
//                  read once, by the first CudaDriver::get. Meant for tests
//                  (e.g. the toolkit's stub, lib64/stubs/libcuda.so).
//
//===----------------------------------------------------------------------===//

#ifndef ATTNC_RUNTIME_CUDADRIVER_H
#define ATTNC_RUNTIME_CUDADRIVER_H

#include <cstddef>
#include <memory>
#include <string>

namespace attnc::rt {

// Driver API types, ABI-compatible with cuda.h (enums are passed as int).
// They live in attnc::rt, so a file that also includes cuda.h sees no clash
// unless it imports this namespace.
using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
struct CUctx_st;
struct CUmod_st;
struct CUfunc_st;
struct CUstream_st;
struct CUevent_st;
using CUcontext = CUctx_st *;
using CUmodule = CUmod_st *;
using CUfunction = CUfunc_st *;
using CUstream = CUstream_st *;
using CUevent = CUevent_st *;

// The result codes and attributes the runtime inspects by value.
enum : CUresult {
  CUDA_SUCCESS = 0,
  CUDA_ERROR_INVALID_VALUE = 1,
  CUDA_ERROR_STUB_LIBRARY = 34,
  CUDA_ERROR_NO_DEVICE = 100,
  CUDA_ERROR_NO_BINARY_FOR_GPU = 209,
  CUDA_ERROR_INVALID_PTX = 218,
  CUDA_ERROR_UNSUPPORTED_PTX_VERSION = 222,
};
enum : int {
  CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
  CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
  CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16,
};

/// The loaded driver: the version it reports and one pointer per entry
/// point the runtime uses, each resolved for the CUDA 12.0 ABI (so, for
/// instance, cuMemAlloc is cuMemAlloc_v2 and cuStreamDestroy is
/// cuStreamDestroy_v2). All pointers are non-null in a loaded driver.
class CudaDriver {
public:
  /// Loads the driver once per process (thread-safe) and returns it, or
  /// null with a one-line, user-facing reason in *error. The outcome,
  /// failure included, is cached: a process sees one driver or one reason.
  static const CudaDriver *get(std::string *error);

  /// Loads the driver from `path` (a file name for dlopen's search or a
  /// full path) without caching, for tests and tools that try several
  /// libraries. Libraries are never unloaded: a driver may keep threads and
  /// exit handlers, and dlopen of an already-loaded path returns that copy.
  static std::unique_ptr<CudaDriver> load(const std::string &path,
                                          std::string *error);

  /// The signature of cuGetProcAddress_v2 (the last parameter is a
  /// CUdriverProcAddressQueryResult*).
  using GetProcAddressFn = CUresult (*)(const char *symbol, void **pfn,
                                        int cudaVersion,
                                        unsigned long long flags,
                                        int *symbolStatus);

  /// Resolves and initialises a driver through `getProcAddress`, as load
  /// does once it has found that function in the library; `path` only
  /// names the driver in messages. Lets tests run every outcome (success,
  /// stub, no device, old driver) against a fake driver.
  static std::unique_ptr<CudaDriver>
  fromGetProcAddress(GetProcAddressFn getProcAddress, const std::string &path,
                     std::string *error);

  /// "CUDA_ERROR_X: description" for a result code; "CUDA error N" when the
  /// driver does not know the code.
  std::string describe(CUresult result) const;

  /// The driver version as "12.4".
  std::string versionString() const;

  int version = 0;  ///< cuDriverGetVersion, e.g. 12040.
  std::string path; ///< What was passed to dlopen.

  CUresult (*cuInit)(unsigned int flags) = nullptr;
  CUresult (*cuDriverGetVersion)(int *driverVersion) = nullptr;
  CUresult (*cuDeviceGetCount)(int *count) = nullptr;
  CUresult (*cuDeviceGet)(CUdevice *device, int ordinal) = nullptr;
  CUresult (*cuDeviceGetName)(char *name, int len, CUdevice dev) = nullptr;
  CUresult (*cuDeviceGetAttribute)(int *pi, int attrib, CUdevice dev) = nullptr;
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *pctx, CUdevice dev) = nullptr;
  CUresult (*cuDevicePrimaryCtxRelease)(CUdevice dev) = nullptr;
  CUresult (*cuCtxSetCurrent)(CUcontext ctx) = nullptr;
  CUresult (*cuCtxSynchronize)() = nullptr;
  CUresult (*cuModuleLoadData)(CUmodule *module, const void *image) = nullptr;
  CUresult (*cuModuleUnload)(CUmodule hmod) = nullptr;
  CUresult (*cuModuleGetFunction)(CUfunction *hfunc, CUmodule hmod,
                                  const char *name) = nullptr;
  CUresult (*cuFuncGetAttribute)(int *pi, int attrib,
                                 CUfunction hfunc) = nullptr;
  CUresult (*cuFuncSetAttribute)(CUfunction hfunc, int attrib,
                                 int value) = nullptr;
  CUresult (*cuLaunchKernel)(CUfunction f, unsigned int gridDimX,
                             unsigned int gridDimY, unsigned int gridDimZ,
                             unsigned int blockDimX, unsigned int blockDimY,
                             unsigned int blockDimZ,
                             unsigned int sharedMemBytes, CUstream hStream,
                             void **kernelParams, void **extra) = nullptr;
  CUresult (*cuLaunchCooperativeKernel)(
      CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
      unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY,
      unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream,
      void **kernelParams) = nullptr;
  CUresult (*cuMemAlloc)(CUdeviceptr *dptr, size_t bytesize) = nullptr;
  CUresult (*cuMemFree)(CUdeviceptr dptr) = nullptr;
  CUresult (*cuMemcpyHtoD)(CUdeviceptr dstDevice, const void *srcHost,
                           size_t byteCount) = nullptr;
  CUresult (*cuMemcpyDtoH)(void *dstHost, CUdeviceptr srcDevice,
                           size_t byteCount) = nullptr;
  CUresult (*cuMemcpyHtoDAsync)(CUdeviceptr dstDevice, const void *srcHost,
                                size_t byteCount, CUstream hStream) = nullptr;
  CUresult (*cuMemcpyDtoHAsync)(void *dstHost, CUdeviceptr srcDevice,
                                size_t byteCount, CUstream hStream) = nullptr;
  CUresult (*cuMemsetD8Async)(CUdeviceptr dstDevice, unsigned char uc,
                              size_t n, CUstream hStream) = nullptr;
  CUresult (*cuMemcpyDtoDAsync)(CUdeviceptr dstDevice, CUdeviceptr srcDevice,
                                size_t byteCount, CUstream hStream) = nullptr;
  CUresult (*cuStreamCreate)(CUstream *phStream, unsigned int flags) = nullptr;
  CUresult (*cuStreamDestroy)(CUstream hStream) = nullptr;
  CUresult (*cuStreamSynchronize)(CUstream hStream) = nullptr;
  /// Events, for attnc_session_profile's per-launch times.
  CUresult (*cuEventCreate)(CUevent *phEvent, unsigned int flags) = nullptr;
  CUresult (*cuEventDestroy)(CUevent hEvent) = nullptr;
  CUresult (*cuEventRecord)(CUevent hEvent, CUstream hStream) = nullptr;
  CUresult (*cuEventSynchronize)(CUevent hEvent) = nullptr;
  CUresult (*cuEventElapsedTime)(float *pMilliseconds, CUevent hStart,
                                 CUevent hEnd) = nullptr;
  /// A session's runs in order across streams (Device::beginRun).
  CUresult (*cuStreamWaitEvent)(CUstream hStream, CUevent hEvent,
                                unsigned int flags) = nullptr;
  /// Whether a cooperative launch's blocks can all be resident at once.
  CUresult (*cuOccupancyMaxActiveBlocksPerMultiprocessor)(
      int *numBlocks, CUfunction func, int blockSize,
      size_t dynamicSMemSize) = nullptr;
  /// TMA tensor maps (the sm_90a kernels). Optional: resolved when the
  /// driver has it, and checked by the launches that need it. The enums
  /// are passed as their values in cuda.h (CUtensorMapDataType and so on).
  CUresult (*cuTensorMapEncodeTiled)(
      void *tensorMap, int dataType, unsigned int rank, void *globalAddress,
      const unsigned long long *globalDim,
      const unsigned long long *globalStrides, const unsigned int *boxDim,
      const unsigned int *elementStrides, int interleave, int swizzle,
      int l2Promotion, int oobFill) = nullptr;
  CUresult (*cuGetErrorName)(CUresult error, const char **pStr) = nullptr;
  CUresult (*cuGetErrorString)(CUresult error, const char **pStr) = nullptr;

private:
  CudaDriver() = default;
  struct ProcAddress; // cuGetProcAddress, either version.
  static std::unique_ptr<CudaDriver> init(const ProcAddress &getProcAddress,
                                          const std::string &path,
                                          std::string *error);
};

/// Compute capability of device `ordinal` as "sm_90", and (where `sms` is
/// given) its number of SMs.
bool deviceArch(const CudaDriver &driver, int ordinal, std::string *arch,
                std::string *error, int *sms = nullptr);

/// A user-facing explanation for a cuModuleLoadData failure of a model
/// compiled for `fileArch` on a device of `deviceArch` (both like "sm_90").
std::string explainModuleLoadFailure(const CudaDriver &driver, CUresult result,
                                     const std::string &fileArch,
                                     const std::string &deviceArch);

} // namespace attnc::rt

#endif // ATTNC_RUNTIME_CUDADRIVER_H
