//===- HoistScanInvariants.cpp - move step-invariant work out of scans ----===//
//
// Implements --attn-hoist-scan-invariants (see Passes.td). For each scan,
// innermost first, the body's step-invariant ops (StepInvariance) are
// visited in order:
//
//  - an op whose operands all come from outside the scan moves out as is;
//  - a batch-polymorphic op whose operands are outside values, step slices
//    or already-lifted values is copied before the scan with the whole
//    sequences in place of the slices: one op for all steps. The body then
//    reads the lifted result through a new sequence operand.
//
// Anything else stays, including every state-dependent op, and the chain
// of lifting stops there. Finally the scan drops what became dead. Scans
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

/// Copies `op` before `scan` over whole sequences: operands that are step
/// slices (or lifted values) become their stacked versions in `stacked`.
/// Returns null, creating nothing but possibly a transposed sequence, when
/// the copy would not mean "every step at once".
static Operation *liftOverSteps(Operation *op, ScanOp scan,
                                DenseMap<Value, Value> &stacked) {
  if (!op->hasTrait<BatchPolymorphic>() || op->getNumRegions() != 0)
    return nullptr;
  int64_t resultRank =
      cast<RankedTensorType>(op->getResult(0).getType()).getRank();
  SmallVector<Value> operands;
  for (Value operand : op->getOperands()) {
    if (isOutside(operand, scan)) {
      operands.push_back(operand);
      continue;
    }
    Value whole = stackedVersion(operand, scan, stacked);
    // The new leading dim lines up across operands only if every stepped
    // operand has the result's full rank; otherwise broadcasting would pair
    // the steps with some other dim.
    if (!whole ||
        cast<RankedTensorType>(operand.getType()).getRank() != resultRank)
      return nullptr;
    operands.push_back(whole);
  }
  OpBuilder builder(scan);
  Operation *lifted = builder.clone(*op);
  lifted->setOperands(operands);
  for (Value result : lifted->getResults())
    result.setType(withLeadingDim(result.getType(), scan.getLength()));
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

static void hoistFrom(ScanOp scan) {
  analysis::StepInvariance invariance(scan);
  // Lifting stacks the steps along a new leading dim. A scan over another
  // dim lifts from its sequences transposed steps-first, and reads lifted
  // results transposed back, so any cell over any dim is hoisted.
  DenseMap<Value, Value> stacked;

  SmallVector<Operation *> liftedOps;
  for (Operation &op :
       llvm::make_early_inc_range(scan.getBody().front().without_terminator())) {
    if (invariance.isStateDependent(&op) || op.getNumRegions() != 0)
      continue;
    if (llvm::all_of(op.getOperands(),
                     [&](Value v) { return isOutside(v, scan); })) {
      op.moveBefore(scan);
      continue;
    }
    if (Operation *lifted = liftOverSteps(&op, scan, stacked)) {
      for (auto [inBody, whole] :
           llvm::zip(op.getResults(), lifted->getResults()))
        stacked[inBody] = whole;
      liftedOps.push_back(&op);
    }
  }
  if (liftedOps.empty()) {
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
