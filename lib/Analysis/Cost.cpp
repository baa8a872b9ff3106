//===- Cost.cpp - work, bytes and span of a graph -------------------------===//
//
// One pass per block, in program order, computing each op's flops, bytes,
// span and finish step (its span plus the latest finish among the ops it
// depends on in the same block, captured values of a scan body included),
// then a backward pass marking the ops on a longest path. Scans recurse
// into their body and scale by their length.
//
//===----------------------------------------------------------------------===//

#include "attn/Analysis/Cost.h"

#include "llvm/ADT/SetVector.h"

using namespace mlir;
using namespace attn;
using namespace attn::analysis;
using namespace attn::graph;

int64_t attn::analysis::bytesOf(Value value) {
  auto type = cast<RankedTensorType>(value.getType());
  int64_t width = type.getElementType().getIntOrFloatBitWidth();
  return type.getNumElements() * std::max<int64_t>(1, width / 8);
}

/// Values an op reads: its operands, and for an op with regions also the
/// values its regions use from outside it.
static SmallVector<Value> inputsOf(Operation *op) {
  llvm::SetVector<Value> inputs(op->getOperands().begin(),
                                op->getOperands().end());
  op->walk([&](Operation *nested) {
    for (Value operand : nested->getOperands()) {
      Operation *owner = operand.getParentBlock()->getParentOp();
      if (owner != op && !op->isProperAncestor(owner))
        inputs.insert(operand);
    }
  });
  return inputs.takeVector();
}

/// A contraction (tensor-core work): a reduction loop with an operand that
/// is a factor of a product (matmul; attention, whose softmax flops are
/// counted along as a small share).
static bool isContraction(Operation *op) {
  auto iface = dyn_cast<IterationSpaceOpInterface>(op);
  if (!iface || op->getNumOperands() < 2 ||
      !llvm::is_contained(iface.getIterationSpace().kinds,
                          IterKind::Reduction))
    return false;
  for (unsigned i = 0; i < op->getNumOperands(); ++i)
    if (iface.getOperandLinearity(i) == OperandLinearity::Factor)
      return true;
  return false;
}

namespace {

/// Span, sync steps and flops of one block, filling in the costs of its
/// ops (and recursively those of nested scan bodies).
struct BlockCost {
  int64_t span = 0, syncSteps = 0, flops = 0, matmulFlops = 0;
};

class CostBuilder {
public:
  CostBuilder(DenseMap<Operation *, OpCost> &costs,
              DenseMap<Operation *, int64_t> &bodySpans)
      : costs(costs), bodySpans(bodySpans) {}

  BlockCost analyzeBlock(Block &block);

private:
  DenseMap<Operation *, OpCost> &costs;
  DenseMap<Operation *, int64_t> &bodySpans;
  DenseMap<Operation *, int64_t> syncFinish;
};

} // namespace

BlockCost CostBuilder::analyzeBlock(Block &block) {
  BlockCost total;
  // The producer of `value` within this block, if any.
  auto producerIn = [&](Value value) -> Operation * {
    Operation *def = value.getDefiningOp();
    if (!def)
      return nullptr;
    return block.findAncestorOpInBlock(*def);
  };

  for (Operation &op : block.without_terminator()) {
    OpCost cost;
    int64_t sync = 0;
    if (auto scan = dyn_cast<ScanOp>(&op)) {
      BlockCost body = analyzeBlock(scan.getBody().front());
      int64_t length = scan.getLength();
      bodySpans[scan] = body.span;
      cost.flops = length * body.flops;
      if (scan.getInits().empty()) {
        // Nothing carried: all steps run at once, like one big op.
        cost.span = body.span;
        sync = body.syncSteps;
      } else {
        cost.span = length * body.span;
        sync = length * std::max<int64_t>(1, body.syncSteps);
      }
      total.matmulFlops += length * body.matmulFlops;
    } else {
      auto iface = cast<IterationSpaceOpInterface>(op);
      cost.flops = iface.getFlopCount();
      cost.span = iface.getSpan();
      if (isContraction(&op))
        total.matmulFlops += cost.flops;
      // Ops inside a fused op or a score modification get their own rows
      // in reports; the op's own figures already count their work.
      for (Region &region : op.getRegions())
        for (Block &inner : region)
          (void)analyzeBlock(inner);
    }
    int64_t start = 0, syncStart = 0;
    for (Value input : inputsOf(&op)) {
      cost.bytes += bytesOf(input);
      if (Operation *producer = producerIn(input)) {
        start = std::max(start, costs[producer].finish);
        syncStart = std::max(syncStart, syncFinish[producer]);
      }
    }
    for (Value result : op.getResults())
      cost.bytes += bytesOf(result);
    cost.finish = start + cost.span;
    syncFinish[&op] = syncStart + sync;
    total.flops += cost.flops;
    costs[&op] = cost;
  }

  // The block ends when the last value it yields is ready.
  Operation *terminator = block.getTerminator();
  for (Value value : terminator->getOperands())
    if (Operation *producer = producerIn(value)) {
      total.span = std::max(total.span, costs[producer].finish);
      total.syncSteps = std::max(total.syncSteps, syncFinish[producer]);
    }

  // Backward: an op is critical when it finishes exactly when a critical
  // consumer (or the block's end) needs it.
  SmallVector<Operation *> worklist;
  for (Value value : terminator->getOperands())
    if (Operation *producer = producerIn(value))
      if (costs[producer].finish == total.span)
        worklist.push_back(producer);
  while (!worklist.empty()) {
    Operation *op = worklist.pop_back_val();
    OpCost &cost = costs[op];
    if (cost.critical)
      continue;
    cost.critical = true;
    for (Value input : inputsOf(op))
      if (Operation *producer = producerIn(input))
        if (costs[producer].finish == cost.finish - cost.span)
          worklist.push_back(producer);
  }
  return total;
}

CostAnalysis::CostAnalysis(GraphOp graph) {
  CostBuilder builder(costs, bodySpans);
  BlockCost total = builder.analyzeBlock(graph.getBody().front());
  totalFlops = total.flops;
  matmulFlops = total.matmulFlops;
  span = total.span;
  syncSteps = total.syncSteps;
  for (Operation &op : graph.getBody().front().without_terminator())
    unfusedBytes += costs[&op].bytes;
  for (Value arg : graph.getBody().getArguments())
    minBytes += bytesOf(arg);
  for (Value result : graph.getBody().front().getTerminator()->getOperands())
    minBytes += bytesOf(result);
}
