#!/usr/bin/env bash
# Installs whatever attnc needs to build and test that this machine lacks,
# and nothing else: safe to run any number of times. Debian bookworm
# (LLVM/MLIR 22 come from bookworm-security); needs root or sudo only when
# something is missing.
#
#   build:  cmake ninja-build ccache clang-22 llvm-22-dev libmlir-22-dev
#           mlir-22-tools (mlir-tblgen) libfmt-dev libgtest-dev, and
#           zlib1g-dev and libzstd-dev, which the static LLVMSupport names
#           in its link interface (cmake/AddAttnc.cmake)
#   test:   llvm-22-tools (lit, FileCheck, not), python3 with numpy
#           (Debian's python3-numpy; pip as well when the python3 on PATH
#           is another interpreter, a pyenv or venv one), and cuobjdump
#           and nvdisasm (NVIDIA's nvidia-cuda-cuobjdump and
#           nvidia-cuda-nvdisasm wheels from PyPI) where the CUDA toolkit
#           has none
#
# The CUDA Toolkit is optional and not installed here: without it attnc
# builds and tests everything but the NVRTC steps, which say so.
set -euo pipefail

packages=(cmake ninja-build ccache clang-22 llvm-22-dev libmlir-22-dev
          mlir-22-tools llvm-22-tools libfmt-dev libgtest-dev zlib1g-dev libzstd-dev python3
          python3-pip python3-numpy)

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$pkg")
done

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

# numpy for the reference tests: the python3 on PATH may be a pyenv or
# venv interpreter rather than Debian's, so ask that interpreter.
if ! python3 -c 'import numpy' 2>/dev/null; then
  echo "setup: installing numpy for $(command -v python3)"
  python3 -m pip install --quiet numpy 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages numpy
fi
# cuobjdump and nvdisasm, for the SASS checks of the kernels' hot loops
# (bench/sass_loops.py, test/Bench/sass-loops.test): the CUDA toolkit here
# lacks them, and NVIDIA publishes them on PyPI (0.3 and 5 MB wheels).
if ! python3 "$(dirname "$0")/../bench/sass_loops.py" --which >/dev/null 2>&1; then
  sass_tools=(nvidia-cuda-cuobjdump==13.5.37 nvidia-cuda-nvdisasm==13.5.37)
  echo "setup: installing ${sass_tools[*]} for $(command -v python3)"
  python3 -m pip install --quiet "${sass_tools[@]}" 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages "${sass_tools[@]}" \
    || echo "setup: could not install them; lit reports the SASS checks as unsupported"
fi
echo "setup: all dependencies present"
