"""attnc_session_profile through the C API (ctypes): the size query, a
capacity too small, and one time per launch in plan order.

Usage: profile_api.py RUNTIME_LIBRARY MODEL.cubin
"""
import ctypes
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
import attnc_runtime as ar  # noqa: E402

runtime = ar.Runtime(sys.argv[1])
lib = runtime.lib
model = runtime.model(sys.argv[2])
session = model.session(ar.DEVICE_EMU)
F32 = next(code for code, name in ar.DTYPES.items() if name == "f32")
for i, info in enumerate(model.inputs):  # an f32 model
    session.bind_host(i, np.zeros(info["shape"], np.float32), F32)

count = ctypes.c_size_t(0)
status = lib.attnc_session_profile(session.handle, None, None, ctypes.byref(count))
print("query:", lib.attnc_status_get_message(status).decode(), "->", count.value)
lib.attnc_status_release(status)

times = (ctypes.c_double * 1)()
count = ctypes.c_size_t(1)
status = lib.attnc_session_profile(session.handle, None, times, ctypes.byref(count))
print("too small:", lib.attnc_status_get_message(status).decode(), "->", count.value)
lib.attnc_status_release(status)

for kernel, kind, ms in session.profile():
    print("launch", kernel, kind, "positive" if ms > 0 else f"not positive ({ms})")
