"""Binds a model's first input as device memory (the emu device's device
memory is host memory) at an address 16-byte aligned or one element past
one (2 bytes for f16 and bf16, 4 for f32: a slice of a larger tensor),
runs the model and prints what happened. Usage: misaligned.py SRC MODEL
ALIGNED|OFFSET. Every other input is bound from the host."""
import sys

import numpy as np

sys.path.insert(0, sys.argv[1] + "/bench")
import attnc_runtime as ar  # noqa: E402

model = ar.Runtime(ar.default_library()).model(sys.argv[2])
session = model.session(ar.DEVICE_EMU)
first = model.inputs[0]
storage = np.zeros(first["bytes"] + 64, np.uint8)
element = 4 if first["dtype"] == "f32" else 2
offset = (-storage.ctypes.data) % 16 + (element if sys.argv[3] == "OFFSET" else 0)
session.bind_device(0, storage.ctypes.data + offset, first["bytes"])
for i, info in enumerate(model.inputs[1:], 1):
    code = {name: c for c, name in ar.DTYPES.items()}[info["dtype"]]
    values = np.zeros(info["shape"], np.uint16 if info["dtype"] in ("f16", "bf16") else np.float32)
    session.bind_host(i, values, code)
try:
    session.run()
    print("ran")
except ar.AttncError as e:
    print(f"error: {e}")
