//===- Device.h - where a session's buffers live and kernels run -*- C++ -*-===//
//
// The two devices behind attnc_session: CUDA (a GPU through the driver,
// resolved at run time) and emu (the CPU, running the model's CUDA source
// compiled against the emulation layer). A device owns a loaded module and
// moves bytes; Runtime.cpp walks the plan over it. Addresses are 64-bit
// integers: CUdeviceptr values on the GPU, host pointers on the CPU.
//
//===----------------------------------------------------------------------===//

#ifndef ATTNC_RUNTIME_DEVICE_H
#define ATTNC_RUNTIME_DEVICE_H

#include "ModelFile.h"
#include "Plan.h"

#include "attnc/runtime.h"

#include <memory>
#include <string>
#include <vector>

namespace attnc::rt {

/// A failure as the C API reports it; code ATTNC_OK means success.
struct Failure {
  attnc_status_code code = ATTNC_OK;
  std::string message;
  explicit operator bool() const { return code != ATTNC_OK; }
  static Failure ok() { return {}; }
};

/// What a device needs to know about the model it runs.
struct LoadedModel {
  std::vector<char> file; // the cubin
  ModelContents contents;
  Plan plan;
};

class Device {
public:
  virtual ~Device() = default;
  /// Loads the model's kernels (once per session).
  virtual Failure load(const LoadedModel &model) = 0;
  virtual Failure allocate(size_t bytes, uint64_t *address) = 0;
  virtual void free(uint64_t address) = 0;
  virtual Failure toDevice(uint64_t to, const void *from, size_t bytes,
                           void *stream) = 0;
  virtual Failure toHost(void *to, uint64_t from, size_t bytes,
                         void *stream) = 0;
  virtual Failure copy(uint64_t to, uint64_t from, size_t bytes,
                       void *stream) = 0;
  virtual Failure zero(uint64_t address, size_t bytes, void *stream) = 0;
  virtual Failure launch(const PlanStep &step,
                         const std::vector<uint64_t> &args, void *stream) = 0;
  virtual Failure synchronize(void *stream) = 0;
  /// Orders a run on `stream` after the session's previous run, whatever
  /// stream that was on (the run calls endRun when all of it is
  /// enqueued). Runs share the session's buffers and the counters each
  /// zeroes first: a run zeroing a grid barrier's counter under a
  /// recurrence still running on another stream would leave that barrier
  /// waiting forever. The CPU runs launches as they are enqueued.
  virtual Failure beginRun(void *stream) { return Failure::ok(); }
  virtual Failure endRun(void *stream) { return Failure::ok(); }
  /// Times what is enqueued on `stream` between the two calls, waiting for
  /// it: events on the GPU, the wall clock on the CPU (whose launches run
  /// as they are enqueued).
  virtual Failure startTimer(void *stream) = 0;
  virtual Failure stopTimer(void *stream, double *milliseconds) = 0;
};

std::unique_ptr<Device> createCudaDevice(int ordinal, Failure *failure);
class CudaDriver;
/// The same on a given driver (the tests' fake one).
std::unique_ptr<Device> createCudaDevice(const CudaDriver &driver, int ordinal,
                                         Failure *failure);
std::unique_ptr<Device> createEmuDevice(Failure *failure);

} // namespace attnc::rt

#endif
