//===- warpgroup_test.cpp - Tests of the Hopper primitives under emulation -===//
//
// Kernels in CUDA syntax that use attnc/warpgroup.h, compiled by the host
// compiler against the emulation layer and launched through
// attnc_emu_launch. They check:
//  - wgmma m64nNk16 against a naive reference, with operands stored by
//    attnc_swizzle128 (the producer's placement) and read back through
//    descriptors (the emulation's address-bit swizzle), at several k16
//    offsets inside a 64-wide row and with D accumulating; B K-major
//    (imm-trans-b 0) and A from registers (the fragment layout of
//    mma.m16n8k16's A, exchanged over the warp);
//  - that a wgmma reads its operands only at the wait that completes it,
//    so overwriting a stage before that wait changes the result (a kernel
//    with that race fails in CI, as it could on the GPU);
//  - TMA boxes (cp.async.bulk.tensor) with the 128-byte swizzle and zero
//    fill past the tensor, completing their bytes on an mbarrier;
//  - mbarrier phases and parities through a producer/consumer ring that
//    wraps several times;
//  - that misuse is a launch error, not a hang: waiting on a barrier
//    nobody arrives at, a barrier outside shared memory, a block that is
//    not whole warpgroups, an unsupported swizzle, a descriptor moved past
//    its start-address field.
// Prints PASS/FAIL per test; returns non-zero if any failed.
//
//===----------------------------------------------------------------------===//

#include "attnc/device.h"

#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

int gFailures = 0;

void report(const std::string &name, const std::string &problem) {
  if (problem.empty()) {
    std::printf("PASS %s\n", name.c_str());
  } else {
    ++gFailures;
    std::printf("FAIL %s: %s\n", name.c_str(), problem.c_str());
  }
  std::fflush(stdout);
}

std::string launch(void (*thunk)(void **), std::vector<void *> args,
                   unsigned threads, size_t dynamicShared) {
  char error[512] = "";
  int rc = attnc_emu_launch(thunk, args.data(), 1, 1, 1, threads, 1, 1,
                            dynamicShared, 0, error, sizeof error);
  return rc == 0 ? std::string() : std::string(error);
}

bool contains(const std::string &text, const char *part) {
  return text.find(part) != std::string::npos;
}

} // namespace

//===----------------------------------------------------------------------===//
// wgmma against a reference
//===----------------------------------------------------------------------===//

/// Stores A (64 x 64, row-major bits) K-major and B (64 x n, row-major)
/// MN-major in 128-byte swizzled tiles, then accumulates D = sum over the
/// four k16 steps selected by `steps` (bit s: k 16s..16s+15) of A B.
template <int N>
__global__ void wgmmaProduct(float *out, const unsigned short *a,
                             const unsigned short *b, int steps, int bf16) {
  ATTNC_DYNAMIC_SHARED(attnc_b128, smem);
  unsigned char *tiles = attnc_align_shared_1024(smem);
  unsigned char *tileA = tiles, *tileB = tiles + 64 * 128;
  for (int c = threadIdx.x; c < 64 * 8; c += blockDim.x) {
    int r = c / 8, chunk = c % 8;
    std::memcpy(tileA + attnc_swizzle128(r, chunk), a + r * 64 + chunk * 8, 16);
  }
  for (int c = threadIdx.x; c < 64 * (N / 8); c += blockDim.x) {
    int r = c / (N / 8), chunk = c % (N / 8);
    std::memcpy(tileB + (chunk / 8) * 8192 + attnc_swizzle128(r, chunk % 8),
                b + r * N + chunk * 8, 16);
  }
  __syncthreads();
  float acc[N / 2];
  for (int i = 0; i < N / 2; ++i)
    acc[i] = 0.0f;
  unsigned addressA = attnc_shared_address(tileA);
  unsigned addressB = attnc_shared_address(tileB);
  attnc_wgmma_fence();
  for (int kk = 0; kk < 4; ++kk) {
    if (!(steps >> kk & 1))
      continue;
    unsigned long long da = attnc_wgmma_descriptor(addressA + kk * 32, 16, 1024);
    unsigned long long db =
        attnc_wgmma_descriptor(addressB + kk * 2048, 8192, 1024);
    if (N == 64)
      bf16 ? attnc_wgmma_m64n64k16_bf16(acc, da, db)
           : attnc_wgmma_m64n64k16_f16(acc, da, db);
    else if (N == 128)
      bf16 ? attnc_wgmma_m64n128k16_bf16(acc, da, db)
           : attnc_wgmma_m64n128k16_f16(acc, da, db);
    else
      bf16 ? attnc_wgmma_m64n256k16_bf16(acc, da, db)
           : attnc_wgmma_m64n256k16_f16(acc, da, db);
  }
  attnc_wgmma_commit();
  attnc_wgmma_wait<0>();
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  for (int j = 0; j < N / 8; ++j)
    for (int i = 0; i < 4; ++i) {
      int row = 16 * warp + lane / 4 + 8 * (i / 2);
      int col = 8 * j + 2 * (lane % 4) + i % 2;
      out[row * N + col] = acc[4 * j + i];
    }
}

template <int N> void wgmmaProductThunk(void **args) {
  wgmmaProduct<N>(*static_cast<float **>(args[0]),
                  *static_cast<const unsigned short **>(args[1]),
                  *static_cast<const unsigned short **>(args[2]),
                  *static_cast<int *>(args[3]), *static_cast<int *>(args[4]));
}

template <int N> static void testWgmma(bool bf16, int steps) {
  std::mt19937 rng(N * 7 + steps + bf16);
  std::uniform_int_distribution<int> small(-4, 4);
  // Small integers: every product and sum is exact in f32, so the
  // comparison is exact whatever the summation order.
  std::vector<unsigned short> a(64 * 64), b(64 * N);
  std::vector<float> av(a.size()), bv(b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    av[i] = float(small(rng));
    a[i] = bf16 ? attnc_numerics::floatToBFloat16Bits(av[i])
                : attnc_numerics::floatToHalfBits(av[i]);
  }
  for (size_t i = 0; i < b.size(); ++i) {
    bv[i] = float(small(rng));
    b[i] = bf16 ? attnc_numerics::floatToBFloat16Bits(bv[i])
                : attnc_numerics::floatToHalfBits(bv[i]);
  }
  std::vector<float> out(64 * N, -1.0f);
  float *o = out.data();
  const unsigned short *pa = a.data(), *pb = b.data();
  int flag = bf16;
  std::string error = launch(wgmmaProductThunk<N>, {&o, &pa, &pb, &steps, &flag},
                             128, 1024 + 64 * 128 + (N / 64) * 8192);
  std::string problem = error;
  for (int r = 0; r < 64 && problem.empty(); ++r)
    for (int c = 0; c < N && problem.empty(); ++c) {
      float want = 0.0f;
      for (int k = 0; k < 64; ++k)
        if (steps >> (k / 16) & 1)
          want += av[r * 64 + k] * bv[k * N + c];
      if (out[r * N + c] != want)
        problem = "D[" + std::to_string(r) + "][" + std::to_string(c) +
                  "] = " + std::to_string(out[r * N + c]) + ", want " +
                  std::to_string(want);
    }
  report("wgmma m64n" + std::to_string(N) + "k16 " + (bf16 ? "bf16" : "f16") +
             " k16 steps " + std::to_string(steps),
         problem);
}

//===----------------------------------------------------------------------===//
// K-major B (imm-trans-b = 0) and A from registers
//===----------------------------------------------------------------------===//

/// D = A B over 64 k with B stored K-major (as B^T, n rows of k, like A),
/// and, when `registerA`, A passed in registers in the mma.m16n8k16 A
/// fragment layout instead of by descriptor (then B is MN-major).
__global__ void wgmmaVariants(float *out, const unsigned short *a,
                              const unsigned short *b, int registerA) {
  ATTNC_DYNAMIC_SHARED(attnc_b128, smem);
  unsigned char *tiles = attnc_align_shared_1024(smem);
  unsigned char *tileA = tiles, *tileB = tiles + 64 * 128;
  for (int c = threadIdx.x; c < 64 * 8; c += blockDim.x) {
    int r = c / 8, chunk = c % 8;
    std::memcpy(tileA + attnc_swizzle128(r, chunk), a + r * 64 + chunk * 8, 16);
    // b is 64 x 64: row-major (k, n) for register A, (n, k) otherwise.
    std::memcpy(tileB + attnc_swizzle128(r, chunk), b + r * 64 + chunk * 8, 16);
  }
  __syncthreads();
  float acc[32] = {};
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  int group = lane / 4, q = lane % 4;
  attnc_wgmma_fence();
  // The K steps' descriptors as the generated kernels build them: the
  // tile's, moved on by attnc_wgmma_descriptor_add.
  const unsigned long long descA =
      attnc_wgmma_descriptor(attnc_shared_address(tileA), 16, 1024);
  const unsigned long long descB = attnc_wgmma_descriptor(
      attnc_shared_address(tileB), registerA ? 8192 : 16, 1024);
  for (int kk = 0; kk < 4; ++kk) {
    if (registerA) {
      unsigned frag[4];
      for (int reg = 0; reg < 4; ++reg) {
        int row = 16 * warp + group + 8 * (reg & 1);
        int k = 16 * kk + 2 * q + 8 * (reg >> 1);
        frag[reg] = a[row * 64 + k] | (unsigned)a[row * 64 + k + 1] << 16;
      }
      attnc_wgmma_m64n64k16_f16_rs(
          acc, frag, attnc_wgmma_descriptor_add(descB, kk * 2048));
    } else {
      attnc_wgmma_m64n64k16_f16_bk(acc,
                                   attnc_wgmma_descriptor_add(descA, kk * 32),
                                   attnc_wgmma_descriptor_add(descB, kk * 32));
    }
  }
  attnc_wgmma_commit();
  attnc_wgmma_wait<0>();
  for (int j = 0; j < 8; ++j)
    for (int i = 0; i < 4; ++i)
      out[(16 * warp + group + 8 * (i / 2)) * 64 + 8 * j + 2 * q + i % 2] =
          acc[4 * j + i];
}
static void wgmmaVariantsThunk(void **args) {
  wgmmaVariants(*static_cast<float **>(args[0]),
                *static_cast<const unsigned short **>(args[1]),
                *static_cast<const unsigned short **>(args[2]),
                *static_cast<int *>(args[3]));
}

static void testWgmmaVariants(bool registerA) {
  std::mt19937 rng(registerA ? 11 : 12);
  std::uniform_int_distribution<int> small(-4, 4);
  std::vector<unsigned short> a(64 * 64), b(64 * 64);
  std::vector<float> av(a.size()), bv(b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    av[i] = float(small(rng));
    bv[i] = float(small(rng));
    a[i] = attnc_numerics::floatToHalfBits(av[i]);
    b[i] = attnc_numerics::floatToHalfBits(bv[i]);
  }
  std::vector<float> out(64 * 64, -1.0f);
  float *o = out.data();
  const unsigned short *pa = a.data(), *pb = b.data();
  int flag = registerA;
  std::string problem = launch(wgmmaVariantsThunk, {&o, &pa, &pb, &flag}, 128,
                               1024 + 2 * 64 * 128);
  for (int r = 0; r < 64 && problem.empty(); ++r)
    for (int c = 0; c < 64 && problem.empty(); ++c) {
      float want = 0.0f;
      for (int k = 0; k < 64; ++k)
        want += av[r * 64 + k] * (registerA ? bv[k * 64 + c] : bv[c * 64 + k]);
      if (out[r * 64 + c] != want)
        problem = "D[" + std::to_string(r) + "][" + std::to_string(c) +
                  "] = " + std::to_string(out[r * 64 + c]) + ", want " +
                  std::to_string(want);
    }
  report(registerA ? "wgmma m64n64k16 f16, A from registers"
                   : "wgmma m64n64k16 f16, B K-major (imm-trans-b 0)",
         problem);
}

//===----------------------------------------------------------------------===//
// wgmma reads at the wait
//===----------------------------------------------------------------------===//

/// A is all ones and B all twos when the wgmma is issued; the kernel then
/// sets B to threes before waiting. The result shows which B was read.
__global__ void wgmmaLateRead(float *out) {
  ATTNC_DYNAMIC_SHARED(attnc_b128, smem);
  unsigned char *tiles = attnc_align_shared_1024(smem);
  unsigned short *tileA = reinterpret_cast<unsigned short *>(tiles);
  unsigned short *tileB = reinterpret_cast<unsigned short *>(tiles + 8192);
  for (int i = threadIdx.x; i < 64 * 64; i += blockDim.x) {
    tileA[i] = attnc_numerics::floatToHalfBits(1.0f);
    tileB[i] = attnc_numerics::floatToHalfBits(2.0f);
  }
  __syncthreads();
  float acc[32] = {};
  attnc_wgmma_fence();
  attnc_wgmma_m64n64k16_f16(
      acc, attnc_wgmma_descriptor(attnc_shared_address(tileA), 16, 1024),
      attnc_wgmma_descriptor(attnc_shared_address(tileB), 8192, 1024));
  attnc_wgmma_commit();
  __syncthreads();
  for (int i = threadIdx.x; i < 64 * 64; i += blockDim.x)
    tileB[i] = attnc_numerics::floatToHalfBits(3.0f);
  __syncthreads();
  attnc_wgmma_wait<0>();
  out[threadIdx.x] = acc[0];
}
static void wgmmaLateReadThunk(void **args) {
  wgmmaLateRead(*static_cast<float **>(args[0]));
}

static void testLateRead() {
  std::vector<float> out(128, 0.0f);
  float *o = out.data();
  std::string problem = launch(wgmmaLateReadThunk, {&o}, 128, 1024 + 16384);
  // 16 products of 1 x 3 (the B at the wait), not of 1 x 2.
  for (int t = 0; t < 128 && problem.empty(); ++t)
    if (out[t] != 48.0f)
      problem = "thread " + std::to_string(t) + " got " +
                std::to_string(out[t]) + ", want 48 (B read at the wait)";
  report("wgmma reads shared memory at its wait_group", problem);
}

//===----------------------------------------------------------------------===//
// TMA
//===----------------------------------------------------------------------===//

/// Thread 0 primes the barrier with the box's bytes and copies a 16 x 64
/// box at column 8, row 5 of a 20 x 70 bf16 tensor (so past its last row
/// and columns); every thread waits for the phase, then reads the tile
/// back through the 128-byte swizzle.
__global__ void tmaBox(unsigned short *out, const attnc_tensor_map *map) {
  ATTNC_DYNAMIC_SHARED(attnc_b128, smem);
  unsigned char *tile = attnc_align_shared_1024(smem);
  ATTNC_SHARED(unsigned long long, bar, 1);
  if (threadIdx.x == 0) {
    attnc_mbarrier_init(bar, 1);
    attnc_fence_barrier_init();
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    attnc_mbarrier_arrive_expect_tx(bar, 16 * 64 * 2);
    attnc_tma_load(tile, map, 8, 5, 0, bar);
  }
  attnc_mbarrier_wait(bar, 0);
  for (int e = threadIdx.x; e < 16 * 64; e += blockDim.x) {
    int r = e / 64, c = e % 64;
    std::memcpy(out + e, tile + attnc_swizzle128(r, c / 8) + (c % 8) * 2, 2);
  }
}
static void tmaBoxThunk(void **args) {
  tmaBox(*static_cast<unsigned short **>(args[0]),
         *static_cast<const attnc_tensor_map **>(args[1]));
}

static void testTma() {
  std::vector<unsigned short> tensor(20 * 70);
  for (size_t i = 0; i < tensor.size(); ++i)
    tensor[i] = (unsigned short)(i + 1); // nonzero everywhere
  attnc_tensor_map map{};
  // The emulation's tensor map (attnc/warpgroup.h): base, rows, columns,
  // row stride in bytes, box rows, box columns.
  map.words[0] = (unsigned long long)tensor.data();
  map.words[1] = 20;
  map.words[2] = 70;
  map.words[3] = 70 * 2;
  map.words[4] = 16;
  map.words[5] = 64;
  map.words[6] = 1; // one slice
  std::vector<unsigned short> out(16 * 64, 0xFFFF);
  unsigned short *o = out.data();
  const attnc_tensor_map *m = &map;
  std::string problem = launch(tmaBoxThunk, {&o, &m}, 128, 1024 + 16 * 128);
  for (int r = 0; r < 16 && problem.empty(); ++r)
    for (int c = 0; c < 64 && problem.empty(); ++c) {
      int row = 5 + r, col = 8 + c;
      unsigned short want = row < 20 && col < 70 ? tensor[row * 70 + col] : 0;
      if (out[r * 64 + c] != want)
        problem = "box (" + std::to_string(r) + ", " + std::to_string(c) +
                  ") = " + std::to_string(out[r * 64 + c]) + ", want " +
                  std::to_string(want);
    }
  report("TMA box: 128-byte swizzle, zeros past the tensor, bytes complete "
         "the mbarrier phase",
         problem);
}

//===----------------------------------------------------------------------===//
// mbarrier ring
//===----------------------------------------------------------------------===//

/// Warp 0 produces 40 values through a ring of 3 slots, warps 1-2 each
/// consume all of them: "full" expects the 32 producer lanes, "empty" the
/// 2 consumer warps' lane 0.
__global__ void mbarrierRing(int *out) {
  ATTNC_SHARED(unsigned long long, full, 3);
  ATTNC_SHARED(unsigned long long, empty, 3);
  ATTNC_SHARED(int, slots, 3 * 32);
  if (threadIdx.x == 0)
    for (int s = 0; s < 3; ++s) {
      attnc_mbarrier_init(&full[s], 32);
      attnc_mbarrier_init(&empty[s], 2);
    }
  __syncthreads();
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (warp == 0) {
    for (int it = 0; it < 40; ++it) {
      int s = it % 3;
      attnc_mbarrier_wait(&empty[s], ((it / 3) & 1) ^ 1);
      slots[s * 32 + lane] = it * 100 + lane;
      attnc_mbarrier_arrive(&full[s]);
    }
  } else {
    int sum = 0;
    for (int it = 0; it < 40; ++it) {
      int s = it % 3;
      attnc_mbarrier_wait(&full[s], (it / 3) & 1);
      sum += slots[s * 32 + lane];
      __syncwarp();
      if (lane == 0)
        attnc_mbarrier_arrive(&empty[s]);
    }
    out[threadIdx.x - 32] = sum;
  }
}
static void mbarrierRingThunk(void **args) {
  mbarrierRing(*static_cast<int **>(args[0]));
}

static void testMbarrierRing() {
  std::vector<int> out(64, -1);
  int *o = out.data();
  std::string problem = launch(mbarrierRingThunk, {&o}, 96, 0);
  for (int t = 0; t < 64 && problem.empty(); ++t) {
    int want = 100 * (39 * 40 / 2) + 40 * (t % 32);
    if (out[t] != want)
      problem = "consumer thread " + std::to_string(t) + " summed " +
                std::to_string(out[t]) + ", want " + std::to_string(want);
  }
  report("mbarrier producer/consumer ring, 40 items through 3 slots", problem);
}

//===----------------------------------------------------------------------===//
// Named barriers: two warpgroups taking turns
//===----------------------------------------------------------------------===//

/// Warpgroups 0 and 1 take five turns each, as the attention's consumers
/// do: barrier 1 + w is warpgroup w's turn; warpgroup 1 gives the first
/// and does not give one after its last. In its turn a warpgroup's threads
/// each add their number to the log's next entry, and between turns the
/// warpgroup lingers (the others would overtake it without the barriers).
__global__ void pingPong(int *out) {
  ATTNC_SHARED(int, log, 11);
  int wg = threadIdx.x / 128;
  if (threadIdx.x == 0)
    log[10] = 0;
  __syncthreads();
  if (wg == 1)
    attnc_named_barrier_arrive(1, 256);
  for (int turn = 0; turn < 5; ++turn) {
    attnc_named_barrier_sync(1 + wg, 256);
    int entry = log[10];
    __syncwarp();
    if (threadIdx.x % 128 == 0)
      log[entry] = 0;
    attnc_named_barrier_sync(3 + wg, 128); // the warpgroup alone
    atomicAdd(&log[entry], 1 + wg);
    attnc_named_barrier_sync(3 + wg, 128);
    if (threadIdx.x % 128 == 0)
      log[10] = entry + 1;
    if (wg == 0 || turn < 4)
      attnc_named_barrier_arrive(2 - wg, 256);
    for (int i = 0; i < 3 * (2 - wg); ++i)
      __syncwarp();
  }
  __syncthreads();
  if (threadIdx.x < 11)
    out[threadIdx.x] = log[threadIdx.x];
}
static void pingPongThunk(void **args) { pingPong(*static_cast<int **>(args[0])); }

static void testPingPong() {
  std::vector<int> out(11, -1);
  int *o = out.data();
  std::string problem = launch(pingPongThunk, {&o}, 256, 0);
  for (int t = 0; t < 10 && problem.empty(); ++t)
    if (out[t] != 128 * (1 + t % 2))
      problem = "turn " + std::to_string(t) + " logged " +
                std::to_string(out[t]) + ", want " +
                std::to_string(128 * (1 + t % 2)) + " (alternating turns)";
  if (problem.empty() && out[10] != 10)
    problem = "the log has " + std::to_string(out[10]) + " turns, want 10";
  report("named barriers: two warpgroups alternate five turns each", problem);
}

//===----------------------------------------------------------------------===//
// Misuse is a launch error, never a hang
//===----------------------------------------------------------------------===//

__global__ void waitForever(int *) {
  ATTNC_SHARED(unsigned long long, bar, 1);
  if (threadIdx.x == 0)
    attnc_mbarrier_init(bar, 1);
  __syncthreads();
  attnc_mbarrier_wait(bar, 0);
}
__global__ void globalBarrier(int *) {
  static unsigned long long bar;
  attnc_mbarrier_init(&bar, 1);
}
__global__ void partialWarpgroup(int *) {
  float acc[32] = {};
  attnc_wgmma_m64n64k16_f16(acc, 1ull << 62, 1ull << 62);
}
__global__ void noSwizzle(int *) {
  ATTNC_SHARED(attnc_b128, tile, 1024);
  float acc[32] = {};
  unsigned long long desc = attnc_shared_address(tile) >> 4; // swizzle 0
  attnc_wgmma_fence();
  attnc_wgmma_m64n64k16_f16(acc, desc, desc);
  attnc_wgmma_commit();
  attnc_wgmma_wait<0>();
}
/// A start address moved past the 14-bit field (256 KiB): the carry lands
/// in reserved bits 14-15.
__global__ void descriptorOverflow(int *) {
  ATTNC_SHARED(attnc_b128, tile, 1024);
  float acc[32] = {};
  unsigned long long desc = attnc_wgmma_descriptor_add(
      attnc_wgmma_descriptor(attnc_shared_address(tile), 16, 1024), 1u << 18);
  attnc_wgmma_fence();
  attnc_wgmma_m64n64k16_f16(acc, desc, desc);
  attnc_wgmma_commit();
  attnc_wgmma_wait<0>();
}
/// A valid 128-byte-swizzled operand in a 1024-byte aligned tile.
__device__ unsigned long long swizzledTile(attnc_b128 *tile) {
  return attnc_wgmma_descriptor(
      attnc_shared_address(attnc_align_shared_1024(tile)), 16, 1024);
}
__global__ void noFence(int *) {
  ATTNC_SHARED(attnc_b128, tile, 1024 + 1024 / 16);
  float acc[32] = {};
  attnc_wgmma_m64n64k16_f16(acc, swizzledTile(tile), swizzledTile(tile));
}
__global__ void noFenceAfterWait(int *) {
  ATTNC_SHARED(attnc_b128, tile, 1024 + 1024 / 16);
  float acc[32] = {};
  attnc_wgmma_fence();
  attnc_wgmma_m64n64k16_f16(acc, swizzledTile(tile), swizzledTile(tile));
  attnc_wgmma_commit();
  attnc_wgmma_wait<0>();
  acc[0] *= 2.0f; // a register access the next wgmma must be fenced from
  attnc_wgmma_m64n64k16_f16(acc, swizzledTile(tile), swizzledTile(tile));
}
__global__ void accumulatorWrittenEarly(int *) {
  ATTNC_SHARED(attnc_b128, tile, 1024 + 1024 / 16);
  float acc[32] = {};
  attnc_wgmma_fence();
  attnc_wgmma_m64n64k16_f16(acc, swizzledTile(tile), swizzledTile(tile));
  attnc_wgmma_commit();
  acc[5] = 1.0f; // before the wait: serialised by ptxas, undefined in PTX
  attnc_wgmma_wait<0>();
}
__global__ void turnNeverGiven(int *) {
  attnc_named_barrier_sync(1 + threadIdx.x / 128, 256);
}
__global__ void barrierCountsDisagree(int *) {
  if (threadIdx.x < 128)
    attnc_named_barrier_arrive(1, 256);
  else
    attnc_named_barrier_sync(1, 160);
}
template <void (*K)(int *)> void misuseThunk(void **) { K(nullptr); }

static void testMisuse() {
  struct Case {
    const char *name;
    void (*thunk)(void **);
    unsigned threads;
    const char *expected;
  } cases[] = {
      {"a wait nobody completes is a deadlock", misuseThunk<waitForever>, 64,
       "wait on an mbarrier"},
      {"an mbarrier outside shared memory", misuseThunk<globalBarrier>, 1,
       "must be 8-byte aligned shared memory"},
      {"wgmma in a block of 96 threads", misuseThunk<partialWarpgroup>, 96,
       "not a whole number of warpgroups"},
      {"wgmma without the 128-byte swizzle", misuseThunk<noSwizzle>, 128,
       "only the 128-byte swizzle"},
      {"a descriptor moved past its 14-bit start address",
       misuseThunk<descriptorOverflow>, 128, "reserved bits set"},
      {"wgmma without a wgmma.fence", misuseThunk<noFence>, 128,
       "no wgmma.fence"},
      {"wgmma after a wait without a new wgmma.fence",
       misuseThunk<noFenceAfterWait>, 128, "no wgmma.fence"},
      {"accumulators written before the wait", misuseThunk<accumulatorWrittenEarly>,
       128, "accumulators of a wgmma were written"},
      {"a turn nobody gives is a deadlock", misuseThunk<turnNeverGiven>, 256,
       "named barrier"},
      {"one named barrier with two thread counts",
       misuseThunk<barrierCountsDisagree>, 256, "used with 256 and 160 threads"},
  };
  for (const Case &c : cases) {
    std::string error = launch(c.thunk, {}, c.threads, 0);
    report(std::string("misuse: ") + c.name,
           error.empty()               ? "the launch succeeded"
           : contains(error, c.expected) ? ""
                                         : "unexpected error: " + error);
  }
}

int main() {
  for (bool bf16 : {false, true}) {
    testWgmma<64>(bf16, 0xF);
    testWgmma<128>(bf16, 0xF);
    testWgmma<256>(bf16, 0xF);
  }
  testWgmma<64>(false, 0x4); // one k16 step, 64 bytes into the swizzled rows
  testWgmma<128>(true, 0xA);
  testWgmmaVariants(false);
  testWgmmaVariants(true);
  testLateRead();
  testTma();
  testMbarrierRing();
  testPingPong();
  testMisuse();
  // After the failed launches, the emulation still runs kernels correctly.
  testWgmma<128>(false, 0xF);
  if (gFailures) {
    std::printf("%d test(s) FAILED\n", gFailures);
    return 1;
  }
  std::printf("all tests passed\n");
  return 0;
}
