#!/usr/bin/env bash
# Configures build/ once (Ninja, clang-22, ccache when present, static
# MLIR/LLVM component libraries: cmake/AddAttnc.cmake) and builds
# everything; later runs rebuild only what changed. BUILD_DIR overrides
# the directory.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
if [ ! -f "$build_dir/build.ninja" ]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22
fi
cmake --build "$build_dir"
