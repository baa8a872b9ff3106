//===- DimensionClasses.cpp - parallel, reduction, carried dims -----------===//
//
// A union-find over two kinds of nodes: each dim of each value, and each
// loop of each op. An op's maps join a loop with every tensor dim it
// indexes (an affine expression of that single loop: plain, shifted or
// strided; constant 0 broadcasts and symbols do not join). Tied loops of
// row ops join each other. attn.scan, the one op with a body, joins its
// block arguments to what they stand for: a sequence's slice to the
// sequence's other dims, a carried value to its initial value, its next
// value and its final result. Each group then takes the strongest kind of
// the loops in it.
//
//===----------------------------------------------------------------------===//

#include "attn/Analysis/DimensionClasses.h"

using namespace mlir;
using namespace attn;
using namespace attn::analysis;
using namespace attn::graph;

static unsigned rankOf(Value value) {
  return cast<RankedTensorType>(value.getType()).getRank();
}

/// The single loop `expr` depends on, if it depends on exactly one loop and
/// on no symbol.
static std::optional<unsigned> singleLoop(AffineExpr expr, unsigned numLoops,
                                          unsigned numSymbols) {
  std::optional<unsigned> found;
  for (unsigned loop = 0; loop < numLoops; ++loop) {
    if (!expr.isFunctionOfDim(loop))
      continue;
    if (found)
      return std::nullopt;
    found = loop;
  }
  for (unsigned s = 0; s < numSymbols && found; ++s)
    if (expr.isFunctionOfSymbol(s))
      return std::nullopt;
  return found;
}

DimensionClasses::DimensionClasses(GraphOp graph) {
  unsigned next = 0;
  auto addValue = [&](Value value) {
    for (unsigned d = 0, e = rankOf(value); d < e; ++d) {
      valueNodes[{value, d}] = next;
      groups.insert(next++);
    }
  };
  // Loop nodes with their kinds, and ops in program order, so that the
  // unions (and with them the group ids) are the same on every run.
  SmallVector<std::pair<unsigned, IterKind>> loopKinds;
  SmallVector<Operation *> ordered;
  for (BlockArgument arg : graph.getBody().getArguments())
    addValue(arg);
  graph.getBody().walk<WalkOrder::PreOrder>([&](Operation *op) {
    for (Value result : op->getResults())
      addValue(result);
    for (Region &region : op->getRegions())
      for (Block &block : region)
        for (BlockArgument arg : block.getArguments())
          addValue(arg);
    auto iface = dyn_cast<IterationSpaceOpInterface>(op);
    if (!iface)
      return;
    IterationSpace space = iface.getIterationSpace();
    for (unsigned loop = 0; loop < space.getNumLoops(); ++loop) {
      loopNodes[{op, loop}] = next;
      loopKinds.push_back({next, space.kinds[loop]});
      groups.insert(next++);
    }
    spaces[op] = std::move(space);
    ordered.push_back(op);
  });

  auto join = [&](unsigned a, unsigned b) { groups.unionSets(a, b); };
  auto joinMap = [&](Operation *op, AffineMap map, Value value) {
    for (auto [d, expr] : llvm::enumerate(map.getResults()))
      if (std::optional<unsigned> loop =
              singleLoop(expr, map.getNumDims(), map.getNumSymbols()))
        join(nodeOf(value, d), nodeOf(op, *loop));
  };
  for (Operation *op : ordered) {
    const IterationSpace &space = spaces[op];
    for (auto [map, value] : llvm::zip(space.operandMaps, op->getOperands()))
      joinMap(op, map, value);
    for (auto [map, value] : llvm::zip(space.resultMaps, op->getResults()))
      joinMap(op, map, value);
    for (auto [a, b] : space.tiedLoops)
      join(nodeOf(op, a), nodeOf(op, b));
  }

  // Scan bodies: block arguments are views of the scan's operands, and the
  // yielded values are the next carries and the stacked outputs.
  graph.walk([&](ScanOp scan) {
    int64_t walked = scan.getDim();
    auto joinSkipping = [&](Value slice, Value whole) {
      for (unsigned d = 0, e = rankOf(slice); d < e; ++d)
        join(nodeOf(slice, d), nodeOf(whole, d < walked ? d : d + 1));
    };
    auto joinSame = [&](Value a, Value b) {
      for (unsigned d = 0, e = rankOf(a); d < e; ++d)
        join(nodeOf(a, d), nodeOf(b, d));
    };
    auto yield = cast<YieldOp>(scan.getBody().front().getTerminator());
    for (auto [arg, sequence] :
         llvm::zip(scan.getSequenceArgs(), scan.getSequences()))
      joinSkipping(arg, sequence);
    size_t numStacked = scan.getStackedOutputs().size();
    for (auto [i, output] : llvm::enumerate(scan.getStackedOutputs()))
      joinSkipping(yield.getOperand(i), output);
    for (auto [i, arg] : llvm::enumerate(scan.getCarriedArgs())) {
      joinSame(arg, scan.getInits()[i]);
      joinSame(arg, yield.getOperand(numStacked + i));
      joinSame(arg, scan.getFinalCarries()[i]);
    }
  });

  for (auto [node, kind] : loopKinds) {
    unsigned leader = groups.getLeaderValue(node);
    auto [it, inserted] = groupClasses.try_emplace(leader, kind);
    if (!inserted)
      it->second = std::max(it->second, kind);
  }
}

unsigned DimensionClasses::nodeOf(Value value, unsigned dim) const {
  return valueNodes.at({value, dim});
}

unsigned DimensionClasses::nodeOf(Operation *op, unsigned loop) const {
  return loopNodes.at({op, loop});
}

unsigned DimensionClasses::getGroup(Value value, unsigned dim) const {
  return groups.getLeaderValue(nodeOf(value, dim));
}

IterKind DimensionClasses::getGroupClass(unsigned group) const {
  // A group no loop touches (a graph argument passed straight through)
  // has nothing that couples or orders it.
  auto it = groupClasses.find(groups.getLeaderValue(group));
  return it == groupClasses.end() ? IterKind::Parallel : it->second;
}

SmallVector<IterKind> DimensionClasses::getClasses(Value value) const {
  SmallVector<IterKind> classes;
  for (unsigned d = 0, e = rankOf(value); d < e; ++d)
    classes.push_back(getGroupClass(getGroup(value, d)));
  return classes;
}

SmallVector<LoopInfo> DimensionClasses::getLoops(Operation *op) const {
  SmallVector<LoopInfo> loops;
  const IterationSpace &space = spaces.at(op);
  for (unsigned loop = 0; loop < space.getNumLoops(); ++loop) {
    unsigned group = groups.getLeaderValue(nodeOf(op, loop));
    loops.push_back({space.bounds[loop], space.kinds[loop],
                     getGroupClass(group), group});
  }
  return loops;
}
