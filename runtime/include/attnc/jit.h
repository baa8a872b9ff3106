/*===- attnc/jit.h - compiling attn IR inside an application -------*- C -*-===*\
|*                                                                            *|
|* For applications that embed the compiler: hand over the text of a model    *|
|* (.ir), get back a loaded attnc_model, ready for attnc_session_create. The  *|
|* compiled file is cached on disk ($ATTNC_CACHE_DIR, else                    *|
|* $XDG_CACHE_HOME/attnc, else ~/.cache/attnc) under a key hashing the IR,    *|
|* the compiler itself, the options and the architecture; cache files are     *|
|* published atomically, so processes compiling the same model at once are   *|
|* safe. Link attnc::jit (which contains the compiler, built on MLIR); the    *|
|* core runtime, attnc::runtime, stays free of it.                            *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef ATTNC_JIT_H
#define ATTNC_JIT_H

#include "attnc/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Compiles `ir` (size bytes of attn IR text; `name` is used in error
 * positions) for `arch`; NULL means the architecture and SM count of CUDA
 * device 0 (attnc_cuda_device_sms: a persistent recurrence takes at most
 * one block per SM), or sm_90 when there is no GPU. */
attnc_status attnc_jit_compile(const char *ir, size_t size, const char *name,
                               const char *arch, attnc_model *model);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* ATTNC_JIT_H */
