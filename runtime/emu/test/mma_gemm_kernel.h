//===- mma_gemm_kernel.h - a tensor-core GEMM for the tests -----*- C++ -*-===//
//-*-===//
//
// A complete tiled GEMM built only from the primitives of attnc/mma.h, the
// way a generated tensor-core kernel uses them: A and B tiles staged in
// shared memory (zero-padded at the matrix edges), fragments loaded with
// ldmatrix (.x4 for A, .x4.trans for a row-major B), m16n8k16 MMAs with f32
// accumulators, and an epilogue that stores from the accumulator layout.
// One source for two consumers: mma_test.cpp runs it under the CPU
// emulation (ATTNC_EMU) and compares with a naive reference, and
// mma_nvrtc_check.sh compiles it for sm_80 and sm_90 with nvcc and NVRTC
// and checks the PTX.
//
//   out[m x n] = A[m x k] * B[k x n] (+ c[m x n] if c is not null), all
//   row-major; A and B f16 or bf16, c and out f32.
//   grid ((n + 31) / 32, (m + 31) / 32), block 128 threads.
//
//===----------------------------------------------------------------------===//

#ifndef ATTNC_TEST_MMA_GEMM_KERNEL_H
#define ATTNC_TEST_MMA_GEMM_KERNEL_H

#include "attnc/device.h"

namespace mma_gemm {

/// A 32 x 32 output tile per block, split 2 x 2 over 4 warps, each warp
/// owning a 16 x 16 piece: one m16 A fragment times two n8 B fragments per
/// k step of 16.
constexpr int kBlockM = 32;
constexpr int kBlockN = 32;
constexpr int kBlockK = 16;
constexpr int kThreads = 128;
/// Shared rows are padded by 8 elements (16 bytes): rows stay 16-byte
/// aligned, as ldmatrix requires, and the 8 rows of one 8x8 matrix start in
/// different banks (48- and 80-byte strides instead of 32 and 64).
constexpr int kStrideA = kBlockK + 8;
constexpr int kStrideB = kBlockN + 8;

template <bool BF16>
__device__ __forceinline__ void mma(float d[4], const unsigned a[4],
                                    const unsigned b[2]) {
  if (BF16)
    attnc_mma_m16n8k16_bf16(d, a, b, d);
  else
    attnc_mma_m16n8k16_f16(d, a, b, d);
}

/// T is attnc_f16 or attnc_bf16 (16-bit storage, copied as bits).
template <class T, bool BF16>
__device__ __forceinline__ void gemm(float *out, const T *a, const T *b,
                                     const float *c, int m, int n, int k) {
  // attnc_b128 keeps the tiles 16-byte aligned on the GPU too.
  ATTNC_SHARED(attnc_b128, tileA128, kBlockM * kStrideA / 8);
  ATTNC_SHARED(attnc_b128, tileB128, kBlockK * kStrideB / 8);
  unsigned short *tileA = reinterpret_cast<unsigned short *>(tileA128);
  unsigned short *tileB = reinterpret_cast<unsigned short *>(tileB128);

  int thread = threadIdx.x, lane = thread & 31, warp = thread >> 5;
  int warpRow = (warp >> 1) * 16, warpCol = (warp & 1) * 16;
  int rowBase = blockIdx.y * kBlockM, colBase = blockIdx.x * kBlockN;
  int group = lane >> 2, inGroup = lane & 3;

  // Accumulators in the C/D fragment layout (PTX ISA, "Matrix Fragments for
  // mma.m16n8k16 with floating point type"): c_i at row group (+8 for
  // i >= 2), column 2 * inGroup + (i & 1), of n-tile j.
  float acc[2][4];
  for (int j = 0; j < 2; ++j)
    for (int i = 0; i < 4; ++i) {
      int row = rowBase + warpRow + group + (i >= 2 ? 8 : 0);
      int col = colBase + warpCol + 8 * j + 2 * inGroup + (i & 1);
      acc[j][i] =
          (c && row < m && col < n) ? c[(attnc_index)row * n + col] : 0.0f;
    }

  for (int k0 = 0; k0 < k; k0 += kBlockK) {
    // Stage the tiles; zeros (bits 0 in f16 and bf16) outside the matrices,
    // so the padded products add nothing.
    for (int e = thread; e < kBlockM * kBlockK; e += kThreads) {
      int r = e / kBlockK, col = e % kBlockK;
      int gr = rowBase + r, gk = k0 + col;
      tileA[r * kStrideA + col] =
          (gr < m && gk < k) ? a[(attnc_index)gr * k + gk].bits : 0;
    }
    for (int e = thread; e < kBlockK * kBlockN; e += kThreads) {
      int r = e / kBlockN, col = e % kBlockN;
      int gk = k0 + r, gc = colBase + col;
      tileB[r * kStrideB + col] =
          (gk < k && gc < n) ? b[(attnc_index)gk * n + gc].bits : 0;
    }
    __syncthreads();

    // A: lanes 0-15 address rows 0-15 at column 0, lanes 16-31 the same
    // rows at column 8, so matrices 0-3 are the (rows 0-7, cols 0-7),
    // (8-15, 0-7), (0-7, 8-15), (8-15, 8-15) quarters: registers a0a1,
    // a2a3, a4a5, a6a7 of the A fragment.
    unsigned fragA[4], fragB[4];
    attnc_ldmatrix_x4(fragA, tileA + (warpRow + (lane & 15)) * kStrideA +
                                 (lane >> 4) * 8);
    // B is k-major in shared memory; .trans hands lane (group, inGroup)
    // elements k = 2 * inGroup, +1 of column n = group, the B fragment.
    // Matrices 0-1 are k 0-7 and 8-15 of n-tile 0, matrices 2-3 of n-tile 1.
    attnc_ldmatrix_x4_trans(fragB, tileB + (lane & 15) * kStrideB + warpCol +
                                       (lane >> 4) * 8);
    mma<BF16>(acc[0], fragA, fragB);
    mma<BF16>(acc[1], fragA, fragB + 2);
    __syncthreads(); // the tiles are overwritten next step
  }

  for (int j = 0; j < 2; ++j)
    for (int i = 0; i < 4; ++i) {
      int row = rowBase + warpRow + group + (i >= 2 ? 8 : 0);
      int col = colBase + warpCol + 8 * j + 2 * inGroup + (i & 1);
      if (row < m && col < n)
        out[(attnc_index)row * n + col] = acc[j][i];
    }
}

} // namespace mma_gemm

extern "C" __global__ void __launch_bounds__(128)
    attnc_test_mma_gemm_f16(float *out, const attnc_f16 *a, const attnc_f16 *b,
                            const float *c, int m, int n, int k) {
  mma_gemm::gemm<attnc_f16, false>(out, a, b, c, m, n, k);
}

extern "C" __global__ void __launch_bounds__(128)
    attnc_test_mma_gemm_bf16(float *out, const attnc_bf16 *a,
                             const attnc_bf16 *b, const float *c, int m, int n,
                             int k) {
  mma_gemm::gemm<attnc_bf16, true>(out, a, b, c, m, n, k);
}

#endif // ATTNC_TEST_MMA_GEMM_KERNEL_H
