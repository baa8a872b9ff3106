#!/bin/bash
# The GPU benchmark in one call, on a machine with the CUDA toolkit, the
# NVIDIA driver and PyTorch with NumPy (no network, no LLVM): builds the runtime
# library with the host compiler, then runs gpu_bench.py on the models
# and hardware checks bench/prepare.sh compiled. Writes the table to stdout and the raw numbers
# to ${OUT:-bench/build}/bench.json.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p build
out=${OUT:-build}
mkdir -p "$out"
# The runtime is plain C++17 with no dependencies but libdl.
cat > build/EmuHeaders.inc <<INC
static const char *const kDeviceHeader = R"attnc_emu($(cat ../runtime/device/attnc/device.h))attnc_emu";
static const char *const kNumericsHeader = R"attnc_emu($(cat ../runtime/device/attnc/numerics.h))attnc_emu";
static const char *const kMmaHeader = R"attnc_emu($(cat ../runtime/device/attnc/mma.h))attnc_emu";
static const char *const kWarpgroupHeader = R"attnc_emu($(cat ../runtime/device/attnc/warpgroup.h))attnc_emu";
static const char *const kEmuHeader = R"attnc_emu($(cat ../runtime/emu/attnc/emu.h))attnc_emu";
INC
${CXX:-c++} -std=c++17 -O2 -fPIC -shared -Ibuild -I../runtime/src \
  -I../runtime/include ../runtime/src/{Runtime,CudaDevice,CudaDriver,EmuDevice,Plan,ModelFile,Elf,Cache}.cpp \
  -ldl -o build/libattnc_runtime.so
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader || true
ATTNC_RUNTIME_LIBRARY=$(pwd)/build/libattnc_runtime.so \
  python3 gpu_bench.py --models build/models --json "$out/bench.json"
