//===- emu_test.cpp - Tests of the CUDA CPU emulation layer ----------------===//
//
// Kernels written in CUDA syntax, compiled by the host compiler against
// attnc/emu.h and launched through attnc_emu_launch exactly as the runtime
// does (one thunk per kernel that unpacks void **args). Prints PASS/FAIL per
// test and returns non-zero if any failed.
//
//   clang++-22 -std=c++17 -O1 -DATTNC_EMU -Iruntime/emu
//     runtime/emu/test/emu_test.cpp -o /tmp/emu_test && /tmp/emu_test
//
//===----------------------------------------------------------------------===//

// emu.h first, as in generated code; standard headers after it must still
// compile with the CUDA spellings defined.
#include "attnc/emu.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

namespace {

int gFailures = 0;

/// Collects the problems of one test; PASS when there are none.
class Check {
public:
  explicit Check(const char *name) : name_(name) {}
  ~Check() {
    if (problems_.empty()) {
      std::printf("PASS %s\n", name_);
    } else {
      ++gFailures;
      std::printf("FAIL %s: %s\n", name_, problems_.c_str());
    }
    std::fflush(stdout);
  }
  /// Records `what` if `ok` is false (only the first few, to keep one line).
  bool expect(bool ok, const std::string &what) {
    if (!ok && count_++ < 4)
      problems_ += (problems_.empty() ? "" : "; ") + what;
    return ok;
  }

private:
  const char *name_;
  std::string problems_;
  int count_ = 0;
};

template <class... T> std::string str(const T &...parts) {
  std::ostringstream os;
  (os << ... << parts);
  return os.str();
}

struct Result {
  int rc;
  std::string error;
  bool ok() const { return rc == 0; }
};

Result launch(void (*thunk)(void **), std::vector<void *> args, dim3 grid,
              dim3 block, size_t dynamicBytes = 0, bool cooperative = false) {
  char error[512];
  std::memset(error, 'x', sizeof error);
  int rc = attnc_emu_launch(thunk, args.data(), grid.x, grid.y, grid.z,
                            block.x, block.y, block.z, dynamicBytes,
                            cooperative ? 1 : 0, error, sizeof error);
  return {rc, std::string(error, strnlen(error, sizeof error))};
}

bool contains(const std::string &text, const char *part) {
  return text.find(part) != std::string::npos;
}

} // namespace

//===----------------------------------------------------------------------===//
// Kernels (CUDA syntax) and their thunks
//===----------------------------------------------------------------------===//

__global__ void writeIndex(int *out) {
  out[blockIdx.x * blockDim.x + threadIdx.x] =
      static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
}
static void writeIndexThunk(void **args) {
  writeIndex(*static_cast<int **>(args[0]));
}

struct Coord {
  unsigned thread[3], block[3], blockDims[3], gridDims[3];
  unsigned laneZeroLinear; // linear id of lane 0 of the caller's warp
  unsigned writes;
};

__global__ void writeCoords(Coord *out) {
  unsigned threads = blockDim.x * blockDim.y * blockDim.z;
  unsigned block = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x +
                   blockIdx.x;
  unsigned linear =
      (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
  assert(linear < threads);
  Coord &c = out[block * threads + linear];
  c.thread[0] = threadIdx.x;
  c.thread[1] = threadIdx.y;
  c.thread[2] = threadIdx.z;
  c.block[0] = blockIdx.x;
  c.block[1] = blockIdx.y;
  c.block[2] = blockIdx.z;
  c.blockDims[0] = blockDim.x;
  c.blockDims[1] = blockDim.y;
  c.blockDims[2] = blockDim.z;
  c.gridDims[0] = gridDim.x;
  c.gridDims[1] = gridDim.y;
  c.gridDims[2] = gridDim.z;
  c.laneZeroLinear = __shfl_sync(__activemask(), linear, 0);
  c.writes++;
}
static void writeCoordsThunk(void **args) {
  writeCoords(*static_cast<Coord **>(args[0]));
}

__global__ void __launch_bounds__(256)
    blockSum(const float *__restrict__ in, float *__restrict__ out,
             uintptr_t *addresses) {
  ATTNC_SHARED(float, partial, 256);
  ATTNC_SHARED(char, flags, 3);
  ATTNC_SHARED(double, wide, 2);
  unsigned t = threadIdx.x;
  unsigned id = blockIdx.x * blockDim.x + t;
  addresses[id * 3 + 0] = reinterpret_cast<uintptr_t>(partial);
  addresses[id * 3 + 1] = reinterpret_cast<uintptr_t>(flags);
  addresses[id * 3 + 2] = reinterpret_cast<uintptr_t>(wide);
  partial[t] = in[id];
  __syncthreads();
  for (unsigned stride = blockDim.x / 2; stride > 0; stride >>= 1) {
    if (t < stride)
      partial[t] += partial[t + stride];
    __syncthreads();
  }
  if (t == 0)
    out[blockIdx.x] = partial[0];
}
static void blockSumThunk(void **args) {
  blockSum(*static_cast<const float **>(args[0]),
           *static_cast<float **>(args[1]),
           *static_cast<uintptr_t **>(args[2]));
}

constexpr int kWarpResults = 14;

__global__ void warpOps(const int *in, int *out, float *fout, double *dout) {
  const unsigned full = 0xffffffffu;
  unsigned t = threadIdx.x;
  unsigned lane = t % warpSize;
  int v = in[t];
  int *r = out + t * kWarpResults;

  int sum = v;
  for (int offset = 16; offset > 0; offset >>= 1)
    sum += __shfl_xor_sync(full, sum, offset);
  r[0] = sum;

  int down = v;
  for (unsigned offset = 16; offset > 0; offset >>= 1)
    down += __shfl_down_sync(full, down, offset);
  r[1] = down;

  r[2] = static_cast<int>(__ballot_sync(full, v % 3 == 0));

  int group = v;
  for (int offset = 4; offset > 0; offset >>= 1)
    group += __shfl_xor_sync(full, group, offset, 8);
  r[3] = group;

  r[4] = __shfl_up_sync(full, v, 3, 16);
  r[5] = __shfl_sync(full, v, 5);
  r[6] = __shfl_sync(full, v, 9, 8);
  r[7] = __shfl_down_sync(full, v, 4, 16);
  r[8] = __shfl_xor_sync(full, v, 8, 8);
  r[9] = __any_sync(full, v == 7);
  r[10] = __all_sync(full, v >= 0) + 2 * __all_sync(full, v > 2);

  // Two half-warps synchronising independently with disjoint masks.
  if (lane < 16)
    r[11] = __shfl_xor_sync(0x0000ffffu, v, 1);
  else
    r[11] = __shfl_xor_sync(0xffff0000u, v, 2);
  __syncwarp();

  unsigned u = static_cast<unsigned>(v) * 3u;
  r[12] = static_cast<int>(__shfl_down_sync(full, u, 1));
  r[13] = static_cast<int>(__activemask());

  fout[t] = __shfl_xor_sync(full, v * 0.5f, 1);
  dout[t] = __shfl_up_sync(full, v * 0.25, 1);
}
static void warpOpsThunk(void **args) {
  warpOps(*static_cast<const int **>(args[0]), *static_cast<int **>(args[1]),
          *static_cast<float **>(args[2]), *static_cast<double **>(args[3]));
}

/// 48 threads: warp 1 has 16 lanes; lanes >= 40 return before the votes.
__global__ void partialWarp(unsigned *out) {
  unsigned t = threadIdx.x;
  out[t * 4 + 0] = __activemask();
  int sum = static_cast<int>(t);
  for (int offset = 8; offset > 0; offset >>= 1)
    sum += __shfl_xor_sync(__activemask(), sum, offset, 16);
  out[t * 4 + 1] = static_cast<unsigned>(sum);
  if (t >= 40)
    return;
  out[t * 4 + 2] = __ballot_sync(0xffffffffu, 1);
  out[t * 4 + 3] = static_cast<unsigned>(__all_sync(0xffffffffu, t < 40));
}
static void partialWarpThunk(void **args) {
  partialWarp(*static_cast<unsigned **>(args[0]));
}

struct Counters {
  unsigned counter;
  float floatSum;
  int maxId;
  unsigned long long wide;
  int cas;
  double doubleSum;
};

__global__ void atomics(Counters *c, unsigned *olds) {
  unsigned id = blockIdx.x * blockDim.x + threadIdx.x;
  olds[id] = atomicAdd(&c->counter, 1u);
  atomicAdd(&c->floatSum, 0.5f);
  atomicMax(&c->maxId, static_cast<int>(id));
  atomicAdd(&c->wide, 1ull << 33);
  atomicAdd(&c->doubleSum, 0.25);
  // Compare-and-swap loop, as device code writes it.
  int old = c->cas, assumed;
  do {
    assumed = old;
    old = atomicCAS(&c->cas, assumed, assumed + 2);
  } while (assumed != old);
}
static void atomicsThunk(void **args) {
  atomics(*static_cast<Counters **>(args[0]),
          *static_cast<unsigned **>(args[1]));
}

/// Rounds of write / barrier / read the next block's value / barrier. With
/// useGrid = 0 there is no barrier, which must let stale values through
/// (shows that the check can fail).
__global__ void gridRounds(int *buf, int *bad, int rounds, int useGrid) {
  unsigned me = blockIdx.x * blockDim.x + threadIdx.x;
  unsigned other =
      ((blockIdx.x + 1) % gridDim.x) * blockDim.x + threadIdx.x;
  for (int r = 0; r < rounds; ++r) {
    buf[me] = r * 100000 + static_cast<int>(me);
    if (useGrid)
      attnc_emu_grid_sync();
    if (buf[other] != r * 100000 + static_cast<int>(other))
      atomicAdd(bad, 1);
    if (useGrid)
      attnc_emu_grid_sync();
  }
}
static void gridRoundsThunk(void **args) {
  gridRounds(*static_cast<int **>(args[0]), *static_cast<int **>(args[1]),
             *static_cast<int *>(args[2]), *static_cast<int *>(args[3]));
}

__global__ void skipBarrier(int *out) {
  if (threadIdx.x != 0)
    __syncthreads();
  __syncthreads();
  out[threadIdx.x] = 1;
}
static void skipBarrierThunk(void **args) {
  skipBarrier(*static_cast<int **>(args[0]));
}

__global__ void warpVersusBlock() {
  if (threadIdx.x == 0)
    __syncwarp();
  else
    __syncthreads();
}
static void warpVersusBlockThunk(void **) { warpVersusBlock(); }

__global__ void blockVersusGrid() {
  if (blockIdx.x == 1 && threadIdx.x == 0)
    __syncthreads();
  else
    attnc_emu_grid_sync();
}
static void blockVersusGridThunk(void **) { blockVersusGrid(); }

__global__ void gridSyncOnly() { attnc_emu_grid_sync(); }
static void gridSyncOnlyThunk(void **) { gridSyncOnly(); }

__global__ void sharedOverflow(int floats) {
  ATTNC_SHARED(float, small, 16);
  ATTNC_SHARED(float, big, floats);
  small[threadIdx.x % 16] = 1.0f;
  big[0] = small[0];
}
static void sharedOverflowThunk(void **args) {
  sharedOverflow(*static_cast<int *>(args[0]));
}

__global__ void badWidth(int *out) {
  out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1, 1, 12);
}
static void badWidthThunk(void **args) {
  badWidth(*static_cast<int **>(args[0]));
}

__global__ void earlyExit(int *out) {
  if (threadIdx.x >= 10)
    return;
  __syncthreads();
  __syncthreads();
  out[threadIdx.x] = 1;
}
static void earlyExitThunk(void **args) {
  earlyExit(*static_cast<int **>(args[0]));
}

__global__ void dynamicReverse(const float *in, float *out,
                               uintptr_t *addresses) {
  ATTNC_SHARED(int, fixed, 100);
  ATTNC_DYNAMIC_SHARED(float, dyn);
  unsigned t = threadIdx.x, n = blockDim.x;
  if (t < 100)
    fixed[t] = static_cast<int>(t);
  dyn[t] = in[blockIdx.x * n + t];
  __syncthreads();
  out[blockIdx.x * n + t] = dyn[n - 1 - t] + static_cast<float>(fixed[0]);
  if (t == 0) {
    addresses[blockIdx.x * 2] = reinterpret_cast<uintptr_t>(fixed);
    addresses[blockIdx.x * 2 + 1] = reinterpret_cast<uintptr_t>(dyn);
  }
}
static void dynamicReverseThunk(void **args) {
  dynamicReverse(*static_cast<const float **>(args[0]),
                 *static_cast<float **>(args[1]),
                 *static_cast<uintptr_t **>(args[2]));
}

/// Fills and checks `words` unsigned of dynamic shared memory.
__global__ void dynamicFill(unsigned words, int *bad, unsigned *poison) {
  ATTNC_SHARED(unsigned, fresh, 4);
  ATTNC_DYNAMIC_SHARED(unsigned, dyn);
  if (threadIdx.x == 0)
    poison[blockIdx.x] = fresh[0];
  __syncthreads(); // everyone has seen fresh[] untouched
  for (unsigned i = threadIdx.x; i < words; i += blockDim.x)
    dyn[i] = i * 7u + blockIdx.x;
  fresh[threadIdx.x % 4] = 0;
  __syncthreads();
  for (unsigned i = threadIdx.x; i < words; i += blockDim.x)
    if (dyn[words - 1 - i] != (words - 1 - i) * 7u + blockIdx.x)
      atomicAdd(bad, 1);
}
static void dynamicFillThunk(void **args) {
  dynamicFill(*static_cast<unsigned *>(args[0]), *static_cast<int **>(args[1]),
              *static_cast<unsigned **>(args[2]));
}

__global__ void deepStack(float *out) {
  volatile float local[16384]; // 64 KiB of the 256 KiB fiber stack
  for (int i = 0; i < 16384; ++i)
    local[i] = static_cast<float>(i % 7 + threadIdx.x);
  __syncthreads();
  float sum = 0;
  for (int i = 0; i < 16384; ++i)
    sum += local[i];
  out[threadIdx.x] = sum;
}
static void deepStackThunk(void **args) {
  deepStack(*static_cast<float **>(args[0]));
}

__device__ __forceinline__ float square(float x) { return x * x; }
__device__ __noinline__ int twice(int x) { return 2 * x; }

__global__ void mathKernel(float *f, int *i, unsigned *u, long long *ll) {
  float x = 0.75f;
  int k = 0;
  f[k++] = expf(x) - __expf(x);
  f[k++] = exp2f(3.0f);
  f[k++] = logf(1.0f) + __logf(1.0f);
  f[k++] = log2f(8.0f);
  f[k++] = sqrtf(16.0f);
  f[k++] = rsqrtf(4.0f);
  f[k++] = tanhf(0.0f);
  f[k++] = erff(0.0f);
  f[k++] = sinf(0.0f) + cosf(0.0f);
  f[k++] = fabsf(-2.0f);
  f[k++] = fmaxf(1.0f, 2.0f) + fminf(1.0f, 2.0f);
  f[k++] = powf(2.0f, 10.0f);
  f[k++] = floorf(1.5f) + ceilf(1.5f);
  f[k++] = fmaf(2.0f, 3.0f, 1.0f);
  f[k++] = __fdividef(1.0f, 4.0f);
  f[k++] = __frcp_rn(2.0f);
  f[k++] = __saturatef(-1.0f) + 10 * __saturatef(2.0f) +
           100 * __saturatef(NAN) + 1000 * __saturatef(0.25f);
  f[k++] = __int_as_float(0x40000000);
  f[k++] = __uint_as_float(0x3f800000u);
  f[k++] = __int2float_rn(3);
  f[k++] = min(1.0f, 2.0f) + max(NAN, 5.0f) + square(2.0f);
  int j = 0;
  i[j++] = __float_as_int(1.0f);
  i[j++] = __float2int_rn(2.5f);
  i[j++] = __float2int_rn(3.5f);
  i[j++] = __float2int_rn(-2.5f);
  i[j++] = __float2int_rn(1e10f);
  i[j++] = __float2int_rn(NAN);
  i[j++] = min(-3, 4) + 10 * max(-3, 4);
  i[j++] = twice(21);
  u[0] = __float_as_uint(1.0f);
  u[1] = min(3u, 4u) + 10 * max(3u, 4u);
  u[2] = max(-1, 5u); // CUDA compares as unsigned
  ll[0] = min(-(1ll << 40), 7ll);
  ll[1] = max(static_cast<int64_t>(1) << 40, static_cast<int64_t>(3));
  if (threadIdx.x == 0 && blockIdx.x == 0)
    printf("  (printf from a kernel: thread %u of block %u)\n", threadIdx.x,
           blockIdx.x);
}
static void mathKernelThunk(void **args) {
  mathKernel(*static_cast<float **>(args[0]), *static_cast<int **>(args[1]),
             *static_cast<unsigned **>(args[2]),
             *static_cast<long long **>(args[3]));
}

__global__ void throwing() {
  if (threadIdx.x == 3)
    throw 42;
  __syncthreads();
}
static void throwingThunk(void **) { throwing(); }

//===----------------------------------------------------------------------===//
// Tests
//===----------------------------------------------------------------------===//

static void testIndex1D() {
  Check check("index 3 blocks x 100 threads");
  std::vector<int> out(300, -1);
  int *data = out.data();
  Result r = launch(writeIndexThunk, {&data}, dim3(3), dim3(100));
  if (!check.expect(r.ok(), "launch failed: " + r.error))
    return;
  check.expect(r.error.empty(), "error not cleared on success: " + r.error);
  for (int k = 0; k < 300; ++k)
    check.expect(out[k] == k, str("out[", k, "] = ", out[k]));
}

static void testIndexShape(const char *name, dim3 grid, dim3 block) {
  Check check(name);
  unsigned threads = block.x * block.y * block.z;
  unsigned blocks = grid.x * grid.y * grid.z;
  std::vector<Coord> out(threads * blocks, Coord{});
  Coord *data = out.data();
  Result r = launch(writeCoordsThunk, {&data}, grid, block);
  if (!check.expect(r.ok(), "launch failed: " + r.error))
    return;
  for (unsigned b = 0; b < blocks; ++b) {
    for (unsigned t = 0; t < threads; ++t) {
      const Coord &c = out[b * threads + t];
      unsigned want[3] = {t % block.x, t / block.x % block.y,
                          t / (block.x * block.y)};
      unsigned wantBlock[3] = {b % grid.x, b / grid.x % grid.y,
                               b / (grid.x * grid.y)};
      bool ok = c.writes == 1 && c.laneZeroLinear == t / 32 * 32;
      for (int d = 0; d < 3; ++d)
        ok = ok && c.thread[d] == want[d] && c.block[d] == wantBlock[d];
      ok = ok && c.blockDims[0] == block.x && c.blockDims[1] == block.y &&
           c.blockDims[2] == block.z && c.gridDims[0] == grid.x &&
           c.gridDims[1] == grid.y && c.gridDims[2] == grid.z;
      check.expect(ok, str("block ", b, " thread ", t, ": thread (",
                           c.thread[0], ",", c.thread[1], ",", c.thread[2],
                           ") block (", c.block[0], ",", c.block[1], ",",
                           c.block[2], ") lane0 ", c.laneZeroLinear,
                           " writes ", c.writes));
    }
  }
}

static void testBlockReduction(bool cooperative) {
  Check check(cooperative ? "block reduction (cooperative, arenas distinct)"
                          : "block reduction through ATTNC_SHARED");
  const unsigned blocks = 2, n = 256;
  std::vector<float> in(blocks * n), out(blocks, 0.0f);
  for (unsigned k = 0; k < in.size(); ++k)
    in[k] = static_cast<float>(k % 17) + (k >= n ? 1000.0f : 0.0f);
  std::vector<uintptr_t> addresses(blocks * n * 3);
  const float *inData = in.data();
  float *outData = out.data();
  uintptr_t *addrData = addresses.data();
  Result r = launch(blockSumThunk, {&inData, &outData, &addrData},
                    dim3(blocks), dim3(n), 0, cooperative);
  if (!check.expect(r.ok(), "launch failed: " + r.error))
    return;
  for (unsigned b = 0; b < blocks; ++b) {
    float want = std::accumulate(in.begin() + b * n, in.begin() + (b + 1) * n,
                                 0.0f);
    check.expect(out[b] == want, str("block ", b, " sum ", out[b], " want ",
                                     want));
    for (unsigned t = 0; t < n; ++t)
      for (int k = 0; k < 3; ++k)
        check.expect(addresses[(b * n + t) * 3 + k] ==
                         addresses[b * n * 3 + k],
                     str("block ", b, " thread ", t, " got another pointer ",
                         "for declaration ", k));
  }
  uintptr_t partial = addresses[0], flags = addresses[1], wide = addresses[2];
  check.expect(flags >= partial + 256 * sizeof(float), "declarations overlap");
  check.expect(wide >= flags + 3 && wide % alignof(double) == 0 &&
                   partial % 16 == 0,
               "declarations overlap or are misaligned");
  if (cooperative)
    check.expect(addresses[0] != addresses[n * 3],
                 "two resident blocks share one arena");
}

static void testWarp() {
  Check check("warp shuffles, votes and widths");
  const unsigned n = 64;
  std::vector<int> in(n), out(n * kWarpResults, -999);
  std::vector<float> fout(n);
  std::vector<double> dout(n);
  for (unsigned t = 0; t < n; ++t)
    in[t] = static_cast<int>((t * 37 + 11) % 50);
  const int *inData = in.data();
  int *outData = out.data();
  float *fData = fout.data();
  double *dData = dout.data();
  Result r = launch(warpOpsThunk, {&inData, &outData, &fData, &dData},
                    dim3(1), dim3(n));
  if (!check.expect(r.ok(), "launch failed: " + r.error))
    return;
  // Reference written lane by lane from the CUDA Programming Guide.
  for (unsigned w = 0; w < n / 32; ++w) {
    const int *v = &in[w * 32];
    int warpSum = std::accumulate(v, v + 32, 0);
    std::vector<int> down(v, v + 32);
    for (unsigned offset = 16; offset > 0; offset >>= 1) {
      std::vector<int> next(down);
      for (unsigned l = 0; l < 32; ++l)
        next[l] += l + offset < 32 ? down[l + offset] : down[l];
      down = next;
    }
    unsigned ballot = 0;
    bool any7 = false, allAbove2 = true;
    for (unsigned l = 0; l < 32; ++l) {
      ballot |= (v[l] % 3 == 0 ? 1u : 0u) << l;
      any7 = any7 || v[l] == 7;
      allAbove2 = allAbove2 && v[l] > 2;
    }
    for (unsigned l = 0; l < 32; ++l) {
      const int *got = &out[(w * 32 + l) * kWarpResults];
      unsigned g8 = l / 8 * 8, g16 = l / 16 * 16;
      int group = std::accumulate(v + g8, v + g8 + 8, 0);
      int want[kWarpResults] = {
          warpSum,
          down[l],
          static_cast<int>(ballot),
          group,
          l % 16 >= 3 ? v[l - 3] : v[l],
          v[5],
          v[g8 + 1],
          l % 16 + 4 < 16 ? v[l + 4] : v[l],
          (l & 8) ? v[l - 8] : v[l], // xor 8 inside width 8: earlier only
          any7 ? 1 : 0,
          1 + (allAbove2 ? 2 : 0),
          l < 16 ? v[l ^ 1] : v[l ^ 2],
          static_cast<int>((l + 1 < 32 ? v[l + 1] : v[l]) * 3u),
          -1};
      (void)g16;
      for (int k = 0; k < kWarpResults; ++k)
        check.expect(got[k] == want[k], str("lane ", w * 32 + l, " result ",
                                            k, ": got ", got[k], " want ",
                                            want[k]));
      check.expect(fout[w * 32 + l] == v[l ^ 1] * 0.5f,
                   str("float shuffle lane ", l));
      check.expect(dout[w * 32 + l] == (l >= 1 ? v[l - 1] : v[l]) * 0.25,
                   str("double shuffle lane ", l));
    }
  }
}

static void testPartialWarp() {
  Check check("partial warp and returned lanes");
  std::vector<unsigned> out(48 * 4, 12345);
  unsigned *data = out.data();
  Result r = launch(partialWarpThunk, {&data}, dim3(1), dim3(48));
  if (!check.expect(r.ok(), "launch failed: " + r.error))
    return;
  for (unsigned t = 0; t < 48; ++t) {
    const unsigned *got = &out[t * 4];
    unsigned seg = t / 16 * 16;
    unsigned segSum = 16 * seg + 120;
    check.expect(got[0] == (t < 32 ? 0xffffffffu : 0xffffu),
                 str("activemask of ", t, " = ", got[0]));
    check.expect(got[1] == segSum, str("segment sum of ", t, " = ", got[1]));
    if (t < 40) {
      check.expect(got[2] == (t < 32 ? 0xffffffffu : 0xffu),
                   str("ballot of ", t, " = ", got[2]));
      check.expect(got[3] == 1, str("all of ", t, " = ", got[3]));
    }
  }
}

static void testAtomics() {
  Check check("atomics from 4 blocks x 128 threads");
  const unsigned blocks = 4, n = 128, total = blocks * n;
  std::vector<unsigned> firstOlds;
  for (int run = 0; run < 2; ++run) {
    Counters c{};
    std::vector<unsigned> olds(total, 0);
    Counters *cData = &c;
    unsigned *oldData = olds.data();
    Result r = launch(atomicsThunk, {&cData, &oldData}, dim3(blocks), dim3(n));
    if (!check.expect(r.ok(), "launch failed: " + r.error))
      return;
    check.expect(c.counter == total, str("counter ", c.counter));
    check.expect(c.floatSum == total * 0.5f, str("float sum ", c.floatSum));
    check.expect(c.doubleSum == total * 0.25, str("double sum ", c.doubleSum));
    check.expect(c.maxId == static_cast<int>(total) - 1, str("max ", c.maxId));
    check.expect(c.wide == static_cast<unsigned long long>(total) << 33,
                 str("u64 sum ", c.wide));
    check.expect(c.cas == static_cast<int>(2 * total), str("cas ", c.cas));
    std::vector<unsigned> sorted(olds);
    std::sort(sorted.begin(), sorted.end());
    for (unsigned k = 0; k < total; ++k)
      check.expect(sorted[k] == k, "old values are not a permutation");
    if (run == 0)
      firstOlds = olds;
    else
      check.expect(olds == firstOlds, "two runs scheduled differently");
  }
  // The remaining forms, each returning the old value (host-side call).
  int i = 5;
  unsigned u = 5;
  unsigned long long ull = 5;
  float f = 1.5f;
  bool ok = atomicSub(&i, 2) == 5 && i == 3 && atomicMin(&i, 1) == 3 &&
            i == 1 && atomicExch(&i, 9) == 1 && i == 9 &&
            atomicCAS(&i, 8, 0) == 9 && i == 9 && atomicCAS(&i, 9, 0) == 9 &&
            i == 0 && atomicMax(&u, 7u) == 5 && u == 7 &&
            atomicMin(&u, 2u) == 7 && u == 2 && atomicSub(&u, 1u) == 2 &&
            u == 1 && atomicExch(&u, 4u) == 1 && atomicCAS(&u, 4u, 6u) == 4 &&
            u == 6 && atomicCAS(&ull, 5ull, 8ull) == 5 && ull == 8 &&
            atomicExch(&ull, 1ull) == 8 && atomicExch(&f, 2.5f) == 1.5f &&
            f == 2.5f && atomicAdd(&i, -3) == 0 && i == -3;
  check.expect(ok, "sub/min/max/exch/cas");
}

static void testCooperative() {
  Check check("cooperative launch, 4 blocks x 64 threads, 10 grid rounds");
  const unsigned blocks = 4, n = 64;
  for (int useGrid = 1; useGrid >= 0; --useGrid) {
    std::vector<int> buf(blocks * n, -1);
    int bad = 0, rounds = 10;
    int *bufData = buf.data(), *badData = &bad;
    Result r = launch(gridRoundsThunk, {&bufData, &badData, &rounds, &useGrid},
                      dim3(blocks), dim3(n), 0, /*cooperative=*/true);
    if (!check.expect(r.ok(), "launch failed: " + r.error))
      return;
    if (useGrid)
      check.expect(bad == 0, str(bad, " stale reads across the grid barrier"));
    else
      check.expect(bad > 0, "control without grid barrier saw no stale read");
  }
  Result big = launch(gridSyncOnlyThunk, {}, dim3(257), dim3(256), 0, true);
  check.expect(!big.ok() && contains(big.error, "65536"),
               "oversized cooperative grid: " + big.error);
  Result fits = launch(gridSyncOnlyThunk, {}, dim3(256), dim3(256), 0, true);
  check.expect(fits.ok(), "65536-thread cooperative grid: " + fits.error);
}

static void testErrors() {
  Check check("error reporting");
  std::vector<int> out(1024, 0);
  int *data = out.data();

  Result r = launch(skipBarrierThunk, {&data}, dim3(1), dim3(64));
  check.expect(!r.ok() && contains(r.error, "deadlock") &&
                   contains(r.error, "__syncthreads"),
               "skipped __syncthreads: '" + r.error + "'");
  std::printf("  skipped barrier -> %s\n", r.error.c_str());

  r = launch(warpVersusBlockThunk, {}, dim3(1), dim3(64));
  check.expect(!r.ok() && contains(r.error, "deadlock"),
               "__syncwarp vs __syncthreads: '" + r.error + "'");
  std::printf("  warp vs block   -> %s\n", r.error.c_str());

  r = launch(blockVersusGridThunk, {}, dim3(3), dim3(32), 0, true);
  check.expect(!r.ok() && contains(r.error, "deadlock") &&
                   contains(r.error, "block (1,0,0)"),
               "__syncthreads vs grid barrier: '" + r.error + "'");
  std::printf("  block vs grid   -> %s\n", r.error.c_str());

  r = launch(gridSyncOnlyThunk, {}, dim3(2), dim3(32));
  check.expect(!r.ok() && contains(r.error, "non-cooperative"),
               "grid sync in a normal launch: '" + r.error + "'");
  std::printf("  grid sync       -> %s\n", r.error.c_str());

  int floats = 60000; // 240000 bytes > 228 KiB
  r = launch(sharedOverflowThunk, {&floats}, dim3(2), dim3(32));
  check.expect(!r.ok() && contains(r.error, "shared memory overflow"),
               "static overflow: '" + r.error + "'");
  std::printf("  overflow        -> %s\n", r.error.c_str());
  floats = 40000; // fits alone, not with 100000 dynamic bytes
  r = launch(sharedOverflowThunk, {&floats}, dim3(1), dim3(32));
  check.expect(r.ok(), "160000 bytes of static shared memory: " + r.error);
  r = launch(sharedOverflowThunk, {&floats}, dim3(1), dim3(32), 100000);
  check.expect(!r.ok() && contains(r.error, "shared memory overflow"),
               "static + dynamic overflow: '" + r.error + "'");
  floats = -1;
  r = launch(sharedOverflowThunk, {&floats}, dim3(1), dim3(32));
  check.expect(!r.ok() && contains(r.error, "shared memory overflow"),
               "negative count: '" + r.error + "'");

  r = launch(writeIndexThunk, {&data}, dim3(1), dim3(1025));
  check.expect(!r.ok() && contains(r.error, "1025"),
               "1025-thread block: '" + r.error + "'");
  r = launch(writeIndexThunk, {&data}, dim3(1), dim3(1, 1, 65));
  check.expect(!r.ok(), "block z of 65 accepted");
  r = launch(writeIndexThunk, {&data}, dim3(0), dim3(32));
  check.expect(!r.ok() && contains(r.error, "empty grid"),
               "empty grid: '" + r.error + "'");
  r = launch(writeIndexThunk, {&data}, dim3(1), dim3(32), 300 * 1024);
  check.expect(!r.ok() && contains(r.error, "dynamic shared memory"),
               "oversized dynamic shared memory: '" + r.error + "'");
  r = launch(nullptr, {}, dim3(1), dim3(1));
  check.expect(!r.ok(), "null thunk accepted");

  r = launch(badWidthThunk, {&data}, dim3(1), dim3(32));
  check.expect(!r.ok() && contains(r.error, "width 12"),
               "shuffle width 12: '" + r.error + "'");

  r = launch(throwingThunk, {}, dim3(1), dim3(8));
  check.expect(!r.ok() && contains(r.error, "exception"),
               "throwing kernel: '" + r.error + "'");

  // Truncation keeps the message NUL-terminated.
  char tiny[16];
  std::memset(tiny, 'x', sizeof tiny);
  int rc = attnc_emu_launch(gridSyncOnlyThunk, nullptr, 1, 1, 1, 32, 1, 1, 0,
                            0, tiny, sizeof tiny);
  check.expect(rc != 0 && std::strlen(tiny) == sizeof tiny - 1,
               "truncated message");
  rc = attnc_emu_launch(gridSyncOnlyThunk, nullptr, 1, 1, 1, 32, 1, 1, 0, 0,
                        nullptr, 0);
  check.expect(rc != 0, "error without a buffer");

  // State is reset after every failure.
  std::vector<int> idx(300, -1);
  int *idxData = idx.data();
  r = launch(writeIndexThunk, {&idxData}, dim3(3), dim3(100));
  bool ok = r.ok();
  for (int k = 0; k < 300; ++k)
    ok = ok && idx[k] == k;
  check.expect(ok, "launch after errors: " + r.error);
}

static void testEarlyExit() {
  Check check("returned threads count as arrived at __syncthreads");
  std::vector<int> out(100, 0);
  int *data = out.data();
  Result r = launch(earlyExitThunk, {&data}, dim3(2), dim3(100));
  if (!check.expect(r.ok(), "launch failed: " + r.error))
    return;
  for (int k = 0; k < 100; ++k)
    check.expect(out[k] == (k < 10 ? 1 : 0), str("out[", k, "]"));
}

static void testDynamicShared() {
  Check check("dynamic shared memory");
  const unsigned blocks = 3, n = 1000;
  std::vector<float> in(blocks * n), out(blocks * n, -1.0f);
  for (unsigned k = 0; k < in.size(); ++k)
    in[k] = static_cast<float>(k);
  std::vector<uintptr_t> addresses(blocks * 2);
  const float *inData = in.data();
  float *outData = out.data();
  uintptr_t *addrData = addresses.data();
  for (int cooperative = 0; cooperative < 2; ++cooperative) {
    Result r = launch(dynamicReverseThunk, {&inData, &outData, &addrData},
                      dim3(blocks), dim3(n), n * sizeof(float), cooperative);
    if (!check.expect(r.ok(), "launch failed: " + r.error))
      return;
    for (unsigned b = 0; b < blocks; ++b) {
      for (unsigned t = 0; t < n; ++t)
        check.expect(out[b * n + t] == in[b * n + n - 1 - t],
                     str("cooperative ", cooperative, " block ", b, " t ", t,
                         ": ", out[b * n + t]));
      check.expect(addresses[b * 2 + 1] >= addresses[b * 2] + 400 &&
                       addresses[b * 2 + 1] % 16 == 0,
                   "dynamic shared memory overlaps the static one");
    }
  }
  // Nearly the whole arena as dynamic shared memory, next to a little static.
  unsigned words = (200 * 1024) / 4;
  int bad = 0;
  int *badData = &bad;
  std::vector<unsigned> poison(2, 0);
  unsigned *poisonData = poison.data();
  Result r = launch(dynamicFillThunk, {&words, &badData, &poisonData}, dim3(2),
                    dim3(256), words * 4);
  check.expect(r.ok() && bad == 0,
               str("200 KiB dynamic: ", r.error, " bad ", bad));
  check.expect(poison[0] == 0xffffffffu && poison[1] == 0xffffffffu,
               str("fresh shared memory not poisoned: ", poison[0], " ",
                   poison[1]));
}

static void testStack() {
  Check check("64 KiB of locals per fiber");
  std::vector<float> out(64);
  float *data = out.data();
  Result r = launch(deepStackThunk, {&data}, dim3(2), dim3(64));
  if (!check.expect(r.ok(), "launch failed: " + r.error))
    return;
  for (unsigned t = 0; t < 64; ++t) {
    float want = 0;
    for (int k = 0; k < 16384; ++k)
      want += static_cast<float>(k % 7 + t);
    check.expect(out[t] == want, str("thread ", t));
  }
}

static void testMath() {
  Check check("math and conversion intrinsics");
  std::vector<float> f(32, -1);
  std::vector<int> i(16, -1);
  std::vector<unsigned> u(4);
  std::vector<long long> ll(2);
  float *fData = f.data();
  int *iData = i.data();
  unsigned *uData = u.data();
  long long *llData = ll.data();
  Result r = launch(mathKernelThunk, {&fData, &iData, &uData, &llData},
                    dim3(1), dim3(1));
  if (!check.expect(r.ok(), "launch failed: " + r.error))
    return;
  const float wantF[] = {0.0f, 8.0f, 0.0f,  3.0f, 4.0f, 0.5f,    0.0f,
                         0.0f, 1.0f, 2.0f,  3.0f, 1024.0f, 3.0f, 7.0f,
                         0.25f, 0.5f, 260.0f, 2.0f, 1.0f,  3.0f, 10.0f};
  for (size_t k = 0; k < sizeof wantF / sizeof wantF[0]; ++k)
    check.expect(f[k] == wantF[k], str("float result ", k, ": ", f[k],
                                       " want ", wantF[k]));
  const int wantI[] = {0x3f800000, 2, 4, -2, INT_MAX, 0, 37, 42};
  for (size_t k = 0; k < sizeof wantI / sizeof wantI[0]; ++k)
    check.expect(i[k] == wantI[k], str("int result ", k, ": ", i[k]));
  check.expect(u[0] == 0x3f800000u && u[1] == 43 && u[2] == 0xffffffffu,
               str("unsigned results ", u[0], " ", u[1], " ", u[2]));
  check.expect(ll[0] == -(1ll << 40) && ll[1] == (1ll << 40),
               "long long min/max");
}

static void testThroughput() {
  Check check("throughput (1000 blocks x 256 threads, 9 barriers each)");
  const unsigned blocks = 1000, n = 256;
  std::vector<float> in(blocks * n, 1.0f), out(blocks, 0.0f);
  std::vector<uintptr_t> addresses(blocks * n * 3);
  const float *inData = in.data();
  float *outData = out.data();
  uintptr_t *addrData = addresses.data();
  auto start = std::chrono::steady_clock::now();
  Result r = launch(blockSumThunk, {&inData, &outData, &addrData},
                    dim3(blocks), dim3(n));
  double seconds = std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - start)
                       .count();
  if (!check.expect(r.ok(), "launch failed: " + r.error))
    return;
  for (unsigned b = 0; b < blocks; ++b)
    check.expect(out[b] == 256.0f, str("block ", b, ": ", out[b]));
  std::printf("  %.3f s for %u threads (%.2f us per thread)\n", seconds,
              blocks * n, seconds * 1e6 / (blocks * n));
}

int main() {
  testIndex1D();
  testIndexShape("index 2-D blocks (8,4) in grid (2,3)", dim3(2, 3),
                 dim3(8, 4));
  testIndexShape("index 3-D blocks (5,3,4) in grid (2,2,2)", dim3(2, 2, 2),
                 dim3(5, 3, 4));
  testBlockReduction(false);
  testBlockReduction(true);
  testWarp();
  testPartialWarp();
  testAtomics();
  testCooperative();
  testErrors();
  testEarlyExit();
  testDynamicShared();
  testStack();
  testMath();
  testThroughput();
  if (gFailures)
    std::printf("%d test(s) FAILED\n", gFailures);
  else
    std::printf("all tests passed\n");
  return gFailures ? 1 : 0;
}
