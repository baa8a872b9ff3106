//===- LinearScanToAssocScan.cpp - linear recurrences become scans --------===//
//
// Implements --attn-linear-scan-to-assoc (see Passes.td). For a carried
// value h whose update the linearity analysis finds elementwise-linear, the
// step's coefficient a and offset b are built next to the ops that compute
// h' = a * h + b, from those same ops:
//
//   for h itself              a = 1,  b = 0 (splats of h's type)
//   for an invariant value w  a = 0,  b = w
//   for an op X on the chain  a_X = X(a of its state operands, 0 for its
//                                     invariant Additive operands, other
//                                     operands unchanged)
//                             b_X = X(b of its state operands, other
//                                     operands unchanged)
//
// which is exact: on the chain every op is positionwise and linear in its
// state operands (OperandLinearity), so X splits into its linear part and
// its value at zero state. The body then yields a and b per step, an
// attn.assoc_scan after the scan computes the states, and the chain dies.
// What is left of the scan is carried on, or, when nothing is, becomes a
// plain map that --attn-hoist-scan-invariants turns into whole-sequence ops.
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Graph/Transforms/Passes.h"

#include "ScanRewriting.h"
#include "attn/Analysis/Linearity.h"
#include "attn/Analysis/StepInvariance.h"
#include "attn/Dialect/Graph/IR/GraphOps.h"

#include "mlir/IR/Builders.h"

namespace attn::graph {
#define GEN_PASS_DEF_LINEARSCANTOASSOC
#include "attn/Dialect/Graph/Transforms/Passes.h.inc"
} // namespace attn::graph

using namespace mlir;
using namespace attn;
using namespace attn::graph;

namespace {

/// The (a, b) decomposition of the values on the chain of one carried value.
struct Decomposition {
  DenseMap<Value, std::pair<Value, Value>> parts;
};

} // namespace

static Value splat(OpBuilder &builder, Location loc, Type type, double value) {
  return SplatOp::create(builder, loc, type, builder.getF64FloatAttr(value));
}

/// Checks that the chain from carried argument `arg` to its update can be
/// decomposed, and returns the chain's ops in body order. The chain is
/// every op that reads `arg`, directly or not; each must act positionwise
/// and linearly on its chain operands, depend on no other carried value,
/// and feed only the chain, the update, or stacked outputs equal to the
/// update (those become the associative scan's states).
static std::optional<SmallVector<Operation *>>
collectChain(ScanOp scan, unsigned carried,
             const analysis::StepInvariance &invariance) {
  Block &body = scan.getBody().front();
  auto yield = cast<YieldOp>(body.getTerminator());
  unsigned numStacked = scan.getStackedOutputs().size();
  Value update = yield.getOperand(numStacked + carried);
  BlockArgument arg = scan.getCarriedArgs()[carried];
  auto onChain = [&](Value value) {
    SmallVector<unsigned> deps = invariance.getCarriedDependencies(value);
    return value == arg || (deps.size() == 1 && deps[0] == carried);
  };
  auto usesAllowed = [&](Value value) {
    for (OpOperand &use : value.getUses()) {
      // A nested region reading the state would still need every h_t.
      if (use.getOwner()->getBlock() != &body)
        return false;
      if (use.getOwner() != yield)
        continue;
      unsigned position = use.getOperandNumber();
      bool isUpdate = position == numStacked + carried;
      bool isStackedUpdate = position < numStacked && value == update;
      if (!isUpdate && !isStackedUpdate)
        return false;
    }
    return true;
  };
  // attn.assoc_scan works on floats; a mask carried along stays a scan.
  if (!isa<FloatType>(cast<RankedTensorType>(arg.getType()).getElementType()))
    return std::nullopt;
  if (!usesAllowed(arg) || (arg != update && !onChain(update) &&
                            invariance.isStateDependent(update)))
    return std::nullopt;

  SmallVector<Operation *> chain;
  for (Operation &op : body.without_terminator()) {
    if (!llvm::any_of(op.getOperands(), onChain))
      continue;
    auto iface = dyn_cast<IterationSpaceOpInterface>(&op);
    if (!iface || op.getNumResults() != 1 || op.getNumRegions() != 0 ||
        !onChain(op.getResult(0)) || !usesAllowed(op.getResult(0)))
      return std::nullopt;
    unsigned stateOperands = 0;
    bool hasFactor = false;
    for (auto [i, operand] : llvm::enumerate(op.getOperands())) {
      if (!onChain(operand))
        continue;
      ++stateOperands;
      OperandLinearity linearity = iface.getOperandLinearity(i);
      if (linearity == OperandLinearity::Nonlinear ||
          !analysis::readsPositionwise(iface, i))
        return std::nullopt;
      hasFactor |= linearity == OperandLinearity::Factor;
    }
    if (hasFactor && stateOperands > 1)
      return std::nullopt;
    chain.push_back(&op);
  }
  return chain;
}

/// Builds a and b for every chain op (inserting the new ops right before
/// the yield) and returns them for the update.
static std::pair<Value, Value> decompose(ScanOp scan, unsigned carried,
                                         ArrayRef<Operation *> chain) {
  Block &body = scan.getBody().front();
  auto yield = cast<YieldOp>(body.getTerminator());
  OpBuilder builder(yield);
  BlockArgument arg = scan.getCarriedArgs()[carried];
  Location loc = arg.getLoc();
  DenseMap<Value, std::pair<Value, Value>> parts;
  parts[arg] = {splat(builder, loc, arg.getType(), 1.0),
                splat(builder, loc, arg.getType(), 0.0)};
  for (Operation *op : chain) {
    auto iface = cast<IterationSpaceOpInterface>(op);
    SmallVector<Value> aOperands, bOperands;
    for (auto [i, operand] : llvm::enumerate(op->getOperands())) {
      auto it = parts.find(operand);
      if (it != parts.end()) {
        aOperands.push_back(it->second.first);
        bOperands.push_back(it->second.second);
        continue;
      }
      bool additive =
          iface.getOperandLinearity(i) == OperandLinearity::Additive;
      aOperands.push_back(additive
                              ? splat(builder, op->getLoc(), operand.getType(), 0.0)
                              : operand);
      bOperands.push_back(operand);
    }
    Operation *a = builder.clone(*op);
    a->setOperands(aOperands);
    Operation *b = builder.clone(*op);
    b->setOperands(bOperands);
    parts[op->getResult(0)] = {a->getResult(0), b->getResult(0)};
  }
  Value update = yield.getOperand(scan.getStackedOutputs().size() + carried);
  auto it = parts.find(update);
  if (it != parts.end())
    return it->second;
  // The update does not read the state at all: h' = 0 * h + update.
  return {splat(builder, loc, arg.getType(), 0.0), update};
}

/// Converts carried value `carried` of `scan`; returns the new scan.
static ScanOp convert(ScanOp scan, unsigned carried,
                      ArrayRef<Operation *> chain) {
  auto [a, b] = decompose(scan, carried, chain);
  unsigned numStacked = scan.getStackedOutputs().size();
  Value update = cast<YieldOp>(scan.getBody().front().getTerminator())
                     .getOperand(numStacked + carried);
  SmallVector<unsigned> statesOutputs;
  for (unsigned i = 0; i < numStacked; ++i)
    if (scan.getBody().front().getTerminator()->getOperand(i) == update)
      statesOutputs.push_back(i);
  Value init = scan.getInits()[carried];

  scan = appendStackedOutputs(scan, {a, b});
  OpBuilder builder(scan->getContext());
  builder.setInsertionPointAfter(scan);
  auto assoc = AssocScanOp::create(
      builder, scan.getLoc(), scan.getResult(statesOutputs.empty()
                                                 ? numStacked
                                                 : statesOutputs.front())
                                  .getType(),
      init.getType(), scan.getResult(numStacked), scan.getResult(numStacked + 1),
      init, scan.getDimAttr(), scan.getReverseAttr());
  // The states' type is the stacked update's; build it when no output
  // stacks the update.
  if (statesOutputs.empty()) {
    auto step = cast<RankedTensorType>(init.getType());
    SmallVector<int64_t> shape(step.getShape());
    shape.insert(shape.begin() + scan.getDim(), scan.getLength());
    assoc.getStates().setType(
        RankedTensorType::get(shape, step.getElementType()));
  }
  for (unsigned i : statesOutputs)
    scan.getResult(i).replaceAllUsesWith(assoc.getStates());
  unsigned numStackedNow = numStacked + 2;
  scan.getResult(numStackedNow + carried).replaceAllUsesWith(assoc.getFinal());
  // The scan no longer carries h: let it pass through, and drop it.
  Block &body = scan.getBody().front();
  body.getTerminator()->setOperand(numStackedNow + carried,
                                   scan.getCarriedArgs()[carried]);
  return removeDeadScanParts(scan);
}

static void convertScan(ScanOp scan) {
  // One carried value at a time: each conversion rebuilds the scan.
  for (unsigned carried = 0; scan && carried < scan.getInits().size();) {
    SmallVector<analysis::LinearityVerdict> verdicts =
        analysis::analyzeLinearity(scan);
    analysis::StepInvariance invariance(scan);
    std::optional<SmallVector<Operation *>> chain;
    if (verdicts[carried].kind ==
        analysis::LinearityVerdict::Kind::Elementwise)
      chain = collectChain(scan, carried, invariance);
    if (!chain) {
      ++carried;
      continue;
    }
    // The carry disappears, so the same index now names the next one.
    scan = convert(scan, carried, *chain);
  }
}

namespace {
struct LinearScanToAssocPass
    : attn::graph::impl::LinearScanToAssocBase<LinearScanToAssocPass> {
  void runOnOperation() override {
    SmallVector<ScanOp> scans;
    getOperation().walk([&](ScanOp scan) { scans.push_back(scan); });
    for (ScanOp scan : scans)
      convertScan(scan);
  }
};
} // namespace
