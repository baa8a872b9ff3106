# lit configuration of the attnc test suite.
#
# Tests are .mlir (dialect round-trips, verifier errors, passes), .ir
# (whole models) and .test (CLI behaviour) files. Tools come from the build
# tree, FileCheck and not from LLVM 22's tools directory, all through PATH.
import os
import lit.formats

config.name = "attnc"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir", ".test"]
config.excludes = ["Inputs", "lit.cfg.py", "lit.site.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.attnc_obj_root, "test")

# Every capture in a CHECK-LABEL block is local to it (Triton does the same):
# a stale capture from an earlier function cannot make a test pass.
config.environment["FILECHECK_OPTS"] = "--enable-var-scope --dump-input=fail"
config.environment["PYTHONDONTWRITEBYTECODE"] = "1"

config.substitutions.append(("%python", config.python_executable))
config.substitutions.append(("%attnc_src", config.attnc_src_root))
config.substitutions.append(("%llvm_include", os.path.join(os.path.dirname(config.llvm_tools_dir), "include")))
config.substitutions.append(("%examples", os.path.join(config.attnc_src_root, "examples")))
config.substitutions.append(("%refs", os.path.join(config.attnc_src_root, "test", "Interpreter", "refs")))
config.environment["PATH"] = os.pathsep.join(
    [config.attnc_tools_dir, config.llvm_tools_dir, config.environment.get("PATH", "")])

# Graphviz is optional: `attnc analyze --emit=svg` needs its `dot`.
import shutil
if shutil.which("dot"):
    config.available_features.add("graphviz")

if config.have_nvrtc:
    config.available_features.add("nvrtc")

# The CUDA driver, probed the way the runtime finds it (dlopen of
# libcuda.so.1): `cuda-driver` when a real driver loads, `cuda-device` when
# it also reports a GPU. Tests that need a GPU say REQUIRES: cuda-device and
# are reported as unsupported (not passed) on machines without one.
import ctypes
try:
    libcuda = ctypes.CDLL("libcuda.so.1")
    if libcuda.cuInit(0) == 0:
        config.available_features.add("cuda-driver")
        count = ctypes.c_int(0)
        if libcuda.cuDeviceGetCount(ctypes.byref(count)) == 0 and count.value > 0:
            config.available_features.add("cuda-device")
            major, minor = ctypes.c_int(0), ctypes.c_int(0)
            # CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR / _MINOR of device 0.
            libcuda.cuDeviceGetAttribute(ctypes.byref(major), 75, 0)
            libcuda.cuDeviceGetAttribute(ctypes.byref(minor), 76, 0)
            config.substitutions.append(("%cuda_arch", f"sm_{major.value}{minor.value}"))
            # Hopper (compute capability 9.0) also runs sm_90a code (wgmma).
            if (major.value, minor.value) == (9, 0):
                config.available_features.add("cuda-sm90a")
except OSError:
    pass

# The toolkit's stub libcuda, for the runtime's "stub driver" error.
for stub in ["/usr/local/cuda/lib64/stubs/libcuda.so",
             "/usr/local/cuda/targets/x86_64-linux/lib/stubs/libcuda.so"]:
    if os.path.exists(stub):
        config.available_features.add("cuda-stub")
        config.substitutions.append(("%cuda_stub", stub))
        break

# cuobjdump, for the SASS checks of hot loops (bench/sass_loops.py finds
# the toolkit's or the PyPI wheel's that scripts/setup.sh installs).
import subprocess
if subprocess.run([config.python_executable,
                   os.path.join(config.attnc_src_root, "bench", "sass_loops.py"), "--which"],
                  capture_output=True).returncode == 0:
    config.available_features.add("cuobjdump")

# The emu device compiles kernels with a host C++ compiler.
if shutil.which("c++") or shutil.which("clang++") or shutil.which("g++"):
    config.available_features.add("host-cxx")

config.substitutions.append(("%attnc_obj", config.attnc_obj_root))
config.substitutions.append(("%cmake", shutil.which("cmake") or "cmake"))
# Compiled emu kernels are cached per test run, not in the user's home.
config.environment["ATTNC_CACHE_DIR"] = os.path.join(config.attnc_obj_root, "test", "attnc-cache")
for name in ["ATTNC_HOST_CXX", "ATTNC_LIBCUDA", "HOME", "CXX"]:
    if name in os.environ and name != "ATTNC_LIBCUDA":
        config.environment[name] = os.environ[name]
