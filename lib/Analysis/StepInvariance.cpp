//===- StepInvariance.cpp - what a scan step does not need ----------------===//
//
// A forward pass over the scan body in program order: a value depends on
// the carried state when one of its op's operands does, or, for an op with
// regions (a nested scan), when anything its regions use from outside
// does. Values are tagged with a bitmask of the carried values they
// depend on, so the linearity analysis and the report can say which state
// a value reads.
//
//===----------------------------------------------------------------------===//

#include "attn/Analysis/StepInvariance.h"

using namespace mlir;
using namespace attn;
using namespace attn::analysis;
using namespace attn::graph;

/// Bit of carried value `index`; scans with more than 64 carries share the
/// last bit, which only blurs which of them a value reads.
static uint64_t carriedBit(unsigned index) {
  return uint64_t(1) << std::min(index, 63u);
}

StepInvariance::StepInvariance(ScanOp scan) : scan(scan) {
  for (auto [i, arg] : llvm::enumerate(scan.getCarriedArgs()))
    dependent[arg] = carriedBit(i);

  auto maskOf = [&](Value value) -> uint64_t {
    auto it = dependent.find(value);
    return it == dependent.end() ? 0 : it->second;
  };
  scan.getBody().walk<WalkOrder::PreOrder>([&](Operation *op) {
    uint64_t mask = 0;
    for (Value operand : op->getOperands())
      mask |= maskOf(operand);
    // Values a nested region reads from outside it count as inputs of the
    // op that owns the region: a nested scan over state depends on it.
    op->walk([&](Operation *nested) {
      for (Value operand : nested->getOperands())
        if (!op->isProperAncestor(operand.getParentBlock()->getParentOp()) &&
            operand.getParentBlock()->getParentOp() != op)
          mask |= maskOf(operand);
    });
    if (!mask)
      return;
    for (Value result : op->getResults())
      dependent[result] = mask;
    // A nested scan's block arguments carry whatever the scan reads.
    for (Region &region : op->getRegions())
      for (Block &block : region)
        for (BlockArgument arg : block.getArguments())
          dependent[arg] |= mask;
  });
}

bool StepInvariance::isStateDependent(Operation *op) const {
  return llvm::any_of(op->getResults(),
                      [&](Value result) { return isStateDependent(result); });
}

SmallVector<unsigned>
StepInvariance::getCarriedDependencies(Value value) const {
  SmallVector<unsigned> carried;
  auto it = dependent.find(value);
  if (it == dependent.end())
    return carried;
  for (unsigned i = 0, e = scan.getInits().size(); i < e; ++i)
    if (it->second & carriedBit(i))
      carried.push_back(i);
  return carried;
}

SmallVector<Operation *> StepInvariance::getHoistableOps() const {
  SmallVector<Operation *> ops;
  for (Operation &op : scan.getBody().front().without_terminator())
    if (!isStateDependent(&op))
      ops.push_back(&op);
  return ops;
}
