"""ctypes binding of the attnc runtime C API (runtime/include/attnc/runtime.h),
enough for the benchmark: load a model file, describe its signature, make a
session on the CUDA or emu device, bind inputs (host arrays or device
pointers such as torch tensors' data_ptr()), enqueue or run on a stream,
read outputs or get their device addresses. Errors raise AttncError with
the runtime's message."""
import ctypes
import os

DTYPES = {0: "f32", 1: "f16", 2: "bf16", 3: "i1"}
DEVICE_CUDA, DEVICE_EMU = 0, 1


class AttncError(RuntimeError):
    pass


class TensorInfo(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("dtype", ctypes.c_int),
                ("rank", ctypes.c_size_t),
                ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("bytes", ctypes.c_size_t)]


def _load(path):
    lib = ctypes.CDLL(path)
    p = ctypes.c_void_p
    lib.attnc_status_get_message.restype = ctypes.c_char_p
    lib.attnc_status_get_message.argtypes = [p]
    lib.attnc_status_release.argtypes = [p]
    for name in ["attnc_model_load", "attnc_model_input_info",
                 "attnc_model_output_info", "attnc_session_create",
                 "attnc_session_bind_input_host",
                 "attnc_session_bind_input_device", "attnc_session_run",
                 "attnc_session_enqueue", "attnc_session_read_output",
                 "attnc_session_output_pointer", "attnc_model_launch_info",
                 "attnc_session_profile"]:
        getattr(lib, name).restype = p
    lib.attnc_model_load.argtypes = [ctypes.c_char_p, ctypes.POINTER(p)]
    lib.attnc_model_num_inputs.argtypes = [p]
    lib.attnc_model_num_inputs.restype = ctypes.c_size_t
    lib.attnc_model_num_outputs.argtypes = [p]
    lib.attnc_model_num_outputs.restype = ctypes.c_size_t
    lib.attnc_model_input_info.argtypes = [p, ctypes.c_size_t, ctypes.POINTER(TensorInfo)]
    lib.attnc_model_output_info.argtypes = [p, ctypes.c_size_t, ctypes.POINTER(TensorInfo)]
    lib.attnc_model_release.argtypes = [p]
    lib.attnc_session_create.argtypes = [p, ctypes.c_int, ctypes.c_int, ctypes.POINTER(p)]
    lib.attnc_session_release.argtypes = [p]
    lib.attnc_session_bind_input_host.argtypes = [
        p, ctypes.c_size_t, p, ctypes.c_size_t, ctypes.c_int, ctypes.c_size_t,
        ctypes.POINTER(ctypes.c_int64)]
    lib.attnc_session_bind_input_device.argtypes = [p, ctypes.c_size_t, ctypes.c_uint64, ctypes.c_size_t]
    lib.attnc_session_run.argtypes = [p, p]
    lib.attnc_session_enqueue.argtypes = [p, p]
    lib.attnc_session_read_output.argtypes = [p, ctypes.c_size_t, p, ctypes.c_size_t]
    lib.attnc_session_output_pointer.argtypes = [p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_uint64)]
    lib.attnc_model_num_launches.argtypes = [p]
    lib.attnc_model_num_launches.restype = ctypes.c_size_t
    lib.attnc_model_launch_info.argtypes = [p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_char_p),
                                            ctypes.POINTER(ctypes.c_char_p)]
    lib.attnc_session_profile.argtypes = [p, p, ctypes.POINTER(ctypes.c_double),
                                          ctypes.POINTER(ctypes.c_size_t)]
    return lib


class Runtime:
    def __init__(self, library):
        self.lib = _load(library)

    def check(self, status):
        if status:
            message = self.lib.attnc_status_get_message(status).decode()
            self.lib.attnc_status_release(status)
            raise AttncError(message)

    def model(self, path):
        return Model(self, path)


class Model:
    def __init__(self, runtime, path):
        self.rt, self.handle = runtime, ctypes.c_void_p()
        runtime.check(runtime.lib.attnc_model_load(path.encode(), ctypes.byref(self.handle)))

    def _info(self, function, count):
        infos = []
        for i in range(count(self.handle)):
            info = TensorInfo()
            self.rt.check(function(self.handle, i, ctypes.byref(info)))
            infos.append({"name": info.name.decode(), "dtype": DTYPES[info.dtype],
                          "shape": tuple(info.shape[j] for j in range(info.rank)),
                          "bytes": info.bytes})
        return infos

    @property
    def inputs(self):
        lib = self.rt.lib
        return self._info(lib.attnc_model_input_info, lib.attnc_model_num_inputs)

    @property
    def outputs(self):
        lib = self.rt.lib
        return self._info(lib.attnc_model_output_info, lib.attnc_model_num_outputs)

    @property
    def launches(self):
        """The plan's kernel launches, in order: (kernel, kind)."""
        lib, found = self.rt.lib, []
        for i in range(lib.attnc_model_num_launches(self.handle)):
            kernel, kind = ctypes.c_char_p(), ctypes.c_char_p()
            self.rt.check(lib.attnc_model_launch_info(self.handle, i, ctypes.byref(kernel),
                                                      ctypes.byref(kind)))
            found.append((kernel.value.decode(), kind.value.decode()))
        return found

    def session(self, device=DEVICE_CUDA):
        return Session(self, device)

    def __del__(self):
        if getattr(self, "handle", None):
            self.rt.lib.attnc_model_release(self.handle)


class Session:
    def __init__(self, model, device):
        self.model, self.rt = model, model.rt
        self.handle = ctypes.c_void_p()
        self.rt.check(self.rt.lib.attnc_session_create(
            model.handle, device, 0, ctypes.byref(self.handle)))
        self.keep = []  # host arrays bound, kept alive

    def bind_host(self, index, array, dtype_code):
        shape = (ctypes.c_int64 * array.ndim)(*array.shape)
        self.keep.append(array)
        self.rt.check(self.rt.lib.attnc_session_bind_input_host(
            self.handle, index, array.ctypes.data, array.nbytes, dtype_code,
            array.ndim, shape))

    def bind_device(self, index, pointer, nbytes):
        self.rt.check(self.rt.lib.attnc_session_bind_input_device(
            self.handle, index, pointer, nbytes))

    def run(self, stream=None):
        self.rt.check(self.rt.lib.attnc_session_run(self.handle, stream))

    def enqueue(self, stream=None):
        self.rt.check(self.rt.lib.attnc_session_enqueue(self.handle, stream))

    def profile(self, stream=None):
        """One run with each launch timed on its own: a list of
        (kernel, kind, milliseconds) in plan order."""
        launches = self.model.launches
        times = (ctypes.c_double * max(1, len(launches)))()
        count = ctypes.c_size_t(len(launches))
        self.rt.check(self.rt.lib.attnc_session_profile(self.handle, stream, times,
                                                        ctypes.byref(count)))
        return [(k, kind, times[i]) for i, (k, kind) in enumerate(launches[:count.value])]

    def read(self, index, array):
        self.rt.check(self.rt.lib.attnc_session_read_output(
            self.handle, index, array.ctypes.data, array.nbytes))
        return array

    def output_pointer(self, index):
        pointer = ctypes.c_uint64()
        self.rt.check(self.rt.lib.attnc_session_output_pointer(
            self.handle, index, ctypes.byref(pointer)))
        return pointer.value

    def __del__(self):
        if getattr(self, "handle", None):
            self.rt.lib.attnc_session_release(self.handle)


def default_library():
    here = os.path.dirname(os.path.abspath(__file__))
    for candidate in [os.environ.get("ATTNC_RUNTIME_LIBRARY", ""),
                      os.path.join(here, "build", "libattnc_runtime.so"),
                      os.path.join(here, "..", "build", "lib", "libattnc_runtime.so")]:
        if candidate and os.path.exists(candidate):
            return candidate
    raise AttncError("libattnc_runtime.so not found: build it (bench/run_gpu.sh "
                     "does) or set ATTNC_RUNTIME_LIBRARY")
