//===- CudaDevice.cpp - running a model on a GPU ---------------------------===//
//
// The CUDA device: the driver comes from CudaDriver (dlopen, no link-time
// dependency), the model's cubin is loaded as is with cuModuleLoadData,
// and each plan step becomes a launch (cooperative for recurrences, whose
// grid-wide barriers need every block resident) or a memory operation.
// Before loading, the model's architecture is compared with the device's,
// so a mismatch is explained rather than reported as a driver error code.
//
//===----------------------------------------------------------------------===//

#include "CudaDriver.h"
#include "Device.h"

#include <algorithm>
#include <map>

using namespace attnc::rt;

namespace {

/// "sm_90a" -> (9, 0, true).
struct Arch {
  int major = 0, minor = 0;
  bool archSpecific = false;
};
bool parseArch(const std::string &name, Arch *arch) {
  if (name.rfind("sm_", 0) != 0 || name.size() < 5)
    return false;
  std::string digits = name.substr(3);
  arch->archSpecific = !digits.empty() && digits.back() == 'a';
  if (arch->archSpecific)
    digits.pop_back();
  if (digits.size() < 2)
    return false;
  arch->major = std::atoi(digits.substr(0, digits.size() - 1).c_str());
  arch->minor = digits.back() - '0';
  return arch->major > 0;
}

class CudaDevice : public Device {
public:
  CudaDevice(const CudaDriver &driver, CUdevice device, CUcontext context,
             std::string arch)
      : driver(driver), device(device), context(context),
        arch(std::move(arch)) {}
  ~CudaDevice() override {
    driver.cuCtxSetCurrent(context);
    for (CUevent event : {timerStart, timerStop, lastRun})
      if (event)
        driver.cuEventDestroy(event);
    if (module)
      driver.cuModuleUnload(module);
    driver.cuDevicePrimaryCtxRelease(device);
  }

  /// Every entry point makes the session's context current first: the
  /// API promises one thread at a time, not always the same thread.
  void bind() { driver.cuCtxSetCurrent(context); }

  Failure check(CUresult result, const char *what) {
    if (result == 0)
      return Failure::ok();
    return {ATTNC_DEVICE_ERROR,
            std::string(what) + " failed: " + driver.describe(result)};
  }

  Failure load(const LoadedModel &model) override {
    Arch file, here;
    if (!parseArch(model.plan.arch, &file) || !parseArch(arch, &here))
      return {ATTNC_INCOMPATIBLE, "unknown architecture '" + model.plan.arch +
                                      "' in the model file"};
    // SASS runs on the same major version at the same or a later minor;
    // "a" variants only on exactly their own architecture.
    bool runs = file.major == here.major &&
                (file.archSpecific ? file.minor == here.minor
                                   : file.minor <= here.minor);
    if (!runs)
      return {ATTNC_INCOMPATIBLE,
              "the model was compiled for " + model.plan.arch +
                  " but the device is " + arch + "; recompile with --arch " +
                  arch};
    driver.cuCtxSetCurrent(context);
    CUresult result = driver.cuModuleLoadData(&module, model.file.data());
    if (result != 0)
      return {ATTNC_INCOMPATIBLE, explainModuleLoadFailure(
                                      driver, result, model.plan.arch, arch)};
    // A kernel that several steps launch (a shared GEMM) gets the largest
    // dynamic shared memory any of them asks for.
    std::map<std::string, size_t> sharedBytes;
    for (const PlanStep &step : model.plan.steps)
      if (step.op == PlanStep::Op::Launch)
        sharedBytes[step.kernel] =
            std::max(sharedBytes[step.kernel], step.dynamicShared);
    for (const PlanStep &step : model.plan.steps) {
      if (step.op != PlanStep::Op::Launch || functions.count(step.kernel))
        continue;
      CUfunction function;
      if (Failure f = check(driver.cuModuleGetFunction(&function, module,
                                                       step.kernel.c_str()),
                            "cuModuleGetFunction"))
        return f;
      // Above 48 KiB, dynamic shared memory must be asked for
      // (CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8).
      size_t bytes = sharedBytes[step.kernel];
      if (bytes > 48 * 1024)
        if (Failure f = check(driver.cuFuncSetAttribute(function, 8, int(bytes)),
                              "cuFuncSetAttribute"))
          return f;
      functions[step.kernel] = function;
    }
    for (const PlanStep &step : model.plan.steps)
      if (step.op == PlanStep::Op::Launch && step.cooperative)
        if (Failure f = checkCoResident(step))
          return f;
    return Failure::ok();
  }

  /// A cooperative launch (a persistent recurrence's grid barrier) needs
  /// all its blocks resident at once. The compiler sizes its grid for the
  /// target's SMs (a block each); on a GPU of the same architecture with
  /// fewer SMs (an H100 PCIe's 114 against an H200's 132) the driver
  /// would refuse the launch with a bare error code, so say why here.
  Failure checkCoResident(const PlanStep &step) {
    int perSM = 0, sms = 0;
    if (Failure f = check(driver.cuOccupancyMaxActiveBlocksPerMultiprocessor(
                              &perSM, functions.at(step.kernel),
                              int(step.block[0] * step.block[1] *
                                  step.block[2]),
                              step.dynamicShared),
                          "cuOccupancyMaxActiveBlocksPerMultiprocessor"))
      return f;
    if (Failure f = check(driver.cuDeviceGetAttribute(
                              &sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT,
                              device),
                          "cuDeviceGetAttribute"))
      return f;
    long long blocks =
        (long long)step.grid[0] * step.grid[1] * step.grid[2];
    if (blocks <= (long long)perSM * sms)
      return Failure::ok();
    char name[256] = "this GPU";
    driver.cuDeviceGetName(name, sizeof name, device);
    if (perSM == 0) // fewer SMs would not help
      return {ATTNC_INCOMPATIBLE,
              step.kernel + " (" + step.kind + ") cannot run even one block "
              "per SM on " + std::string(name) + " (its " +
                  std::to_string(step.dynamicShared) +
                  " bytes of shared memory or its registers per block)"};
    return {ATTNC_INCOMPATIBLE,
            step.kernel + " (" + step.kind + ") needs its " +
                std::to_string(blocks) +
                " blocks resident at once for its grid barrier, but " +
                name + " holds " + std::to_string(perSM * sms) + " (" +
                std::to_string(perSM) + " per SM on " + std::to_string(sms) +
                " SMs); recompile the model with --sms " +
                std::to_string(sms)};
  }

  Failure allocate(size_t bytes, uint64_t *address) override {
    bind();
    CUdeviceptr pointer = 0;
    Failure f = check(driver.cuMemAlloc(&pointer, bytes ? bytes : 1),
                      "cuMemAlloc");
    *address = pointer;
    return f;
  }
  void free(uint64_t address) override { bind(); driver.cuMemFree(address); }
  Failure toDevice(uint64_t to, const void *from, size_t bytes,
                   void *stream) override {
    bind();
    return check(driver.cuMemcpyHtoDAsync(to, from, bytes, CUstream(stream)),
                 "cuMemcpyHtoDAsync");
  }
  Failure toHost(void *to, uint64_t from, size_t bytes, void *stream) override {
    bind();
    if (Failure f = check(driver.cuMemcpyDtoHAsync(to, from, bytes,
                                                   CUstream(stream)),
                          "cuMemcpyDtoHAsync"))
      return f;
    return synchronize(stream);
  }
  Failure copy(uint64_t to, uint64_t from, size_t bytes, void *stream) override {
    bind();
    return check(driver.cuMemcpyDtoDAsync(to, from, bytes, CUstream(stream)),
                 "cuMemcpyDtoDAsync");
  }
  // On the session's stream, so a run's barrier counters are not reset
  // while the previous run's kernels still use them.
  Failure zero(uint64_t address, size_t bytes, void *stream) override {
    bind();
    return check(driver.cuMemsetD8Async(address, 0, bytes, CUstream(stream)),
                 "cuMemsetD8Async");
  }
  Failure launch(const PlanStep &step, const std::vector<uint64_t> &args,
                 void *stream) override {
    bind();
    std::vector<CUdeviceptr> values(args.begin(), args.end());
    std::vector<void *> params;
    for (CUdeviceptr &value : values)
      params.push_back(&value);
    // Tensor maps follow the buffers, each encoded for its buffer's address
    // (CUtensorMap: 128 bytes, 64-byte aligned).
    struct alignas(64) TensorMap {
      unsigned char bytes[128];
    };
    std::vector<TensorMap> maps(step.maps.size());
    for (size_t i = 0; i < step.maps.size(); ++i) {
      const TensorMapDesc &m = step.maps[i];
      if (!driver.cuTensorMapEncodeTiled)
        return {ATTNC_DEVICE_ERROR,
                "launching " + step.kernel + " needs cuTensorMapEncodeTiled "
                "(TMA), which the CUDA driver " + driver.versionString() +
                " lacks"};
      // Rank 3 (columns, rows, slices), innermost first; dense rows of
      // 2-byte elements; strides in bytes, for all but the innermost dim.
      unsigned long long dims[3] = {(unsigned long long)m.cols,
                                    (unsigned long long)m.rows,
                                    (unsigned long long)m.outer};
      unsigned long long strides[2] = {(unsigned long long)m.cols * 2,
                                       (unsigned long long)(m.rows * m.cols) * 2};
      unsigned int box[3] = {unsigned(m.boxCols), unsigned(m.boxRows), 1};
      unsigned int unit[3] = {1, 1, 1};
      // cuda.h: CU_TENSOR_MAP_DATA_TYPE_FLOAT16 = 6, _BFLOAT16 = 9;
      // INTERLEAVE_NONE = 0; SWIZZLE_128B = 3; L2_PROMOTION_L2_128B = 2;
      // FLOAT_OOB_FILL_NONE = 0 (zeros outside the tensor).
      int type = m.type == ElementType::BF16 ? 9 : 6;
      CUresult result = driver.cuTensorMapEncodeTiled(
          maps[i].bytes, type, 3, reinterpret_cast<void *>(values[m.arg]),
          dims, strides, box, unit, 0, 3, 2, 0);
      if (result != 0)
        return {ATTNC_DEVICE_ERROR, "encoding a tensor map for " +
                                        step.kernel + " failed: " +
                                        driver.describe(result)};
      params.push_back(maps[i].bytes);
    }
    // Then the scalars of a shared kernel (64-bit values).
    std::vector<long long> scalars(step.scalars.begin(), step.scalars.end());
    for (long long &value : scalars)
      params.push_back(&value);
    CUfunction function = functions.at(step.kernel);
    CUresult result =
        step.cooperative
            ? driver.cuLaunchCooperativeKernel(
                  function, step.grid[0], step.grid[1], step.grid[2],
                  step.block[0], step.block[1], step.block[2],
                  unsigned(step.dynamicShared), CUstream(stream), params.data())
            : driver.cuLaunchKernel(function, step.grid[0], step.grid[1],
                                    step.grid[2], step.block[0], step.block[1],
                                    step.block[2], unsigned(step.dynamicShared),
                                    CUstream(stream), params.data(), nullptr);
    if (result != 0)
      return {ATTNC_DEVICE_ERROR, "launching " + step.kernel + " (" +
                                      step.kind + ") failed: " +
                                      driver.describe(result)};
    return Failure::ok();
  }
  Failure synchronize(void *stream) override {
    bind();
    return check(driver.cuStreamSynchronize(CUstream(stream)),
                 "cuStreamSynchronize");
  }
  Failure beginRun(void *stream) override {
    bind();
    // Always, even on the same handle: the per-thread default stream's
    // handle names another stream on each host thread, and a destroyed
    // stream's handle may come back for a new one. On the stream that
    // recorded it the wait is already satisfied in order.
    if (!lastRun)
      return Failure::ok();
    return check(driver.cuStreamWaitEvent(CUstream(stream), lastRun, 0),
                 "cuStreamWaitEvent");
  }
  Failure endRun(void *stream) override {
    bind();
    // CU_EVENT_DISABLE_TIMING = 2: an event only waited on.
    if (!lastRun)
      if (Failure f = check(driver.cuEventCreate(&lastRun, 2), "cuEventCreate"))
        return f;
    return check(driver.cuEventRecord(lastRun, CUstream(stream)),
                 "cuEventRecord");
  }
  Failure startTimer(void *stream) override {
    bind();
    for (CUevent *event : {&timerStart, &timerStop})
      if (!*event)
        if (Failure f = check(driver.cuEventCreate(event, 0), "cuEventCreate"))
          return f;
    return check(driver.cuEventRecord(timerStart, CUstream(stream)),
                 "cuEventRecord");
  }
  Failure stopTimer(void *stream, double *milliseconds) override {
    bind();
    float elapsed = 0.0f;
    if (Failure f = check(driver.cuEventRecord(timerStop, CUstream(stream)),
                          "cuEventRecord"))
      return f;
    if (Failure f = check(driver.cuEventSynchronize(timerStop),
                          "cuEventSynchronize"))
      return f;
    Failure f = check(driver.cuEventElapsedTime(&elapsed, timerStart, timerStop),
                      "cuEventElapsedTime");
    *milliseconds = elapsed;
    return f;
  }

private:
  const CudaDriver &driver;
  CUdevice device;
  CUcontext context;
  std::string arch;
  CUmodule module = nullptr;
  std::map<std::string, CUfunction> functions;
  CUevent timerStart = nullptr, timerStop = nullptr; // made on first use
  CUevent lastRun = nullptr; // recorded where the last run's work ends
};

} // namespace

std::unique_ptr<Device> attnc::rt::createCudaDevice(int ordinal,
                                                    Failure *failure) {
  std::string error;
  const CudaDriver *driver = CudaDriver::get(&error);
  if (!driver) {
    bool noDevice = error.find("no CUDA device") != std::string::npos;
    *failure = {noDevice ? ATTNC_NO_DEVICE : ATTNC_NO_DRIVER, error};
    return nullptr;
  }
  return createCudaDevice(*driver, ordinal, failure);
}

std::unique_ptr<Device> attnc::rt::createCudaDevice(const CudaDriver &driver,
                                                    int ordinal,
                                                    Failure *failure) {
  std::string error;
  int count = 0;
  driver.cuDeviceGetCount(&count);
  if (ordinal < 0 || ordinal >= count) {
    *failure = {ATTNC_NO_DEVICE, "no CUDA device " + std::to_string(ordinal) +
                                     " (" + std::to_string(count) +
                                     " present)"};
    return nullptr;
  }
  CUdevice device;
  CUcontext context;
  std::string arch;
  bool retained = false;
  if (driver.cuDeviceGet(&device, ordinal) != 0 ||
      !(retained = driver.cuDevicePrimaryCtxRetain(&context, device) == 0) ||
      !deviceArch(driver, ordinal, &arch, &error)) {
    if (retained)
      driver.cuDevicePrimaryCtxRelease(device);
    *failure = {ATTNC_DEVICE_ERROR, "cannot open CUDA device " +
                                        std::to_string(ordinal) +
                                        (error.empty() ? "" : ": " + error)};
    return nullptr;
  }
  driver.cuCtxSetCurrent(context);
  return std::make_unique<CudaDevice>(driver, device, context, arch);
}
