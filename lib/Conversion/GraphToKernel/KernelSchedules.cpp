//===- KernelSchedules.cpp - tiles and launch shapes per kernel -----------===//
//
// One function per kernel kind. Grid loops are laid out on blockIdx.x in
// the order listed, the last fastest, so `blocks` is the product of their
// block counts; the y and z extents stay 1 (x reaches 2^31-1, y and z only
// 65535). Tiles start from targets/targets.json and shrink to the next
// power of two at or above the problem's extent (never below 16 for tensor
// core tiles), so a 7-row GEMM does not schedule 128-row tiles.
//
//===----------------------------------------------------------------------===//

#include "KernelSchedules.h"

#include "attn/Dialect/Graph/IR/GraphOps.h"
#include "attn/Dialect/Kernel/IR/KernelOps.h"
#include "attn/Support/DType.h"

#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace attn;
using namespace attn::kernel;
using analysis::TargetDescription;

static ArrayRef<int64_t> shapeOf(Value value) {
  return cast<RankedTensorType>(value.getType()).getShape();
}

static int64_t product(ArrayRef<int64_t> values) {
  int64_t result = 1;
  for (int64_t v : values)
    result *= v;
  return result;
}

/// `preferred` clamped to the power of two that covers `extent`, but not
/// below `floor`.
static int64_t clampTile(int64_t preferred, int64_t extent, int64_t floor) {
  int64_t cover = int64_t(llvm::PowerOf2Ceil(uint64_t(extent)));
  return std::max(floor, std::min(preferred, cover));
}

static int64_t elementBytes(Value value) {
  Type type = cast<RankedTensorType>(value.getType()).getElementType();
  return type.isF32() ? 4 : type.isInteger(1) ? 1 : 2;
}

namespace {
struct ScheduleBuilder {
  MLIRContext *ctx;
  Schedule schedule;
  void grid(StringRef name, int64_t extent, int64_t tile) {
    schedule.loops.push_back(LoopAttr::get(ctx, name, extent, "grid", tile));
    schedule.blocks *= (extent + tile - 1) / tile;
  }
  void looped(StringRef name, int64_t extent, int64_t tile) {
    schedule.loops.push_back(
        LoopAttr::get(ctx, name, extent, "looped", std::min(tile, extent)));
  }
};
} // namespace

/// The sm_90a warpgroup GEMM (docs/passes/kernels.md): one producer
/// warpgroup and one consumer warpgroup per 64 rows of the block tile, so
/// the m tile is 64 or 128 and the n tile (one wgmma's N) 64, 128 or 256.
/// 128 x 256 tiles (as CUTLASS's Hopper GEMMs use) read less shared memory
/// per flop than 128 x 128, but only pay when they still give every SM at
/// least two tiles; otherwise (the transformer block's 2048 x 1024
/// products: 64 tiles of 128 x 256 for 132 SMs) 128 columns keep the GPU
/// busy, and compile in half the time; K
/// steps are 64 elements, one 128-byte swizzled row. The shared memory
/// holds the stage ring (or the padded f32 output tile that replaces it,
/// when larger), two mbarriers per stage and 1 KiB to align the ring for
/// the swizzle.
static Schedule scheduleWarpgroupGemm(ScheduleBuilder &b, int64_t m, int64_t n,
                                      int64_t k, int64_t maxStages,
                                      int64_t sms) {
  int64_t tm = m <= 64 ? 64 : 128, tk = 64;
  int64_t tn = n <= 64 ? 64 : 128;
  if (n >= 256 && ((m + tm - 1) / tm) * ((n + 255) / 256) >= 2 * sms)
    tn = 256;
  b.grid("m", m, tm);
  b.grid("n", n, tn);
  b.looped("k", k, tk);
  b.schedule.threads = 128 + 128 * (tm / 64);
  b.schedule.smem = kernel::warpgroupGemmSharedBytes(
      tm, tn, kernel::warpgroupGemmStages(k, maxStages));
  return b.schedule;
}

/// GEMM: when the right operand has no batch dims of its own and the left
/// is not transposed, the left's batch dims fold into m, so x[T, B, I] W
/// is one [T*B, I] x [I, N] product rather than T small ones.
static Schedule scheduleGemm(graph::MatmulOp op, const TargetDescription &t) {
  ScheduleBuilder b{op.getContext(), {}};
  ArrayRef<int64_t> out = shapeOf(op.getResult());
  ArrayRef<int64_t> rhs = shapeOf(op.getRhs()), lhs = shapeOf(op.getLhs());
  unsigned batch = out.size() - 2;
  bool foldBatch = rhs.size() == 2 && !op.getTransposeLhs();
  int64_t m = out[batch], n = out[batch + 1];
  int64_t k = op.getTransposeLhs() ? lhs[lhs.size() - 2] : lhs.back();
  if (foldBatch) {
    m *= product(out.take_front(batch));
  } else {
    for (unsigned i = 0; i < batch; ++i)
      b.grid(("b" + std::to_string(i)), out[i], 1);
  }
  const analysis::KernelDefaults &d = t.kernels;
  if (t.name == "sm_90a" && kernel::isWarpgroupGemm(op))
    return scheduleWarpgroupGemm(b, m, n, k, d.gemmStages, d.sms);
  int64_t tm = clampTile(d.gemmTileM, m, 16), tn = clampTile(d.gemmTileN, n, 16);
  int64_t tk = clampTile(d.gemmTileK, k, 16);
  b.grid("m", m, tm);
  b.grid("n", n, tn);
  b.looped("k", k, tk);
  b.schedule.threads = d.gemmThreads;
  // As many stages as the target's shared memory holds: f32 tiles (the
  // TF32 GEMM) take twice the bytes of 16-bit ones.
  int64_t stageBytes =
      tm * tk * elementBytes(op.getLhs()) + tk * tn * elementBytes(op.getRhs());
  int64_t stages = std::max<int64_t>(
      1, std::min({d.gemmStages, (k + tk - 1) / tk,
                   d.smemPerBlockBytes / stageBytes}));
  b.schedule.smem = stages * stageBytes;
  return b.schedule;
}

static Schedule scheduleAttention(graph::AttentionOp op,
                                  const TargetDescription &t) {
  ScheduleBuilder b{op.getContext(), {}};
  ArrayRef<int64_t> out = shapeOf(op.getResult());
  ArrayRef<int64_t> k = shapeOf(op.getKey()), q = shapeOf(op.getQuery());
  unsigned batch = out.size() - 2;
  for (unsigned i = 0; i < batch; ++i)
    b.grid("b" + std::to_string(i), out[i], 1);
  const analysis::KernelDefaults &d = t.kernels;
  int64_t sq = out[batch], e = out[batch + 1], sk = k[k.size() - 2];
  if (t.name == "sm_90a" && kernel::isWarpgroupAttention(op)) {
    // The warpgroup kernel: 128 queries per block (two consumer
    // warpgroups and a producer), keys in tiles of 64 or 128.
    b.grid("i", sq, 128);
    b.grid("e", e, e);
    b.looped("j", sk, kernel::warpgroupAttentionKeyTile(q.back()));
    b.looped("d", q.back(), q.back());
    b.schedule.threads = 384;
    b.schedule.smem = kernel::warpgroupAttentionSharedBytes(q.back(), e);
    return b.schedule;
  }
  int64_t tq = clampTile(d.attentionTileQ, sq, 16);
  int64_t tkv = clampTile(d.attentionTileKV, sk, 16);
  b.grid("i", sq, tq);
  b.grid("e", e, e);
  b.looped("j", sk, tkv);
  b.looped("d", q.back(), q.back());
  b.schedule.threads = d.attentionThreads;
  // Q tile, then one K and one V tile, staged in shared memory.
  b.schedule.smem = (tq * q.back() + tkv * (q.back() + e)) * elementBytes(op.getQuery());
  return b.schedule;
}

static Schedule scheduleRow(Operation *op, const TargetDescription &t) {
  ScheduleBuilder b{op->getContext(), {}};
  ArrayRef<int64_t> in = shapeOf(op->getOperand(0));
  // Softmax names one dim, reductions a set, the norms the last one.
  int64_t reduced = in.back();
  if (auto softmax = dyn_cast<graph::SoftmaxOp>(op))
    reduced = in[softmax.getDim()];
  else if (auto dims = op->getAttrOfType<DenseI64ArrayAttr>("dims")) {
    reduced = 1;
    for (int64_t d : dims.asArrayRef())
      reduced *= in[d];
  }
  int64_t rows = product(in) / reduced;
  b.grid("r", rows, 1);
  int64_t threads = std::min(t.kernels.rowThreads,
                             std::max<int64_t>(32, llvm::PowerOf2Ceil(reduced)));
  b.looped("x", reduced, threads);
  b.schedule.threads = threads;
  // One f32 partial per warp for the block-wide reductions.
  b.schedule.smem = (threads / 32) * 4 * 2;
  return b.schedule;
}

/// Persistent recurrence: the hidden units (last dim of the first carried
/// value) are split over at most one block per SM, so every block is
/// co-resident and the grid barrier cannot deadlock; time and the other
/// state dims are looped inside each block.
static Schedule scheduleRecurrence(graph::ScanOp op,
                                   const TargetDescription &t) {
  ScheduleBuilder b{op.getContext(), {}};
  b.looped("t", op.getLength(), 1);
  ArrayRef<int64_t> state = shapeOf(op.getInits().front());
  for (unsigned i = 0; i + 1 < state.size(); ++i)
    b.looped("s" + std::to_string(i), state[i], state[i]);
  int64_t units = state.empty() ? 1 : state.back();
  // At least 8 units per block, so each block's slice of a recurrent
  // weight row is a useful vector; at most one block per SM.
  int64_t blocks = std::min(t.kernels.sms, std::max<int64_t>(1, (units + 7) / 8));
  int64_t tile = (units + blocks - 1) / blocks;
  b.grid("h", units, tile);
  b.schedule.threads = t.kernels.recurrenceThreads;
  // Each block keeps its share of the step-invariant operands (captured
  // weights, read by every step) on chip.
  int64_t invariantBytes = 0;
  op.getBody().walk([&](Operation *nested) {
    for (Value operand : nested->getOperands())
      if (!op.getBody().isAncestor(operand.getParentRegion()))
        invariantBytes += product(shapeOf(operand)) * elementBytes(operand);
  });
  b.schedule.smem = (invariantBytes + b.schedule.blocks - 1) / b.schedule.blocks;
  return b.schedule;
}

/// Chunked scan: each block scans `scan_chunk` steps of `scan_threads`
/// channels; the chunks' carries are combined afterwards, so the walked
/// dim is on the grid too, tiled by the chunk.
static Schedule scheduleScan(graph::AssocScanOp op, const TargetDescription &t) {
  ScheduleBuilder b{op.getContext(), {}};
  ArrayRef<int64_t> states = shapeOf(op.getStates());
  int64_t length = states[op.getDim()];
  int64_t channels = product(states) / length;
  int64_t threads = std::min(t.kernels.scanThreads,
                             std::max<int64_t>(32, llvm::PowerOf2Ceil(channels)));
  b.grid("c", channels, threads);
  b.grid("t", length, std::min(t.kernels.scanChunk, length));
  b.schedule.threads = threads;
  return b.schedule;
}

/// Pointwise: one flat loop over the first result's elements, each
/// thread computing `pointwise_elements_per_thread` of them.
static Schedule schedulePointwise(Operation *op, const TargetDescription &t) {
  ScheduleBuilder b{op->getContext(), {}};
  int64_t elements = 1;
  for (Value result : op->getResults())
    elements = std::max(elements, product(shapeOf(result)));
  int64_t threads = std::min(t.kernels.pointwiseThreads,
                             std::max<int64_t>(32, llvm::PowerOf2Ceil(elements)));
  b.grid("i", elements, threads * t.kernels.pointwiseElementsPerThread);
  b.schedule.threads = threads;
  return b.schedule;
}

Schedule attn::kernel::scheduleKernel(Operation *anchor,
                                      const TargetDescription &target) {
  if (auto matmul = dyn_cast<graph::MatmulOp>(anchor))
    return scheduleGemm(matmul, target);
  if (auto attention = dyn_cast<graph::AttentionOp>(anchor))
    return scheduleAttention(attention, target);
  if (auto scan = dyn_cast<graph::ScanOp>(anchor))
    return scheduleRecurrence(scan, target);
  if (auto scan = dyn_cast<graph::AssocScanOp>(anchor))
    return scheduleScan(scan, target);
  if (classifyGraphOp(anchor) == GraphOpRole::Row)
    return scheduleRow(anchor, target);
  return schedulePointwise(anchor, target);
}
