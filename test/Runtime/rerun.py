"""Runs a model twice in one session, with other inputs the second time,
and writes the second run's results: whatever a run leaves in the
session's buffers (the tagged copies of a recurrence's state, whose tags
a second run's steps look for again) must not leak into the next.

Usage: rerun.py RUNTIME_LIBRARY MODEL.cubin OUT_DIR [--fault-first N]
  writes OUT_DIR/in<i>.npy (the second run's inputs) and OUT_DIR/out<i>.npy
  --fault-first N: the first run fails part way, at block N of its first
  launch of more than N blocks (the emulation's ATTNC_EMU_FAULT_AT_BLOCK),
  and must say so; the second must not suffer for it.
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
fault = sys.argv[sys.argv.index("--fault-first") + 1] if "--fault-first" in sys.argv else None
for run in range(2):
    for i, info in enumerate(model.inputs):  # an f32 model
        values = rng.uniform(-1, 1, info["shape"]).astype(np.float32)
        session.bind_host(i, values, F32)
        if run == 1:
            np.save(os.path.join(out, f"in{i}.npy"), values)
    if run == 0 and fault is not None:
        os.environ["ATTNC_EMU_FAULT_AT_BLOCK"] = fault
        try:
            session.run()
            sys.exit("the first run should have failed")
        except ar.AttncError as e:
            print("first run failed:", str(e).splitlines()[0])
        del os.environ["ATTNC_EMU_FAULT_AT_BLOCK"]
        continue
    session.run()
for i, info in enumerate(model.outputs):
    np.save(os.path.join(out, f"out{i}.npy"),
            session.read(i, np.empty(info["shape"], np.float32)))
print("ran twice")
