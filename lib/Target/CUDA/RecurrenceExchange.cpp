//===- RecurrenceExchange.cpp - the state between blocks, without barrier -===//
//
// A persistent recurrence split by hidden units (findUnitSplit) shares one
// value between blocks each step: the state its product reads whole.
// With a grid barrier, a step waits on about three L2 round trips in a
// row (the release before the arrival, which waits for the state's
// stores; the spin that sees the last arrival; the load of the new state).
// At small batches the state instead travels with its step: each element
// is a 64-bit word of the value and a tag, stored with one single-copy
// atomic store and no fence (attnc_store_tagged), into one of two copies
// by step parity, and the product's staging reads each 16-byte piece
// until every tag in it is the step's (attnc_load_tagged_16, then
// attnc_wait_tagged_16: all of a thread's loads before its waits). A block
// cannot get two steps ahead of a reader of its slice, since it needed
// that reader's slice of the step in between, so two copies suffice.
// That leaves about one and a half round trips, at twice the state's
// bytes: worth it while a block's copy of the state is small (rows <=
// kTaggedRows; 8 KiB a block at batch 1 and H = 1024).
//
//===----------------------------------------------------------------------===//

#include "RecurrenceEmitter.h"

#include "llvm/ADT/DenseSet.h"

using namespace mlir;
using namespace attn;
using namespace attn::cuda;

/// The most 16-byte pieces of the state a thread loads before it waits.
static constexpr int64_t kTaggedPieces = 4;

/// Whether a step of `op` reads nothing of another block's but its
/// product's left operand. Under a unit split a block computes the values
/// of its own units, and a same-position op reads its operands there; so
/// does a split of the product (or of values computed from it at the
/// same positions) into gates, which findUnitSplit checked. Any other op
/// (a split, a reshape, a reduction, ...) may read other units, which is
/// safe only for values no carry reaches (sequences, inputs, constants:
/// nothing writes them during the kernel).
bool attn::cuda::readsOnlyOwnUnits(graph::ScanOp op, Operation *matmul) {
  Block &body = op.getBody().front();
  llvm::DenseSet<Value> product = {matmul->getResult(0)}, carried;
  for (Value arg : op.getCarriedArgs())
    carried.insert(arg);
  for (Operation &nested : body.without_terminator()) {
    bool fromProduct = llvm::any_of(nested.getOperands(), [&](Value v) {
      return product.contains(v);
    });
    bool fromCarry = llvm::any_of(nested.getOperands(), [&](Value v) {
      return carried.contains(v);
    });
    if (&nested != matmul && !isSamePositionOp(&nested) && fromCarry &&
        !(isa<graph::SplitOp>(nested) && product.contains(nested.getOperand(0))))
      return false;
    for (Value result : nested.getResults()) {
      if (fromCarry || fromProduct || &nested == matmul)
        carried.insert(result);
      if (fromProduct && (isSamePositionOp(&nested) || isa<graph::SplitOp>(nested)))
        product.insert(result);
    }
  }
  return true;
}

/// The carry of `op` that its blocks exchange through tagged copies, or
/// -1. It needs the outermost scan under a unit split whose step reads
/// nothing of another block's but its product's left operand
/// (readsOnlyOwnUnits), every block owning a unit (a block with none
/// would wait on no one, and could be lapped by the others), that operand
/// a carry the FMA product streams (below kTaggedRows rows, under every
/// --f32-matmul mode; a 16-bit one too, its weights widened to f32 there
/// by planResidentWeights, the carry's buffers being f32) whole into
/// shared memory at once, at most
/// kTaggedPieces 16-byte pieces a thread (loaded together, then waited
/// for: openChunks), and the option not turned off
/// (--recurrence-exchange=barrier).
int RecurrenceEmitter::taggedExchange(graph::ScanOp op) {
  if (op != scan || !units ||
      k.recurrenceExchange == RecurrenceExchange::Barrier ||
      (k.blocks - 1) * units->perBlock >= units->units ||
      !readsOnlyOwnUnits(op, units->matmul))
    return -1;
  auto matmul = cast<graph::MatmulOp>(units->matmul);
  auto plan = resident.find(units->matmul);
  const int64_t rows = shapeOf(matmul.getResult())[0];
  if (plan == resident.end() || plan->second.halves || rows > kTaggedRows)
    return -1;
  StagedOperand staged = planStaging(matmul, plan->second, false, 1, false,
                                     /*assumeStreamable=*/true);
  if (!staged.async || !staged.chunk4 || staged.slots < staged.chunks ||
      rows * staged.chunks * staged.chunk4 > kTaggedPieces * k.threads)
    return -1;
  for (auto [i, arg] : llvm::enumerate(op.getCarriedArgs()))
    if (arg == matmul.getLhs())
      return int(i);
  return -1;
}

std::optional<std::pair<std::string, std::string>>
RecurrenceEmitter::taggedShadow(Value value) const {
  for (const ActiveScan &level : active)
    for (auto [i, arg] :
         llvm::enumerate(graph::ScanOp(level.op).getCarriedArgs()))
      if (arg == value && !level.taggedNow[i].empty())
        return std::make_pair(level.taggedNow[i],
                              "(unsigned)step" + level.time);
  return std::nullopt;
}
