//===- mma.h - tensor-core primitives for generated kernels -----*- C++ -*-===//
//
// The warp-level matrix instructions that generated tensor-core kernels use:
// mma.sync m16n8k16 with f16 or bf16 inputs and f32 accumulators,
// mma.sync m16n8k8 with TF32 inputs (f32 GEMMs), ldmatrix (.x2, .x4, with
// and without .trans) to load their fragments from shared memory, and packing of two f32 values into the f16x2 / bf16x2 registers
// they take. On the GPU each function is one inline PTX instruction (sm_80
// and later). Under ATTNC_EMU the same calls run on the CPU: the warp's
// lanes exchange their registers through the emulation layer
// (attnc_emu_warp_exchange in attnc/emu.h) and every lane computes its own
// part of the result from the fragment layouts that the PTX ISA documents,
// so a kernel that gets a layout wrong fails in CI as it would on a GPU.
// Included at the end of attnc/device.h; like it, plain C++ that NVRTC and
// a host compiler both accept.
//
//===----------------------------------------------------------------------===//

#ifndef ATTNC_DEVICE_MMA_H
#define ATTNC_DEVICE_MMA_H

#include "attnc/numerics.h"

/// Sixteen bytes, 16-byte aligned: one ldmatrix row of eight 16-bit
/// elements. ldmatrix reads each row as one 16-byte access, so rows must be
/// 16-byte aligned; `ATTNC_SHARED(attnc_f16, ...)` declares a __shared__
/// array aligned only to 2 on the GPU (the emulation aligns every
/// ATTNC_SHARED to 16, which would hide the difference). Declaring a tile
/// as `ATTNC_SHARED(attnc_b128, tile, bytes / 16)` and addressing it
/// through an `unsigned short *` is aligned on both.
struct alignas(16) attnc_b128 {
  unsigned words[4];
};

/// Packs two f32 values into one f16x2 register, each rounded to nearest
/// even (as every level of attnc rounds), `lo` in bits 0-15. The fragment
/// layouts number the two halves of a register so that the lower-indexed
/// element (a0 of a0,a1) is in the lower half. On the GPU one cvt
/// instruction: the software rounding of attnc_numerics (which the
/// emulation uses, bit for bit the same result) costs a dozen
/// instructions per value and a measurable share of a kernel's compile
/// time.
__device__ __forceinline__ unsigned attnc_pack_f16(float lo, float hi) {
#if defined(ATTNC_EMU)
  return (unsigned)attnc_numerics::floatToHalfBits(lo) |
         ((unsigned)attnc_numerics::floatToHalfBits(hi) << 16);
#else
  unsigned packed;
  asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(packed) : "f"(hi), "f"(lo));
  return packed;
#endif
}

/// As attnc_pack_f16, for a bf16x2 register.
__device__ __forceinline__ unsigned attnc_pack_bf16(float lo, float hi) {
#if defined(ATTNC_EMU)
  return (unsigned)attnc_numerics::floatToBFloat16Bits(lo) |
         ((unsigned)attnc_numerics::floatToBFloat16Bits(hi) << 16);
#else
  unsigned packed;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(packed) : "f"(hi), "f"(lo));
  return packed;
#endif
}

/// Stores elements i and i + 1 as one access: `i` must be even (the
/// buffers themselves are at least 256-byte aligned). The tensor-core
/// kernels' fragments hold such pairs, and one 4- or 8-byte store is both
/// faster and cheaper for ptxas than two narrow ones.
__device__ __forceinline__ void attnc_store2(float *p, attnc_index i, float v0,
                                             float v1) {
  *reinterpret_cast<float2 *>(p + i) = make_float2(v0, v1);
}
__device__ __forceinline__ void attnc_store2(attnc_f16 *p, attnc_index i,
                                             float v0, float v1) {
  *reinterpret_cast<unsigned *>(p + i) = attnc_pack_f16(v0, v1);
}
__device__ __forceinline__ void attnc_store2(attnc_bf16 *p, attnc_index i,
                                             float v0, float v1) {
  *reinterpret_cast<unsigned *>(p + i) = attnc_pack_bf16(v0, v1);
}

/// Stores elements i .. i + 7 as 16-byte accesses: `i` must be a multiple
/// of 8 (of 4 for f32). The GEMM epilogue of a plain product (no fused
/// ops) writes its tile this way, a fifth of the instructions of element
/// stores.
struct alignas(16) attnc_u32x4 {
  unsigned x, y, z, w;
};
__device__ __forceinline__ void attnc_store8(float *p, attnc_index i,
                                             float4 lo, float4 hi) {
  reinterpret_cast<float4 *>(p + i)[0] = lo;
  reinterpret_cast<float4 *>(p + i)[1] = hi;
}
__device__ __forceinline__ void attnc_store8(attnc_f16 *p, attnc_index i,
                                             float4 lo, float4 hi) {
  *reinterpret_cast<attnc_u32x4 *>(p + i) = {
      attnc_pack_f16(lo.x, lo.y), attnc_pack_f16(lo.z, lo.w),
      attnc_pack_f16(hi.x, hi.y), attnc_pack_f16(hi.z, hi.w)};
}
__device__ __forceinline__ void attnc_store8(attnc_bf16 *p, attnc_index i,
                                             float4 lo, float4 hi) {
  *reinterpret_cast<attnc_u32x4 *>(p + i) = {
      attnc_pack_bf16(lo.x, lo.y), attnc_pack_bf16(lo.z, lo.w),
      attnc_pack_bf16(hi.x, hi.y), attnc_pack_bf16(hi.z, hi.w)};
}

#if !defined(ATTNC_EMU)
//===----------------------------------------------------------------------===//
// GPU: one PTX instruction each
//===----------------------------------------------------------------------===//

// mma.sync.m16n8k16 with .f16 or .bf16 inputs needs sm_80 (ldmatrix,
// sm_75); attnc targets sm_80, sm_90 and sm_90a. For older targets (and in
// nvcc's host pass, which never runs device code) the body is a trap.
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
#define ATTNC_MMA_PTX 1
#else
#define ATTNC_MMA_PTX 0
#endif

// One mma.sync on a warp's fragments: d (4 f32) = a (4 registers) x b (2
// registers) + c (4 f32), the shapes and types named by `shape`; where
// PTX is not available (see above), a trap.
#if ATTNC_MMA_PTX
#define ATTNC_MMA_SYNC(shape)                                                  \
  asm volatile("mma.sync.aligned." shape " "                                   \
               "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "                \
               "{%10, %11, %12, %13};\n"                                      \
               : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])                \
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]),        \
                 "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]))
#else
#define ATTNC_MMA_SYNC(shape)                                                  \
  ((void)d, (void)a, (void)b, (void)c, __trap())
#endif

/// D = A * B + C for a warp: A 16x16 (row), B 16x8 (col), f16 inputs, f32
/// accumulators, in the registers of "Matrix Fragments for mma.m16n8k16
/// with floating point type" (see the emulation below for the layout).
/// `d` may be `c`.
__device__ __forceinline__ void attnc_mma_m16n8k16_f16(float d[4],
                                                       const unsigned a[4],
                                                       const unsigned b[2],
                                                       const float c[4]) {
  ATTNC_MMA_SYNC("m16n8k16.row.col.f32.f16.f16.f32");
}

/// As attnc_mma_m16n8k16_f16, with bf16 inputs.
__device__ __forceinline__ void attnc_mma_m16n8k16_bf16(float d[4],
                                                        const unsigned a[4],
                                                        const unsigned b[2],
                                                        const float c[4]) {
  ATTNC_MMA_SYNC("m16n8k16.row.col.f32.bf16.bf16.f32");
}

/// cvt.rna.tf32.f32: x rounded to TF32 (10 explicit significand bits, to
/// nearest, ties away from zero), as the 32-bit pattern mma.sync's .tf32
/// operands take (the low 13 bits zero).
__device__ __forceinline__ unsigned attnc_tf32_round(float x) {
#if ATTNC_MMA_PTX
  unsigned r;
  asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(r) : "f"(x));
  return r;
#else
  (void)x;
  __trap();
  return 0;
#endif
}

/// D = A * B + C for a warp: A 16x8 (row), B 8x8 (col), TF32 inputs (one
/// per register), f32 accumulators, in the registers of "Matrix Fragments
/// for mma.m16n8k8" of the PTX ISA (see the emulation below for the
/// layout). `d` may be `c`.
__device__ __forceinline__ void attnc_mma_m16n8k8_tf32(float d[4],
                                                       const unsigned a[4],
                                                       const unsigned b[2],
                                                       const float c[4]) {
  ATTNC_MMA_SYNC("m16n8k8.row.col.f32.tf32.tf32.f32");
}

// ldmatrix takes a .shared address (32-bit); the generic pointer is
// converted. The "memory" clobber keeps the compiler from moving this
// thread's earlier stores to shared memory past the load.

/// ldmatrix.sync.aligned.m8n8.x4.shared.b16: lane 8*i + j passes the address
/// of row j of matrix i (16 bytes, 16-byte aligned, in shared memory);
/// r[i] receives row laneid/4, columns 2*(laneid%4) and +1 of matrix i,
/// the lower column in the lower half.
__device__ __forceinline__ void attnc_ldmatrix_x4(unsigned r[4],
                                                  const void *rowAddress) {
#if ATTNC_MMA_PTX
  unsigned address = (unsigned)__cvta_generic_to_shared(rowAddress);
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 "
               "{%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(address)
               : "memory");
#else
  (void)r, (void)rowAddress;
  __trap();
#endif
}

/// Two matrices: lanes 0-15 pass the row addresses (lanes 16-31's are
/// ignored).
__device__ __forceinline__ void attnc_ldmatrix_x2(unsigned r[2],
                                                  const void *rowAddress) {
#if ATTNC_MMA_PTX
  unsigned address = (unsigned)__cvta_generic_to_shared(rowAddress);
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n"
               : "=r"(r[0]), "=r"(r[1])
               : "r"(address)
               : "memory");
#else
  (void)r, (void)rowAddress;
  __trap();
#endif
}

/// attnc_ldmatrix_x4 with .trans: each matrix is read column-major, r[i]
/// receiving rows 2*(laneid%4) and +1 of column laneid/4 (the lower row in
/// the lower half). Loads a B fragment from a k-major (row-major K x N)
/// tile.
__device__ __forceinline__ void
attnc_ldmatrix_x4_trans(unsigned r[4], const void *rowAddress) {
#if ATTNC_MMA_PTX
  unsigned address = (unsigned)__cvta_generic_to_shared(rowAddress);
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 "
               "{%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(address)
               : "memory");
#else
  (void)r, (void)rowAddress;
  __trap();
#endif
}

/// attnc_ldmatrix_x2 with .trans.
__device__ __forceinline__ void
attnc_ldmatrix_x2_trans(unsigned r[2], const void *rowAddress) {
#if ATTNC_MMA_PTX
  unsigned address = (unsigned)__cvta_generic_to_shared(rowAddress);
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 "
               "{%0, %1}, [%2];\n"
               : "=r"(r[0]), "=r"(r[1])
               : "r"(address)
               : "memory");
#else
  (void)r, (void)rowAddress;
  __trap();
#endif
}

#undef ATTNC_MMA_PTX

#else // ATTNC_EMU
//===----------------------------------------------------------------------===//
// Emulation: the warp exchanges its registers, each lane computes its part
//
// Each function takes two extra defaulted parameters, the caller's file and
// line: the exchange requires all 32 lanes at the same call (the
// instructions are .sync.aligned) and names the call in its errors. Calls
// are written exactly as on the GPU.
//===----------------------------------------------------------------------===//

#define ATTNC_MMA_CALL_SITE                                                    \
  const char *attncFile = __builtin_FILE(), int attncLine = __builtin_LINE()

namespace attnc_mma_emu {

/// Element `half` (0: bits 0-15, 1: bits 16-31) of a packed register.
inline unsigned short element(unsigned reg, unsigned half) {
  return (unsigned short)(reg >> (16 * half));
}

/// The A and B registers of one lane. C and D share one layout, so each
/// lane's d[i] needs only its own c[i]: C is not exchanged.
struct MmaOperands {
  unsigned a[4];
  unsigned b[2];
};

/// mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16}.{f16,bf16}.f32.
///
/// Layouts, from the PTX ISA section "Matrix Fragments for mma.m16n8k16
/// with floating point type" (groupID = laneid >> 2, threadID_in_group =
/// laneid % 4, two 16-bit elements per register, a0 in the low half of a[0],
/// a1 in its high half, and so on):
///   A (16x16, .row), a0..a7 in a[0..3]:
///     row = groupID for ai with i < 2 or 4 <= i < 6, groupID + 8 otherwise;
///     col = threadID_in_group * 2 + (i & 1), plus 8 for i >= 4.
///   B (16x8, .col), b0..b3 in b[0..1]:
///     row = threadID_in_group * 2 + (i & 1), plus 8 for i >= 2;
///     col = groupID.
///   C, D (16x8, f32), c0..c3:
///     row = groupID for i < 2, groupID + 8 otherwise;
///     col = threadID_in_group * 2 + (i & 1).
///
/// Arithmetic: every f16/bf16 input is decoded exactly to f32. The ISA does
/// not specify bit for bit how the hardware orders and rounds the sum
/// inside one MMA; the emulation starts from c and adds the sixteen
/// products in k order, each with one f32 rounding (fmaf). f16 products are
/// exact in f32 (11-bit significands give 22 bits; exponents stay within
/// f32's normal range), so the only rounding is that of the running sum;
/// bf16 products are exact unless they leave f32's range. Results can
/// therefore differ from a GPU's in the last bits, within the error bound of
/// any f32 summation order.
inline void mma(float d[4], const unsigned a[4], const unsigned b[2],
                const float c[4], bool bf16, const char *what, const char *file,
                int line) {
  MmaOperands mine;
  for (int i = 0; i < 4; ++i)
    mine.a[i] = a[i];
  mine.b[0] = b[0];
  mine.b[1] = b[1];
  float accumulator[4] = {c[0], c[1], c[2], c[3]};
  MmaOperands all[32];
  attnc_emu_warp_exchange(&mine, sizeof mine, all, what, file, line);
  attnc_emu_warp_exchange_end(file, line);

  // Rebuild A (m x k) and B (k x n) from the 32 lanes' fragments.
  float matrixA[16][16], matrixB[16][8];
  for (unsigned lane = 0; lane < 32; ++lane) {
    unsigned group = lane >> 2, inGroup = lane & 3;
    for (unsigned i = 0; i < 8; ++i) {
      unsigned short bits = element(all[lane].a[i / 2], i & 1);
      unsigned row = (i < 2 || (i >= 4 && i < 6)) ? group : group + 8;
      unsigned col = inGroup * 2 + (i & 1) + (i >= 4 ? 8 : 0);
      matrixA[row][col] = bf16 ? attnc_numerics::bfloat16BitsToFloat(bits)
                               : attnc_numerics::halfBitsToFloat(bits);
    }
    for (unsigned i = 0; i < 4; ++i) {
      unsigned short bits = element(all[lane].b[i / 2], i & 1);
      unsigned row = inGroup * 2 + (i & 1) + (i >= 2 ? 8 : 0);
      matrixB[row][group] = bf16 ? attnc_numerics::bfloat16BitsToFloat(bits)
                                 : attnc_numerics::halfBitsToFloat(bits);
    }
  }

  unsigned lane = attnc_emu_lane();
  unsigned group = lane >> 2, inGroup = lane & 3;
  for (unsigned i = 0; i < 4; ++i) {
    unsigned row = i < 2 ? group : group + 8;
    unsigned col = inGroup * 2 + (i & 1);
    float sum = accumulator[i];
    for (unsigned k = 0; k < 16; ++k)
      sum = fmaf(matrixA[row][k], matrixB[k][col], sum);
    accumulator[i] = sum;
  }
  // Written last: d may be c.
  for (int i = 0; i < 4; ++i)
    d[i] = accumulator[i];
}

/// ldmatrix.sync.aligned.m8n8.{x2,x4}{,.trans}.shared.b16 (PTX ISA section
/// "Warp-level matrix load instruction: ldmatrix"): lanes 8*i to 8*i + 7
/// pass the addresses of rows 0-7 of matrix i (lanes beyond 8 * count are
/// ignored), each row 16 bytes of shared memory. Register i of lane l holds
/// two 16-bit elements of matrix i, the first in the low half: row l/4,
/// columns 2*(l%4) and 2*(l%4)+1; with .trans (the matrix read
/// column-major) rows 2*(l%4) and 2*(l%4)+1 of column l/4.
///
/// The reads happen between the exchange and its end, so every lane's
/// reads precede any lane's code after the instruction, as for one warp-wide
/// instruction. A row address outside the block's shared memory (undefined
/// on the GPU) or not 16-byte aligned fails the launch.
inline void ldmatrix(unsigned *r, unsigned count, bool trans,
                     const void *rowAddress, const char *what, const char *file,
                     int line) {
  const unsigned char *rows[32];
  const unsigned char *mine = static_cast<const unsigned char *>(rowAddress);
  attnc_emu_warp_exchange(&mine, sizeof mine, rows, what, file, line);
  for (unsigned source = 0; source < 8 * count; ++source) {
    if (!attnc_emu_in_shared(rows[source], 16))
      attnc_emu_fail(what, file, line,
                     "the row address %p of lane %u is not in the block's "
                     "shared memory",
                     static_cast<const void *>(rows[source]), source);
    if (reinterpret_cast<uintptr_t>(rows[source]) % 16 != 0)
      attnc_emu_fail(what, file, line,
                     "the row address %p of lane %u is not 16-byte aligned",
                     static_cast<const void *>(rows[source]), source);
  }
  unsigned lane = attnc_emu_lane();
  unsigned group = lane >> 2, inGroup = lane & 3;
  unsigned result[4] = {0, 0, 0, 0};
  for (unsigned i = 0; i < count; ++i) {
    const unsigned char *const *matrix = rows + 8 * i;
    unsigned short lo, hi;
    if (!trans) {
      memcpy(&lo, matrix[group] + 2 * (2 * inGroup), 2);
      memcpy(&hi, matrix[group] + 2 * (2 * inGroup + 1), 2);
    } else {
      memcpy(&lo, matrix[2 * inGroup] + 2 * group, 2);
      memcpy(&hi, matrix[2 * inGroup + 1] + 2 * group, 2);
    }
    result[i] = (unsigned)lo | ((unsigned)hi << 16);
  }
  attnc_emu_warp_exchange_end(file, line);
  for (unsigned i = 0; i < count; ++i)
    r[i] = result[i];
}

/// cvt.rna.tf32.f32 on the bits: adding half of TF32's last place (bit
/// 12) to the magnitude rounds it to nearest with ties away from zero (a
/// carry into the exponent is the correct next binade, or infinity);
/// clearing the low 13 bits truncates to TF32. NaN and infinity pass
/// through (a NaN kept quiet).
inline unsigned tf32Round(float x) {
  unsigned bits;
  memcpy(&bits, &x, 4);
  if ((bits & 0x7f800000u) == 0x7f800000u)
    return (bits & 0x007fffffu) ? (bits | 0x00400000u) & 0xffffe000u : bits;
  return (bits + 0x1000u) & 0xffffe000u;
}

/// An operand register as the tensor cores read a .tf32 element: its low 13
/// bits ignored.
inline float tf32Value(unsigned reg) {
  unsigned bits = reg & 0xffffe000u;
  float value;
  memcpy(&value, &bits, 4);
  return value;
}

struct Tf32Operands {
  unsigned a[4];
  unsigned b[2];
};

/// mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32.
///
/// Layouts, from the PTX ISA section "Matrix Fragments for mma.m16n8k8"
/// (.tf32: one element per register; groupID and threadID_in_group as for
/// m16n8k16):
///   A (16x8, .row), a0..a3: row = groupID for a0 and a2, groupID + 8 for
///     a1 and a3; col = threadID_in_group, plus 4 for a2 and a3.
///   B (8x8, .col), b0, b1: row = threadID_in_group, plus 4 for b1;
///     col = groupID.
///   C, D (16x8, f32): as m16n8k16's.
///
/// Arithmetic: each input is its register with the low 13 bits cleared,
/// so the 11-bit significands multiply exactly; c plus the eight products
/// is rounded once to f32, toward zero. The ISA leaves the hardware's order
/// and rounding unspecified; truncation is what Ootomo and Yokota measured
/// in A100's TF32 MMAs ("Recovering single precision accuracy from Tensor
/// Cores while surpassing the FP32 theoretical peak performance", 2022).
/// Its bias grows with the number of MMAs accumulated into one register,
/// so the emulation takes the truncating case: a kernel that loses f32
/// accuracy to it fails its tests here (docs/emulation.md).
inline void mmaTf32(float d[4], const unsigned a[4], const unsigned b[2],
                    const float c[4], const char *file, int line) {
  Tf32Operands mine;
  for (int i = 0; i < 4; ++i)
    mine.a[i] = a[i];
  mine.b[0] = b[0];
  mine.b[1] = b[1];
  float accumulator[4] = {c[0], c[1], c[2], c[3]};
  Tf32Operands all[32];
  attnc_emu_warp_exchange(&mine, sizeof mine, all, "attnc_mma_m16n8k8_tf32",
                          file, line);
  attnc_emu_warp_exchange_end(file, line);

  float matrixA[16][8], matrixB[8][8];
  for (unsigned lane = 0; lane < 32; ++lane) {
    unsigned group = lane >> 2, inGroup = lane & 3;
    for (unsigned i = 0; i < 4; ++i)
      matrixA[group + (i & 1) * 8][inGroup + (i >> 1) * 4] =
          tf32Value(all[lane].a[i]);
    for (unsigned i = 0; i < 2; ++i)
      matrixB[inGroup + i * 4][group] = tf32Value(all[lane].b[i]);
  }

  unsigned lane = attnc_emu_lane();
  unsigned group = lane >> 2, inGroup = lane & 3;
  for (unsigned i = 0; i < 4; ++i) {
    unsigned row = i < 2 ? group : group + 8;
    unsigned col = inGroup * 2 + (i & 1);
    // The products are exact in double; their sum with c is too unless
    // the terms' magnitudes lie more than about 2^30 apart, and then the
    // double's rounding is far below the f32 result's last place. Rounded
    // once, toward zero.
    double sum = accumulator[i];
    for (unsigned k = 0; k < 8; ++k)
      sum += (double)matrixA[row][k] * matrixB[k][col];
    float rounded = (float)sum;
    if (std::fabs((double)rounded) > std::fabs(sum))
      rounded = std::nextafter(rounded, 0.0f);
    accumulator[i] = rounded;
  }
  for (int i = 0; i < 4; ++i)
    d[i] = accumulator[i];
}

} // namespace attnc_mma_emu

__device__ __forceinline__ void
attnc_mma_m16n8k16_f16(float d[4], const unsigned a[4], const unsigned b[2],
                       const float c[4], ATTNC_MMA_CALL_SITE) {
  attnc_mma_emu::mma(d, a, b, c, false, "attnc_mma_m16n8k16_f16", attncFile,
                     attncLine);
}

__device__ __forceinline__ void
attnc_mma_m16n8k16_bf16(float d[4], const unsigned a[4], const unsigned b[2],
                        const float c[4], ATTNC_MMA_CALL_SITE) {
  attnc_mma_emu::mma(d, a, b, c, true, "attnc_mma_m16n8k16_bf16", attncFile,
                     attncLine);
}

__device__ __forceinline__ unsigned attnc_tf32_round(float x) {
  return attnc_mma_emu::tf32Round(x);
}

__device__ __forceinline__ void
attnc_mma_m16n8k8_tf32(float d[4], const unsigned a[4], const unsigned b[2],
                       const float c[4], ATTNC_MMA_CALL_SITE) {
  attnc_mma_emu::mmaTf32(d, a, b, c, attncFile, attncLine);
}

__device__ __forceinline__ void
attnc_ldmatrix_x4(unsigned r[4], const void *rowAddress, ATTNC_MMA_CALL_SITE) {
  attnc_mma_emu::ldmatrix(r, 4, false, rowAddress, "attnc_ldmatrix_x4",
                          attncFile, attncLine);
}

__device__ __forceinline__ void
attnc_ldmatrix_x2(unsigned r[2], const void *rowAddress, ATTNC_MMA_CALL_SITE) {
  attnc_mma_emu::ldmatrix(r, 2, false, rowAddress, "attnc_ldmatrix_x2",
                          attncFile, attncLine);
}

__device__ __forceinline__ void attnc_ldmatrix_x4_trans(unsigned r[4],
                                                        const void *rowAddress,
                                                        ATTNC_MMA_CALL_SITE) {
  attnc_mma_emu::ldmatrix(r, 4, true, rowAddress, "attnc_ldmatrix_x4_trans",
                          attncFile, attncLine);
}

__device__ __forceinline__ void attnc_ldmatrix_x2_trans(unsigned r[2],
                                                        const void *rowAddress,
                                                        ATTNC_MMA_CALL_SITE) {
  attnc_mma_emu::ldmatrix(r, 2, true, rowAddress, "attnc_ldmatrix_x2_trans",
                          attncFile, attncLine);
}

#undef ATTNC_MMA_CALL_SITE

#endif // ATTNC_EMU

/// x as big + small for error-compensated "3xTF32" products: big is x
/// rounded to TF32, small the rest, x - big, exact in f32 and passed as
/// it is: the tensor cores read a .tf32 register's top 19 bits, so they
/// take small truncated to TF32 (ptxas's own cvt.rna.tf32 leaves the low
/// 13 bits set where its result only feeds an MMA, and the emulation's
/// tf32Value reads registers the same way). big + small then keeps 21 of
/// x's 24 significand bits, and a product of two such sums, less its
/// small x small term, has about f32's relative error (docs/codegen.md).
/// Rounding small too would cost two more instructions per element (an
/// eighth of a 3xTF32 K loop in SASS) for one more bit; the tests' errors
/// did not change measurably.
__device__ __forceinline__ void attnc_tf32_split(float x, unsigned &big,
                                                 unsigned &small) {
  big = attnc_tf32_round(x);
  // x - big is exact for finite x, and NaN for infinite x (inf - inf):
  // small is then 0, so x acts as the infinity big is. NaN stays in big.
  // The test is the one cvt.rna.tf32 makes of x (|x| below infinity), so
  // ptxas shares it: one compare per element fewer than testing rest,
  // which would also catch a finite x within 2^-12 of FLT_MAX whose
  // rounding overflowed (big = inf, small = -inf: its products are NaN,
  // where the exact ones may be finite or overflow). A select rather than
  // a branch keeps the callers' K loops one basic block for ptxas.
  const float rest = x - __uint_as_float(big);
  small = fabsf(x) < __int_as_float(0x7f800000) ? __float_as_uint(rest) : 0u;
}

//===----------------------------------------------------------------------===//
// Asynchronous copies: cp.async (sm_80 and later)
//===----------------------------------------------------------------------===//
//
// attnc_cp_async_16(shared, global, valid) starts a 16-byte copy from global
// to shared memory, or a zero fill when `valid` is false (cp.async.cg with a
// source size of 0, which reads nothing). Both addresses are 16-byte
// aligned. attnc_cp_async_4(shared, global, valid) copies 4 bytes
// (cp.async.ca; both addresses 4-byte aligned), or writes 4 zero bytes
// when `valid` is false (the ignore-src predicate: the source is not
// read, so it may lie past the end of its buffer): the scan stages its
// chunk's f32 inputs this way, so that they are all in flight before the
// compilers can put arithmetic between them (EmitScan.cpp). attnc_cp_async_commit() closes
// the thread's current group of
// copies; attnc_cp_async_wait<N>() waits until at most N of its groups are
// still in flight (PTX ISA, "Data Movement and Conversion Instructions:
// cp.async"). A copy is visible to other threads only after the wait and a
// barrier.

#if !defined(ATTNC_EMU)

__device__ __forceinline__ void attnc_cp_async_16(void *shared,
                                                  const void *global,
                                                  bool valid) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  unsigned address = (unsigned)__cvta_generic_to_shared(shared);
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(address),
               "l"(global), "r"(valid ? 16 : 0)
               : "memory");
#else
  __trap();
#endif
}

__device__ __forceinline__ void attnc_cp_async_4(void *shared,
                                                 const void *global,
                                                 bool valid) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  unsigned address = (unsigned)__cvta_generic_to_shared(shared);
  asm volatile("{\n.reg .pred skip;\nsetp.eq.u32 skip, %2, 0;\n"
               "cp.async.ca.shared.global [%0], [%1], 4, skip;\n}\n" ::"r"(
                   address),
               "l"(global), "r"(unsigned(valid))
               : "memory");
#else
  __trap();
#endif
}

__device__ __forceinline__ void attnc_cp_async_commit() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}

template <int N> __device__ __forceinline__ void attnc_cp_async_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
#endif
}

#else // ATTNC_EMU

// Emulation defers every copy to the wait that must complete it, so a
// kernel that reads a stage before waiting for it reads stale data here
// too and fails its tests, instead of passing by luck. Groups are kept per
// emulated thread.
#include <cstdint>

namespace attnc_cp_async_emu {
struct Copy {
  void *shared;
  const void *global;
  bool valid;
  unsigned bytes = 16;
};
struct Thread {
  std::vector<Copy> open;
  std::vector<std::vector<Copy>> committed;
};
inline Thread &current() { return attnc_emu_thread_state<Thread>(); }
inline void perform(const std::vector<Copy> &group) {
  for (const Copy &copy : group) {
    if (copy.valid)
      std::memcpy(copy.shared, copy.global, copy.bytes);
    else
      std::memset(copy.shared, 0, copy.bytes);
  }
}
} // namespace attnc_cp_async_emu

namespace attnc_cp_async_emu {
/// Queues a copy of `bytes` (16 or 4) after checking the alignment both
/// need (the source's only where it is read).
inline void start(const char *name, void *shared, const void *global,
                  bool valid, unsigned bytes) {
  if (!attnc_emu_in_shared(shared, bytes) ||
      (reinterpret_cast<uintptr_t>(shared) & (bytes - 1)) ||
      (valid && (reinterpret_cast<uintptr_t>(global) & (bytes - 1))))
    attnc_emu_fail(name, __FILE__, __LINE__,
                   "needs a %u-byte aligned shared destination and global "
                   "source",
                   bytes);
  current().open.push_back({shared, global, valid, bytes});
}
} // namespace attnc_cp_async_emu

__device__ inline void attnc_cp_async_16(void *shared, const void *global,
                                         bool valid) {
  attnc_cp_async_emu::start("attnc_cp_async_16", shared, global, valid, 16);
}

__device__ inline void attnc_cp_async_4(void *shared, const void *global,
                                        bool valid) {
  attnc_cp_async_emu::start("attnc_cp_async_4", shared, global, valid, 4);
}

__device__ inline void attnc_cp_async_commit() {
  attnc_cp_async_emu::Thread &thread = attnc_cp_async_emu::current();
  thread.committed.push_back(std::move(thread.open));
  thread.open.clear();
}

template <int N> __device__ inline void attnc_cp_async_wait() {
  attnc_cp_async_emu::Thread &thread = attnc_cp_async_emu::current();
  while (thread.committed.size() > size_t(N)) {
    attnc_cp_async_emu::perform(thread.committed.front());
    thread.committed.erase(thread.committed.begin());
  }
}

#endif // ATTNC_EMU

#endif // ATTNC_DEVICE_MMA_H
