//===- EmitGemmTf32.cpp - f32 GEMMs on TF32 tensor cores ------------------===//
//
// f32 x f32 products on mma.sync m16n8k8 with TF32 inputs (sm_80 and
// later). TF32 keeps 10 of f32's 23 significand bits, so one TF32 product
// errs by about 1e-3, which is what cuDNN's and PyTorch's TF32 modes accept
// (--f32-matmul=tf32). By default each operand is split into a rounded
// part and the exact remainder (attnc_tf32_split in attnc/mma.h) and the
// product is the sum of three MMAs, big x big + big x small + small x
// big; what is lost is small x small (about 2^-22 of the product) and the
// bits of small the tensor cores do not read (up to 2^-21 of x). The MMAs
// of two K steps go into a partial sum added to the accumulator in f32, so
// a tensor core that truncates its sums never truncates the accumulator.
// The result is about as accurate as an f32 FMA loop, at about twice its
// rate on an H200 (three MMAs at the TF32 rate against the FMA pipe).
//
// Each warp owns a (16 mt) x (8 nt) part of the block tile; the warps'
// shape is the one that reads the fewest fragment registers per MMA. The
// fragments come from the f32 tiles with scalar shared loads: ldmatrix
// moves 16-bit elements, and the row paddings below make every load of a
// warp hit 32 distinct banks. The split (a cvt.rna, a subtraction and a
// select per element) happens once per fragment register and feeds all
// the MMAs that use it.
//
//===----------------------------------------------------------------------===//

#include "TensorCoreGemm.h"

using namespace attn;
using namespace attn::cuda;

namespace {

class Tf32Math : public TensorCoreMath {
public:
  Tf32Math(int64_t tm, int64_t tn, int64_t tk, int64_t threads,
           bool compensated)
      : compensated(compensated) {
    element = "float";
    elementBytes = 4;
    this->tk = (tk + 7) / 8 * 8;
    // A's fragment loads (row group, column inGroup) spread over the
    // banks when rows are 4 mod 8 words apart; B's (row inGroup, column
    // group) when they are 8 mod 16 apart. Both keep rows 16-byte aligned
    // for cp.async.
    strideA = this->tk + 4;
    strideB = tn + 8;
    // The accumulator pairs of a half warp (rows group 0-3, columns
    // 2 inGroup) cover 32 distinct banks when rows are 8 or 24 mod 32
    // words apart.
    outStride = tn + 8;
    // 4 fragment registers per 16-row tile of A, 2 per 8-column tile of B.
    chooseWarpGrid(tm, tn, threads / 32, 8, 4, 2);
  }

  void declare(CodeWriter &w) const override {
    declareWarp(w, 8, nTiles);
  }

  void tile(CodeWriter &w, const std::string &tileA,
            const std::string &tileB) const override {
    openActive(w);
    // 3xTF32 adds its partial sums into the accumulators every `steps` K
    // steps of 8 (below): two where the K tile is a multiple of 16, which
    // halves those adds (64 per 48 MMAs at 128 x 128 tiles, a fifth of the
    // K loop in SASS): 12% fewer instructions for 39 registers more (201
    // against 162, no spills) and no NVRTC time the compile benchmark
    // could tell (session 8 measured 60 ms more for a plain unroll by two,
    // when each step's adds stayed). Each step's mTiles x nTiles
    // independent chains of MMAs (16 at 128 x 128 tiles) keep the tensor
    // cores busy while the next A tile's loads and splits issue.
    const int64_t steps = compensated && tk % 16 == 0 ? 2 : 1;
    w.line("#pragma unroll 1");
    w.open("for (int kk = 0; kk < " + num(tk) + "; kk += " + num(8 * steps) + ")");
    if (compensated) {
      w.line("float part[" + num(mTiles) + "][" + num(nTiles) + "][4];");
      w.line("#pragma unroll");
      w.line("for (int i = 0; i < " + num(mTiles) + "; ++i) for (int j = 0; j < " +
             num(nTiles) + "; ++j) for (int r = 0; r < 4; ++r) part[i][j][r] = 0.0f;");
    }
    w.line("#pragma unroll");
    w.open("for (int u = 0; u < " + num(8 * steps) + "; u += 8)");
    w.line("const int ks = kk + u;");
    w.line("unsigned bBig[" + num(nTiles) + "][2]" +
           (compensated ? ", bSmall[" + num(nTiles) + "][2]" : "") + ";");
    w.line("#pragma unroll");
    w.open("for (int j = 0; j < " + num(nTiles) + "; ++j)");
    w.line("const float *b = " + tileB + " + (ks + inGroup) * " +
           num(strideB) + " + warpCol + 8 * j + group;");
    w.line(split("b[0]", "bBig[j][0]", "bSmall[j][0]"));
    w.line(split("b[" + num(4 * strideB) + "]", "bBig[j][1]", "bSmall[j][1]"));
    w.close();
    w.line("#pragma unroll");
    w.open("for (int i = 0; i < " + num(mTiles) + "; ++i)");
    w.line("const float *a = " + tileA + " + (warpRow + 16 * i + group) * " +
           num(strideA) + " + ks + inGroup;");
    w.line(std::string("unsigned aBig[4]") +
           (compensated ? ", aSmall[4]" : "") + ";");
    // a0..a3: (row, k) = (group, inGroup), (group + 8, inGroup),
    // (group, inGroup + 4), (group + 8, inGroup + 4).
    const std::string offsets[4] = {"0", num(8 * strideA), "4",
                                    num(8 * strideA + 4)};
    for (int r = 0; r < 4; ++r)
      w.line(split("a[" + offsets[r] + "]", "aBig[" + num(r) + "]",
                   "aSmall[" + num(r) + "]"));
    auto eachTile = [&](const std::string &body) {
      w.line("#pragma unroll");
      w.line("for (int j = 0; j < " + num(nTiles) + "; ++j) " + body);
    };
    if (compensated) {
      // The products of the iteration's K steps go into a partial sum,
      // zeroed as it begins, that an f32 add, which rounds to nearest,
      // then puts into the accumulator: the tensor cores may truncate each
      // MMA's sum (emulation of attnc_mma_m16n8k8_tf32), and truncating
      // the accumulator at every MMA biases it by up to 1e-4 relative at K
      // = 4096 (measured under emulation; 3e-7 to 4e-7 this way, as an f32
      // FMA loop). Each step's small terms go first.
      // Each kind of product runs over the nTiles tiles before the next,
      // so that consecutive MMAs are independent and issue back to back
      // (a tile's three depend on each other).
      eachTile("attnc_mma_m16n8k8_tf32(part[i][j], aSmall, bBig[j], part[i][j]);");
      eachTile("attnc_mma_m16n8k8_tf32(part[i][j], aBig, bSmall[j], part[i][j]);");
      eachTile("attnc_mma_m16n8k8_tf32(part[i][j], aBig, bBig[j], part[i][j]);");
    } else {
      // One TF32 rounding (about 5e-4 of each operand) outweighs any
      // truncation of the accumulator.
      eachTile("attnc_mma_m16n8k8_tf32(acc[i][j], aBig, bBig[j], acc[i][j]);");
    }
    w.close(); // i
    w.close(); // u
    if (compensated) {
      w.line("#pragma unroll");
      w.line("for (int i = 0; i < " + num(mTiles) + "; ++i) for (int j = 0; j < " +
             num(nTiles) + "; ++j) for (int r = 0; r < 4; ++r) acc[i][j][r] += part[i][j][r];");
    }
    w.close(); // kk
    closeActive(w);
  }

  void store(CodeWriter &w) const override { storeAccumulators(w, nTiles); }

private:
  /// The TF32 parts of the f32 `value`.
  std::string split(const std::string &value, const std::string &big,
                    const std::string &small) const {
    if (compensated)
      return "attnc_tf32_split(" + value + ", " + big + ", " + small + ");";
    return big + " = attnc_tf32_round(" + value + ");";
  }

  bool compensated;
};

} // namespace

std::unique_ptr<TensorCoreMath>
attn::cuda::makeTf32Math(int64_t tm, int64_t tn, int64_t tk, int64_t threads,
                         bool compensated) {
  return std::make_unique<Tf32Math>(tm, tn, tk, threads, compensated);
}
