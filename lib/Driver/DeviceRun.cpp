//===- DeviceRun.cpp - `attnc run --device=emu|cuda` ----------------------===//
//
// Runs a model through the runtime library exactly as an application
// would: a model.cubin is loaded as is; a .ir file is compiled in process
// first (what attnc_jit_compile does, without its cache). Inputs come from .npy files or from the same
// random generator as interpreter runs, so `--device=interp` and
// `--device=emu` see identical inputs for the same seed.
//
//===----------------------------------------------------------------------===//

#include "attn/Driver/Driver.h"

#include "attn/Support/Float16.h"
#include "attn/Support/RandomInputs.h"

#include <cstring>

#include "attnc/runtime.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <memory>

using namespace attn;
using namespace attn::driver;

namespace {
/// Owns a status; reports it once.
struct Status {
  attnc_status status;
  ~Status() { attnc_status_release(status); }
  bool failed(const std::string &context = "") const {
    if (!status)
      return false;
    reportError((context.empty() ? "" : context + ": ") +
                attnc_status_get_message(status));
    return true;
  }
};
} // namespace

static std::vector<int64_t> shapeOf(const attnc_tensor_info &info) {
  return std::vector<int64_t>(info.shape, info.shape + info.rank);
}

/// f16 and bf16 results become f32 files unless asked to keep them.
static NpyArray toFile(NpyArray array, bool keep) {
  if (keep || (array.dtype != DType::F16 && array.dtype != DType::BF16))
    return array;
  NpyArray wide;
  wide.dtype = DType::F32;
  wide.shape = array.shape;
  size_t count = array.data.size() / 2;
  wide.data.resize(count * 4);
  for (size_t i = 0; i < count; ++i) {
    uint16_t bits = uint16_t(array.data[2 * i] | (array.data[2 * i + 1] << 8));
    float value = array.dtype == DType::F16 ? halfBitsToFloat(bits)
                                            : bfloat16BitsToFloat(bits);
    std::memcpy(&wide.data[4 * i], &value, 4);
  }
  return wide;
}

int attn::driver::runOnDevice(const RunOptions &options) {
  attnc_device_kind kind =
      options.device == "cuda" ? ATTNC_DEVICE_CUDA : ATTNC_DEVICE_EMU;
  auto buffer = llvm::MemoryBuffer::getFile(options.modelPath, false, false);
  if (!buffer) {
    reportError("cannot read model '" + options.modelPath +
                "': " + buffer.getError().message());
    return 1;
  }
  llvm::StringRef bytes = (*buffer)->getBuffer();
  attnc_model model = nullptr;
  if (bytes.starts_with("\x7f" "ELF")) {
    if (Status{attnc_model_load(options.modelPath.c_str(), &model)}.failed())
      return 1;
  } else {
    // Compiled in process, as attnc_jit_compile does for applications: for
    // the GPU present, or sm_90 code for the emulation device.
    std::string arch = "sm_90";
    int sms = 0;
    if (kind == ATTNC_DEVICE_CUDA) {
      char found[32];
      if (Status{attnc_cuda_device_arch(0, found, sizeof found)}.failed() ||
          Status{attnc_cuda_device_sms(0, &sms)}.failed())
        return 1;
      arch = found;
    }
    std::vector<char> file;
    std::string error;
    if (!compileToModelFile(bytes, options.modelPath, arch, options.entry, file,
                            error, options.f32Matmul, sms)) {
      reportError(error);
      return 1;
    }
    if (Status{attnc_model_load_memory(file.data(), file.size(), &model)}
            .failed(options.modelPath))
      return 1;
  }
  std::unique_ptr<attnc_model_s, void (*)(attnc_model)> modelOwner(
      model, attnc_model_release);

  size_t inputs = attnc_model_num_inputs(model);
  if (options.inputPaths.size() > inputs) {
    reportError(std::to_string(options.inputPaths.size()) +
                " input files given but the model takes " +
                std::to_string(inputs) + " inputs");
    return 1;
  }
  attnc_session session = nullptr;
  if (Status{attnc_session_create(model, kind, 0, &session)}.failed())
    return 1;
  std::unique_ptr<attnc_session_s, void (*)(attnc_session)> sessionOwner(
      session, attnc_session_release);

  std::vector<NpyArray> arrays(inputs);
  for (size_t i = 0; i < inputs; ++i) {
    attnc_tensor_info info;
    if (Status{attnc_model_input_info(model, i, &info)}.failed())
      return 1;
    DType dtype = DType(info.dtype);
    if (i < options.inputPaths.size()) {
      std::string error;
      if (!readNpy(options.inputPaths[i], arrays[i], error)) {
        reportError(error);
        return 1;
      }
    } else {
      arrays[i] = randomInput(options.seed, unsigned(i), shapeOf(info), dtype);
    }
    const NpyArray &array = arrays[i];
    if (Status{attnc_session_bind_input_host(
                   session, i, array.data.data(), array.data.size(),
                   attnc_dtype(array.dtype), array.shape.size(),
                   array.shape.data())}
            .failed(i < options.inputPaths.size() ? options.inputPaths[i]
                                                  : ""))
      return 1;
  }
  if (Status{attnc_session_run(session, nullptr)}.failed())
    return 1;
  // A second run, each launch timed on its own: the first paid for loading
  // the kernels and touching the buffers.
  if (options.profile) {
    std::vector<double> times(attnc_model_num_launches(model));
    size_t count = times.size();
    if (Status{attnc_session_profile(session, nullptr, times.data(), &count)}
            .failed())
      return 1;
    double total = 0;
    for (size_t i = 0; i < count; ++i) {
      const char *kernel = "", *kind = "";
      if (Status{attnc_model_launch_info(model, i, &kernel, &kind)}.failed())
        return 1;
      llvm::outs() << llvm::format("profile %-12s %-12s %10.3f ms\n", kernel,
                                   kind, times[i]);
      total += times[i];
    }
    llvm::outs() << llvm::format("profile %-25s %10.3f ms\n", "total", total);
  }

  if (std::error_code error =
          llvm::sys::fs::create_directories(options.outDir)) {
    reportError("cannot create output directory '" + options.outDir +
                "': " + error.message());
    return 1;
  }
  for (size_t i = 0, e = attnc_model_num_outputs(model); i < e; ++i) {
    attnc_tensor_info info;
    if (Status{attnc_model_output_info(model, i, &info)}.failed())
      return 1;
    NpyArray array;
    array.dtype = DType(info.dtype);
    array.shape = shapeOf(info);
    array.data.resize(info.bytes);
    if (Status{attnc_session_read_output(session, i, array.data.data(),
                                         array.data.size())}
            .failed())
      return 1;
    array = toFile(std::move(array), options.keepDType);
    llvm::SmallString<256> path(options.outDir);
    llvm::sys::path::append(path, "out" + std::to_string(i) + ".npy");
    std::string error;
    if (!writeNpy(std::string(path), array, error)) {
      reportError(error);
      return 1;
    }
    llvm::outs() << "wrote " << path << ": " << shapeString(array.shape) << " "
                 << dtypeName(array.dtype) << "\n";
  }
  return 0;
}
