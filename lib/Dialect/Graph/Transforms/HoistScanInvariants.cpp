//===- HoistScanInvariants.cpp - move step-invariant work out of scans ----===//
//
// Implements --attn-hoist-scan-invariants (see Passes.td). For each scan,
// innermost first, the body's step-invariant ops (StepInvariance) are
// visited in order:
//
//  - an op that reads only values from outside the scan moves out as is;
//  - a batch-polymorphic op (or an attention, whose leading dims are
//    batch dims as a matmul's are, its score modification batched op by
//    op, StepBatching.cpp) whose operands are outside values, step slices or already-lifted
//    values is copied before the scan with the whole sequences in place of
//    the slices (a stepped operand of lower rank reshaped so that its
//    steps line up): one op for all steps. The body then reads the lifted
//    result through a new sequence operand;
//  - so is a row op (softmax, the reductions, the norms), with every named
//    dim moved past the new leading steps dim, and the data movement that
//    names dims (split, concat, slice, transpose, reshape) where it feeds
//    one, a matmul, an attention or a scan, or where the scan carries nothing (so
//    that the scan dissolves). Elsewhere a recurrence reads data
//    movement's results at no cost, where lifting would add a kernel and a
//    pass over the sequence (the GRU's split of its projection);
//  - so is a scan in the step that does not depend on the state (a
//    recurrence run afresh at every step, an RNN encoding each of a batch
//    of sequences, say): one scan, one dim further in, whose state is the
//    batch of all steps' states (StepBatching.cpp). Without it, a scan
//    that carries nothing and holds a recurrence would not compile.
//
// Anything else stays, including every state-dependent op, and the chain
// of lifting stops there. A stacked output whose steps yield a value from
// outside (the constant coefficient the linear-recurrence conversion
// writes for a running sum or a fixed decay) becomes that value repeated
// over the steps. Finally the scan drops what became dead. Scans
// over a dim other than 0 lift through transposes (see hoistFrom).
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Graph/Transforms/Passes.h"

#include "ScanRewriting.h"
#include "StepBatching.h"
#include "attn/Analysis/StepInvariance.h"
#include "attn/Dialect/Graph/IR/GraphOps.h"

#include "mlir/IR/Builders.h"

namespace attn::graph {
#define GEN_PASS_DEF_HOISTSCANINVARIANTS
#include "attn/Dialect/Graph/Transforms/Passes.h.inc"
} // namespace attn::graph

using namespace mlir;
using namespace attn;
using namespace attn::graph;

/// Whether `value` is defined outside `scan`.
static bool isOutside(Value value, ScanOp scan) {
  return !scan->isAncestor(value.getParentBlock()->getParentOp());
}

/// `value` with dim `from` moved to position `to` (the other dims keep
/// their order), as an attn.transpose built by `builder`.
static Value moveDim(OpBuilder &builder, Value value, int64_t from,
                     int64_t to) {
  auto type = cast<RankedTensorType>(value.getType());
  SmallVector<int64_t> perm;
  for (int64_t d = 0; d < type.getRank(); ++d)
    if (d != from)
      perm.push_back(d);
  perm.insert(perm.begin() + to, from);
  SmallVector<int64_t> shape;
  for (int64_t d : perm)
    shape.push_back(type.getDimSize(d));
  return TransposeOp::create(builder, value.getLoc(),
                             RankedTensorType::get(shape, type.getElementType()),
                             value, builder.getDenseI64ArrayAttr(perm));
}

/// The stacked (steps-first) version of a step value: a lifted result, or,
/// for a step slice, its sequence, transposed so the walked dim leads when
/// the scan walks another dim (created on first use, before the scan).
static Value stackedVersion(Value inBody, ScanOp scan,
                            DenseMap<Value, Value> &stacked) {
  if (Value whole = stacked.lookup(inBody))
    return whole;
  for (auto [arg, sequence] :
       llvm::zip(scan.getSequenceArgs(), scan.getSequences()))
    if (arg == inBody) {
      OpBuilder builder(scan);
      Value whole = scan.getDim() == 0
                        ? sequence
                        : moveDim(builder, sequence, scan.getDim(), 0);
      stacked[inBody] = whole;
      return whole;
    }
  return nullptr;
}

/// `value`, defined outside `scan`, repeated at every step along a new
/// leading dim (steps first, like a lifted value), or null.
static Value repeatOverSteps(Value value, ScanOp scan) {
  OpBuilder builder(scan);
  return repeatOver(builder, value, scan.getLength());
}

static bool namesDims(Operation *op) { return isRowOp(op) || movesData(op); }

/// The step-invariant ops of a scan's step worth lifting among those that
/// name dims: the row ops, and the data movement feeding them, a matmul,
/// an attention or a scan (directly or through elementwise ops), which then runs
/// once over all steps. Other data movement stays: lifting the GRU's split of its
/// projection would add a kernel and a pass over the sequence for
/// nothing. In a scan that carries nothing, every such op lifts, so that
/// the scan dissolves.
static DenseSet<Operation *>
namedDimsWorthLifting(ScanOp scan,
                      const analysis::StepInvariance &invariance) {
  DenseSet<Operation *> feedsWork, worth;
  Block &body = scan.getBody().front();
  for (Operation &op : llvm::reverse(body.without_terminator())) {
    if (invariance.isStateDependent(&op))
      continue;
    if (isRowOp(&op) || isa<MatmulOp, AttentionOp, ScanOp>(op) ||
        llvm::any_of(op.getUsers(), [&](Operation *user) {
          // A user inside a nested scan's step feeds that scan.
          return feedsWork.contains(body.findAncestorOpInBlock(*user));
        }))
      feedsWork.insert(&op);
    if (namesDims(&op) &&
        (scan.getInits().empty() || feedsWork.contains(&op)))
      worth.insert(&op);
  }
  return worth;
}

/// Copies `op` before `scan` over whole sequences (StepBatching.h):
/// operands that are step slices (or lifted values) become their stacked
/// versions in `stacked`, outside values are read as they are. Returns
/// null, creating nothing but possibly a transposed sequence or a repeated
/// or reshaped operand (dead, for the canonicalizer), when the copy would
/// not mean "every step at once".
static Operation *liftOverSteps(Operation *op, ScanOp scan,
                                DenseMap<Value, Value> &stacked,
                                const DenseSet<Operation *> &namedDims) {
  if (!isBatchPolymorphic(op) && !namedDims.contains(op) &&
      !isa<ScanOp, AttentionOp>(op))
    return nullptr;
  OpBuilder builder(scan);
  return batchOverSteps(
      builder, op, scan.getLength(),
      [&](Value value) -> std::optional<BatchedValue> {
        if (isOutside(value, scan))
          return BatchedValue{value, false};
        if (Value whole = stackedVersion(value, scan, stacked))
          return BatchedValue{whole, true};
        return std::nullopt;
      });
}

/// Replaces each stacked result whose steps yield an outside value by that
/// value repeated over the steps (carried results are left alone: the
/// final value of a carry is not a sequence).
static void repeatOutsideYields(ScanOp scan) {
  auto yield = cast<YieldOp>(scan.getBody().front().getTerminator());
  unsigned stackedCount = scan.getNumResults() - scan.getInits().size();
  OpBuilder builder(scan);
  for (auto [result, yielded] :
       llvm::zip(scan.getResults().take_front(stackedCount),
                 yield.getOperands().take_front(stackedCount))) {
    if (!isOutside(yielded, scan) || result.use_empty())
      continue;
    if (Value repeated = repeatOverSteps(yielded, scan))
      result.replaceAllUsesWith(
          scan.getDim() == 0 ? repeated
                             : moveDim(builder, repeated, 0, scan.getDim()));
  }
}

static void hoistFrom(ScanOp scan) {
  analysis::StepInvariance invariance(scan);
  // Lifting stacks the steps along a new leading dim. A scan over another
  // dim lifts from its sequences transposed steps-first, and reads lifted
  // results transposed back, so any cell over any dim is hoisted.
  DenseMap<Value, Value> stacked;
  DenseSet<Operation *> namedDims = namedDimsWorthLifting(scan, invariance);

  SmallVector<Operation *> liftedOps;
  for (Operation &op :
       llvm::make_early_inc_range(scan.getBody().front().without_terminator())) {
    // Ops with a body stay where they are, except a scan, which lifts as
    // a scan over a batch of states, and an attention, whose score
    // modification is batched with it.
    if (invariance.isStateDependent(&op) ||
        (hasBody(&op) && !isa<ScanOp, AttentionOp>(op)))
      continue;
    if (llvm::all_of(valuesReadBy(&op),
                     [&](Value v) { return isOutside(v, scan); })) {
      op.moveBefore(scan);
      continue;
    }
    if (Operation *lifted = liftOverSteps(&op, scan, stacked, namedDims)) {
      for (auto [inBody, whole] :
           llvm::zip(op.getResults(), lifted->getResults()))
        stacked[inBody] = whole;
      liftedOps.push_back(&op);
    }
  }
  if (liftedOps.empty()) {
    repeatOutsideYields(scan);
    removeDeadScanParts(scan);
    return;
  }

  // The body keeps reading lifted values, one step at a time, through new
  // sequence operands; lifted ops only used by other lifted ops need none.
  DenseSet<Operation *> lifted(liftedOps.begin(), liftedOps.end());
  SmallVector<Value> readInBody;
  for (Operation *op : liftedOps)
    for (Value result : op->getResults())
      if (llvm::any_of(result.getUsers(),
                       [&](Operation *user) { return !lifted.contains(user); }))
        readInBody.push_back(result);
  SmallVector<Value> newSequences;
  OpBuilder builder(scan);
  for (Value value : readInBody)
    newSequences.push_back(
        scan.getDim() == 0
            ? stacked[value]
            : moveDim(builder, stacked[value], 0, scan.getDim()));
  scan = appendSequences(scan, newSequences);
  for (auto [value, arg] : llvm::zip(
           readInBody, scan.getSequenceArgs().take_back(readInBody.size())))
    value.replaceAllUsesWith(arg);
  for (Operation *op : llvm::reverse(liftedOps))
    op->erase();
  repeatOutsideYields(scan);
  removeDeadScanParts(scan);
}

namespace {
struct HoistScanInvariantsPass
    : attn::graph::impl::HoistScanInvariantsBase<HoistScanInvariantsPass> {
  void runOnOperation() override {
    // Post-order: inner scans first, so their hoisted work can move on out
    // of the enclosing scans when those are visited.
    SmallVector<ScanOp> scans;
    getOperation().walk([&](ScanOp scan) { scans.push_back(scan); });
    for (ScanOp scan : scans)
      hoistFrom(scan);
  }
};
} // namespace
