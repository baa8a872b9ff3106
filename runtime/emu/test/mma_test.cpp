//===- mma_test.cpp - Tests of the tensor-core primitives under emulation -===//
//
// Kernels in CUDA syntax that use attnc/mma.h (mma.sync m16n8k16 f16/bf16,
// mma.sync m16n8k8 tf32 and the 3xTF32 split, ldmatrix .x2/.x4/.trans,
// f16x2/bf16x2 packing), compiled by the host
// compiler against the emulation layer and launched through attnc_emu_launch
// as the runtime does. They check the fragment layouts against the PTX ISA
// ("Matrix Fragments for mma.m16n8k16 with floating point type", "Warp-level
// matrix load instruction: ldmatrix"), the arithmetic against naive f64
// references, a complete tiled GEMM (mma_gemm_kernel.h, also compiled for
// the GPU by mma_nvrtc_check.sh), and that misuse (a partial or divergent
// warp, a bad ldmatrix address) is a launch error rather than a hang. Prints
// PASS/FAIL per test and returns non-zero if any failed.
//
//   clang++-22 -std=c++17 -O1 -DATTNC_EMU -Iruntime/emu -Iruntime/device
//     runtime/emu/test/mma_test.cpp -o /tmp/mma_test && /tmp/mma_test
//
//===----------------------------------------------------------------------===//

// device.h (which includes emu.h and mma.h) first, as in generated code.
#include "attnc/device.h"

#include "mma_gemm_kernel.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

int gFailures = 0;

/// Collects the problems of one test; PASS when there are none.
class Check {
public:
  explicit Check(std::string name) : name_(std::move(name)) {}
  ~Check() {
    if (problems_.empty()) {
      std::printf("PASS %s\n", name_.c_str());
    } else {
      ++gFailures;
      std::printf("FAIL %s: %s\n", name_.c_str(), problems_.c_str());
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
  std::string name_;
  std::string problems_;
  int count_ = 0;
};

template <class... T> std::string str(const T &...parts) {
  std::ostringstream os;
  os.precision(9);
  (os << ... << parts);
  return os.str();
}

struct Result {
  int rc;
  std::string error;
  bool ok() const { return rc == 0; }
};

Result launch(void (*thunk)(void **), std::vector<void *> args, dim3 grid,
              dim3 block) {
  char error[512];
  std::memset(error, 'x', sizeof error);
  int rc = attnc_emu_launch(thunk, args.data(), grid.x, grid.y, grid.z, block.x,
                            block.y, block.z, 0, 0, error, sizeof error);
  return {rc, std::string(error, strnlen(error, sizeof error))};
}

bool contains(const std::string &text, const char *part) {
  return text.find(part) != std::string::npos;
}

float decode(unsigned short bits, bool bf16) {
  return bf16 ? attnc_numerics::bfloat16BitsToFloat(bits)
              : attnc_numerics::halfBitsToFloat(bits);
}
unsigned short encode(float value, bool bf16) {
  return bf16 ? attnc_numerics::floatToBFloat16Bits(value)
              : attnc_numerics::floatToHalfBits(value);
}

/// Random 16-bit values: mostly in [-2, 2], some much smaller (f16
/// subnormals among them), some exact zeros.
std::vector<unsigned short> randomBits(std::mt19937 &rng, size_t count,
                                       bool bf16) {
  std::uniform_real_distribution<float> unit(-2.0f, 2.0f);
  std::uniform_int_distribution<int> kind(0, 15), shift(4, 20);
  std::vector<unsigned short> bits(count);
  for (unsigned short &b : bits) {
    int what = kind(rng);
    float v = unit(rng);
    if (what == 0)
      v = 0.0f;
    else if (what == 1)
      v = std::ldexp(v, -shift(rng));
    b = encode(v, bf16);
  }
  return bits;
}

/// Small integers: every product and partial sum is exact in f32, so the
/// result must equal the reference exactly whatever the summation order.
std::vector<unsigned short> integerBits(std::mt19937 &rng, size_t count,
                                        bool bf16) {
  std::uniform_int_distribution<int> value(-8, 8);
  std::vector<unsigned short> bits(count);
  for (unsigned short &b : bits)
    b = encode(static_cast<float>(value(rng)), bf16);
  return bits;
}

/// Checks out[m x n] against c + A * B. The bound: summing the k exact
/// products and c in f32, in any order, errs by at most
/// gamma_{k+1} = (k+1)u / (1 - (k+1)u) times the sum of the terms'
/// magnitudes (u = 2^-24); for k <= 128 that is below 8e-6, so 1e-5 holds
/// for the emulation and for any hardware order. (Products of f16 values are
/// exact in f32; bf16 products of values in these ranges are too.)
/// `exact`: the inputs are small integers, so no rounding happens at all.
void compareGemm(Check &check, const std::vector<float> &out,
                 const std::vector<unsigned short> &a,
                 const std::vector<unsigned short> &b,
                 const std::vector<float> *c, int m, int n, int k, bool bf16,
                 bool exact, const char *what = "") {
  for (int row = 0; row < m; ++row)
    for (int col = 0; col < n; ++col) {
      double ref = c ? (*c)[row * n + col] : 0.0;
      double magnitude = std::fabs(ref);
      for (int i = 0; i < k; ++i) {
        double p = static_cast<double>(decode(a[row * k + i], bf16)) *
                   decode(b[i * n + col], bf16);
        ref += p;
        magnitude += std::fabs(p);
      }
      double got = out[row * n + col];
      bool ok =
          exact ? got == ref : std::fabs(got - ref) <= 1e-5 * magnitude + 1e-37;
      check.expect(ok, str(what, "out[", row, "][", col, "] = ", got,
                           ", reference ", ref, " (sum of magnitudes ",
                           magnitude, ")"));
    }
}

} // namespace

//===----------------------------------------------------------------------===//
// f16x2 / bf16x2 packing (no launch needed: plain functions under emulation)
//===----------------------------------------------------------------------===//

static void testPack() {
  Check check("attnc_pack_f16 / attnc_pack_bf16: round to nearest even, "
              "lower element in the lower half");
  struct Case {
    unsigned got, want;
    const char *what;
  } cases[] = {
      {attnc_pack_f16(1.0f, -2.0f), 0xC0003C00u, "f16 (1, -2)"},
      // 1 + 2^-11 is halfway between 1 and the next f16: even is 1.
      {attnc_pack_f16(1.0f + 0x1p-11f, 1.0f + 3 * 0x1p-11f), 0x3C023C00u,
       "f16 ties to even"},
      {attnc_pack_f16(65520.0f, 0x1p-24f), 0x00017C00u,
       "f16 overflow to infinity, smallest subnormal"},
      {attnc_pack_bf16(1.0f, 3.0f), 0x40403F80u, "bf16 (1, 3)"},
      // 0x3F808000 is halfway: even 0x3F80; 0x3F818000 rounds up to 0x3F82.
      {attnc_pack_bf16(1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f), 0x3F823F80u,
       "bf16 ties to even"},
  };
  for (const Case &c : cases)
    check.expect(c.got == c.want,
                 str(c.what, ": got 0x", std::hex, c.got, ", want 0x", c.want));
}

//===----------------------------------------------------------------------===//
// ldmatrix layouts
//===----------------------------------------------------------------------===//

/// Value of element (row, col) of matrix i in the layout probe.
static unsigned short probeValue(unsigned matrix, unsigned row, unsigned col) {
  return static_cast<unsigned short>(0x1000 + matrix * 64 + row * 8 + col);
}

/// One warp. The rows live in shared memory in a scrambled order, 32 bytes
/// apart (16 of data, 16 unused), so each lane's address really selects its
/// row. Lane l writes and then addresses row l % 8 of matrix l / 8. out gets,
/// per lane, 4 + 2 + 4 + 2 registers: x4, x2, x4.trans, x2.trans.
__global__ void ldmatrixProbe(unsigned *out) {
  ATTNC_SHARED(attnc_b128, rows, 64);
  unsigned lane = threadIdx.x & 31;
  unsigned matrix = lane / 8, row = lane % 8;
  unsigned slot = (lane * 13) % 32; // a permutation of 0..31
  unsigned short *mine = reinterpret_cast<unsigned short *>(rows + 2 * slot);
  for (unsigned col = 0; col < 8; ++col)
    mine[col] = probeValue(matrix, row, col);
  __syncwarp();
  unsigned *o = out + lane * 12;
  attnc_ldmatrix_x4(o, mine);
  // .x2 reads the addresses of lanes 0-15 only; the others pass null.
  attnc_ldmatrix_x2(o + 4, lane < 16 ? mine : nullptr);
  attnc_ldmatrix_x4_trans(o + 6, mine);
  attnc_ldmatrix_x2_trans(o + 10, lane < 16 ? mine : nullptr);
}
static void ldmatrixProbeThunk(void **args) {
  ldmatrixProbe(*static_cast<unsigned **>(args[0]));
}

static void testLdmatrixLayout() {
  Check check("ldmatrix .x4/.x2/.trans layouts (PTX ISA, ldmatrix)");
  std::vector<unsigned> out(32 * 12, 0xdeadbeef);
  unsigned *o = out.data();
  Result r = launch(ldmatrixProbeThunk, {&o}, 1, 32);
  if (!check.expect(r.ok(), "launch failed: " + r.error))
    return;
  for (unsigned lane = 0; lane < 32; ++lane) {
    const unsigned *o = out.data() + lane * 12;
    unsigned row = lane / 4, pair = 2 * (lane % 4);
    auto expectReg = [&](unsigned got, unsigned short lo, unsigned short hi,
                         const char *what, unsigned i) {
      unsigned want = lo | (static_cast<unsigned>(hi) << 16);
      check.expect(got == want,
                   str("lane ", lane, " ", what, " r[", i, "] = 0x", std::hex,
                       got, ", want 0x", want));
    };
    for (unsigned i = 0; i < 4; ++i) {
      // Row lane/4, columns 2*(lane%4) and +1.
      expectReg(o[i], probeValue(i, row, pair), probeValue(i, row, pair + 1),
                "x4", i);
      // Column lane/4, rows 2*(lane%4) and +1.
      expectReg(o[6 + i], probeValue(i, pair, row),
                probeValue(i, pair + 1, row), "x4.trans", i);
    }
    for (unsigned i = 0; i < 2; ++i) {
      expectReg(o[4 + i], probeValue(i, row, pair),
                probeValue(i, row, pair + 1), "x2", i);
      expectReg(o[10 + i], probeValue(i, pair, row),
                probeValue(i, pair + 1, row), "x2.trans", i);
    }
  }
}

//===----------------------------------------------------------------------===//
// (a) mma with fragments loaded from global memory by hand
//===----------------------------------------------------------------------===//

/// The fragments of lane `lane`, straight from the PTX ISA section "Matrix
/// Fragments for mma.m16n8k16 with floating point type" (.f16/.bf16 A and
/// B, .f32 C/D). A is 16x16 row-major, B 16x8 stored k-major (B[k * 8 + n]),
/// C 16x8 row-major. Two elements per register, the lower-indexed one in
/// the low half.
__device__ void loadFragments(const unsigned short *A, const unsigned short *B,
                              const float *C, unsigned lane, unsigned a[4],
                              unsigned b[2], float c[4]) {
  unsigned groupID = lane >> 2, threadID_in_group = lane % 4;
  unsigned short ai[8], bi[4];
  for (unsigned i = 0; i < 8; ++i) {
    unsigned row = (i < 2 || (4 <= i && i < 6)) ? groupID : groupID + 8;
    unsigned col = i < 4 ? (threadID_in_group * 2) + (i & 0x1)
                         : (threadID_in_group * 2) + (i & 0x1) + 8;
    ai[i] = A[row * 16 + col];
  }
  for (unsigned i = 0; i < 4; ++i) {
    unsigned row = i < 2 ? (threadID_in_group * 2) + (i & 0x1)
                         : (threadID_in_group * 2) + (i & 0x1) + 8;
    unsigned col = groupID;
    bi[i] = B[row * 8 + col];
  }
  for (unsigned r = 0; r < 4; ++r)
    a[r] = ai[2 * r] | (static_cast<unsigned>(ai[2 * r + 1]) << 16);
  for (unsigned r = 0; r < 2; ++r)
    b[r] = bi[2 * r] | (static_cast<unsigned>(bi[2 * r + 1]) << 16);
  for (unsigned i = 0; i < 4; ++i) {
    unsigned row = i < 2 ? groupID : groupID + 8;
    unsigned col = (threadID_in_group * 2) + (i & 0x1);
    c[i] = C ? C[row * 8 + col] : 0.0f;
  }
}

/// Each warp of the grid computes its own problem p = global warp index:
/// D_p = A_p * B_p + C_p (C optional). The block may be 3-D: the lane is
/// the linear thread index modulo 32, as CUDA forms warps.
__global__ void mmaDirect(float *D, const unsigned short *A,
                          const unsigned short *B, const float *C, int bf16) {
  unsigned linear =
      (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
  unsigned threads = blockDim.x * blockDim.y * blockDim.z;
  unsigned lane = linear % 32;
  unsigned p = blockIdx.x * (threads / 32) + linear / 32;
  unsigned a[4], b[2];
  float c[4], d[4];
  loadFragments(A + p * 256, B + p * 128, C ? C + p * 128 : nullptr, lane, a, b,
                c);
  if (bf16)
    attnc_mma_m16n8k16_bf16(d, a, b, c);
  else
    attnc_mma_m16n8k16_f16(d, a, b, c);
  unsigned groupID = lane >> 2, threadID_in_group = lane % 4;
  for (unsigned i = 0; i < 4; ++i) {
    unsigned row = i < 2 ? groupID : groupID + 8;
    unsigned col = (threadID_in_group * 2) + (i & 0x1);
    D[p * 128 + row * 8 + col] = d[i];
  }
}
static void mmaDirectThunk(void **args) {
  mmaDirect(*static_cast<float **>(args[0]),
            *static_cast<const unsigned short **>(args[1]),
            *static_cast<const unsigned short **>(args[2]),
            *static_cast<const float **>(args[3]),
            *static_cast<int *>(args[4]));
}

/// The documented emulation arithmetic: from c, the products in k order,
/// each added with one f32 rounding.
static float emulationOrder(const unsigned short *A, const unsigned short *B,
                            float c, int row, int col, bool bf16) {
  float sum = c;
  for (int k = 0; k < 16; ++k)
    sum = std::fma(decode(A[row * 16 + k], bf16), decode(B[k * 8 + col], bf16),
                   sum);
  return sum;
}

static void testMmaDirect(bool bf16, bool integers, bool withC, dim3 grid,
                          dim3 block) {
  const char *type = bf16 ? "bf16" : "f16";
  unsigned threads = block.x * block.y * block.z;
  unsigned problems = grid.x * (threads / 32);
  Check check(str("mma m16n8k16 ", type, ", fragments by hand, ",
                  integers ? "small integers (exact)" : "random values",
                  withC ? ", C != 0" : ", C = 0", ", grid ", grid.x,
                  " x block (", block.x, ",", block.y, ",", block.z, ")"));
  std::mt19937 rng(1234 + (bf16 ? 1 : 0) + (integers ? 2 : 0) +
                   (withC ? 4 : 0) + problems);
  std::vector<unsigned short> A = integers
                                      ? integerBits(rng, problems * 256, bf16)
                                      : randomBits(rng, problems * 256, bf16);
  std::vector<unsigned short> B = integers
                                      ? integerBits(rng, problems * 128, bf16)
                                      : randomBits(rng, problems * 128, bf16);
  std::vector<float> C(problems * 128);
  std::uniform_real_distribution<float> cValue(-4.0f, 4.0f);
  std::uniform_int_distribution<int> cInt(-100, 100);
  for (float &v : C)
    v = integers ? static_cast<float>(cInt(rng)) : cValue(rng);
  std::vector<float> D(problems * 128, NAN);
  int flag = bf16;
  // Each argument is passed by address, as the runtime's thunks expect.
  float *dPtr = D.data();
  const unsigned short *aPtr = A.data(), *bPtr = B.data();
  const float *cPtr = withC ? C.data() : nullptr;
  Result r =
      launch(mmaDirectThunk, {&dPtr, &aPtr, &bPtr, &cPtr, &flag}, grid, block);
  if (!check.expect(r.ok(), "launch failed: " + r.error))
    return;
  for (unsigned p = 0; p < problems; ++p) {
    std::vector<unsigned short> a(A.begin() + p * 256,
                                  A.begin() + p * 256 + 256);
    std::vector<unsigned short> b(B.begin() + p * 128,
                                  B.begin() + p * 128 + 128);
    std::vector<float> c(C.begin() + p * 128, C.begin() + p * 128 + 128);
    std::vector<float> d(D.begin() + p * 128, D.begin() + p * 128 + 128);
    compareGemm(check, d, a, b, withC ? &c : nullptr, 16, 8, 16, bf16, integers,
                str("problem ", p, ": ").c_str());
    for (int row = 0; row < 16; ++row)
      for (int col = 0; col < 8; ++col) {
        float want =
            emulationOrder(a.data(), b.data(), withC ? c[row * 8 + col] : 0.0f,
                           row, col, bf16);
        float got = d[row * 8 + col];
        check.expect(std::memcmp(&want, &got, sizeof want) == 0,
                     str("problem ", p, " d[", row, "][", col, "] = ", got,
                         " is not the documented f32 k-order sum ", want));
      }
  }
}

//===----------------------------------------------------------------------===//
// (b) fragments staged through shared memory and loaded with ldmatrix
//===----------------------------------------------------------------------===//

/// Each warp computes its own D_p (16x16, f32) = A_p (16x16) * B_p (16x16,
/// row-major k x n) + C_p, twice: with B loaded by ldmatrix .x4.trans from a
/// k-major copy (both n8 tiles at once), and by ldmatrix .x2 from an n-major
/// copy (one n8 tile at a time). A is loaded with .x4. Shared rows are
/// padded to keep them 16-byte aligned and their 8-row groups in distinct
/// banks.
constexpr int kWarpsPerBlock = 4;
constexpr int kStride = 24; // elements per shared row (48 bytes)

__global__ void mmaShared(float *Dtrans, float *Dplain, const unsigned short *A,
                          const unsigned short *B, const float *C, int bf16) {
  ATTNC_SHARED(attnc_b128, tileA128, kWarpsPerBlock * 16 * kStride / 8);
  ATTNC_SHARED(attnc_b128, tileBk128, kWarpsPerBlock * 16 * kStride / 8);
  ATTNC_SHARED(attnc_b128, tileBn128, kWarpsPerBlock * 16 * kStride / 8);
  unsigned lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  unsigned p = blockIdx.x * kWarpsPerBlock + warp;
  unsigned short *tileA =
      reinterpret_cast<unsigned short *>(tileA128) + warp * 16 * kStride;
  unsigned short *tileBk =
      reinterpret_cast<unsigned short *>(tileBk128) + warp * 16 * kStride;
  unsigned short *tileBn =
      reinterpret_cast<unsigned short *>(tileBn128) + warp * 16 * kStride;
  const unsigned short *a = A + p * 256, *b = B + p * 256;
  for (unsigned e = lane; e < 256; e += 32) {
    unsigned row = e / 16, col = e % 16;
    tileA[row * kStride + col] = a[e];
    tileBk[row * kStride + col] = b[e]; // [k][n]
    tileBn[col * kStride + row] = b[e]; // [n][k]
  }
  __syncwarp(); // other lanes' rows are read below

  unsigned fragA[4], fragBk[4], fragBn[2][2];
  attnc_ldmatrix_x4(fragA, tileA + (lane & 15) * kStride + (lane >> 4) * 8);
  attnc_ldmatrix_x4_trans(fragBk,
                          tileBk + (lane & 15) * kStride + (lane >> 4) * 8);
  // .x2, n-major: lanes 0-7 address n rows 0-7 at k 0 (b0b1), lanes 8-15
  // the same rows at k 8 (b2b3); lanes 16-31 are ignored.
  for (unsigned j = 0; j < 2; ++j)
    attnc_ldmatrix_x2(fragBn[j], tileBn + (8 * j + (lane & 7)) * kStride +
                                     ((lane >> 3) & 1) * 8);

  unsigned groupID = lane >> 2, threadID_in_group = lane % 4;
  for (unsigned j = 0; j < 2; ++j) {
    float c[4], dt[4], dp[4];
    for (unsigned i = 0; i < 4; ++i) {
      unsigned row = i < 2 ? groupID : groupID + 8;
      unsigned col = 8 * j + threadID_in_group * 2 + (i & 1);
      c[i] = C ? C[p * 256 + row * 16 + col] : 0.0f;
    }
    if (bf16) {
      attnc_mma_m16n8k16_bf16(dt, fragA, fragBk + 2 * j, c);
      attnc_mma_m16n8k16_bf16(dp, fragA, fragBn[j], c);
    } else {
      attnc_mma_m16n8k16_f16(dt, fragA, fragBk + 2 * j, c);
      attnc_mma_m16n8k16_f16(dp, fragA, fragBn[j], c);
    }
    for (unsigned i = 0; i < 4; ++i) {
      unsigned row = i < 2 ? groupID : groupID + 8;
      unsigned col = 8 * j + threadID_in_group * 2 + (i & 1);
      Dtrans[p * 256 + row * 16 + col] = dt[i];
      Dplain[p * 256 + row * 16 + col] = dp[i];
    }
  }
}
static void mmaSharedThunk(void **args) {
  mmaShared(*static_cast<float **>(args[0]), *static_cast<float **>(args[1]),
            *static_cast<const unsigned short **>(args[2]),
            *static_cast<const unsigned short **>(args[3]),
            *static_cast<const float **>(args[4]),
            *static_cast<int *>(args[5]));
}

static void testMmaShared(bool bf16, bool withC, unsigned blocks) {
  unsigned problems = blocks * kWarpsPerBlock;
  Check check(str("mma m16n8k16 ", bf16 ? "bf16" : "f16",
                  " with ldmatrix from shared memory (A .x4; B .x4.trans "
                  "and .x2), ",
                  blocks, " blocks x ", kWarpsPerBlock, " warps",
                  withC ? ", C != 0" : ""));
  std::mt19937 rng(99 + blocks + (bf16 ? 7 : 0) + (withC ? 3 : 0));
  std::vector<unsigned short> A = randomBits(rng, problems * 256, bf16);
  std::vector<unsigned short> B = randomBits(rng, problems * 256, bf16);
  std::vector<float> C(problems * 256);
  std::uniform_real_distribution<float> cValue(-4.0f, 4.0f);
  for (float &v : C)
    v = cValue(rng);
  std::vector<float> Dt(problems * 256, NAN), Dp(problems * 256, NAN);
  float *dt = Dt.data(), *dp = Dp.data();
  const unsigned short *a = A.data(), *b = B.data();
  const float *c = withC ? C.data() : nullptr;
  int flag = bf16;
  Result r = launch(mmaSharedThunk, {&dt, &dp, &a, &b, &c, &flag}, blocks,
                    32 * kWarpsPerBlock);
  if (!check.expect(r.ok(), "launch failed: " + r.error))
    return;
  for (unsigned p = 0; p < problems; ++p) {
    std::vector<unsigned short> pa(A.begin() + p * 256,
                                   A.begin() + p * 256 + 256);
    std::vector<unsigned short> pb(B.begin() + p * 256,
                                   B.begin() + p * 256 + 256);
    std::vector<float> pc(C.begin() + p * 256, C.begin() + p * 256 + 256);
    std::vector<float> pdt(Dt.begin() + p * 256, Dt.begin() + p * 256 + 256);
    std::vector<float> pdp(Dp.begin() + p * 256, Dp.begin() + p * 256 + 256);
    compareGemm(check, pdt, pa, pb, withC ? &pc : nullptr, 16, 16, 16, bf16,
                false, str("problem ", p, " (B .x4.trans): ").c_str());
    compareGemm(check, pdp, pa, pb, withC ? &pc : nullptr, 16, 16, 16, bf16,
                false, str("problem ", p, " (B .x2): ").c_str());
    check.expect(std::memcmp(pdt.data(), pdp.data(), 256 * sizeof(float)) == 0,
                 str("problem ", p,
                     ": the two B loads gave different "
                     "fragments"));
  }
}

//===----------------------------------------------------------------------===//
// (c) a complete tiled GEMM (mma_gemm_kernel.h)
//===----------------------------------------------------------------------===//

static void gemmF16Thunk(void **args) {
  attnc_test_mma_gemm_f16(
      *static_cast<float **>(args[0]),
      *static_cast<const attnc_f16 **>(args[1]),
      *static_cast<const attnc_f16 **>(args[2]),
      *static_cast<const float **>(args[3]), *static_cast<int *>(args[4]),
      *static_cast<int *>(args[5]), *static_cast<int *>(args[6]));
}
static void gemmBF16Thunk(void **args) {
  attnc_test_mma_gemm_bf16(
      *static_cast<float **>(args[0]),
      *static_cast<const attnc_bf16 **>(args[1]),
      *static_cast<const attnc_bf16 **>(args[2]),
      *static_cast<const float **>(args[3]), *static_cast<int *>(args[4]),
      *static_cast<int *>(args[5]), *static_cast<int *>(args[6]));
}

static void testGemm(bool bf16, int m, int n, int k, bool withC) {
  Check check(str("tiled GEMM (mma_gemm_kernel.h) ", bf16 ? "bf16" : "f16",
                  " M=", m, " N=", n, " K=", k, withC ? " + C" : ""));
  std::mt19937 rng(7 + m * 31 + n * 7 + k + (bf16 ? 1000 : 0));
  std::vector<unsigned short> A = randomBits(rng, size_t(m) * k, bf16);
  std::vector<unsigned short> B = randomBits(rng, size_t(k) * n, bf16);
  std::vector<float> C(size_t(m) * n);
  std::uniform_real_distribution<float> cValue(-4.0f, 4.0f);
  for (float &v : C)
    v = cValue(rng);
  // One guard element after the output: the kernel must not write it.
  std::vector<float> out(size_t(m) * n + 1, NAN);
  out.back() = 12345.0f;
  float *o = out.data();
  const void *a = A.data(), *b = B.data();
  const float *c = withC ? C.data() : nullptr;
  dim3 grid((n + mma_gemm::kBlockN - 1) / mma_gemm::kBlockN,
            (m + mma_gemm::kBlockM - 1) / mma_gemm::kBlockM);
  Result r = launch(bf16 ? gemmBF16Thunk : gemmF16Thunk,
                    {&o, &a, &b, &c, &m, &n, &k}, grid, mma_gemm::kThreads);
  if (!check.expect(r.ok(), "launch failed: " + r.error))
    return;
  check.expect(out.back() == 12345.0f, "wrote past the output");
  out.pop_back();
  compareGemm(check, out, A, B, withC ? &C : nullptr, m, n, k, bf16, false);
}

//===----------------------------------------------------------------------===//
// Misuse is a launch error, never a hang
//===----------------------------------------------------------------------===//

__device__ void zeroFragments(unsigned a[4], unsigned b[2], float c[4]) {
  for (int i = 0; i < 4; ++i) {
    a[i] = 0;
    c[i] = 0.0f;
  }
  b[0] = b[1] = 0;
}

/// Every thread calls mma; with 48 threads the second warp has 16 lanes.
__global__ void mmaAll(float *out) {
  unsigned a[4], b[2];
  float c[4], d[4];
  zeroFragments(a, b, c);
  attnc_mma_m16n8k16_f16(d, a, b, c);
  out[threadIdx.x] = d[0];
}
static void mmaAllThunk(void **args) {
  mmaAll(*static_cast<float **>(args[0]));
}

/// Lanes 16-31 return before the mma.
__global__ void mmaHalfWarp(float *out) {
  if ((threadIdx.x & 31) >= 16)
    return;
  unsigned a[4], b[2];
  float c[4], d[4];
  zeroFragments(a, b, c);
  attnc_mma_m16n8k16_f16(d, a, b, c);
  out[threadIdx.x] = d[0];
}
static void mmaHalfWarpThunk(void **args) {
  mmaHalfWarp(*static_cast<float **>(args[0]));
}

/// The two halves of the warp call mma from different branches.
__global__ void mmaDivergent(float *out) {
  unsigned a[4], b[2];
  float c[4], d[4];
  zeroFragments(a, b, c);
  if ((threadIdx.x & 31) < 16)
    attnc_mma_m16n8k16_f16(d, a, b, c);
  else
    attnc_mma_m16n8k16_bf16(d, a, b, c);
  out[threadIdx.x] = d[0];
}
static void mmaDivergentThunk(void **args) {
  mmaDivergent(*static_cast<float **>(args[0]));
}

/// Half the warp at an mma, the other half at __syncthreads.
__global__ void mmaVersusBarrier(float *out) {
  unsigned a[4], b[2];
  float c[4], d[4];
  zeroFragments(a, b, c);
  if ((threadIdx.x & 31) < 16)
    attnc_mma_m16n8k16_f16(d, a, b, c);
  else
    __syncthreads();
  out[threadIdx.x] = d[0];
}
static void mmaVersusBarrierThunk(void **args) {
  mmaVersusBarrier(*static_cast<float **>(args[0]));
}

/// ldmatrix from global memory (mode 0) or a misaligned shared row (mode 1).
__global__ void ldmatrixBadAddress(unsigned *out, const unsigned *global,
                                   int mode) {
  ATTNC_SHARED(attnc_b128, rows, 64);
  unsigned lane = threadIdx.x & 31;
  const void *address = mode == 0
                            ? static_cast<const void *>(global + 4 * lane)
                            : reinterpret_cast<const char *>(rows + 2 * lane) +
                                  (lane == 5 ? 2 : 0);
  unsigned r[4];
  attnc_ldmatrix_x4(r, address);
  out[lane] = r[0];
}
static void ldmatrixBadAddressThunk(void **args) {
  ldmatrixBadAddress(*static_cast<unsigned **>(args[0]),
                     *static_cast<const unsigned **>(args[1]),
                     *static_cast<int *>(args[2]));
}

static void testMisuse() {
  std::vector<float> out(64, 0.0f);
  float *o = out.data();
  {
    Check check("mma in a partial warp (48-thread block) is an error");
    Result r = launch(mmaAllThunk, {&o}, 1, 48);
    check.expect(!r.ok(), "the launch succeeded");
    check.expect(contains(r.error, "attnc_mma_m16n8k16_f16 at mma_test.cpp:") &&
                     contains(r.error, "needs all 32 lanes") &&
                     contains(r.error, "0xffff0000"),
                 "error: " + r.error);
  }
  {
    Check check("mma after half the warp returned is an error");
    Result r = launch(mmaHalfWarpThunk, {&o}, 1, 32);
    check.expect(!r.ok(), "the launch succeeded");
    check.expect(contains(r.error, "needs all 32 lanes"), "error: " + r.error);
  }
  {
    Check check("mma from divergent branches is an error");
    Result r = launch(mmaDivergentThunk, {&o}, 1, 32);
    check.expect(!r.ok(), "the launch succeeded");
    check.expect(contains(r.error, "divergent"), "error: " + r.error);
  }
  {
    Check check("mma against __syncthreads in the same warp is a deadlock "
                "error");
    Result r = launch(mmaVersusBarrierThunk, {&o}, 1, 32);
    check.expect(!r.ok(), "the launch succeeded");
    check.expect(contains(r.error, "deadlock"), "error: " + r.error);
  }
  std::vector<unsigned> global(32 * 4, 0), result(32, 0);
  unsigned *res = result.data();
  const unsigned *g = global.data();
  {
    Check check("ldmatrix from global memory is an error");
    int mode = 0;
    Result r = launch(ldmatrixBadAddressThunk, {&res, &g, &mode}, 1, 32);
    check.expect(!r.ok(), "the launch succeeded");
    check.expect(contains(r.error, "attnc_ldmatrix_x4 at mma_test.cpp:") &&
                     contains(r.error, "not in the block's shared memory"),
                 "error: " + r.error);
  }
  {
    Check check("ldmatrix from a misaligned row is an error");
    int mode = 1;
    Result r = launch(ldmatrixBadAddressThunk, {&res, &g, &mode}, 1, 32);
    check.expect(!r.ok(), "the launch succeeded");
    check.expect(contains(r.error, "lane 5 is not 16-byte aligned"),
                 "error: " + r.error);
  }
}

//===----------------------------------------------------------------------===//
// (d) TF32: rounding, mma.sync m16n8k8 fragments, the 3xTF32 split
//===----------------------------------------------------------------------===//

static unsigned floatBits(float value) {
  unsigned bits;
  std::memcpy(&bits, &value, 4);
  return bits;
}
static float bitsFloat(unsigned bits) {
  float value;
  std::memcpy(&value, &bits, 4);
  return value;
}

static void testTf32Round() {
  Check check("cvt.rna.tf32.f32: to nearest, ties away from zero");
  struct Case {
    unsigned in, want;
  } cases[] = {
      {0x3f800000u, 0x3f800000u}, // 1
      {0x3f801000u, 0x3f802000u}, // 1 + 2^-11, a tie: away, not to even 1
      {0xbf801000u, 0xbf802000u}, // its negative: away from zero too
      {0x3f800fffu, 0x3f800000u}, // just below the tie
      {0x3f803000u, 0x3f804000u}, // a tie above an odd last place
      {0x3fffffffu, 0x40000000u}, // the carry reaches the exponent
      {0x00001000u, 0x00002000u}, // subnormals round alike
      {0x80000fffu, 0x80000000u}, // and keep their sign
      {0x7f800000u, 0x7f800000u}, // infinity passes through
  };
  for (const Case &c : cases) {
    unsigned got = attnc_tf32_round(bitsFloat(c.in));
    check.expect(got == c.want, str("round(0x", std::hex, c.in, ") = 0x", got,
                                    ", expected 0x", c.want));
  }
  float nan = bitsFloat(attnc_tf32_round(std::nanf("")));
  check.expect(std::isnan(nan), "NaN did not stay NaN");
}

static void testTf32SplitEdges() {
  Check check("attnc_tf32_split: big is TF32 and big + small is x; the "
              "tensor cores' reading of small (its top 19 bits) keeps x to "
              "2^-21; infinities split as big = infinity, small = 0, and "
              "values within 2^-12 of FLT_MAX (whose rounding overflows) as "
              "big = infinity, small = -infinity");
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  std::vector<float> values = {0.0f, -0.0f, 1.0f, 3.0e38f, -3.0e38f,
                               bitsFloat(0x7f7fefffu), 1e-40f};
  for (int i = 0; i < 1000; ++i)
    values.push_back(std::ldexp(unit(rng), i % 200 - 100));
  for (float x : values) {
    unsigned big, small;
    attnc_tf32_split(x, big, small);
    check.expect((big & 0x1fffu) == 0,
                 str("split(", x, ") has a big part that is not TF32"));
    check.expect(static_cast<double>(bitsFloat(big)) + bitsFloat(small) == x,
                 str("split(", x, ") = ", bitsFloat(big), " + ",
                     bitsFloat(small), " is not exact"));
    double sum = static_cast<double>(bitsFloat(big)) +
                 bitsFloat(small & 0xffffe000u);
    // |small| <= 2^-11 |x|, read to 11 significant bits: within 2^-21 of
    // |x|. TF32 cuts the encoding's low 13 bits, so below f32's normal
    // range (2^-126) the remainder keeps an absolute 2^-137 instead.
    double bound = std::max(std::ldexp(std::fabs(static_cast<double>(x)), -21),
                            std::ldexp(1.0, -137));
    check.expect(std::fabs(sum - x) <= bound,
                 str("split(", x, ") = ", bitsFloat(big), " + ",
                     bitsFloat(small)));
  }
  for (unsigned bits : {0x7f800000u, 0xff800000u, 0x7f7ff000u, 0xff7fffffu}) {
    unsigned big, small;
    attnc_tf32_split(bitsFloat(bits), big, small);
    const unsigned infinity = (bits & 0x80000000u) | 0x7f800000u;
    const bool finite = (bits & 0x7fffffffu) != 0x7f800000u;
    check.expect(big == infinity && small == (finite ? infinity ^ 0x80000000u : 0u),
                 str("split(0x", std::hex, bits, ") = 0x", big, " + 0x", small));
  }
  unsigned big, small;
  attnc_tf32_split(std::nanf(""), big, small);
  check.expect(std::isnan(bitsFloat(big)), "split(NaN) lost the NaN");
}

/// Each warp p computes D_p (16x8) = A_p (16x8, row-major) * B_p (8x8,
/// row-major k x n) + C_p from fragments placed by hand after the PTX ISA's
/// "Matrix Fragments for mma.m16n8k8" (.tf32). The registers hold the raw
/// f32 bits, so the test also sees that the low 13 bits are ignored.
__global__ void mmaTf32Direct(float *D, const float *A, const float *B,
                              const float *C) {
  unsigned lane = threadIdx.x % 32, p = blockIdx.x * (blockDim.x / 32) +
                                         threadIdx.x / 32;
  unsigned group = lane >> 2, inGroup = lane % 4;
  const float *a = A + p * 128, *b = B + p * 64, *c = C + p * 128;
  unsigned fa[4] = {floatBits(a[group * 8 + inGroup]),
                    floatBits(a[(group + 8) * 8 + inGroup]),
                    floatBits(a[group * 8 + inGroup + 4]),
                    floatBits(a[(group + 8) * 8 + inGroup + 4])};
  unsigned fb[2] = {floatBits(b[inGroup * 8 + group]),
                    floatBits(b[(inGroup + 4) * 8 + group])};
  float fc[4], d[4];
  for (unsigned i = 0; i < 4; ++i)
    fc[i] = c[(i < 2 ? group : group + 8) * 8 + inGroup * 2 + (i & 1)];
  attnc_mma_m16n8k8_tf32(d, fa, fb, fc);
  for (unsigned i = 0; i < 4; ++i)
    D[p * 128 + (i < 2 ? group : group + 8) * 8 + inGroup * 2 + (i & 1)] = d[i];
}
static void mmaTf32DirectThunk(void **args) {
  mmaTf32Direct(*static_cast<float **>(args[0]),
                *static_cast<const float **>(args[1]),
                *static_cast<const float **>(args[2]),
                *static_cast<const float **>(args[3]));
}

static float truncatedTf32(float value) {
  return bitsFloat(floatBits(value) & 0xffffe000u);
}

static void testMmaTf32Direct(bool integers) {
  const unsigned warps = 3;
  Check check(str("mma m16n8k8 tf32, fragments by hand, ",
                  integers ? "small integers (exact)" : "random f32 values",
                  ", 3 warps"));
  std::mt19937 rng(integers ? 77 : 78);
  std::uniform_real_distribution<float> unit(-2.0f, 2.0f);
  std::uniform_int_distribution<int> small(-8, 8);
  auto fill = [&](std::vector<float> &v) {
    for (float &x : v)
      x = integers ? static_cast<float>(small(rng)) : unit(rng);
  };
  std::vector<float> A(warps * 128), B(warps * 64), C(warps * 128),
      D(warps * 128, NAN);
  fill(A), fill(B), fill(C);
  float *dPtr = D.data();
  const float *aPtr = A.data(), *bPtr = B.data(), *cPtr = C.data();
  Result r = launch(mmaTf32DirectThunk, {&dPtr, &aPtr, &bPtr, &cPtr}, 1,
                    32 * warps);
  if (!check.expect(r.ok(), "launch failed: " + r.error))
    return;
  for (unsigned p = 0; p < warps; ++p)
    for (int row = 0; row < 16; ++row)
      for (int col = 0; col < 8; ++col) {
        // The documented arithmetic: truncated inputs, c plus the exact
        // products rounded once toward zero.
        double exact = C[p * 128 + row * 8 + col];
        for (int k = 0; k < 8; ++k)
          exact += static_cast<double>(truncatedTf32(A[p * 128 + row * 8 + k])) *
                   truncatedTf32(B[p * 64 + k * 8 + col]);
        float want = static_cast<float>(exact);
        if (std::fabs(static_cast<double>(want)) > std::fabs(exact))
          want = std::nextafter(want, 0.0f);
        float got = D[p * 128 + row * 8 + col];
        check.expect(std::memcmp(&want, &got, 4) == 0 &&
                         (!integers || got == exact),
                     str("warp ", p, " d[", row, "][", col, "] = ", got,
                         ", expected ", want));
      }
}

/// One warp computes C (16x8) = A (16xK) * B (Kx8) from f32 values through
/// TF32 tensor cores, with `terms` MMAs per k step of 8: 1 (A and B
/// rounded to TF32) or 3 (attnc_tf32_split: small x big, big x small, big x
/// big). With `partial`, each step's MMAs go into a zeroed partial sum added
/// to the accumulator in f32, as EmitGemmTf32.cpp does, rather than
/// straight into the accumulator.
__global__ void mmaTf32Product(float *C, const float *A, const float *B,
                               int depth, int terms, int partial) {
  unsigned lane = threadIdx.x, group = lane >> 2, inGroup = lane % 4;
  float acc[4] = {0, 0, 0, 0};
  for (int k0 = 0; k0 < depth; k0 += 8) {
    unsigned aBig[4], aSmall[4], bBig[2], bSmall[2];
    for (unsigned i = 0; i < 4; ++i)
      attnc_tf32_split(A[(group + (i & 1) * 8) * depth + k0 + inGroup +
                         (i >> 1) * 4],
                       aBig[i], aSmall[i]);
    for (unsigned i = 0; i < 2; ++i)
      attnc_tf32_split(B[(k0 + inGroup + i * 4) * 8 + group], bBig[i],
                       bSmall[i]);
    float part[4] = {0, 0, 0, 0};
    float *sum = partial ? part : acc;
    if (terms == 3) {
      attnc_mma_m16n8k8_tf32(sum, aSmall, bBig, sum);
      attnc_mma_m16n8k8_tf32(sum, aBig, bSmall, sum);
    }
    attnc_mma_m16n8k8_tf32(sum, aBig, bBig, sum);
    for (unsigned i = 0; i < 4; ++i)
      acc[i] += part[i];
  }
  for (unsigned i = 0; i < 4; ++i)
    C[(i < 2 ? group : group + 8) * 8 + inGroup * 2 + (i & 1)] = acc[i];
}
static void mmaTf32ProductThunk(void **args) {
  mmaTf32Product(*static_cast<float **>(args[0]),
                 *static_cast<const float **>(args[1]),
                 *static_cast<const float **>(args[2]),
                 *static_cast<int *>(args[3]), *static_cast<int *>(args[4]),
                 *static_cast<int *>(args[5]));
}

/// ||C - ref|| / ||ref|| of a 16x8x2048 product of U(-1, 1) values,
/// against f64. 3xTF32 with partial sums per K step (EmitGemmTf32.cpp takes
/// two K steps per partial sum, which the f32 reach below also covers) must
/// be within f32's reach: each product errs by up to about 5 * 2^-22 of
/// |a b| (small x small dropped, each small read to 11 bits),
/// the f32 sum by k * 2^-24 at worst (measured 2.6e-7, so 1e-6). Straight
/// into the accumulator, the emulated MMA's truncation of it at each of the
/// 768 MMAs biases the result (measured 1.7e-5, so above 5e-6). One TF32
/// product (2^-11 per operand: measured 2.7e-4) must be far from f32 (above
/// 5e-5). Together they show that the split and the partial sums are what
/// bring the error down.
static void testTf32Split() {
  Check check("3xTF32 products with partial sums reach f32 accuracy; "
              "without them, or with 1xTF32, they do not");
  const int depth = 2048;
  std::mt19937 rng(91);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  std::vector<float> A(16 * depth), B(depth * 8);
  for (float &x : A)
    x = unit(rng);
  for (float &x : B)
    x = unit(rng);
  std::vector<double> ref(128);
  double norm = 0;
  for (int row = 0; row < 16; ++row)
    for (int col = 0; col < 8; ++col) {
      double sum = 0;
      for (int k = 0; k < depth; ++k)
        sum += static_cast<double>(A[row * depth + k]) * B[k * 8 + col];
      ref[row * 8 + col] = sum;
      norm += sum * sum;
    }
  struct Variant {
    int terms, partial;
    double bound;
    bool below;
    const char *what;
  } variants[] = {{3, 1, 1e-6, true, "3xTF32, partial sums"},
                  {3, 0, 5e-6, false, "3xTF32 into the accumulator"},
                  {1, 1, 5e-5, false, "1xTF32"}};
  for (const Variant &v : variants) {
    std::vector<float> C(128, NAN);
    float *cPtr = C.data();
    const float *aPtr = A.data(), *bPtr = B.data();
    int depthArg = depth, termsArg = v.terms, partialArg = v.partial;
    Result r = launch(mmaTf32ProductThunk,
                      {&cPtr, &aPtr, &bPtr, &depthArg, &termsArg, &partialArg},
                      1, 32);
    if (!check.expect(r.ok(), "launch failed: " + r.error))
      return;
    double diff = 0;
    for (int i = 0; i < 128; ++i)
      diff += (C[i] - ref[i]) * (C[i] - ref[i]);
    double error = std::sqrt(diff / norm);
    check.expect(v.below ? error < v.bound : error > v.bound,
                 str(v.what, ": relative error ", error,
                     v.below ? " is not below " : " is not above ", v.bound));
  }
}

int main() {
  testPack();
  testLdmatrixLayout();
  for (bool bf16 : {false, true}) {
    testMmaDirect(bf16, /*integers=*/true, /*withC=*/true, 1, 32);
    testMmaDirect(bf16, false, false, 1, 32);
    testMmaDirect(bf16, false, true, 1, 32);
    testMmaDirect(bf16, false, true, 3, dim3(8, 4, 3)); // 3 warps per block
  }
  for (bool bf16 : {false, true}) {
    testMmaShared(bf16, false, 1);
    testMmaShared(bf16, true, 3);
  }
  testTf32Round();
  testTf32SplitEdges();
  testMmaTf32Direct(true);
  testMmaTf32Direct(false);
  testTf32Split();
  testMisuse();
  // After the failed launches, the emulation still runs kernels correctly.
  for (bool bf16 : {false, true}) {
    testGemm(bf16, 37, 29, 45, false);
    testGemm(bf16, 37, 29, 45, true);
    testGemm(bf16, 70, 66, 100, true);
  }
  testGemm(false, 16, 8, 16, false);
  testGemm(false, 1, 1, 1, true);
  if (gFailures) {
    std::printf("%d test(s) FAILED\n", gFailures);
    return 1;
  }
  std::printf("all tests passed\n");
  return 0;
}
