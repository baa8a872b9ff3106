//===- TensorCoreGemm.h - the arithmetic of a mma.sync GEMM -----*- C++ -*-===//
//
// A tensor-core GEMM on the mma.sync path has two halves. EmitGemm.cpp
// moves the data: it stages each K tile of A (tm x tk, row-major) and B
// (tk x tn, k-major) in shared memory, synchronously or through a cp.async
// ring, and runs the fused epilogue from an f32 tile. The arithmetic in
// between (which MMA, how warps split the block tile, how fragments are
// read, how the accumulators reach the f32 tile) is a TensorCoreMath:
// m16n8k16 on 16-bit operands (EmitGemm.cpp), or m16n8k8 on TF32 parts of
// f32 operands (EmitGemmTf32.cpp). Both use one staging code.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_LIB_TARGET_CUDA_TENSORCOREGEMM_H
#define ATTN_LIB_TARGET_CUDA_TENSORCOREGEMM_H

#include "KernelPatterns.h"

#include <memory>

namespace attn::cuda {

class TensorCoreMath {
public:
  virtual ~TensorCoreMath() = default;
  /// The shared tiles' element type ("unsigned short" holds 16-bit bits)
  /// and its size in bytes.
  std::string element;
  int64_t elementBytes = 2;
  /// The K step (a whole number of MMA steps; a shorter K is zero-padded)
  /// and the row strides of the A and B tiles, in elements.
  int64_t tk = 0, strideA = 0, strideB = 0;
  /// The row stride of the f32 output tile the accumulators go to.
  int64_t outStride = 0;

  /// Per-thread constants and the zeroed accumulators.
  virtual void declare(CodeWriter &w) const = 0;
  /// One K tile's MMAs, from the tiles at `tileA` and `tileB`.
  virtual void tile(CodeWriter &w, const std::string &tileA,
                    const std::string &tileB) const = 0;
  /// The accumulators into `outTile` (f32, rows outStride apart).
  virtual void store(CodeWriter &w) const = 0;

protected:
  /// Splits the tm x tn block tile over `warps` warps, each owning
  /// mTiles x nTiles tiles of 16 x nUnit: the grid of warps (warpsN of them
  /// across) that loads the fewest fragment registers per MMA, given
  /// `regsA` per 16-row tile of A and `regsB` per nUnit-column tile of B,
  /// with as many warps as the tile gives whole tiles to (activeWarps).
  void chooseWarpGrid(int64_t tm, int64_t tn, int64_t warps, int64_t nUnit,
                      int64_t regsA, int64_t regsB);
  /// Declares lane, warp, group, inGroup, the warp's first row and column
  /// (warpRow, warpCol; its tiles are nUnit columns wide) and the zeroed
  /// accumulators acc[mTiles][n8Tiles][4] of its 16 x 8 tiles.
  void declareWarp(CodeWriter &w, int64_t nUnit, int64_t n8Tiles) const;
  /// Opens (closes) the code only active warps run: with a tile too small
  /// for all, the others still stage their share and meet the barriers.
  void openActive(CodeWriter &w) const;
  void closeActive(CodeWriter &w) const;
  /// Stores acc[mTiles][n8Tiles][4], C fragments of 16 x 8 tiles, into
  /// outTile: c_r at row group (+ 8 for r >= 2), column 2 inGroup
  /// (+ 1 for odd r) of tile (i, j); c0, c1 (and c2, c3) as one 8-byte
  /// store.
  void storeAccumulators(CodeWriter &w, int64_t n8Tiles) const;

  int64_t totalWarps = 1, activeWarps = 1, warpsN = 1, mTiles = 1, nTiles = 1;
};

/// The TF32 arithmetic for an f32 x f32 product on a tm x tn block tile
/// with `threads` threads, K tiles of `tk`; `compensated` splits each
/// operand into two TF32 parts (3xTF32) instead of rounding it once.
std::unique_ptr<TensorCoreMath> makeTf32Math(int64_t tm, int64_t tn,
                                             int64_t tk, int64_t threads,
                                             bool compensated);

} // namespace attn::cuda

#endif
