//===- KernelPatterns.h - one CUDA emission pattern per kernel kind -*- C++ -*-===//
//
// Each kernel op becomes one `extern "C" __global__` function whose
// parameters are the kernel's results (outN), then its inputs (inN), then
// any temporaries the pattern asks for (tmpN). A pattern writes the
// function body and says how to launch it; ModuleEmitter.cpp writes the
// signature, the emulation thunk and the plan entry.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_LIB_TARGET_CUDA_KERNELPATTERNS_H
#define ATTN_LIB_TARGET_CUDA_KERNELPATTERNS_H

#include "ScalarEmitter.h"

#include "attn/Analysis/TargetDescription.h"
#include "attn/Target/CUDA/CUDAEmitter.h"

#include "attn/Dialect/Graph/IR/GraphOps.h"

#include "mlir/IR/Operation.h"
#include "llvm/ADT/STLFunctionalExtras.h"

namespace attn::cuda {

/// Scratch memory a kernel needs besides its inputs and outputs.
struct TempBuffer {
  std::string type; // C type of one element: "float" or "unsigned int"
  int64_t elements = 0;
  // Zero-filled before each launch (barrier counters). Every temporary is
  // zero when its session is created, and otherwise, if not `zeroed`,
  // only after a run that failed (a scan's ticket counter, EmitScan.cpp).
  bool zeroed = false;
};

class KernelEmission {
public:
  KernelEmission(mlir::Operation *kernel, std::string name,
                 const analysis::TargetDescription &target)
      : kernel(kernel), name(std::move(name)), out(body), target(target) {}

  mlir::Operation *kernel;
  std::string name;
  std::string body;
  CodeWriter out;
  /// The architecture the module is emitted for (its kernel defaults).
  const analysis::TargetDescription &target;
  /// How f32 x f32 GEMMs run (attnc --f32-matmul).
  F32Matmul f32Matmul = F32Matmul::Tf32x3;
  /// How a persistent recurrence's blocks pass on its state.
  RecurrenceExchange recurrenceExchange = RecurrenceExchange::Tagged;
  /// Chunks a scan's look-back round loads (0: the emitter's choice).
  int64_t scanLookahead = 0;

  // Launch shape, set by the pattern.
  int64_t blocks = 1;
  int64_t threads = 1;
  int64_t dynamicShared = 0;
  bool cooperative = false;
  /// The blocks an SM should hold at once, the launch bound's second
  /// argument (0: none given): ptxas then keeps the kernel's registers to
  /// what that many blocks leave each thread.
  int64_t minBlocksPerSM = 0;
  /// The fewest registers per thread the launch must allocate: a kernel
  /// whose warpgroups move their limits with setmaxnreg takes them from
  /// the block's pool, which holds what the launch allocated, and an
  /// increase the pool cannot grant waits forever (0: no such need).
  int64_t minRegisters = 0;
  llvm::SmallVector<TempBuffer> temps;
  /// TMA tensor maps over inputs (sm_90a), passed after the temporaries:
  /// input `input` viewed as `outer` slices of rows x cols (row-major), in
  /// boxes of boxRows x boxCols of one slice with the 128-byte swizzle.
  struct TensorMapUse {
    unsigned input;
    int64_t outer, rows, cols, boxRows, boxCols;
  };
  llvm::SmallVector<TensorMapUse> tensorMaps;
  /// Inputs (block argument numbers) the kernel reads with 16-byte
  /// copies (cp.async): the runtime refuses them at unaligned addresses.
  llvm::SmallVector<unsigned> copiedInputs;

  /// Sharing one compiled kernel between kernel ops (ModuleEmitter.cpp).
  /// A pattern may write its body as a part that depends on the op only
  /// through named scalars, then (after endSharedPart) the op's own rest,
  /// such as a GEMM's epilogue. Ops whose shared parts read the same are
  /// then emitted as one kernel that takes the scalars as parameters and
  /// switches to each op's rest; an op on its own gets them as constants,
  /// so its code is what it would be without sharing.
  struct Scalar {
    std::string name;
    int64_t value;
  };
  llvm::SmallVector<Scalar> scalars;
  std::optional<size_t> sharedEnd;
  /// A scalar's name, to use in the shared part in place of `value`.
  std::string scalar(const std::string &name, int64_t value);
  void endSharedPart() { sharedEnd = body.size(); }

  mlir::Block &block() { return kernel->getRegion(0).front(); }
  /// Kernel body value -> parameter: block argument i is "in<i>".
  std::optional<unsigned> inputNumber(mlir::Value value);
  /// The leaf that loads block arguments from their input buffers;
  /// `early`: with attnc_load_early, issued where it stands (device.h).
  std::optional<std::string> loadInput(mlir::Value value, const Index &index,
                                       bool early = false);
  /// A new temporary; returns its parameter name.
  std::string addTemp(std::string type, int64_t elements, bool zeroed = false);
  /// A new tensor map parameter; returns its name.
  std::string addTensorMap(unsigned input, int64_t outer, int64_t rows,
                           int64_t cols, int64_t boxRows, int64_t boxCols);
  /// The yielded values, in result order.
  mlir::OperandRange results() {
    return block().getTerminator()->getOperands();
  }
  int64_t scheduledThreads();
  int64_t scheduledBlocks();
};

mlir::LogicalResult emitPointwise(KernelEmission &k);
mlir::LogicalResult emitGemm(KernelEmission &k);
mlir::LogicalResult emitRow(KernelEmission &k);
mlir::LogicalResult emitAttention(KernelEmission &k);
mlir::LogicalResult emitRecurrence(KernelEmission &k);
mlir::LogicalResult emitScan(KernelEmission &k);

/// The tensor-core attention kernel (EmitFlashAttention.cpp), for 16-bit
/// Q, K and V with head dims that are multiples of 16.
bool canUseFlashAttention(graph::AttentionOp op);
mlir::LogicalResult emitFlashAttention(KernelEmission &k,
                                       graph::AttentionOp op, int64_t tileQ);

/// Attention kernels' shared block code (AttentionFragments.cpp): declares
/// `tileI` (the block's query tile) and b0, b1, ... (its batch indices)
/// from blockIdx.x, query tiles fastest (last first when causal), and
/// returns the batch index; and
/// the end of the keys a block of `blockQ` queries from q0 can see (all,
/// or up to the causal limit of its last query).
Index emitAttentionBlock(KernelEmission &k, graph::AttentionOp op,
                         llvm::ArrayRef<int64_t> out, int64_t queryTiles);
std::string attentionKeyEnd(graph::AttentionOp op, int64_t keys,
                            int64_t blockQ);

/// The tensor-core attention kernels' shared fragment code
/// (AttentionFragments.cpp): scale, masks and score modification of the S
/// tile into tileMax, returning the form of its exponents; the online
/// softmax in that form (which rescales O at once, or,
/// given `rescaleArray`, leaves each row's factor there for a caller whose
/// O is still being accumulated); the normalised store of O.
/// How the softmax forms its base-2 exponents from S: times `factor`
/// (log2(e), or the scale times log2(e) when S is left unscaled), the
/// row's maximum applied by one FMA when `fma` (S then never holds large
/// finite mask values), else subtracted first.
struct ExponentForm {
  std::string factor;
  bool fma;
};
mlir::FailureOr<ExponentForm> emitScoreTile(KernelEmission &k,
                                            graph::AttentionOp op,
                                            const Index &batch, int64_t sTiles,
                                            int64_t queries, int64_t keys);
void emitOnlineSoftmax(CodeWriter &w, int64_t sTiles, int64_t oTiles,
                       const ExponentForm &form,
                       llvm::StringRef rescaleArray = {});
void emitAttentionStore(KernelEmission &k, const Index &batch, int64_t oTiles,
                        int64_t queries);

/// The sm_90a attention kernel (EmitWarpgroupAttention.cpp): wgmma with a
/// TMA producer, for what kernel::isWarpgroupAttention accepts.
mlir::LogicalResult emitWarpgroupAttention(KernelEmission &k,
                                           graph::AttentionOp op);

/// The shape of a GEMM for the sm_90a warpgroup kernel
/// (EmitWarpgroupGemm.cpp): block tile tm x tn (64 or 128 each), K depth,
/// output rows (batch dims folded in) and columns, pipeline stages.
struct WarpgroupGemmShape {
  int64_t tm, tn, depth, totalRows, cols, stages;
};
/// The output index of row gm (folded batch dims included), column gn.
using OutputIndexFn =
    llvm::function_ref<Index(const std::string &, const std::string &)>;
/// The fused epilogue of a GEMM tile from the f32 shared tile `outTile`
/// (rows `stride` floats apart): one loop over the tile's elements,
/// consecutive threads on consecutive columns, each element through the
/// kernel's elementwise ops to its store.
mlir::LogicalResult emitTileEpilogue(KernelEmission &k, graph::MatmulOp matmul,
                                     int64_t tm, int64_t tn, int64_t stride,
                                     int64_t totalRows, int64_t cols,
                                     OutputIndexFn outputIndex);

/// The body of the warpgroup GEMM, after the block's tileM and tileN are
/// defined and `smemTiles` is declared; sets the launch shape.
mlir::LogicalResult emitWarpgroupGemm(KernelEmission &k, graph::MatmulOp matmul,
                                      const WarpgroupGemmShape &shape,
                                      OutputIndexFn outputIndex);

/// The shape of a GEMM on the SIMT path (EmitGemmSimt.cpp): block tile
/// tm x tn, K tile tk, K depth, output rows (batch dims folded in) and
/// columns; plainRows when A's rows are those of one row-major matrix (no
/// batch dims, or all folded into the rows).
struct SimtGemmShape {
  int64_t tm, tn, tk, depth, totalRows, cols;
  bool plainRows;
};
/// The index of operand element (row, col) of `operand` (its last two
/// dims read transposed when `transposed`); `rowForBatch` is the output
/// row whose batch dims a folded A shares.
using OperandIndexFn = llvm::function_ref<Index(
    mlir::Value operand, bool transposed, const std::string &row,
    const std::string &col, const std::string &rowForBatch)>;
/// The body of the SIMT GEMM, after the block's tileM and tileN are defined
/// and `smem` (floats) is declared; ends with the fused epilogue.
mlir::LogicalResult emitSimtGemm(KernelEmission &k, graph::MatmulOp matmul,
                                 const SimtGemmShape &shape,
                                 OperandIndexFn operandIndex,
                                 OutputIndexFn outputIndex);

/// Emits the epilogue of every result of `k` at `index`, with `producer`
/// (an anchor's result, such as a matmul's product) read as the float
/// expression `value` rounded to its type, and stores each result.
mlir::LogicalResult storeEpilogue(KernelEmission &k, mlir::Value producer,
                                  const std::string &value,
                                  const Index &index);

/// Applies `op`'s score modification (if any) to the float variable
/// `score`, the score at (batch..., i, j), in place, reading what the
/// modification reads besides the score through `load` (the kernel's
/// inputs in the first form).
mlir::LogicalResult applyScoreMod(CodeWriter &w, graph::AttentionOp op,
                                  const Index &batch, const std::string &score,
                                  const ScalarEmitter::Leaf &load);
mlir::LogicalResult applyScoreMod(KernelEmission &k, graph::AttentionOp op,
                                  const Index &batch, const std::string &score);

/// One key of the scalar online softmax: with the running maximum `m`,
/// sum `l` and the key's score `s` (float variables), declares the new
/// maximum `mNew`, the factor `correction` that rescales what was summed
/// so far and the key's weight `p`, and updates l. The caller then
/// rescales its accumulator, adds p times the key's value row and sets
/// m = mNew.
void emitOnlineSoftmaxStep(CodeWriter &w);

/// Stores `value` (a float expression) into result `r` at `index`.
std::string storeResult(KernelEmission &k, unsigned r, const Index &index,
                        const std::string &value);

} // namespace attn::cuda

#endif
