//===- HoistScanInvariants.cpp - move step-invariant work out of scans ----===//
//
// Implements --attn-hoist-scan-invariants (see Passes.td). For each scan,
// innermost first, the body's step-invariant ops (StepInvariance) are
// visited in order:
//
//  - an op whose operands all come from outside the scan moves out as is;
//  - a batch-polymorphic op (or an attention without a score
//    modification, whose leading dims are batch dims as a matmul's are)
//    whose operands are outside values, step slices or already-lifted
//    values is copied before the scan with the whole sequences in place of
//    the slices (a stepped operand of lower rank reshaped so that its
//    steps line up): one op for all steps. The body then reads the lifted
//    result through a new sequence operand;
//  - so is a row op (softmax, the reductions, the norms), with every named
//    dim moved past the new leading steps dim, and the data movement that
//    names dims (split, concat, slice, transpose, reshape) where it feeds
//    one, a matmul or an attention, or where the scan carries nothing (so
//    that the scan dissolves). Elsewhere a recurrence reads data
//    movement's results at no cost, where lifting would add a kernel and a
//    pass over the sequence (the GRU's split of its projection).
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
#include "attn/Analysis/StepInvariance.h"
#include "attn/Dialect/Graph/IR/GraphOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"

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

/// `type` with `extent` prepended.
static RankedTensorType withLeadingDim(Type type, int64_t extent) {
  auto tensor = cast<RankedTensorType>(type);
  SmallVector<int64_t> shape{extent};
  llvm::append_range(shape, tensor.getShape());
  return RankedTensorType::get(shape, tensor.getElementType());
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
/// leading dim (steps first, like a lifted value). A splat becomes a
/// larger splat, a float tensor its product with ones (exact, even for -0,
/// NaN and infinities). Null for anything else.
static Value repeatOverSteps(Value value, ScanOp scan) {
  auto steps = withLeadingDim(value.getType(), scan.getLength());
  OpBuilder builder(scan);
  Location loc = value.getLoc();
  Value repeated;
  if (auto splat = value.getDefiningOp<SplatOp>())
    repeated = SplatOp::create(builder, loc, steps, splat.getValueAttr());
  else if (isa<FloatType>(steps.getElementType()))
    repeated = MulOp::create(
        builder, loc, steps, value,
        SplatOp::create(builder, loc, steps, builder.getF64FloatAttr(1.0)));
  return repeated;
}

/// Whether `op` has a body (a scan's step, a fused cluster, an attention's
/// score modification): such ops stay where they are. An attention
/// without one lifts like a matmul, its leading dims being batch dims.
static bool hasBody(Operation *op) {
  return llvm::any_of(op->getRegions(),
                      [](Region &region) { return !region.empty(); });
}

/// Row ops: they name the dims they reduce over (the norms, the last) and
/// mean the same on operands with a new leading dim once each named dim
/// is renumbered (and the norms once their gamma and beta stay as they
/// are). A recurrence kernel computes none of them inside its steps.
static bool isRowOp(Operation *op) {
  return isa<SoftmaxOp, ReduceSumOp, ReduceMaxOp, ReduceMeanOp, LayerNormOp,
             RMSNormOp>(op);
}

/// Data movement that names dims: lifted like the row ops where it feeds
/// one; a recurrence kernel reads its results at no cost.
static bool movesData(Operation *op) {
  return isa<SplitOp, ConcatOp, SliceOp, TransposeOp, ReshapeOp>(op);
}

static bool namesDims(Operation *op) { return isRowOp(op) || movesData(op); }

/// The step-invariant ops of a scan's step worth lifting among those that
/// name dims: the row ops, and the data movement feeding them, a matmul
/// or an attention (directly or through elementwise ops), which then runs
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
    if (isRowOp(&op) || isa<MatmulOp, AttentionOp>(op) ||
        llvm::any_of(op.getUsers(), [&](Operation *user) {
          return feedsWork.contains(user);
        }))
      feedsWork.insert(&op);
    if (namesDims(&op) &&
        (scan.getInits().empty() || feedsWork.contains(&op)))
      worth.insert(&op);
  }
  return worth;
}

/// Renumbers the dims `lifted` (a copy of a namesDims op) names, for
/// operands that gained a leading steps dim.
static void shiftNamedDims(Operation *lifted) {
  Builder builder(lifted->getContext());
  auto shifted = [](ArrayRef<int64_t> dims, int64_t lead, int64_t by) {
    SmallVector<int64_t> result{lead};
    for (int64_t d : dims)
      result.push_back(d + by);
    return result;
  };
  if (auto dim = lifted->getAttrOfType<IntegerAttr>("dim"))
    lifted->setAttr("dim", builder.getI64IntegerAttr(dim.getInt() + 1));
  if (auto dims = lifted->getAttrOfType<DenseI64ArrayAttr>("dims")) {
    SmallVector<int64_t> moved;
    for (int64_t d : dims.asArrayRef())
      moved.push_back(d + 1);
    lifted->setAttr("dims", builder.getDenseI64ArrayAttr(moved));
  }
  // A transpose keeps the steps first; a slice takes every step.
  if (auto perm = lifted->getAttrOfType<DenseI64ArrayAttr>("perm"))
    lifted->setAttr("perm", builder.getDenseI64ArrayAttr(
                                shifted(perm.asArrayRef(), 0, 1)));
  if (auto offsets = lifted->getAttrOfType<DenseI64ArrayAttr>("offsets"))
    lifted->setAttr("offsets", builder.getDenseI64ArrayAttr(
                                   shifted(offsets.asArrayRef(), 0, 0)));
  if (auto strides = lifted->getAttrOfType<DenseI64ArrayAttr>("strides"))
    lifted->setAttr("strides", builder.getDenseI64ArrayAttr(
                                   shifted(strides.asArrayRef(), 1, 0)));
}

/// Copies `op` before `scan` over whole sequences: operands that are step
/// slices (or lifted values) become their stacked versions in `stacked`.
/// Returns null, creating nothing but possibly a transposed sequence or a
/// repeated or reshaped operand (dead, for the canonicalizer), when the
/// copy would not mean "every step at once".
static Operation *liftOverSteps(Operation *op, ScanOp scan,
                                DenseMap<Value, Value> &stacked,
                                const DenseSet<Operation *> &namedDims) {
  bool polymorphic =
      op->hasTrait<BatchPolymorphic>() || isa<AttentionOp>(op);
  if ((!polymorphic && !namedDims.contains(op)) || hasBody(op))
    return nullptr;
  int64_t resultRank =
      cast<RankedTensorType>(op->getResult(0).getType()).getRank();
  bool norm = isa<LayerNormOp, RMSNormOp>(op);
  SmallVector<Value> operands;
  for (OpOperand &use : op->getOpOperands()) {
    Value operand = use.get();
    // A norm's gamma and beta (operands 1 and 2) are one row's size.
    bool normParameter = norm && use.getOperandNumber() > 0;
    if (isOutside(operand, scan)) {
      // Gamma and beta stay as they are. Other ops that name dims read an
      // outside operand (a concat's constant part) repeated over the
      // steps, as its step slices would be.
      if (polymorphic || normParameter) {
        operands.push_back(operand);
        continue;
      }
      Value repeated = repeatOverSteps(operand, scan);
      if (!repeated)
        return nullptr;
      operands.push_back(repeated);
      continue;
    }
    Value whole = stackedVersion(operand, scan, stacked);
    if (!whole)
      return nullptr;
    // A norm's stepped gamma would be a different op.
    if (normParameter)
      return nullptr;
    // Under broadcasting, the new leading dim lines up across operands
    // only if every stepped operand has the result's full rank: a stepped
    // bias [C] of a step [B, C] is read as [T, 1, C], not [T, C].
    auto type = cast<RankedTensorType>(operand.getType());
    if (polymorphic && type.getRank() < resultRank) {
      SmallVector<int64_t> shape{scan.getLength()};
      shape.append(resultRank - type.getRank(), 1);
      llvm::append_range(shape, type.getShape());
      OpBuilder before(scan);
      whole = ReshapeOp::create(
          before, operand.getLoc(),
          RankedTensorType::get(shape, type.getElementType()), whole);
    }
    operands.push_back(whole);
  }
  OpBuilder builder(scan);
  Operation *lifted = builder.clone(*op);
  lifted->setOperands(operands);
  for (Value result : lifted->getResults())
    result.setType(withLeadingDim(result.getType(), scan.getLength()));
  if (!polymorphic)
    shiftNamedDims(lifted);
  // The op's own verifier has the final word on the new shapes; its
  // complaints are not the user's business.
  ScopedDiagnosticHandler silence(op->getContext(),
                                  [](Diagnostic &) { return success(); });
  if (failed(verify(lifted))) {
    lifted->erase();
    return nullptr;
  }
  return lifted;
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
    if (invariance.isStateDependent(&op) || hasBody(&op))
      continue;
    if (llvm::all_of(op.getOperands(),
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
