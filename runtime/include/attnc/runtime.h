/*===- attnc/runtime.h - the attnc runtime C API ------------------*- C -*-===*\
|*                                                                            *|
|* Loads a compiled model (model.cubin from `attnc MODEL.ir -o model.cubin`), *|
|* describes its inputs and outputs, and runs it on a CUDA device or on the   *|
|* CPU (the "emu" device, which compiles the model's own CUDA source against  *|
|* attnc's emulation layer with a host C++ compiler).                         *|
|*                                                                            *|
|* Conventions: every object is an opaque handle made by a *_create or        *|
|* *_load call and freed by the matching *_release (NULL is accepted). Calls  *|
|* that can fail return an attnc_status: NULL means success; otherwise it     *|
|* carries a code and a one-line message and must be released. Nothing here   *|
|* links the CUDA driver: it is found at run time (dlopen of libcuda.so.1).   *|
|* A session is used by one thread at a time.                                 *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef ATTNC_RUNTIME_H
#define ATTNC_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*===-- Status ------------------------------------------------------------===*/

typedef enum attnc_status_code {
  ATTNC_OK = 0,
  ATTNC_INVALID_ARGUMENT = 1, /* a bad index, size, shape or dtype */
  ATTNC_IO_ERROR = 2,         /* the model file cannot be read */
  ATTNC_CORRUPT_MODEL = 3,    /* not a model, truncated, bad checksum */
  ATTNC_INCOMPATIBLE = 4,     /* format version, architecture, driver age */
  ATTNC_NO_DRIVER = 5,        /* no libcuda, or the toolkit's stub */
  ATTNC_NO_DEVICE = 6,        /* a driver but no usable GPU */
  ATTNC_NO_COMPILER = 7,      /* emu device: no host C++ compiler */
  ATTNC_DEVICE_ERROR = 8,     /* a driver call or kernel launch failed */
  ATTNC_INTERNAL = 9
} attnc_status_code;

typedef struct attnc_status_s *attnc_status;

attnc_status_code attnc_status_get_code(attnc_status status);
/* The message; valid until the status is released. "" for NULL. */
const char *attnc_status_get_message(attnc_status status);
void attnc_status_release(attnc_status status);
/* A new status (for libraries layered on the runtime, such as the JIT);
 * ATTNC_OK gives NULL. */
attnc_status attnc_status_create(attnc_status_code code, const char *message);

/*===-- Models ------------------------------------------------------------===*/

typedef enum attnc_dtype {
  ATTNC_F32 = 0,
  ATTNC_F16 = 1,  /* IEEE binary16, stored as 2 bytes */
  ATTNC_BF16 = 2, /* bfloat16, stored as 2 bytes */
  ATTNC_I1 = 3    /* bool, one byte each (0 or 1) */
} attnc_dtype;

typedef struct attnc_tensor_info {
  const char *name;     /* valid while the model lives */
  attnc_dtype dtype;
  size_t rank;
  const int64_t *shape; /* rank extents, valid while the model lives */
  size_t bytes;         /* size of a dense buffer of this tensor */
} attnc_tensor_info;

typedef struct attnc_model_s *attnc_model;

/* Reads and checks a model file: format version, checksum, launch plan. */
attnc_status attnc_model_load(const char *path, attnc_model *model);
attnc_status attnc_model_load_memory(const void *data, size_t size,
                                     attnc_model *model);
void attnc_model_release(attnc_model model);

size_t attnc_model_num_inputs(attnc_model model);
size_t attnc_model_num_outputs(attnc_model model);
attnc_status attnc_model_input_info(attnc_model model, size_t index,
                                    attnc_tensor_info *info);
attnc_status attnc_model_output_info(attnc_model model, size_t index,
                                     attnc_tensor_info *info);
/* The architecture the model was compiled for, e.g. "sm_90". */
const char *attnc_model_arch(attnc_model model);
/* The kernel launches of the model's plan, in order: launch `index`'s
 * kernel ("attnc_k1") and kind ("recurrence"), valid while the model
 * lives (the names `attnc inspect` prints). */
size_t attnc_model_num_launches(attnc_model model);
attnc_status attnc_model_launch_info(attnc_model model, size_t index,
                                     const char **kernel, const char **kind);

/*===-- Sessions: a model on a device -------------------------------------===*/

typedef enum attnc_device_kind {
  ATTNC_DEVICE_CUDA = 0, /* a GPU through the CUDA driver */
  ATTNC_DEVICE_EMU = 1   /* the CPU, running the model's CUDA source */
} attnc_device_kind;

typedef struct attnc_session_s *attnc_session;

/* Prepares `model` on a device: loads the kernels (cuModuleLoadData, or
 * compiles them for the emu device, cached on disk), allocates every
 * buffer and zeroes the temporaries (on the legacy default stream, then
 * waits for it: creating a session waits for the context's blocking
 * streams, and is not to be called while another thread captures a CUDA
 * graph in global mode). `ordinal` picks the GPU for ATTNC_DEVICE_CUDA.
 * The session keeps the model alive. */
attnc_status attnc_session_create(attnc_model model, attnc_device_kind kind,
                                  int ordinal, attnc_session *session);
void attnc_session_release(attnc_session session);

/* Binds input `index` to host memory, copied to the device at each run.
 * dtype, rank and shape must match the model's input exactly. */
attnc_status attnc_session_bind_input_host(attnc_session session, size_t index,
                                           const void *data, size_t bytes,
                                           attnc_dtype dtype, size_t rank,
                                           const int64_t *shape);
/* Binds input `index` to device memory (a CUdeviceptr for CUDA sessions, a
 * host pointer for emu sessions), read in place at each run. */
attnc_status attnc_session_bind_input_device(attnc_session session,
                                             size_t index, uint64_t pointer,
                                             size_t bytes);

/* Runs every kernel of the plan in order on `stream` (a CUstream; NULL is
 * the default stream; ignored by the emu device) and waits for it. */
attnc_status attnc_session_run(attnc_session session, void *stream);
/* The same without waiting: copies in host-bound inputs and queues every
 * step on `stream` (for timing with events, or overlapping work). Host
 * inputs must stay unchanged until the stream reaches the launches. A
 * session's runs are ordered even on different streams (a run on a new
 * stream waits for the previous run's work): they share its buffers. */
attnc_status attnc_session_enqueue(attnc_session session, void *stream);

/* Runs the plan once, as attnc_session_run does, timing each kernel launch
 * on its own: milliseconds[i] is launch i's (attnc_model_launch_info names
 * it), measured with events around it on the GPU, each launch waiting for
 * the one before (so the times add up to a little more than a run; each
 * includes its launch call, a few microseconds, more for the sm_90a
 * kernels, whose TMA tensor maps are encoded then), and with the wall
 * clock on the emu device. *count is the array's capacity on the way in
 * and the number of launches on the way out; a NULL array or a capacity
 * below it fails with ATTNC_INVALID_ARGUMENT and sets *count, so a first
 * call with a NULL array asks for the size. */
attnc_status attnc_session_profile(attnc_session session, void *stream,
                                   double *milliseconds, size_t *count);

/* Copies output `index` to host memory of at least its size in bytes. */
attnc_status attnc_session_read_output(attnc_session session, size_t index,
                                       void *data, size_t bytes);
/* The device address of output `index` (valid until the next run or the
 * session's release). */
attnc_status attnc_session_output_pointer(attnc_session session, size_t index,
                                          uint64_t *pointer);

/*===-- Devices -----------------------------------------------------------===*/

/* The architecture of CUDA device `ordinal` ("sm_90"), NUL-terminated in
 * `arch` (at least 16 bytes); fails with ATTNC_NO_DRIVER or
 * ATTNC_NO_DEVICE, and a message saying why, where there is none. */
attnc_status attnc_cuda_device_arch(int ordinal, char *arch, size_t size);

/* The number of SMs (multiprocessors) of CUDA device `ordinal`, which a
 * model's persistent recurrences must fit (attnc --sms); fails as
 * attnc_cuda_device_arch does. */
attnc_status attnc_cuda_device_sms(int ordinal, int *sms);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* ATTNC_RUNTIME_H */
