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
// until every tag in it is the step's (attnc_copy_tagged_16). A block
// cannot get two steps ahead of a reader of its slice, since it needed
// that reader's slice of the step in between, so two copies suffice.
// That leaves about one and a half round trips, at twice the state's
// bytes: worth it while a block's copy of the state is small (rows <=
// kTaggedRows; 8 KiB a block at batch 1 and H = 1024).
//
//===----------------------------------------------------------------------===//

#include "RecurrenceEmitter.h"

using namespace mlir;
using namespace attn;
using namespace attn::cuda;

/// Batches up to this exchange the state through tagged copies.
static constexpr int64_t kTaggedRows = 4;

/// The carry of `op` that its blocks exchange through tagged copies, or
/// -1: the outermost scan under a unit split whose step reads nothing of
/// another block's but its product's left operand (every other op reads
/// its operands where it writes, or splits the product into gates: a
/// block's units are then all it reads of the other carries, which it
/// wrote itself), that operand an f32 carry streamed in whole 16-byte
/// pieces (the FMA product's staging below kTaggedRows rows, under every
/// --f32-matmul mode), and the option not turned off
/// (--recurrence-exchange=barrier).
int RecurrenceEmitter::taggedExchange(graph::ScanOp op) const {
  if (op != scan || !units ||
      k.recurrenceExchange == RecurrenceExchange::Barrier)
    return -1;
  auto matmul = cast<graph::MatmulOp>(units->matmul);
  for (Operation &nested : op.getBody().front().without_terminator()) {
    if (&nested == units->matmul || isSamePositionOp(&nested))
      continue;
    auto split = dyn_cast<graph::SplitOp>(nested);
    if (!split || isa<BlockArgument>(split->getOperand(0)))
      return -1;
  }
  auto plan = resident.find(units->matmul);
  if (plan == resident.end() || plan->second.halves ||
      plan->second.depth % 4 != 0 || matmul.getTransposeLhs() ||
      !elementOf(matmul.getLhs()).isF32() ||
      shapeOf(matmul.getResult())[0] > kTaggedRows)
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
