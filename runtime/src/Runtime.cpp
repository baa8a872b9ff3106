//===- Runtime.cpp - the C API ---------------------------------------------===//
//
// Models are read and checked once (ModelFile: version, checksum; Plan:
// buffers and steps); sessions put a model on a device, allocate every
// buffer of the plan up front and then only copy and launch. Every entry
// point catches what could go wrong and turns it into an attnc_status: the
// library never aborts its host application.
//
//===----------------------------------------------------------------------===//

#include "CudaDriver.h"
#include "Device.h"

#include "attnc/runtime.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <new>

using namespace attnc::rt;

struct attnc_status_s {
  attnc_status_code code;
  std::string message;
};

struct attnc_model_s {
  LoadedModel loaded;
  std::vector<const BufferDesc *> inputs, outputs;
  std::atomic<int> references{1};
};

namespace {
struct Binding {
  const void *host = nullptr; // copied in at each run
  uint64_t device = 0;        // used in place
  bool bound = false;
};
} // namespace

struct attnc_session_s {
  attnc_model model = nullptr;
  std::unique_ptr<Device> device;
  std::vector<uint64_t> addresses; // by buffer id
  std::vector<Binding> inputs;
  /// The stream of the last run: outputs are read after it.
  void *stream = nullptr;
};

static attnc_status makeStatus(attnc_status_code code, std::string message) {
  return new (std::nothrow) attnc_status_s{code, std::move(message)};
}
static attnc_status makeStatus(const Failure &failure) {
  return failure ? makeStatus(failure.code, failure.message) : nullptr;
}

/// Device `ordinal`'s architecture and SM count (either may be null), or
/// why there is no such device.
static attnc_status queryCudaDevice(int ordinal, std::string *arch,
                                    int *sms) {
  std::string error;
  const CudaDriver *driver = CudaDriver::get(&error);
  if (!driver)
    return makeStatus(error.find("no CUDA device") != std::string::npos
                          ? ATTNC_NO_DEVICE
                          : ATTNC_NO_DRIVER,
                      error);
  if (!deviceArch(*driver, ordinal, arch, &error, sms))
    return makeStatus(ATTNC_NO_DEVICE, error);
  return nullptr;
}

extern "C" {

attnc_status_code attnc_status_get_code(attnc_status status) {
  return status ? status->code : ATTNC_OK;
}
const char *attnc_status_get_message(attnc_status status) {
  return status ? status->message.c_str() : "";
}
void attnc_status_release(attnc_status status) { delete status; }
attnc_status attnc_status_create(attnc_status_code code, const char *message) {
  return code == ATTNC_OK ? nullptr
                          : makeStatus(code, message ? message : "");
}

//===----------------------------------------------------------------------===//
// Models
//===----------------------------------------------------------------------===//

attnc_status attnc_model_load_memory(const void *data, size_t size,
                                     attnc_model *model) {
  if (!data || !model)
    return makeStatus(ATTNC_INVALID_ARGUMENT, "null model data or handle");
  *model = nullptr;
  auto made = std::unique_ptr<attnc_model_s>(new (std::nothrow) attnc_model_s);
  if (!made)
    return makeStatus(ATTNC_INTERNAL, "out of memory");
  const char *bytes = static_cast<const char *>(data);
  made->loaded.file.assign(bytes, bytes + size);
  std::string error;
  if (!readModelContents(made->loaded.file, &made->loaded.contents, &error))
    return makeStatus(error.find("version") != std::string::npos
                          ? ATTNC_INCOMPATIBLE
                          : ATTNC_CORRUPT_MODEL,
                      error);
  if (!parsePlan(made->loaded.contents.plan, &made->loaded.plan, &error))
    return makeStatus(error.find("version") != std::string::npos
                          ? ATTNC_INCOMPATIBLE
                          : ATTNC_CORRUPT_MODEL,
                      error);
  made->inputs = made->loaded.plan.inputs();
  made->outputs = made->loaded.plan.outputs();
  *model = made.release();
  return nullptr;
}

attnc_status attnc_model_load(const char *path, attnc_model *model) {
  if (!path || !model)
    return makeStatus(ATTNC_INVALID_ARGUMENT, "null path or model handle");
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return makeStatus(ATTNC_IO_ERROR, std::string("cannot read model '") +
                                          path + "': " + std::strerror(errno));
  std::vector<char> file((std::istreambuf_iterator<char>(in)),
                         std::istreambuf_iterator<char>());
  attnc_status status = attnc_model_load_memory(file.data(), file.size(), model);
  if (status)
    status->message = std::string(path) + ": " + status->message;
  return status;
}

void attnc_model_release(attnc_model model) {
  if (model && --model->references == 0)
    delete model;
}

size_t attnc_model_num_inputs(attnc_model model) {
  return model ? model->inputs.size() : 0;
}
size_t attnc_model_num_outputs(attnc_model model) {
  return model ? model->outputs.size() : 0;
}

static attnc_status describe(const std::vector<const BufferDesc *> &list,
                             size_t index, const char *what,
                             attnc_tensor_info *info) {
  if (!info || index >= list.size())
    return makeStatus(ATTNC_INVALID_ARGUMENT,
                      std::string("no ") + what + " " + std::to_string(index) +
                          " (the model has " + std::to_string(list.size()) +
                          ")");
  const BufferDesc &buffer = *list[index];
  info->name = buffer.name.c_str();
  info->dtype = attnc_dtype(buffer.type);
  info->rank = buffer.shape.size();
  info->shape = buffer.shape.data();
  info->bytes = buffer.byteSize();
  return nullptr;
}

attnc_status attnc_model_input_info(attnc_model model, size_t index,
                                    attnc_tensor_info *info) {
  if (!model)
    return makeStatus(ATTNC_INVALID_ARGUMENT, "null model");
  return describe(model->inputs, index, "input", info);
}
attnc_status attnc_model_output_info(attnc_model model, size_t index,
                                     attnc_tensor_info *info) {
  if (!model)
    return makeStatus(ATTNC_INVALID_ARGUMENT, "null model");
  return describe(model->outputs, index, "output", info);
}
const char *attnc_model_arch(attnc_model model) {
  return model ? model->loaded.plan.arch.c_str() : "";
}

/// The plan's kernel launches, in order (its other steps zero or copy).
static std::vector<const PlanStep *> launchesOf(attnc_model model) {
  std::vector<const PlanStep *> launches;
  for (const PlanStep &step : model->loaded.plan.steps)
    if (step.op == PlanStep::Op::Launch)
      launches.push_back(&step);
  return launches;
}

size_t attnc_model_num_launches(attnc_model model) {
  return model ? launchesOf(model).size() : 0;
}

attnc_status attnc_model_launch_info(attnc_model model, size_t index,
                                     const char **kernel, const char **kind) {
  if (!model || !kernel || !kind)
    return makeStatus(ATTNC_INVALID_ARGUMENT, "null model, kernel or kind");
  std::vector<const PlanStep *> launches = launchesOf(model);
  if (index >= launches.size())
    return makeStatus(ATTNC_INVALID_ARGUMENT,
                      "no launch " + std::to_string(index) + " (the plan has " +
                          std::to_string(launches.size()) + ")");
  *kernel = launches[index]->kernel.c_str();
  *kind = launches[index]->kind.c_str();
  return nullptr;
}

//===----------------------------------------------------------------------===//
// Sessions
//===----------------------------------------------------------------------===//

void attnc_session_release(attnc_session session) {
  if (!session)
    return;
  if (session->device)
    for (uint64_t address : session->addresses)
      if (address)
        session->device->free(address);
  attnc_model_release(session->model);
  delete session;
}

attnc_status attnc_session_create(attnc_model model, attnc_device_kind kind,
                                  int ordinal, attnc_session *session) {
  if (!model || !session)
    return makeStatus(ATTNC_INVALID_ARGUMENT, "null model or session handle");
  *session = nullptr;
  Failure failure;
  std::unique_ptr<Device> device;
  if (kind == ATTNC_DEVICE_CUDA)
    device = createCudaDevice(ordinal, &failure);
  else if (kind == ATTNC_DEVICE_EMU)
    device = createEmuDevice(&failure);
  else
    return makeStatus(ATTNC_INVALID_ARGUMENT, "unknown device kind");
  if (!device)
    return makeStatus(failure);
  if (Failure f = device->load(model->loaded))
    return makeStatus(f);
  auto made = new (std::nothrow) attnc_session_s;
  if (!made)
    return makeStatus(ATTNC_INTERNAL, "out of memory");
  ++model->references;
  made->model = model;
  made->device = std::move(device);
  made->inputs.resize(model->inputs.size());
  const Plan &plan = model->loaded.plan;
  made->addresses.assign(plan.buffers.size(), 0);
  for (const BufferDesc &buffer : plan.buffers)
    if (Failure f = made->device->allocate(buffer.byteSize(),
                                           &made->addresses[buffer.id])) {
      attnc_session_release(made);
      return makeStatus(f);
    }
  // Temporaries start at zero, once: a single-pass scan's ticket counter
  // is never reset by a run, so that its tickets count the runs and tag
  // what each run publishes (lib/Target/CUDA/EmitScan.cpp).
  for (const BufferDesc &buffer : plan.buffers)
    if (buffer.role == BufferDesc::Role::Temp)
      if (Failure f = made->device->zero(made->addresses[buffer.id],
                                         buffer.byteSize(), nullptr)) {
        attnc_session_release(made);
        return makeStatus(f);
      }
  if (Failure f = made->device->synchronize(nullptr)) {
    attnc_session_release(made);
    return makeStatus(f);
  }
  *session = made;
  return nullptr;
}

static std::string shapeText(size_t rank, const int64_t *shape) {
  std::string text;
  for (size_t i = 0; i < rank; ++i)
    text += (i ? "x" : "") + std::to_string(shape[i]);
  return text.empty() ? "scalar" : text;
}

attnc_status attnc_session_bind_input_host(attnc_session session, size_t index,
                                           const void *data, size_t bytes,
                                           attnc_dtype dtype, size_t rank,
                                           const int64_t *shape) {
  if (!session || !data || (rank && !shape))
    return makeStatus(ATTNC_INVALID_ARGUMENT, "null session, data or shape");
  const auto &inputs = session->model->inputs;
  if (index >= inputs.size())
    return makeStatus(ATTNC_INVALID_ARGUMENT,
                      "no input " + std::to_string(index) + " (the model has " +
                          std::to_string(inputs.size()) + ")");
  const BufferDesc &want = *inputs[index];
  bool sameShape = rank == want.shape.size() &&
                   std::equal(want.shape.begin(), want.shape.end(), shape);
  if (attnc_dtype(want.type) != dtype || !sameShape)
    return makeStatus(
        ATTNC_INVALID_ARGUMENT,
        "input " + std::to_string(index) + " (" + want.name + ") is " +
            shapeText(want.shape.size(), want.shape.data()) + " " +
            elementTypeName(want.type) + ", but " + shapeText(rank, shape) +
            " " + elementTypeName(ElementType(dtype)) + " was bound");
  if (bytes != want.byteSize())
    return makeStatus(ATTNC_INVALID_ARGUMENT,
                      "input " + std::to_string(index) + " needs " +
                          std::to_string(want.byteSize()) + " bytes, got " +
                          std::to_string(bytes));
  session->inputs[index] = {data, 0, true};
  return nullptr;
}

attnc_status attnc_session_bind_input_device(attnc_session session,
                                             size_t index, uint64_t pointer,
                                             size_t bytes) {
  if (!session || !pointer)
    return makeStatus(ATTNC_INVALID_ARGUMENT, "null session or pointer");
  const auto &inputs = session->model->inputs;
  if (index >= inputs.size())
    return makeStatus(ATTNC_INVALID_ARGUMENT,
                      "no input " + std::to_string(index));
  if (bytes != inputs[index]->byteSize())
    return makeStatus(ATTNC_INVALID_ARGUMENT,
                      "input " + std::to_string(index) + " needs " +
                          std::to_string(inputs[index]->byteSize()) +
                          " bytes, got " + std::to_string(bytes));
  session->inputs[index] = {nullptr, pointer, true};
  return nullptr;
}

/// Queues a run on `stream`; with `times`, times each launch on its own
/// (waiting for it) and appends its milliseconds.
static attnc_status enqueueRun(attnc_session session, void *stream,
                               std::vector<double> *times) {
  if (!session)
    return makeStatus(ATTNC_INVALID_ARGUMENT, "null session");
  const attnc_model model = session->model;
  Device &device = *session->device;
  session->stream = stream;
  std::vector<uint64_t> addresses = session->addresses;
  for (size_t i = 0; i < model->inputs.size(); ++i) {
    const Binding &binding = session->inputs[i];
    if (!binding.bound)
      return makeStatus(ATTNC_INVALID_ARGUMENT,
                        "input " + std::to_string(i) + " (" +
                            model->inputs[i]->name + ") is not bound");
    if (!binding.host)
      addresses[model->inputs[i]->id] = binding.device;
  }
  const Plan &plan = model->loaded.plan;
  // TMA copies (sm_90a) and cp.async read their buffer only from 16-byte
  // aligned addresses (cuTensorMapEncodeTiled's rule; a cp.async of 16
  // bytes faults otherwise). The runtime's own buffers are, but a device
  // pointer the caller bound (a slice of a larger tensor) may not be:
  // refuse before anything is enqueued.
  auto misaligned = [&](const PlanStep &step, int arg,
                        const char *how) -> attnc_status {
    int id = step.args[arg];
    if (addresses[id] % 16 == 0)
      return nullptr;
    const BufferDesc *buffer = plan.buffer(id);
    char address[32];
    std::snprintf(address, sizeof address, "0x%llx",
                  (unsigned long long)addresses[id]);
    return makeStatus(
        ATTNC_INVALID_ARGUMENT,
        "input " + std::to_string(buffer->index) + " (" + buffer->name +
            ") is bound at " + address + ", but " + step.kernel + " (" +
            step.kind + ") reads it with " + how +
            ", which needs a 16-byte aligned address");
  };
  for (const PlanStep &step : plan.steps) {
    for (const TensorMapDesc &map : step.maps)
      if (attnc_status refused = misaligned(step, map.arg, "TMA"))
        return refused;
    for (int arg : step.aligned)
      if (attnc_status refused = misaligned(step, arg, "16-byte copies"))
        return refused;
  }
  if (Failure f = device.beginRun(stream))
    return makeStatus(f);
  // From here on the run's end is marked whatever happens, so that the
  // next run, on any stream, waits for what this one did enqueue.
  auto ended = [&](Failure f) {
    // A run that failed part way may have left a scan's ticket counter
    // short of a whole run's tickets (an emulated launch stopped by a
    // fault; on a GPU the context is lost anyway): the session's
    // temporaries start again from zero, as when it was created.
    if (f)
      for (const BufferDesc &buffer : plan.buffers)
        if (buffer.role == BufferDesc::Role::Temp)
          (void)device.zero(session->addresses[buffer.id], buffer.byteSize(),
                            stream);
    Failure end = device.endRun(stream);
    return makeStatus(f ? f : end);
  };
  for (size_t i = 0; i < model->inputs.size(); ++i) {
    const Binding &binding = session->inputs[i];
    if (binding.host)
      if (Failure f = device.toDevice(addresses[model->inputs[i]->id],
                                      binding.host,
                                      model->inputs[i]->byteSize(), stream))
        return ended(f);
  }
  for (const PlanStep &step : plan.steps) {
    Failure f;
    switch (step.op) {
    case PlanStep::Op::Launch: {
      std::vector<uint64_t> args;
      for (int id : step.args)
        args.push_back(addresses[id]);
      if (times && (f = device.startTimer(stream)))
        break;
      f = device.launch(step, args, stream);
      if (!f && times) {
        times->push_back(0.0);
        f = device.stopTimer(stream, &times->back());
        if (f) // a kernel that faults is seen here: name it
          f.message = "profiling " + step.kernel + " (" + step.kind +
                      "): " + f.message;
      }
      break;
    }
    case PlanStep::Op::Zero:
      f = device.zero(addresses[step.args[0]],
                      plan.buffer(step.args[0])->byteSize(), stream);
      break;
    case PlanStep::Op::Copy:
      f = device.copy(addresses[step.args[1]], addresses[step.args[0]],
                      plan.buffer(step.args[0])->byteSize(), stream);
      break;
    }
    if (f)
      return ended(f);
  }
  return ended(Failure::ok());
}

attnc_status attnc_session_run(attnc_session session, void *stream) {
  if (attnc_status status = attnc_session_enqueue(session, stream))
    return status;
  return makeStatus(session->device->synchronize(stream));
}

attnc_status attnc_session_enqueue(attnc_session session, void *stream) {
  return enqueueRun(session, stream, nullptr);
}

attnc_status attnc_session_profile(attnc_session session, void *stream,
                                   double *milliseconds, size_t *count) {
  if (!session || !count)
    return makeStatus(ATTNC_INVALID_ARGUMENT, "null session or count");
  size_t launches = launchesOf(session->model).size();
  auto counted = [](size_t n, const char *one, const char *many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
  };
  if (!milliseconds || *count < launches) {
    std::string room = milliseconds
                           ? "room for " + counted(*count, "time", "times")
                           : std::string("no array");
    *count = launches;
    return makeStatus(ATTNC_INVALID_ARGUMENT,
                      room + ", but the plan has " +
                          counted(launches, "launch", "launches"));
  }
  std::vector<double> times;
  if (attnc_status status = enqueueRun(session, stream, &times))
    return status;
  if (attnc_status status = makeStatus(session->device->synchronize(stream)))
    return status;
  std::copy(times.begin(), times.end(), milliseconds);
  *count = times.size();
  return nullptr;
}

attnc_status attnc_session_read_output(attnc_session session, size_t index,
                                       void *data, size_t bytes) {
  if (!session || !data)
    return makeStatus(ATTNC_INVALID_ARGUMENT, "null session or data");
  const auto &outputs = session->model->outputs;
  if (index >= outputs.size())
    return makeStatus(ATTNC_INVALID_ARGUMENT,
                      "no output " + std::to_string(index));
  size_t size = outputs[index]->byteSize();
  if (bytes < size)
    return makeStatus(ATTNC_INVALID_ARGUMENT,
                      "output " + std::to_string(index) + " needs " +
                          std::to_string(size) + " bytes, got " +
                          std::to_string(bytes));
  return makeStatus(session->device->toHost(
      data, session->addresses[outputs[index]->id], size, session->stream));
}

attnc_status attnc_session_output_pointer(attnc_session session, size_t index,
                                          uint64_t *pointer) {
  if (!session || !pointer)
    return makeStatus(ATTNC_INVALID_ARGUMENT, "null session or pointer");
  const auto &outputs = session->model->outputs;
  if (index >= outputs.size())
    return makeStatus(ATTNC_INVALID_ARGUMENT,
                      "no output " + std::to_string(index));
  *pointer = session->addresses[outputs[index]->id];
  return nullptr;
}

attnc_status attnc_cuda_device_arch(int ordinal, char *arch, size_t size) {
  if (!arch || size < 16)
    return makeStatus(ATTNC_INVALID_ARGUMENT, "arch buffer under 16 bytes");
  std::string name;
  if (attnc_status status = queryCudaDevice(ordinal, &name, nullptr))
    return status;
  std::snprintf(arch, size, "%s", name.c_str());
  return nullptr;
}

attnc_status attnc_cuda_device_sms(int ordinal, int *sms) {
  if (!sms)
    return makeStatus(ATTNC_INVALID_ARGUMENT, "null SM count");
  return queryCudaDevice(ordinal, nullptr, sms);
}

} // extern "C"
