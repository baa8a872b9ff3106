#!/usr/bin/env bash
#===- mma_nvrtc_check.sh - GPU-side compile check of attnc/mma.h -----------===#
#
# The emulation test (mma_test.cpp) runs the tensor-core primitives on the
# CPU; this script checks, without a GPU or driver, that the same source
# compiles for the GPU: the tiled GEMM of mma_gemm_kernel.h and a kernel
# that calls every primitive are compiled with nvcc (-cubin and -ptx for
# sm_80 and sm_90) and with NVRTC (as attnc compiles generated code: sm_80,
# sm_90, sm_90a, --device-as-default-execution-space), and the PTX must hold
# each mma.sync / ldmatrix instruction. If cuobjdump or nvdisasm is
# installed, the SASS must contain HMMA (and LDSM). Prints PASS/FAIL/SKIP
# lines; exits non-zero if anything failed.
#
#   runtime/emu/test/mma_nvrtc_check.sh    (CUDA_HOME defaults to /usr/local/cuda)
#
#===------------------------------------------------------------------------===#

set -u

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
device="$(cd "$here/../../device" && pwd)"
cuda="${CUDA_HOME:-/usr/local/cuda}"
nvcc="$cuda/bin/nvcc"
cxx="${CXX:-$(command -v clang++-22 || command -v clang++ || command -v g++ || true)}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failures=0

pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
skip() { echo "SKIP $*"; }

if [ ! -x "$nvcc" ]; then
  skip "no nvcc at $nvcc: nothing to check"
  exit 0
fi

# Every primitive once (the GEMM uses .x4, .x4.trans and both 16-bit mma
# types).
cat > "$work/all_primitives.cu" <<'EOF'
#include "attnc/device.h"
extern "C" __global__ void all_primitives(float *out, const float *in) {
  ATTNC_SHARED(attnc_b128, tile, 64);
  unsigned short *t = reinterpret_cast<unsigned short *>(tile);
  for (int i = threadIdx.x; i < 512; i += 32)
    t[i] = (unsigned short)(attnc_pack_f16(in[i], 0.0f) ^
                            attnc_pack_bf16(in[i], 0.0f));
  __syncwarp();
  const unsigned short *row = t + 8 * threadIdx.x;
  unsigned a[4], b4[4], b2[2], b2t[2];
  attnc_ldmatrix_x4(a, row);
  attnc_ldmatrix_x4_trans(b4, row);
  attnc_ldmatrix_x2(b2, row);
  attnc_ldmatrix_x2_trans(b2t, row);
  float c[4] = {0, 0, 0, 0}, d[4];
  attnc_mma_m16n8k16_f16(d, a, b2, c);
  attnc_mma_m16n8k16_bf16(d, a, b2t, d);
  attnc_mma_m16n8k16_f16(d, a, b4 + 2, d);
  unsigned big[4], small[4];
  for (int i = 0; i < 4; ++i)
    attnc_tf32_split(in[4 * threadIdx.x + i], big[i], small[i]);
  attnc_mma_m16n8k8_tf32(d, big, small, d);
  for (int i = 0; i < 4; ++i)
    out[threadIdx.x * 4 + i] = d[i];
}
EOF
cp "$here/mma_gemm_kernel.h" "$work/gemm.cu"

instructions=(
  "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32"
  "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32"
  "ldmatrix.sync.aligned.m8n8.x4.shared.b16"
  "ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16"
  "ldmatrix.sync.aligned.m8n8.x2.shared.b16"
  "ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16"
  "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32"
  "cvt.rna.tf32.f32"
)
# What each source must contain (the GEMM lacks the .x2 forms).
gemm_instructions=("${instructions[@]:0:4}")

check_ptx() { # label file instruction...
  local label="$1" file="$2"
  shift 2
  local missing=""
  for instruction in "$@"; do
    grep -qF "$instruction" "$file" || missing="$missing $instruction"
  done
  if [ -z "$missing" ]; then
    pass "$label: PTX has $*"
  else
    fail "$label: PTX lacks$missing"
  fi
}

disassembler=""
if command -v cuobjdump > /dev/null || [ -x "$cuda/bin/cuobjdump" ]; then
  disassembler="cuobjdump"
elif command -v nvdisasm > /dev/null || [ -x "$cuda/bin/nvdisasm" ]; then
  disassembler="nvdisasm"
fi
sass() { # cubin -> SASS text on stdout
  if [ "$disassembler" = cuobjdump ]; then
    "$(command -v cuobjdump || echo "$cuda/bin/cuobjdump")" -sass "$1"
  else
    "$(command -v nvdisasm || echo "$cuda/bin/nvdisasm")" "$1"
  fi
}

#--- nvcc -------------------------------------------------------------------#
for source in gemm all_primitives; do
  if [ "$source" = gemm ]; then
    expected=("${gemm_instructions[@]}")
  else
    expected=("${instructions[@]}")
  fi
  for arch in sm_80 sm_90; do
    label="nvcc $source $arch"
    if "$nvcc" -std=c++17 -x cu -arch="$arch" -I"$device" -Xptxas -v \
         -cubin "$work/$source.cu" -o "$work/$source.$arch.cubin" \
         > "$work/log" 2>&1; then
      pass "$label: cubin ($(wc -c < "$work/$source.$arch.cubin") bytes;" \
           "$(grep -o 'Used [0-9]* registers' "$work/log" | head -1))"
    else
      fail "$label: -cubin failed:"; sed 's/^/    /' "$work/log"
      continue
    fi
    if "$nvcc" -std=c++17 -x cu -arch="$arch" -I"$device" -ptx \
         "$work/$source.cu" -o "$work/$source.$arch.ptx" > "$work/log" 2>&1; then
      check_ptx "$label" "$work/$source.$arch.ptx" "${expected[@]}"
    else
      fail "$label: -ptx failed:"; sed 's/^/    /' "$work/log"
    fi
    if [ -n "$disassembler" ]; then
      if sass "$work/$source.$arch.cubin" > "$work/sass" 2>&1 &&
         grep -q HMMA "$work/sass" && grep -q LDSM "$work/sass"; then
        pass "$label: SASS ($disassembler) has HMMA and LDSM"
      else
        fail "$label: SASS ($disassembler) lacks HMMA or LDSM"
      fi
    fi
  done
done
[ -n "$disassembler" ] ||
  skip "SASS check: neither cuobjdump nor nvdisasm is installed"

#--- NVRTC, as attnc compiles generated code ---------------------------------#
if [ -z "$cxx" ] || [ ! -f "$cuda/include/nvrtc.h" ] ||
   ! ls "$cuda"/lib64/libnvrtc.so* > /dev/null 2>&1; then
  skip "NVRTC check: no host compiler, nvrtc.h or libnvrtc"
else
  cat > "$work/nvrtc_compile.cpp" <<'EOF'
// nvrtc_compile SOURCE ARCH INCLUDE_DIR PTX_OUT: compiles SOURCE with the
// flags attnc uses, then again for the virtual architecture to get PTX.
#include <nvrtc.h>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>
static bool compile(const std::string &text, const std::vector<std::string> &flags,
                    nvrtcProgram *program) {
  nvrtcCreateProgram(program, text.c_str(), "model.cu", 0, nullptr, nullptr);
  std::vector<const char *> options;
  for (const std::string &f : flags)
    options.push_back(f.c_str());
  nvrtcResult result = nvrtcCompileProgram(*program, (int)options.size(),
                                           options.data());
  size_t size = 0;
  nvrtcGetProgramLogSize(*program, &size);
  std::string log(size, '\0');
  if (size)
    nvrtcGetProgramLog(*program, &log[0]);
  if (result != NVRTC_SUCCESS) {
    std::fprintf(stderr, "%s\n%s\n", nvrtcGetErrorString(result), log.c_str());
    return false;
  }
  return true;
}
int main(int argc, char **argv) {
  if (argc != 5)
    return 2;
  std::ifstream in(argv[1]);
  std::stringstream text;
  text << in.rdbuf();
  std::string arch = argv[2], include = std::string("--include-path=") + argv[3];
  nvrtcProgram program;
  if (!compile(text.str(), {"--gpu-architecture=" + arch, "--std=c++17",
                            "--device-as-default-execution-space", include},
               &program))
    return 1;
  size_t cubin = 0;
  if (nvrtcGetCUBINSize(program, &cubin) != NVRTC_SUCCESS || cubin == 0)
    return 1;
  nvrtcDestroyProgram(&program);
  if (!compile(text.str(), {"--gpu-architecture=compute_" + arch.substr(3),
                            "--std=c++17",
                            "--device-as-default-execution-space", include},
               &program))
    return 1;
  size_t size = 0;
  nvrtcGetPTXSize(program, &size);
  std::string ptx(size, '\0');
  nvrtcGetPTX(program, &ptx[0]);
  std::ofstream(argv[4]) << ptx.c_str();
  nvrtcDestroyProgram(&program);
  std::printf("%zu\n", cubin);
  return 0;
}
EOF
  if ! "$cxx" -std=c++17 -I"$cuda/include" "$work/nvrtc_compile.cpp" \
       -o "$work/nvrtc_compile" -L"$cuda/lib64" -lnvrtc \
       -Wl,-rpath,"$cuda/lib64" > "$work/log" 2>&1; then
    fail "NVRTC driver did not build:"; sed 's/^/    /' "$work/log"
  else
    for source in gemm all_primitives; do
      if [ "$source" = gemm ]; then
        expected=("${gemm_instructions[@]}")
      else
        expected=("${instructions[@]}")
      fi
      for arch in sm_80 sm_90 sm_90a; do
        label="NVRTC $source $arch"
        if bytes=$("$work/nvrtc_compile" "$work/$source.cu" "$arch" "$device" \
                     "$work/$source.$arch.nvrtc.ptx" 2> "$work/log"); then
          pass "$label: cubin ($bytes bytes)"
          check_ptx "$label" "$work/$source.$arch.nvrtc.ptx" "${expected[@]}"
        else
          fail "$label: compile failed:"; sed 's/^/    /' "$work/log"
        fi
      done
    done
  fi
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) FAILED"
  exit 1
fi
echo "all checks passed"
