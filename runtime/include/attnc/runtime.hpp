//===- attnc/runtime.hpp - RAII over the attnc runtime C API ----*- C++ -*-===//
//
// A thin C++17 layer over attnc/runtime.h: handles release themselves,
// failures throw attnc::Error (carrying the status code and message).
//
//   attnc::Model model("model.cubin");
//   attnc::Session session(model, ATTNC_DEVICE_EMU);
//   session.bindInput(0, x.data(), x.size() * sizeof(float), ATTNC_F32,
//                     model.input(0).shape());
//   session.run();
//   session.readOutput(0, y.data(), y.size() * sizeof(float));
//
//===----------------------------------------------------------------------===//

#ifndef ATTNC_RUNTIME_HPP
#define ATTNC_RUNTIME_HPP

#include "attnc/runtime.h"

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace attnc {

class Error : public std::runtime_error {
public:
  Error(attnc_status_code code, const std::string &message)
      : std::runtime_error(message), code_(code) {}
  attnc_status_code code() const { return code_; }

private:
  attnc_status_code code_;
};

/// Throws if `status` is a failure; releases it either way.
inline void check(attnc_status status) {
  if (!status)
    return;
  Error error(attnc_status_get_code(status), attnc_status_get_message(status));
  attnc_status_release(status);
  throw error;
}

struct TensorInfo {
  std::string name;
  attnc_dtype dtype;
  std::vector<int64_t> dims;
  size_t bytes;
  const std::vector<int64_t> &shape() const { return dims; }
};

class Model {
public:
  explicit Model(const std::string &path) {
    check(attnc_model_load(path.c_str(), &handle_));
  }
  Model(const void *data, size_t size) {
    check(attnc_model_load_memory(data, size, &handle_));
  }
  /// Takes ownership of a handle (from attnc_jit_compile, say).
  explicit Model(attnc_model handle) : handle_(handle) {}
  Model(Model &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Model &operator=(Model &&other) noexcept {
    std::swap(handle_, other.handle_);
    return *this;
  }
  Model(const Model &) = delete;
  Model &operator=(const Model &) = delete;
  ~Model() { attnc_model_release(handle_); }

  size_t numInputs() const { return attnc_model_num_inputs(handle_); }
  size_t numOutputs() const { return attnc_model_num_outputs(handle_); }
  TensorInfo input(size_t index) const {
    attnc_tensor_info info;
    check(attnc_model_input_info(handle_, index, &info));
    return convert(info);
  }
  TensorInfo output(size_t index) const {
    attnc_tensor_info info;
    check(attnc_model_output_info(handle_, index, &info));
    return convert(info);
  }
  std::string arch() const { return attnc_model_arch(handle_); }
  /// The plan's kernel launches, in order: kernel name and kind.
  size_t numLaunches() const { return attnc_model_num_launches(handle_); }
  std::pair<std::string, std::string> launch(size_t index) const {
    const char *kernel = nullptr, *kind = nullptr;
    check(attnc_model_launch_info(handle_, index, &kernel, &kind));
    return {kernel, kind};
  }
  attnc_model get() const { return handle_; }

private:
  static TensorInfo convert(const attnc_tensor_info &info) {
    return {info.name, info.dtype,
            std::vector<int64_t>(info.shape, info.shape + info.rank),
            info.bytes};
  }
  attnc_model handle_ = nullptr;
};

class Session {
public:
  Session(const Model &model, attnc_device_kind kind, int ordinal = 0) {
    check(attnc_session_create(model.get(), kind, ordinal, &handle_));
  }
  Session(Session &&other) noexcept
      : handle_(std::exchange(other.handle_, nullptr)) {}
  Session &operator=(Session &&other) noexcept {
    std::swap(handle_, other.handle_);
    return *this;
  }
  Session(const Session &) = delete;
  Session &operator=(const Session &) = delete;
  ~Session() { attnc_session_release(handle_); }

  void bindInput(size_t index, const void *data, size_t bytes,
                 attnc_dtype dtype, const std::vector<int64_t> &shape) {
    check(attnc_session_bind_input_host(handle_, index, data, bytes, dtype,
                                        shape.size(), shape.data()));
  }
  void bindDeviceInput(size_t index, uint64_t pointer, size_t bytes) {
    check(attnc_session_bind_input_device(handle_, index, pointer, bytes));
  }
  void run(void *stream = nullptr) { check(attnc_session_run(handle_, stream)); }
  /// One run with each launch timed on its own (attnc_session_profile):
  /// milliseconds per launch, in the order of Model::launch.
  std::vector<double> profile(void *stream = nullptr) {
    size_t count = 0; // a NULL array asks for the number of launches
    attnc_status_release(attnc_session_profile(handle_, stream, nullptr, &count));
    std::vector<double> times(count + 1); // never a NULL array
    count = times.size();
    check(attnc_session_profile(handle_, stream, times.data(), &count));
    times.resize(count);
    return times;
  }
  void readOutput(size_t index, void *data, size_t bytes) {
    check(attnc_session_read_output(handle_, index, data, bytes));
  }
  uint64_t outputPointer(size_t index) {
    uint64_t pointer = 0;
    check(attnc_session_output_pointer(handle_, index, &pointer));
    return pointer;
  }
  attnc_session get() const { return handle_; }

private:
  attnc_session handle_ = nullptr;
};

} // namespace attnc

#endif // ATTNC_RUNTIME_HPP
