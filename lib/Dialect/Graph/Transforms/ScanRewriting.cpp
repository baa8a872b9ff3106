//===- ScanRewriting.cpp - reshaping attn.scan ops ------------------------===//
//
// Rebuilds scans with different operand and result lists. The body's block
// arguments and yield are edited in place first, then a new scan takes the
// body over and the old results are rewired to the new ones.
//
//===----------------------------------------------------------------------===//

#include "ScanRewriting.h"

#include "mlir/IR/Builders.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

using namespace mlir;
using namespace attn;
using namespace attn::graph;

/// A new scan like `scan` with the given operands and result types; the
/// body (already edited to match) moves over.
static ScanOp recreate(ScanOp scan, ValueRange sequences, ValueRange inits,
                       TypeRange resultTypes) {
  OpBuilder builder(scan);
  auto fresh = ScanOp::create(builder, scan.getLoc(), resultTypes, sequences,
                              inits, scan.getDimAttr(), scan.getReverseAttr());
  fresh.getBody().takeBody(scan.getBody());
  return fresh;
}

/// Erases the pure ops of `block` whose results nobody reads.
static void eraseDeadOps(Block &block) {
  // Back to front, so an op's operands lose their last user before they
  // are looked at. (A reverse iterator would point past the erased op.)
  SmallVector<Operation *> ops;
  for (Operation &op : block.without_terminator())
    ops.push_back(&op);
  for (Operation *op : llvm::reverse(ops))
    if (op->use_empty() && isPure(op))
      op->erase();
}

ScanOp attn::graph::appendSequences(ScanOp scan, ValueRange sequences) {
  Block &body = scan.getBody().front();
  unsigned position = scan.getSequences().size();
  for (Value sequence : sequences)
    body.insertArgument(position++,
                        ScanOp::getStepType(sequence.getType(), scan.getDim()),
                        sequence.getLoc());
  SmallVector<Value> allSequences(scan.getSequences());
  allSequences.append(sequences.begin(), sequences.end());
  ScanOp fresh = recreate(scan, allSequences, scan.getInits(),
                          scan.getResultTypes());
  scan.replaceAllUsesWith(fresh.getResults());
  scan.erase();
  return fresh;
}

ScanOp attn::graph::appendStackedOutputs(ScanOp scan, ValueRange values) {
  auto yield = cast<YieldOp>(scan.getBody().front().getTerminator());
  unsigned numStacked = scan.getStackedOutputs().size();
  SmallVector<Value> yielded(yield.getOperands());
  yielded.insert(yielded.begin() + numStacked, values.begin(), values.end());
  SmallVector<Type> resultTypes(scan.getResultTypes());
  for (auto [i, value] : llvm::enumerate(values)) {
    auto step = cast<RankedTensorType>(value.getType());
    SmallVector<int64_t> shape(step.getShape());
    shape.insert(shape.begin() + scan.getDim(), scan.getLength());
    resultTypes.insert(resultTypes.begin() + numStacked + i,
                       RankedTensorType::get(shape, step.getElementType()));
  }
  yield->setOperands(yielded);
  ScanOp fresh =
      recreate(scan, scan.getSequences(), scan.getInits(), resultTypes);
  for (unsigned i = 0; i < scan.getNumResults(); ++i)
    scan.getResult(i).replaceAllUsesWith(
        fresh.getResult(i < numStacked ? i : i + values.size()));
  scan.erase();
  return fresh;
}

ScanOp attn::graph::removeDeadScanParts(ScanOp scan) {
  Block &body = scan.getBody().front();
  auto yield = cast<YieldOp>(body.getTerminator());
  unsigned numSequences = scan.getSequences().size();
  unsigned numInits = scan.getInits().size();
  unsigned numStacked = scan.getNumResults() - numInits;

  // An output that is the step's own slice of a sequence is that sequence
  // (the output of the step reading slice t lands at t, in either
  // direction): forward it. A carried argument (numbered after the
  // sequences) is not a slice.
  for (unsigned i = 0; i < numStacked; ++i)
    if (auto arg = dyn_cast<BlockArgument>(yield.getOperand(i)))
      if (arg.getOwner() == &body && arg.getArgNumber() < numSequences &&
          scan.getResult(i).getType() ==
              scan.getSequences()[arg.getArgNumber()].getType())
        scan.getResult(i).replaceAllUsesWith(
            scan.getSequences()[arg.getArgNumber()]);
  // Scans are pure: one nobody reads is gone.
  if (scan.use_empty()) {
    scan.erase();
    return nullptr;
  }
  // Dead body ops go first, so that sequences they read count as unused.
  eraseDeadOps(body);

  // Pass-through carries: every step yields the value it received, so it
  // is the initial value throughout.
  SmallVector<bool> keepCarry(numInits, true);
  for (unsigned i = 0; i < numInits; ++i) {
    BlockArgument arg = body.getArgument(numSequences + i);
    if (yield.getOperand(numStacked + i) != arg)
      continue;
    Value init = scan.getInits()[i];
    arg.replaceAllUsesWith(init);
    scan.getResult(numStacked + i).replaceAllUsesWith(init);
    keepCarry[i] = false;
  }
  SmallVector<bool> keepStacked(numStacked);
  for (unsigned i = 0; i < numStacked; ++i)
    keepStacked[i] = !scan.getResult(i).use_empty();
  SmallVector<bool> keepSequence(numSequences);
  for (unsigned i = 0; i < numSequences; ++i)
    keepSequence[i] = !body.getArgument(i).use_empty();
  if (!llvm::is_contained(keepSequence, true))
    keepSequence[0] = true; // the length comes from a sequence

  bool changed = llvm::is_contained(keepCarry, false) ||
                 llvm::is_contained(keepStacked, false) ||
                 llvm::is_contained(keepSequence, false);
  if (!changed)
    return scan;

  SmallVector<Value> sequences, inits, yielded;
  SmallVector<Type> resultTypes;
  SmallVector<Value> oldResults;
  for (unsigned i = 0; i < numSequences; ++i)
    if (keepSequence[i])
      sequences.push_back(scan.getSequences()[i]);
  for (unsigned i = 0; i < numStacked; ++i)
    if (keepStacked[i]) {
      yielded.push_back(yield.getOperand(i));
      resultTypes.push_back(scan.getResult(i).getType());
      oldResults.push_back(scan.getResult(i));
    }
  for (unsigned i = 0; i < numInits; ++i)
    if (keepCarry[i]) {
      inits.push_back(scan.getInits()[i]);
      yielded.push_back(yield.getOperand(numStacked + i));
      resultTypes.push_back(scan.getResult(numStacked + i).getType());
      oldResults.push_back(scan.getResult(numStacked + i));
    }

  yield->setOperands(yielded);
  // Erase block arguments back to front so indices stay valid.
  for (int i = numInits - 1; i >= 0; --i)
    if (!keepCarry[i])
      body.eraseArgument(numSequences + i);
  for (int i = numSequences - 1; i >= 0; --i)
    if (!keepSequence[i])
      body.eraseArgument(i);

  ScanOp fresh = recreate(scan, sequences, inits, resultTypes);
  for (auto [old, now] : llvm::zip(oldResults, fresh.getResults()))
    old.replaceAllUsesWith(now);
  scan.erase();
  // Dropped outputs may leave more dead ops, and with them more to drop.
  eraseDeadOps(fresh.getBody().front());
  return removeDeadScanParts(fresh);
}
