"""Runs a model twice in one session, with other inputs the second time,
and writes the second run's results: whatever a run leaves in the
session's buffers (the tagged copies of a recurrence's state, whose tags
a second run's steps look for again) must not leak into the next.

Usage: rerun.py RUNTIME_LIBRARY MODEL.cubin OUT_DIR
  writes OUT_DIR/in<i>.npy (the second run's inputs) and OUT_DIR/out<i>.npy
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
import attnc_runtime as ar  # noqa: E402

runtime = ar.Runtime(sys.argv[1])
model = runtime.model(sys.argv[2])
out = sys.argv[3]
os.makedirs(out, exist_ok=True)
session = model.session(ar.DEVICE_EMU)
F32 = next(code for code, name in ar.DTYPES.items() if name == "f32")
rng = np.random.default_rng(3)
for run in range(2):
    for i, info in enumerate(model.inputs):  # an f32 model
        values = rng.uniform(-1, 1, info["shape"]).astype(np.float32)
        session.bind_host(i, values, F32)
        if run == 1:
            np.save(os.path.join(out, f"in{i}.npy"), values)
    session.run()
for i, info in enumerate(model.outputs):
    np.save(os.path.join(out, f"out{i}.npy"),
            session.read(i, np.empty(info["shape"], np.float32)))
print("ran twice")
