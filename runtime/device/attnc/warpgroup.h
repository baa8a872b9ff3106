//===- warpgroup.h - Hopper warpgroup MMA and mbarrier primitives -*- C++ -*-===//
//
// What the sm_90a GEMM and attention (lib/Target/CUDA/EmitWarpgroup*.cpp)
// are built from: wgmma.mma_async (a warpgroup of 128 threads multiplies a
// 64 x N x 16 product, B and possibly A read from shared memory through
// matrix descriptors), its fence / commit_group / wait_group, TMA copies
// (cp.async.bulk.tensor) and the mbarriers that hand shared-memory stages
// between a producer and the consumer warpgroups. On the GPU each function
// is one inline PTX instruction (PTX ISA, "Asynchronous Warpgroup Level
// Matrix Multiply-Accumulate Instructions", "cp.async.bulk.tensor" and
// "mbarrier"); attnc uses wgmma and TMA for sm_90a. Under ATTNC_EMU the same
// calls run on the CPU:
//
//  - wgmma is deferred to the wait_group that must complete it, and reads
//    shared memory only then, so a producer that refills a stage before the
//    consumers have waited makes the emulated product wrong, as it could on
//    the GPU. Each thread computes its own accumulator registers from the
//    layouts the PTX ISA documents: the 128-byte swizzle, K-major A, MN-major
//    (transposed) B and the m64nNk16 D fragment.
//  - An mbarrier is a phase counter (with the bytes still expected) in its
//    8 bytes of shared memory; a wait suspends the emulated thread until the
//    phase it waits for completes.
//  - TMA copies its box at once, from the emulation's own tensor map.
//
// Only the 128-byte swizzle is emulated; a descriptor asking for another
// fails the launch. Plain C++ that NVRTC and a host compiler both accept;
// included at the end of attnc/device.h, after attnc/mma.h.
//
//===----------------------------------------------------------------------===//

#ifndef ATTNC_DEVICE_WARPGROUP_H
#define ATTNC_DEVICE_WARPGROUP_H

#include "attnc/numerics.h"

/// The shared-memory layout every wgmma operand of attnc uses: rows of 128
/// bytes (64 16-bit elements) in groups of 8 rows (1024 bytes), the
/// 16-byte chunk c of row r stored at chunk c ^ (r % 8). The hardware
/// applies the XOR to address bits 4-6 from bits 7-9, so tiles start at
/// 1024-byte aligned shared addresses.
#define ATTNC_WGMMA_SWIZZLE_BYTES 1024

/// A TMA tensor map, passed to a kernel by value (`ATTNC_GRID_CONSTANT
/// const attnc_tensor_map`). On the GPU it is the driver's opaque
/// CUtensorMap (128 bytes, 64-byte aligned), encoded by the runtime with
/// cuTensorMapEncodeTiled, rank 3 (columns, rows, slices). Under emulation
/// the runtime fills words 0-6 instead: base address, rows, columns, row
/// stride in bytes, box rows, box columns, slices (2-byte elements,
/// 128-byte swizzle; runtime/src/EmuDevice.cpp).
struct alignas(64) attnc_tensor_map {
  unsigned long long words[16];
};
#if defined(ATTNC_EMU)
#define ATTNC_GRID_CONSTANT
#else
#define ATTNC_GRID_CONSTANT __grid_constant__
#endif

/// Byte offset of 16-byte chunk `chunk` of row `row` in a 128-byte-swizzled
/// tile.
__device__ __forceinline__ unsigned attnc_swizzle128(unsigned row,
                                                     unsigned chunk) {
  return row * 128u + ((chunk ^ (row & 7u)) << 4);
}

/// A wgmma shared-memory matrix descriptor for the 128-byte swizzle
/// (PTX ISA, "Matrix Descriptor Format"): start address, leading and stride
/// byte offsets (each in 16-byte units, 14 bits), swizzle mode 1 in bits
/// 62-63. `sharedAddress` is the operand's address in the shared window.
__device__ __forceinline__ unsigned long long
attnc_wgmma_descriptor(unsigned sharedAddress, unsigned leadingBytes,
                       unsigned strideBytes) {
  return (unsigned long long)((sharedAddress >> 4) & 0x3FFFu) |
         ((unsigned long long)((leadingBytes >> 4) & 0x3FFFu) << 16) |
         ((unsigned long long)((strideBytes >> 4) & 0x3FFFu) << 32) |
         (1ull << 62);
}

/// `descriptor` moved `bytes` (a multiple of 16) on: one 32-bit add to its
/// start-address field. Exact while the moved address stays in the 14-bit
/// field, which shared memory below 256 KiB always does (sm_90 has 228
/// KiB); the emulation rejects a carry into the reserved bits above it.
/// Built per K step with attnc_wgmma_descriptor, each descriptor cost
/// ptxas about seven uniform instructions (add with carry, shift, masks,
/// moves) in the attention's key-tile loop. On the GPU the halves are
/// joined by a mov in PTX: in C++, NVRTC widens the 32-bit add to a 64-bit
/// one whose carry ptxas then computes for every descriptor (559 against
/// 530 instructions in that loop at head dim 128).
__device__ __forceinline__ unsigned long long
attnc_wgmma_descriptor_add(unsigned long long descriptor, unsigned bytes) {
  const unsigned low = (unsigned)descriptor + (bytes >> 4);
  const unsigned high = (unsigned)(descriptor >> 32);
#if defined(__CUDA_ARCH__)
  unsigned long long moved;
  asm("mov.b64 %0, {%1, %2};" : "=l"(moved) : "r"(low), "r"(high));
  return moved;
#else
  return ((unsigned long long)high << 32) | low;
#endif
}

#if !defined(ATTNC_EMU)
//===----------------------------------------------------------------------===//
// GPU: one PTX instruction each
//===----------------------------------------------------------------------===//

// mbarrier.try_wait needs sm_90, TMA too, and wgmma the architecture-specific
// sm_90a features (NVRTC defines __CUDA_ARCH_FEAT_SM90_ALL for
// --gpu-architecture=sm_90a). attnc emits wgmma and TMA only for sm_90a, so
// both are compiled under that one condition; elsewhere the bodies trap.
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#define ATTNC_MBARRIER_PTX 1
#else
#define ATTNC_MBARRIER_PTX 0
#endif
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define ATTNC_WGMMA_PTX 1
#else
#define ATTNC_WGMMA_PTX 0
#endif

/// The shared-window address of a pointer into shared memory.
__device__ __forceinline__ unsigned attnc_shared_address(const void *p) {
  return (unsigned)__cvta_generic_to_shared(p);
}

/// `p` (dynamic shared memory) moved up to the next 1024-byte aligned
/// shared address; the launch asks for 1024 bytes more than the tiles need.
__device__ __forceinline__ unsigned char *attnc_align_shared_1024(void *p) {
  unsigned pad = (1024u - (attnc_shared_address(p) & 1023u)) & 1023u;
  return (unsigned char *)p + pad;
}

/// Initialises the mbarrier at `bar` to expect `count` arrivals per phase.
__device__ __forceinline__ void attnc_mbarrier_init(unsigned long long *bar,
                                                    unsigned count) {
#if ATTNC_MBARRIER_PTX
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(
                   attnc_shared_address(bar)),
               "r"(count)
               : "memory");
#else
  __trap();
#endif
}

/// Makes the mbarrier initialisations visible to the asynchronous proxy
/// (TMA), before the barrier that publishes them to the other threads.
__device__ __forceinline__ void attnc_fence_barrier_init() {
#if ATTNC_WGMMA_PTX
  asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
#else
  __trap();
#endif
}

/// One arrival that also expects `bytes` more bytes of asynchronous
/// copies (TMA) to complete before the phase can.
__device__ __forceinline__ void
attnc_mbarrier_arrive_expect_tx(unsigned long long *bar, unsigned bytes) {
#if ATTNC_WGMMA_PTX
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(
                   attnc_shared_address(bar)),
               "r"(bytes)
               : "memory");
#else
  __trap();
#endif
}

/// TMA: copies the box at element coordinates (c0: column, c1: row, c2:
/// slice) of the tensor `map` describes into shared memory at `dst`
/// (1024-byte aligned, swizzled as the map says; zeros where the box
/// leaves the slice), and completes its bytes on `bar`.
__device__ __forceinline__ void attnc_tma_load(void *dst,
                                               const attnc_tensor_map *map,
                                               int c0, int c1, int c2,
                                               unsigned long long *bar) {
#if ATTNC_WGMMA_PTX
  asm volatile("cp.async.bulk.tensor.3d.shared::cluster.global.tile."
               "mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4}], [%5];\n" ::
                   "r"(attnc_shared_address(dst)),
               "l"(map), "r"(c0), "r"(c1), "r"(c2),
               "r"(attnc_shared_address(bar))
               : "memory");
#else
  __trap();
#endif
}

/// One arrival (release semantics at CTA scope).
__device__ __forceinline__ void attnc_mbarrier_arrive(unsigned long long *bar) {
#if ATTNC_MBARRIER_PTX
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(
                   attnc_shared_address(bar))
               : "memory");
#else
  __trap();
#endif
}

/// Waits until the phase of parity `parity` has completed: 0 waits for
/// the first phase, 1 returns at once on a fresh barrier (the phase before
/// it counts as complete), then they alternate.
__device__ __forceinline__ void attnc_mbarrier_wait(unsigned long long *bar,
                                                    unsigned parity) {
#if ATTNC_MBARRIER_PTX
  unsigned address = attnc_shared_address(bar), done = 0;
  do {
    asm volatile("{\n.reg .pred p;\n"
                 "mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
                 "selp.u32 %0, 1, 0, p;\n}\n"
                 : "=r"(done)
                 : "r"(address), "r"(parity)
                 : "memory");
  } while (!done);
#else
  __trap();
#endif
}

/// Named barrier `id` (1-15; 0 is __syncthreads') of `threads` threads,
/// counted per warp: sync waits until that many have arrived (itself
/// included), arrive counts the calling warps without waiting. Two
/// warpgroups take turns with a pair of them (PTX ISA, "bar.sync").
__device__ __forceinline__ void attnc_named_barrier_sync(unsigned id,
                                                         unsigned threads) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}
__device__ __forceinline__ void attnc_named_barrier_arrive(unsigned id,
                                                           unsigned threads) {
  asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

/// Makes register and shared-memory accesses before it visible to the
/// wgmma operations after it (required before the first wgmma that reads
/// accumulators other instructions wrote).
__device__ __forceinline__ void attnc_wgmma_fence() {
#if ATTNC_WGMMA_PTX
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#else
  __trap();
#endif
}

/// Closes the warpgroup's current group of wgmma operations.
__device__ __forceinline__ void attnc_wgmma_commit() {
#if ATTNC_WGMMA_PTX
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
#else
  __trap();
#endif
}

/// Waits until at most N groups of this warpgroup's wgmma are pending.
template <int N> __device__ __forceinline__ void attnc_wgmma_wait() {
#if ATTNC_WGMMA_PTX
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
#else
  __trap();
#endif
}

/// Keeps the next wgmma wait after the computation of `a` and `b` by
/// storing them to `sink` (8 bytes of shared memory nobody reads). ptxas
/// schedules a wgmma.wait_group, which has no operands, as early as it
/// can, above independent arithmetic that follows it in the PTX; it does
/// not move the wait above a shared-memory store. A loop that means to
/// compute while a wgmma group is in flight (the attention's softmax under
/// the previous tile's P V) would otherwise wait first and compute after.
/// Every thread may store to the same sink: the values are never read.
__device__ __forceinline__ void attnc_wgmma_hold_wait(float *sink, float a,
                                                      float b) {
#if ATTNC_WGMMA_PTX
  asm volatile("st.shared.v2.f32 [%0], {%1, %2};\n" ::"r"(
                   attnc_shared_address(sink)),
               "f"(a), "f"(b)
               : "memory");
#else
  __trap();
#endif
}

/// Moves the warpgroup's per-thread register limit to N (a multiple of 8
/// in 24..256): down for a producer that only issues copies, up for
/// consumers holding large accumulators, from the block's pool, which
/// holds what the launch allocated (the kernel's register count times its
/// threads). Every warp of the warpgroup executes it.
template <int N> __device__ __forceinline__ void attnc_setmaxnreg_dec() {
#if ATTNC_WGMMA_PTX
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(N));
#else
  __trap();
#endif
}
template <int N> __device__ __forceinline__ void attnc_setmaxnreg_inc() {
#if ATTNC_WGMMA_PTX
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(N));
#else
  __trap();
#endif
}

/// Keeps the compiler from moving accesses of the `n` accumulators across
/// the point where it stands (they are written asynchronously by wgmma).
__device__ __forceinline__ void attnc_wgmma_fence_operands(float *d, int n) {
#pragma unroll
  for (int i = 0; i < n; ++i)
    asm volatile("" : "+f"(d[i])::"memory");
}
/// The same for register A operands (packed 16-bit pairs).
__device__ __forceinline__ void attnc_wgmma_fence_operands(unsigned *a, int n) {
#pragma unroll
  for (int i = 0; i < n; ++i)
    asm volatile("" : "+r"(a[i])::"memory");
}

#define ATTNC_WGMMA_REGS_32 \
  "%0, %1, %2, %3, %4, %5, %6, %7, " \
  "%8, %9, %10, %11, %12, %13, %14, %15, " \
  "%16, %17, %18, %19, %20, %21, %22, %23, " \
  "%24, %25, %26, %27, %28, %29, %30, %31"
#define ATTNC_WGMMA_D_32 \
      "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), \
      "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), \
      "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), \
      "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), \
      "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), \
      "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), \
      "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), \
      "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
#define ATTNC_WGMMA_REGS_64 \
  "%0, %1, %2, %3, %4, %5, %6, %7, " \
  "%8, %9, %10, %11, %12, %13, %14, %15, " \
  "%16, %17, %18, %19, %20, %21, %22, %23, " \
  "%24, %25, %26, %27, %28, %29, %30, %31, " \
  "%32, %33, %34, %35, %36, %37, %38, %39, " \
  "%40, %41, %42, %43, %44, %45, %46, %47, " \
  "%48, %49, %50, %51, %52, %53, %54, %55, " \
  "%56, %57, %58, %59, %60, %61, %62, %63"
#define ATTNC_WGMMA_D_64 \
      "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), \
      "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), \
      "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), \
      "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), \
      "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), \
      "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), \
      "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), \
      "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), \
      "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), \
      "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), \
      "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), \
      "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), \
      "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), \
      "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), \
      "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), \
      "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])

#define ATTNC_WGMMA_REGS_128 \
  "%0, %1, %2, %3, %4, %5, %6, %7, " \
  "%8, %9, %10, %11, %12, %13, %14, %15, " \
  "%16, %17, %18, %19, %20, %21, %22, %23, " \
  "%24, %25, %26, %27, %28, %29, %30, %31, " \
  "%32, %33, %34, %35, %36, %37, %38, %39, " \
  "%40, %41, %42, %43, %44, %45, %46, %47, " \
  "%48, %49, %50, %51, %52, %53, %54, %55, " \
  "%56, %57, %58, %59, %60, %61, %62, %63, " \
  "%64, %65, %66, %67, %68, %69, %70, %71, " \
  "%72, %73, %74, %75, %76, %77, %78, %79, " \
  "%80, %81, %82, %83, %84, %85, %86, %87, " \
  "%88, %89, %90, %91, %92, %93, %94, %95, " \
  "%96, %97, %98, %99, %100, %101, %102, %103, " \
  "%104, %105, %106, %107, %108, %109, %110, %111, " \
  "%112, %113, %114, %115, %116, %117, %118, %119, " \
  "%120, %121, %122, %123, %124, %125, %126, %127"
#define ATTNC_WGMMA_D_128 \
      "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), \
      "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), \
      "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), \
      "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), \
      "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), \
      "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), \
      "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), \
      "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), \
      "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), \
      "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), \
      "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), \
      "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), \
      "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), \
      "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), \
      "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), \
      "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]), \
      "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), \
      "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]), \
      "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), \
      "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]), \
      "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), \
      "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]), \
      "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), \
      "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]), \
      "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), \
      "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]), \
      "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), \
      "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]), \
      "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), \
      "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]), \
      "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), \
      "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])

// D (f32, in registers) += A (64 x 16, K-major, descriptor a) times
// B (16 x N, descriptor b): MN-major (imm-trans-b = 1) for the plain
// names, K-major (imm-trans-b = 0) for the _bk ones. The scale-d predicate
// is true: D accumulates.
#if ATTNC_WGMMA_PTX
#define ATTNC_WGMMA_FUNCTION(NAME, SHAPE, TYPE, TRANSB, REGS, D, A, B, P)      \
  __device__ __forceinline__ void NAME(float *d, unsigned long long a,         \
                                       unsigned long long b) {                 \
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, " P ", 0;\n"                 \
                 "wgmma.mma_async.sync.aligned." SHAPE ".f32." TYPE "." TYPE   \
                 " {" REGS "}, " A ", " B ", p, 1, 1, 0, " TRANSB ";\n}\n"     \
                 : D                                                           \
                 : "l"(a), "l"(b), "r"(1)                                      \
                 : "memory");                                                  \
  }
// D += A (64 x 16 from registers: each warp's 16 rows in the A fragment
// layout of mma.m16n8k16, four 32-bit registers) times B (MN-major).
#define ATTNC_WGMMA_RS_FUNCTION(NAME, SHAPE, TYPE, REGS, D, A, B, P)           \
  __device__ __forceinline__ void NAME(float *d, const unsigned *a,            \
                                       unsigned long long b) {                 \
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, " P ", 0;\n"                 \
                 "wgmma.mma_async.sync.aligned." SHAPE ".f32." TYPE "." TYPE   \
                 " {" REGS "}, " A ", " B ", p, 1, 1, 1;\n}\n"                 \
                 : D                                                           \
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(1)  \
                 : "memory");                                                  \
  }
#else
#define ATTNC_WGMMA_FUNCTION(NAME, SHAPE, TYPE, TRANSB, REGS, D, A, B, P)      \
  __device__ __forceinline__ void NAME(float *, unsigned long long,            \
                                       unsigned long long) {                   \
    __trap();                                                                  \
  }
#define ATTNC_WGMMA_RS_FUNCTION(NAME, SHAPE, TYPE, REGS, D, A, B, P)           \
  __device__ __forceinline__ void NAME(float *, const unsigned *,              \
                                       unsigned long long) {                   \
    __trap();                                                                  \
  }
#endif

ATTNC_WGMMA_FUNCTION(attnc_wgmma_m64n64k16_f16, "m64n64k16", "f16", "1",
                     ATTNC_WGMMA_REGS_32, ATTNC_WGMMA_D_32, "%32", "%33", "%34")
ATTNC_WGMMA_FUNCTION(attnc_wgmma_m64n64k16_bf16, "m64n64k16", "bf16", "1",
                     ATTNC_WGMMA_REGS_32, ATTNC_WGMMA_D_32, "%32", "%33", "%34")
ATTNC_WGMMA_FUNCTION(attnc_wgmma_m64n128k16_f16, "m64n128k16", "f16", "1",
                     ATTNC_WGMMA_REGS_64, ATTNC_WGMMA_D_64, "%64", "%65", "%66")
ATTNC_WGMMA_FUNCTION(attnc_wgmma_m64n128k16_bf16, "m64n128k16", "bf16", "1",
                     ATTNC_WGMMA_REGS_64, ATTNC_WGMMA_D_64, "%64", "%65", "%66")
ATTNC_WGMMA_FUNCTION(attnc_wgmma_m64n256k16_f16, "m64n256k16", "f16", "1",
                     ATTNC_WGMMA_REGS_128, ATTNC_WGMMA_D_128, "%128", "%129",
                     "%130")
ATTNC_WGMMA_FUNCTION(attnc_wgmma_m64n256k16_bf16, "m64n256k16", "bf16", "1",
                     ATTNC_WGMMA_REGS_128, ATTNC_WGMMA_D_128, "%128", "%129",
                     "%130")
ATTNC_WGMMA_FUNCTION(attnc_wgmma_m64n64k16_f16_bk, "m64n64k16", "f16", "0",
                     ATTNC_WGMMA_REGS_32, ATTNC_WGMMA_D_32, "%32", "%33", "%34")
ATTNC_WGMMA_FUNCTION(attnc_wgmma_m64n64k16_bf16_bk, "m64n64k16", "bf16", "0",
                     ATTNC_WGMMA_REGS_32, ATTNC_WGMMA_D_32, "%32", "%33", "%34")
ATTNC_WGMMA_FUNCTION(attnc_wgmma_m64n128k16_f16_bk, "m64n128k16", "f16", "0",
                     ATTNC_WGMMA_REGS_64, ATTNC_WGMMA_D_64, "%64", "%65", "%66")
ATTNC_WGMMA_FUNCTION(attnc_wgmma_m64n128k16_bf16_bk, "m64n128k16", "bf16", "0",
                     ATTNC_WGMMA_REGS_64, ATTNC_WGMMA_D_64, "%64", "%65", "%66")
ATTNC_WGMMA_RS_FUNCTION(attnc_wgmma_m64n64k16_f16_rs, "m64n64k16", "f16",
                        ATTNC_WGMMA_REGS_32, ATTNC_WGMMA_D_32,
                        "{%32, %33, %34, %35}", "%36", "%37")
ATTNC_WGMMA_RS_FUNCTION(attnc_wgmma_m64n64k16_bf16_rs, "m64n64k16", "bf16",
                        ATTNC_WGMMA_REGS_32, ATTNC_WGMMA_D_32,
                        "{%32, %33, %34, %35}", "%36", "%37")
ATTNC_WGMMA_RS_FUNCTION(attnc_wgmma_m64n128k16_f16_rs, "m64n128k16", "f16",
                        ATTNC_WGMMA_REGS_64, ATTNC_WGMMA_D_64,
                        "{%64, %65, %66, %67}", "%68", "%69")
ATTNC_WGMMA_RS_FUNCTION(attnc_wgmma_m64n128k16_bf16_rs, "m64n128k16", "bf16",
                        ATTNC_WGMMA_REGS_64, ATTNC_WGMMA_D_64,
                        "{%64, %65, %66, %67}", "%68", "%69")

#undef ATTNC_WGMMA_FUNCTION
#undef ATTNC_WGMMA_RS_FUNCTION
#undef ATTNC_WGMMA_REGS_32
#undef ATTNC_WGMMA_REGS_64
#undef ATTNC_WGMMA_D_32
#undef ATTNC_WGMMA_D_64
#undef ATTNC_WGMMA_REGS_128
#undef ATTNC_WGMMA_D_128
#undef ATTNC_MBARRIER_PTX
#undef ATTNC_WGMMA_PTX

#else // ATTNC_EMU
//===----------------------------------------------------------------------===//
// Emulation
//===----------------------------------------------------------------------===//

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace attnc_warpgroup_emu {

/// The emulation's mbarrier state, in the barrier's 8 bytes of shared
/// memory (the GPU's encoding is opaque; only the behaviour is modelled).
struct Barrier {
  uint16_t pending;  // arrivals still missing in the current phase
  uint16_t expected; // arrivals per phase (at most 1024 threads)
  int32_t tx : 31;   // bytes expected (expect_tx) less bytes completed
  uint32_t phase : 1; // parity of the current, incomplete phase
};
static_assert(sizeof(Barrier) == 8, "an mbarrier is 8 bytes");

inline Barrier *barrier(unsigned long long *bar, const char *what) {
  if (!attnc_emu_in_shared(bar, 8) || (reinterpret_cast<uintptr_t>(bar) & 7))
    attnc_emu_fail(what, __FILE__, __LINE__,
                   "the mbarrier must be 8-byte aligned shared memory");
  return reinterpret_cast<Barrier *>(bar);
}

struct Wait {
  const Barrier *barrier;
  unsigned parity;
};

inline bool phaseComplete(void *arg) {
  const Wait *wait = static_cast<const Wait *>(arg);
  return (wait->barrier->phase & 1u) != wait->parity;
}

/// A phase completes once every arrival and every expected byte is in;
/// the next one starts at once.
inline void completeIfDone(Barrier *b) {
  if (b->pending == 0 && b->tx == 0) {
    b->phase ^= 1u;
    b->pending = b->expected;
  }
}

inline void arrive(Barrier *b) {
  --b->pending;
  completeIfDone(b);
}

/// One wgmma.mma_async, remembered until the wait that completes it.
struct Mma {
  float *d;
  unsigned n;
  unsigned long long a, b;
  bool bf16;
  bool bKMajor;        // imm-trans-b = 0
  bool aInRegisters;   // A came from registers: its rows are in `rows`
  unsigned warp, lane; // the issuing thread's warp in its warpgroup, lane
  /// For register A: the issuing thread's two rows of A (lane / 4 and
  /// lane / 4 + 8 of its warp's 16), gathered from its quad at issue.
  float rows[2][16];
  /// The accumulators at the issue, which the wait checks are unchanged
  /// (when no earlier pending wgmma of the thread writes them). C++ code
  /// that writes them in between asks ptxas to serialise the kernel's
  /// wgmma (C7515) where PTX would be undefined; the emulation, which adds
  /// the product at the wait, would compute something else again. A
  /// register A operand is a value: the emulation reads it at the issue,
  /// and ptxas keeps its register until the wait, so it may be reassigned.
  bool checkD;
  float dAtIssue[128];
};

struct Thread {
  std::vector<Mma> open;
  std::vector<std::vector<Mma>> committed;
  /// A wgmma.fence since the last wait_group: the ISA asks for one before
  /// the first wgmma and after any register access that wgmma orders
  /// against, which in attnc's kernels follows every wait.
  bool fenced = false;
};

inline long long linearThread() {
  return threadIdx.x + (long long)blockDim.x *
                           (threadIdx.y + (long long)blockDim.y * threadIdx.z);
}

inline Thread &current() { return attnc_emu_thread_state<Thread>(); }

/// The 16-bit element at byte offset `offset` of the block's shared
/// memory, after the 128-byte swizzle (address bits 4-6 ^= bits 7-9).
inline float element(unsigned offset, bool bf16) {
  offset ^= ((offset >> 7) & 7u) << 4;
  unsigned short bits;
  std::memcpy(&bits, attnc_emu_shared_at(offset), 2);
  return bf16 ? attnc_numerics::bfloat16BitsToFloat(bits)
              : attnc_numerics::halfBitsToFloat(bits);
}

struct Descriptor {
  unsigned start, leading, stride;
};

inline Descriptor decode(unsigned long long desc) {
  if ((desc >> 62) != 1u || ((desc >> 49) & 7u) != 0)
    attnc_emu_fail("wgmma", __FILE__, __LINE__,
                   "descriptor %#llx: only the 128-byte swizzle with base "
                   "offset 0 is emulated",
                   desc);
  // Bits 14-15, 30-31, 46-48 and 52-61 are reserved: set, they mean a
  // field overflowed (attnc_wgmma_descriptor_add past 256 KiB).
  if (desc & 0x3FF1C000C000C000ull)
    attnc_emu_fail("wgmma", __FILE__, __LINE__,
                   "descriptor %#llx: reserved bits set (a field overflowed)",
                   desc);
  return {unsigned(desc & 0x3FFFu) << 4, unsigned((desc >> 16) & 0x3FFFu) << 4,
          unsigned((desc >> 32) & 0x3FFFu) << 4};
}

/// Runs one wgmma for the issuing thread's registers. A (64 x 16,
/// K-major): row m at start + (m / 8) * stride + (m % 8) * 128, element k
/// 2k bytes on. B (16 x N) MN-major: row k at start + (k / 8) * stride +
/// (k % 8) * 128, column n at (n / 64) * leading + 2 (n % 64); K-major: B's
/// column n is stored as A's row m is. D register 4j + i holds row
/// 16 warp + lane / 4 + 8 (i / 2), column 8j + 2 (lane % 4) + i % 2.
inline void perform(const Mma &op, const char *file, int line) {
  if (op.checkD && std::memcmp(op.d, op.dAtIssue, op.n / 2 * sizeof(float)))
    attnc_emu_fail("wgmma.wait_group", file, line,
                   "the accumulators of a wgmma were written between its "
                   "issue and the wait that completes it");
  Descriptor b = decode(op.b);
  Descriptor a = op.aInRegisters ? Descriptor{} : decode(op.a);
  for (unsigned j = 0; j < op.n / 8; ++j)
    for (unsigned i = 0; i < 4; ++i) {
      unsigned row = 16 * op.warp + op.lane / 4 + 8 * (i / 2);
      unsigned col = 8 * j + 2 * (op.lane % 4) + i % 2;
      float sum = op.d[4 * j + i];
      for (unsigned k = 0; k < 16; ++k) {
        float x = op.aInRegisters
                      ? op.rows[i / 2][k]
                      : element(a.start + (row / 8) * a.stride +
                                    (row % 8) * 128 + 2 * k,
                                op.bf16);
        unsigned offset =
            op.bKMajor ? b.start + (col / 8) * b.stride + (col % 8) * 128 + 2 * k
                       : b.start + (k / 8) * b.stride + (k % 8) * 128 +
                             (col / 64) * b.leading + 2 * (col % 64);
        sum += x * element(offset, op.bf16);
      }
      op.d[4 * j + i] = sum;
    }
}

inline Mma &issue(float *d, unsigned n, unsigned long long a,
                  unsigned long long b, bool bf16, bool bKMajor) {
  long long thread = linearThread();
  if ((blockDim.x * blockDim.y * blockDim.z) % 128 != 0)
    attnc_emu_fail("wgmma", __FILE__, __LINE__,
                   "the block is not a whole number of warpgroups");
  Thread &self = current();
  if (!self.fenced)
    attnc_emu_fail("wgmma.mma_async", __FILE__, __LINE__,
                   "no wgmma.fence since the warpgroup's last wait_group");
  Mma op{};
  op.d = d;
  op.n = n;
  // Pending wgmma on the same accumulators (a chain over K) write them
  // before this one performs: only the chain's first checks them.
  auto writesD = [&](const Mma &other) { return other.d == d; };
  op.checkD = std::none_of(self.open.begin(), self.open.end(), writesD);
  for (const std::vector<Mma> &group : self.committed)
    op.checkD = op.checkD && std::none_of(group.begin(), group.end(), writesD);
  if (op.checkD)
    std::memcpy(op.dAtIssue, d, n / 2 * sizeof(float));
  op.a = a;
  op.b = b;
  op.bf16 = bf16;
  op.bKMajor = bKMajor;
  op.warp = unsigned(thread / 32 % 4);
  op.lane = unsigned(thread % 32);
  current().open.push_back(op);
  return current().open.back();
}

/// wgmma with A in registers: the warp exchanges its A fragments (each
/// lane holds, as mma.m16n8k16's A, elements (lane / 4 [+ 8], 2 (lane % 4)
/// [+ 1] [+ 8]) of its warp's 16 rows) and each lane keeps its two rows.
/// The registers are read at issue. In C++ they are values the asm takes
/// at issue; ptxas keeps the registers that hold them until the wait, so
/// the kernel may reassign its variables meanwhile.
inline void issueRegisterA(float *d, unsigned n, const unsigned *a,
                           unsigned long long b, bool bf16, const char *file,
                           int line) {
  unsigned mine[4] = {a[0], a[1], a[2], a[3]}, all[32][4];
  attnc_emu_warp_exchange(mine, sizeof mine, all, "wgmma (register A)", file,
                          line);
  Mma &op = issue(d, n, 0, b, bf16, false);
  op.aInRegisters = true;
  unsigned group = op.lane / 4;
  for (unsigned q = 0; q < 4; ++q)
    for (unsigned half = 0; half < 2; ++half)
      for (unsigned r = 0; r < 2; ++r) { // r: row group or group + 8
        unsigned lo = all[4 * group + q][r + 2 * half];
        for (unsigned e = 0; e < 2; ++e) {
          unsigned short bits = (unsigned short)(lo >> (16 * e));
          op.rows[r][2 * q + e + 8 * half] =
              bf16 ? attnc_numerics::bfloat16BitsToFloat(bits)
                   : attnc_numerics::halfBitsToFloat(bits);
        }
      }
  attnc_emu_warp_exchange_end(file, line);
}

} // namespace attnc_warpgroup_emu

__device__ inline unsigned attnc_shared_address(const void *p) {
  return attnc_emu_shared_offset(p);
}

__device__ inline unsigned char *attnc_align_shared_1024(void *p) {
  unsigned pad = (1024u - (attnc_shared_address(p) & 1023u)) & 1023u;
  return (unsigned char *)p + pad;
}

__device__ inline void attnc_mbarrier_init(unsigned long long *bar,
                                           unsigned count) {
  attnc_warpgroup_emu::Barrier *b =
      attnc_warpgroup_emu::barrier(bar, "mbarrier.init");
  b->pending = (uint16_t)count;
  b->expected = (uint16_t)count;
  b->tx = 0;
  b->phase = 0;
}

__device__ inline void attnc_mbarrier_arrive(unsigned long long *bar) {
  attnc_warpgroup_emu::arrive(
      attnc_warpgroup_emu::barrier(bar, "mbarrier.arrive"));
}

__device__ inline void attnc_fence_barrier_init() {}

namespace attnc_warpgroup_emu {
/// A named barrier: arrivals in its current generation, the count the
/// first of them named (later ones must agree), and its generation.
struct NamedBarrier {
  unsigned arrived = 0, threads = 0, generation = 0;
};
struct NamedBarriers {
  NamedBarrier bars[16];
};
/// The calling block's named barriers, fresh for every launch.
inline NamedBarrier &namedBarrier(unsigned id, unsigned threads,
                                  const char *what, const char *file,
                                  int line) {
  NamedBarriers &barriers = attnc_emu_block_state<NamedBarriers>();
  if (id == 0 || id >= 16 || threads == 0 || threads % 32 != 0 ||
      threads > blockDim.x * blockDim.y * blockDim.z)
    attnc_emu_fail(what, file, line,
                   "barrier %u of %u threads: the id must be 1-15 (0 is "
                   "__syncthreads') and the count a multiple of 32 within "
                   "the block",
                   id, threads);
  NamedBarrier &b = barriers.bars[id];
  if (b.arrived == 0)
    b.threads = threads;
  else if (b.threads != threads)
    attnc_emu_fail(what, file, line,
                   "barrier %u used with %u and %u threads in one generation",
                   id, b.threads, threads);
  return b;
}
/// Counts the caller; returns the generation it arrived in.
inline unsigned arriveNamed(NamedBarrier &b) {
  unsigned generation = b.generation;
  if (++b.arrived == b.threads) {
    b.arrived = 0;
    ++b.generation;
  }
  return generation;
}
struct NamedWait {
  const NamedBarrier *barrier;
  unsigned generation;
};
inline bool namedPassed(void *arg) {
  const NamedWait *wait = static_cast<const NamedWait *>(arg);
  return wait->barrier->generation != wait->generation;
}
} // namespace attnc_warpgroup_emu

__device__ inline void attnc_named_barrier_sync(
    unsigned id, unsigned threads, const char *file = __builtin_FILE(),
    int line = __builtin_LINE()) {
  attnc_warpgroup_emu::NamedBarrier &b =
      attnc_warpgroup_emu::namedBarrier(id, threads, "bar.sync", file, line);
  attnc_warpgroup_emu::NamedWait wait{&b, attnc_warpgroup_emu::arriveNamed(b)};
  if (b.generation == wait.generation)
    attnc_emu_wait_until(attnc_warpgroup_emu::namedPassed, &wait, file, line);
}
__device__ inline void attnc_named_barrier_arrive(
    unsigned id, unsigned threads, const char *file = __builtin_FILE(),
    int line = __builtin_LINE()) {
  attnc_warpgroup_emu::arriveNamed(attnc_warpgroup_emu::namedBarrier(
      id, threads, "bar.arrive", file, line));
}

/// The register file is not modelled: a limit the block's pool could not
/// grant would hang on the GPU, which the emitters rule out by arithmetic
/// (EmitWarpgroupAttention.cpp) and lit checks by ptxas's register count.
template <int N> __device__ inline void attnc_setmaxnreg_dec() {}
template <int N> __device__ inline void attnc_setmaxnreg_inc() {}

__device__ inline void attnc_mbarrier_arrive_expect_tx(unsigned long long *bar,
                                                       unsigned bytes) {
  attnc_warpgroup_emu::Barrier *b =
      attnc_warpgroup_emu::barrier(bar, "mbarrier.arrive.expect_tx");
  b->tx = b->tx + int32_t(bytes);
  attnc_warpgroup_emu::arrive(b);
}

/// The copy happens at once (the earliest the GPU could make it), then its
/// bytes complete on the barrier.
__device__ inline void attnc_tma_load(void *dst, const attnc_tensor_map *map,
                                      int c0, int c1, int c2,
                                      unsigned long long *bar) {
  const unsigned long long *w = map->words;
  unsigned long long rows = w[1], cols = w[2], stride = w[3], slices = w[6];
  unsigned boxRows = unsigned(w[4]), boxCols = unsigned(w[5]);
  bool inside = c2 >= 0 && (unsigned long long)c2 < slices;
  const unsigned char *base =
      reinterpret_cast<const unsigned char *>(w[0]) +
      (inside ? (unsigned long long)c2 * rows * stride : 0);
  if (!w[0] || boxCols * 2 != 128 || (attnc_shared_address(dst) & 1023u))
    attnc_emu_fail("cp.async.bulk.tensor", __FILE__, __LINE__,
                   "needs an emulation tensor map with 64-column boxes and a "
                   "1024-byte aligned destination");
  unsigned char *out = static_cast<unsigned char *>(dst);
  for (unsigned r = 0; r < boxRows; ++r)
    for (unsigned c = 0; c < boxCols; ++c) {
      long long row = (long long)c1 + r, col = (long long)c0 + c;
      unsigned short bits = 0;
      if (inside && row >= 0 && col >= 0 && (unsigned long long)row < rows &&
          (unsigned long long)col < cols)
        std::memcpy(&bits, base + row * stride + col * 2, 2);
      std::memcpy(out + attnc_swizzle128(r, c / 8) + (c % 8) * 2, &bits, 2);
    }
  attnc_warpgroup_emu::Barrier *b =
      attnc_warpgroup_emu::barrier(bar, "cp.async.bulk.tensor");
  b->tx = b->tx - int32_t(boxRows * boxCols * 2);
  attnc_warpgroup_emu::completeIfDone(b);
}

__device__ inline void attnc_mbarrier_wait(unsigned long long *bar,
                                           unsigned parity,
                                           const char *file = __builtin_FILE(),
                                           int line = __builtin_LINE()) {
  attnc_warpgroup_emu::Wait wait{
      attnc_warpgroup_emu::barrier(bar, "mbarrier.try_wait"), parity & 1u};
  attnc_emu_wait_until(attnc_warpgroup_emu::phaseComplete, &wait, file, line);
}

__device__ inline void attnc_wgmma_fence() {
  attnc_warpgroup_emu::current().fenced = true;
}
__device__ inline void attnc_wgmma_fence_operands(float *, int) {}
__device__ inline void attnc_wgmma_fence_operands(unsigned *, int) {}

/// Only orders ptxas's schedule on the GPU; here the store is all it does.
__device__ inline void attnc_wgmma_hold_wait(float *sink, float a, float b) {
  sink[0] = a;
  sink[1] = b;
}

__device__ inline void attnc_wgmma_commit() {
  attnc_warpgroup_emu::Thread &thread = attnc_warpgroup_emu::current();
  thread.committed.push_back(std::move(thread.open));
  thread.open.clear();
}

inline bool attnc_wgmma_emu_ready(void *) { return true; }

/// Completes all but the newest N committed groups. Before it reads the
/// shared-memory operands, the thread steps aside once: on the GPU the
/// MMAs may read them at any time until the wait returns, so the other
/// threads (a producer refilling a stage released too early) get to run
/// first, as in the latest such reading.
template <int N>
__device__ inline void attnc_wgmma_wait(const char *file = __builtin_FILE(),
                                        int line = __builtin_LINE()) {
  attnc_warpgroup_emu::Thread &thread = attnc_warpgroup_emu::current();
  if (thread.committed.size() > size_t(N))
    attnc_emu_wait_until(attnc_wgmma_emu_ready, nullptr, file, line);
  while (thread.committed.size() > size_t(N)) {
    for (const attnc_warpgroup_emu::Mma &op : thread.committed.front())
      attnc_warpgroup_emu::perform(op, file, line);
    thread.committed.erase(thread.committed.begin());
  }
  thread.fenced = false;
}

#define ATTNC_WGMMA_EMU(NAME, N, BF16, BKMAJOR)                                 \
  __device__ inline void NAME(float *d, unsigned long long a,                   \
                              unsigned long long b) {                          \
    attnc_warpgroup_emu::issue(d, N, a, b, BF16, BKMAJOR);                     \
  }
ATTNC_WGMMA_EMU(attnc_wgmma_m64n64k16_f16, 64, false, false)
ATTNC_WGMMA_EMU(attnc_wgmma_m64n64k16_bf16, 64, true, false)
ATTNC_WGMMA_EMU(attnc_wgmma_m64n128k16_f16, 128, false, false)
ATTNC_WGMMA_EMU(attnc_wgmma_m64n128k16_bf16, 128, true, false)
ATTNC_WGMMA_EMU(attnc_wgmma_m64n256k16_f16, 256, false, false)
ATTNC_WGMMA_EMU(attnc_wgmma_m64n256k16_bf16, 256, true, false)
ATTNC_WGMMA_EMU(attnc_wgmma_m64n64k16_f16_bk, 64, false, true)
ATTNC_WGMMA_EMU(attnc_wgmma_m64n64k16_bf16_bk, 64, true, true)
ATTNC_WGMMA_EMU(attnc_wgmma_m64n128k16_f16_bk, 128, false, true)
ATTNC_WGMMA_EMU(attnc_wgmma_m64n128k16_bf16_bk, 128, true, true)
#undef ATTNC_WGMMA_EMU

#define ATTNC_WGMMA_RS_EMU(NAME, N, BF16)                                      \
  __device__ inline void NAME(float *d, const unsigned *a,                     \
                              unsigned long long b,                            \
                              const char *file = __builtin_FILE(),             \
                              int line = __builtin_LINE()) {                   \
    attnc_warpgroup_emu::issueRegisterA(d, N, a, b, BF16, file, line);         \
  }
ATTNC_WGMMA_RS_EMU(attnc_wgmma_m64n64k16_f16_rs, 64, false)
ATTNC_WGMMA_RS_EMU(attnc_wgmma_m64n64k16_bf16_rs, 64, true)
ATTNC_WGMMA_RS_EMU(attnc_wgmma_m64n128k16_f16_rs, 128, false)
ATTNC_WGMMA_RS_EMU(attnc_wgmma_m64n128k16_bf16_rs, 128, true)
#undef ATTNC_WGMMA_RS_EMU

#endif // ATTNC_EMU

#endif // ATTNC_DEVICE_WARPGROUP_H
