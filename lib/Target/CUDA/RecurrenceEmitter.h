//===- RecurrenceEmitter.h - the persistent recurrence's emitter -*- C++ -*-===//
//
// The class that writes a kernel.recurrence (EmitRecurrence.cpp: the
// unit split, phases and steps; RecurrenceProduct.cpp: products whose
// weights stay in shared memory; RecurrenceRegisterWeights.cpp: the FMA
// product's share of them in registers; RecurrenceOperands.cpp: what a
// step fetches ahead of its gates; RecurrenceExchange.cpp: the state
// between blocks without a barrier; RecurrenceRowOps.cpp: row ops and
// attention of the state). Private to the CUDA target.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_TARGET_CUDA_RECURRENCEEMITTER_H
#define ATTN_TARGET_CUDA_RECURRENCEEMITTER_H

#include "KernelPatterns.h"

#include "attn/Dialect/Graph/IR/GraphOps.h"

#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/StringMap.h"

namespace attn::cuda {

/// Whether `op` computes each result element from its operands at the same
/// position (broadcast operands included): an elementwise op, or a fused
/// body of them.
bool isSamePositionOp(mlir::Operation *op);

/// Whether a step of `op` reads nothing of another block's but the left
/// operand of its unit split's product `matmul` (RecurrenceExchange.cpp).
bool readsOnlyOwnUnits(graph::ScanOp op, mlir::Operation *matmul);

/// The hidden-unit split of a recurrence step (EmitRecurrence.cpp): the
/// matmul's N columns are `groups` blocks of `units`; each grid block owns
/// `perBlock` units, i.e. columns g * units + blockIdx.x * perBlock + u.
struct UnitSplit {
  mlir::Operation *matmul;
  int64_t rows, groups, units, perBlock;
};

/// The device function that packs two f32 values into a register of two
/// 16-bit `type`s (attnc/device.h).
inline std::string packHalves(mlir::Type type) {
  return type.isBF16() ? "attnc_pack_bf16" : "attnc_pack_f16";
}

/// Writes one kernel.recurrence's body into its KernelEmission: run()
/// after findUnitSplit and planResidentWeights.
class RecurrenceEmitter {
public:
  RecurrenceEmitter(KernelEmission &k, graph::ScanOp scan) : k(k), scan(scan) {}
  void findUnitSplit(int64_t blocks);
  void planResidentWeights(int64_t blocks, int64_t budget);
  mlir::LogicalResult run();

private:
  /// Where a value of the scan body lives while a phase reads it.
  std::optional<std::string> load(mlir::Value value, const Index &index,
                                  mlir::Operation *computing);
  std::optional<std::string> locate(mlir::Value value, const Index &index,
                                    mlir::Operation *computing);
  /// Writes `value` to `target` (a float buffer or an output; `stacked`
  /// writes step t of the stacked result `outer`).
  struct Write {
    mlir::Value value;
    std::string target;
    bool stacked = false;
    mlir::Value outer;
    /// A 16-bit copy of `target` written with it (none if empty).
    std::string shadow;
    /// A tagged copy of `target` written with it (none if empty): each
    /// element a 64-bit word of the value and `tag` (attnc_store_tagged).
    std::string tagged, tag;
  };
  mlir::LogicalResult phase(mlir::Value value, const std::string &target,
                            mlir::Operation *computing, bool stacked = false,
                            mlir::Value outer = {});
  mlir::LogicalResult phase(llvm::ArrayRef<Write> writes,
                            mlir::Operation *computing);
  /// The loop header of a phase over `count` elements: grid-stride, or
  /// this block's units under a unit split.
  void openElementLoop(int64_t count);
  mlir::LogicalResult emitMatmul(graph::MatmulOp matmul,
                                 const std::string &target);
  /// A row op of the step (softmax, a reduction, a norm) or an attention
  /// of the step into `target`, each row by one warp
  /// (RecurrenceRowOps.cpp).
  mlir::LogicalResult emitRowPhase(mlir::Operation *rowOp,
                                   const std::string &target);
  mlir::LogicalResult emitAttentionPhase(graph::AttentionOp op,
                                         const std::string &target);
  void barrier() { k.out.line("attnc_grid_sync(barrier, barrierEpoch);"); }

  /// A scan being stepped: its time variable and carry buffers.
  struct ActiveScan {
    graph::ScanOp op;
    std::string time;
    llvm::SmallVector<std::string> carryNow, carryNext;
    /// Per carry, 16-bit copies of its buffers (empty: none): those of a
    /// state that a 16-bit product on tensor cores streams (halfShadow).
    llvm::SmallVector<std::string> halfNow, halfNext;
    /// Per carry, tagged copies of its buffers (empty: none): the state
    /// that blocks exchange without a grid barrier (taggedExchange).
    llvm::SmallVector<std::string> taggedNow, taggedNext;
  };
  /// Batches up to this exchange the state through tagged copies.
  static constexpr int64_t kTaggedRows = 4;
  /// The carry of the outermost scan whose blocks may exchange it through
  /// tagged copies instead of a grid barrier per step (-1: none).
  int taggedExchange(graph::ScanOp op);
  /// The tagged copy of a carry being stepped, and the tag a step expects
  /// there, if it has one.
  std::optional<std::pair<std::string, std::string>>
  taggedShadow(mlir::Value value) const;
  /// Whether the outermost scan's carry `arg` gets 16-bit copies: it is
  /// the left operand of a resident product on 16-bit tensor cores that
  /// cp.async can stream in whole 16-byte pieces of 8 k, which then moves
  /// half the bytes from L2 each step and loads its A fragments as they lie.
  bool needsHalfShadow(mlir::Value arg) const;
  /// The 16-bit copy of a carry of a scan being stepped, if it has one.
  std::optional<std::string> halfShadow(mlir::Value value) const;
  mlir::LogicalResult emitSteps(graph::ScanOp op, bool outermost);
  llvm::SmallVector<Write> yieldWrites(const ActiveScan &level, bool outermost);
  mlir::FailureOr<llvm::StringMap<std::string>>
  preloadYieldOperands(llvm::ArrayRef<Write> writes);
  void prefetchSequences(graph::ScanOp op, const std::string &time);

  struct ResidentPlan {
    int64_t offset, perBlock, depth, cols; // offset in floats
    /// f16 or bf16 when both operands are, and the product runs on
    /// m16n8k16 tensor cores: the weights then stay 16-bit (words of two
    /// k, in slots of 8 k: loadResidentWeights). Null: f32 weights in
    /// float4 slots of 4 k (residentSlot).
    mlir::Type halves;
  };
  /// How a block's dot products over its own columns are shared out: each
  /// thread accumulates `rows` x `cols` outputs (a weight it reads serves
  /// all rows, and their sums are independent chains) over every lanes-th
  /// k (group of 4 k, from resident weights), `lanes` adjacent threads
  /// sharing a tile and adding up with shuffles. `swizzle` (0: none)
  /// spreads a warp's reads of resident weights over the banks; see
  /// residentSlot. `cols` 0 picks the resident products' (2 when the
  /// block's columns pair up).
  struct TileSplit {
    int64_t rows, cols, lanes, swizzle;
  };
  TileSplit tileSplit(const ResidentPlan &plan, int64_t rows,
                      int64_t cols = 0) const;
  std::string residentSlot(const ResidentPlan &plan, const TileSplit &split,
                           const std::string &k4, const std::string &c) const;
  std::optional<std::string> plainBuffer(mlir::Value value);
  mlir::FailureOr<std::string> leftOperandAt(graph::MatmulOp matmul);
  mlir::LogicalResult emitResidentMatmul(graph::MatmulOp matmul,
                                         const ResidentPlan &plan,
                                         const std::string &target);
  /// How a resident product's left operand reaches shared memory
  /// (planStaging): `chunk4` float4s of each row per chunk (0: none fit),
  /// rows `rowFloats` apart, `chunks` of them through `slots` buffers,
  /// streamed by cp.async from `buffer` (`async`) or staged by the threads.
  /// `halfRows`: streamed from a carry's 16-bit copy, rows of 2 chunk4
  /// words (two k each) plus the pad, rowFloats counting 32-bit words.
  struct StagedOperand {
    std::optional<std::string> buffer;
    /// Streamed from the carry's tagged copy (taggedShadow), each piece
    /// waited for until it holds this step's tag, instead of cp.async.
    std::optional<std::pair<std::string, std::string>> tagged;
    bool async = false, oneChunk = false, halfRows = false;
    int64_t chunk4 = 0, rowFloats = 0, chunks = 0, slots = 0;
  };
  /// `assumeStreamable`: plan as if the left operand were a plain buffer
  /// (for a carry, before its scan's buffers exist: taggedExchange).
  StagedOperand planStaging(graph::MatmulOp matmul, const ResidentPlan &plan,
                            bool tensorCores, int64_t align,
                            bool threadsOnly = false,
                            bool assumeStreamable = false);
  /// How the tensor-core product shares out a block's 16 x 8 tiles (rows
  /// padded to paddedRows, a multiple of 16 mTiles): `units` blocks of
  /// mTiles x nTiles tiles (blocksN of them across), each computed by
  /// kGroups warps that split its K steps of kStep k (8 on TF32, 16 on
  /// 16-bit operands), `steps` K steps per iteration. Above 16 rows TF32
  /// takes two row tiles per block, so that each weight fragment it
  /// converts feeds two MMAs (tensorWork says why).
  struct TensorWork {
    int64_t mTiles = 1, kStep = 8, paddedRows = 16, nTiles = 1, blocksN = 1,
            units = 1, kGroups = 1, steps = 1;
  };
  /// How a resident product of `rows` rows over `perBlock` columns per
  /// block runs on tensor cores, if it can (emitResidentMatmul).
  std::optional<TensorWork> tensorWork(int64_t rows, int64_t perBlock,
                                       bool halves) const;
  /// The element type of a product's operands when both are f16 or both
  /// bf16 (null otherwise).
  static mlir::Type sixteenBitOperands(graph::MatmulOp matmul);
  mlir::LogicalResult openChunks(graph::MatmulOp matmul,
                                 const ResidentPlan &plan,
                                 const StagedOperand &staged,
                                 std::string &global4);
  void closeChunks(const StagedOperand &staged);
  void storeOwned(graph::MatmulOp matmul, const ResidentPlan &plan,
                  const std::string &target, const std::string &condition,
                  const std::string &row, const std::string &c,
                  const std::string &value);
  mlir::LogicalResult emitFmaProduct(graph::MatmulOp matmul,
                                     const ResidentPlan &plan,
                                     const StagedOperand &staged,
                                     const std::string &target);
  mlir::LogicalResult emitTensorCoreProduct(graph::MatmulOp matmul,
                                            const ResidentPlan &plan,
                                            const StagedOperand &staged,
                                            const TensorWork &work,
                                            const std::string &target);
  void loadResidentWeights();
  /// The FMA product's weights a thread keeps in registers for every step
  /// (RecurrenceRegisterWeights.cpp): `slots` float4s of k (k4 = lane + m
  /// lanes) for each of its tile's columns, in the array `name`, summed
  /// into `partials` independent sums per output.
  struct RegisterWeights {
    int64_t slots = 0, partials = 1;
    std::string name;
  };
  /// Floats of weights a thread may hold in registers, all its products'
  /// shares together.
  static constexpr int64_t kRegisterWeightFloats = 128;
  std::optional<RegisterWeights>
  planRegisterWeights(graph::MatmulOp matmul, const ResidentPlan &plan) const;
  /// Copies each qualifying product's share into registers (after
  /// loadResidentWeights, before the steps).
  void loadRegisterWeights();
  /// Whether the product reads its weights from registers with this
  /// staging: chunks of whole rounds of the lanes, or one chunk.
  bool usesRegisterWeights(graph::MatmulOp matmul, const StagedOperand &st,
                           int64_t lanes) const;
  /// In the FMA loops over k: row r of the thread's tile and its float4 `a`
  /// of the staged operand at k4.
  void emitStagedRow(int64_t rows, const StagedOperand &st,
                     const std::string &staged4);
  /// The FMA loop over a chunk's k with register weights, into acc[][] (or
  /// with several partial sums, part[][][]).
  void emitRegisterFmaLoop(graph::MatmulOp matmul, const ResidentPlan &plan,
                           const StagedOperand &st,
                           const std::string &staged4);
  /// The matmul column that this block's c-th owned column is, and whether
  /// it exists (the last block's share may run past the end).
  std::string ownedColumn(const ResidentPlan &plan, const std::string &c);
  std::string ownedColumnValid(const ResidentPlan &plan, const std::string &c,
                               const std::string &col);

  KernelEmission &k;
  graph::ScanOp scan;
  // In body order, so the generated text is deterministic.
  llvm::MapVector<mlir::Operation *, ResidentPlan> resident;
  llvm::DenseMap<mlir::Operation *, RegisterWeights> registerWeights;
  /// Set while a product whose slots must be compile-time constants opens
  /// its chunk loop: openChunks then unrolls it.
  bool unrollChunkLoop = false;
  llvm::DenseMap<mlir::Value, std::string> scratch; // body op results
  llvm::SmallVector<ActiveScan, 2> active; // outermost first
  unsigned nesting = 0;
  std::optional<UnitSplit> units;
  /// Shared memory after the resident weights, in floats: the staged left
  /// operand of a resident product (stagingFloats of it) and, under a unit
  /// split, the block's tile of the product (-1: none).
  int64_t stagingOffset = -1, stagingFloats = 0, productOffset = -1;
  /// Loads of the unit split's gates done at the start of the step
  /// (preloadYieldOperands): expression -> the register holding it; set
  /// only while the gates are emitted.
  llvm::StringMap<std::string> preloaded;
  /// While set, load() appends here what it reads of kernel inputs and
  /// carries, with the writer's depth (deeper: inside a branch).
  std::vector<std::pair<std::string, int>> *recordLoads = nullptr;
};

} // namespace attn::cuda

#endif // ATTN_TARGET_CUDA_RECURRENCEEMITTER_H
