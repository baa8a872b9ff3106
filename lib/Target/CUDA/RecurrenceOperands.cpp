//===- RecurrenceOperands.cpp - what a recurrence step fetches ahead ------===//
//
// A persistent recurrence's step waits on memory twice on its critical
// path: for h after the grid barrier, and for the gates' other operands
// after the product. This file takes the second off it: the step's slice
// of each sequence input is prefetched into L2 as the step begins
// (prefetchSequences), and under a unit split each thread loads its gate's
// operands into registers then (preloadYieldOperands).
//
//===----------------------------------------------------------------------===//

#include "RecurrenceEmitter.h"

#include "llvm/Support/Regex.h"

using namespace mlir;
using namespace attn;
using namespace attn::cuda;

/// Has the grid fetch this step's slice of each sequence the kernel reads
/// from its inputs into L2, as the step begins: the projected inputs
/// (x W, hoisted out of the recurrence) are too large to stay in L2 from
/// the GEMM that wrote them, and the gates would otherwise wait on HBM
/// after the product, on the critical path. The product and the staging
/// before it take longer than the fetch. Only slices along dim 0 are
/// contiguous lines.
void RecurrenceEmitter::prefetchSequences(graph::ScanOp op,
                                          const std::string &time) {
  CodeWriter &w = k.out;
  for (Value sequence : op.getSequences()) {
    std::optional<unsigned> input = k.inputNumber(sequence);
    if (!input || op.getDim() != 0)
      continue;
    auto type = cast<RankedTensorType>(sequence.getType());
    int64_t sliceBytes = numElements(sequence) / type.getShape()[0] *
                         ((type.getElementTypeBitWidth() + 7) / 8);
    w.line("for (attnc_index line = gtid; line < " +
           num((sliceBytes + 127) / 128) +
           "; line += gsize) attnc_prefetch_l2(reinterpret_cast<const char "
           "*>(in" + num(*input) + ") + " + time + " * " + num(sliceBytes) +
           " + line * 128);");
  }
}

/// Under a unit split with at most one gate element per thread, loads the
/// gates' operands from global memory (the step's slice of x W, the
/// carried cell state, the bias) into registers as the step begins, so
/// their L2 and HBM latency passes during the product instead of after
/// it, on the critical path. A dry run of the gates' phase finds them:
/// loads of kernel inputs and carries (which nothing in the step writes)
/// that every element makes (not inside a branch, such as a concat's)
/// at indices made of the element and step indices alone. Returns what
/// it preloaded, for load() to use while the gates are emitted.
FailureOr<llvm::StringMap<std::string>>
RecurrenceEmitter::preloadYieldOperands(ArrayRef<Write> writes) {
  llvm::StringMap<std::string> chosen;
  const int64_t count = units->rows * units->perBlock;
  for (const Write &write : writes)
    if (numElements(write.value) != units->rows * units->units)
      return chosen; // more than one phase
  if (writes.empty() || count > k.threads)
    return chosen;
  std::vector<std::pair<std::string, int>> loads;
  const size_t mark = k.body.size();
  const int bodyDepth = k.out.depth() + 1;
  recordLoads = &loads;
  LogicalResult dryRun = phase(writes, nullptr);
  recordLoads = nullptr;
  k.body.resize(mark);
  if (failed(dryRun))
    return failure();
  // Identifiers an index may use at the start of the step.
  static const llvm::Regex allowed(
      "^(attnc_load|in[0-9]+|carryNowt[0-9_]+|t[0-9]+|e)$");
  auto inScope = [&](StringRef load) {
    for (size_t i = 0; i < load.size();) {
      if (!isalpha(load[i]) && load[i] != '_') {
        // Skip a number whole, so its digits are not read as a name.
        size_t j = i;
        while (j < load.size() && isalnum(load[j]))
          ++j;
        i = std::max(i + 1, j);
        continue;
      }
      size_t j = i;
      while (j < load.size() && (isalnum(load[j]) || load[j] == '_'))
        ++j;
      if (!allowed.match(load.substr(i, j - i)))
        return false;
      i = j;
    }
    return true;
  };
  llvm::SmallVector<std::string> order;
  for (const auto &[load, depth] : loads) {
    if (order.size() == 16 || depth != bodyDepth || chosen.count(load) ||
        !inScope(load))
      continue;
    chosen[load] = "preload" + num(order.size());
    order.push_back(load);
  }
  if (order.empty())
    return chosen;
  CodeWriter &w = k.out;
  std::string declare = "float";
  for (size_t i = 0; i < order.size(); ++i)
    declare += (i ? ", preload" : " preload") + num(i) + " = 0.0f";
  w.line(declare + ";");
  openElementLoop(units->rows * units->units);
  for (const std::string &load : order)
    w.line(chosen[load] + " = " + load + ";");
  w.close();
  return chosen;
}
