//===- DimensionClasses.h - parallel, reduction, carried dims ---*- C++ -*-===//
//
// Classes every dimension of every value in a graph as parallel, reduction
// or carried. Ops only state their own loops (IterationSpaceOpInterface);
// this analysis joins them: tensor dims that some op indexes with the same
// loop belong to one dimension group, scan bodies' slices join the walked
// sequences' dims, and a group's class is the strongest kind any of its
// loops has (carried > reduction > parallel). "Attention queries are
// independent" is then derived: no op on the query dimension's path reduces
// or carries it.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_ANALYSIS_DIMENSIONCLASSES_H
#define ATTN_ANALYSIS_DIMENSIONCLASSES_H

#include "attn/Dialect/Graph/IR/GraphOps.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/EquivalenceClasses.h"

namespace attn::analysis {

using graph::IterKind;

/// One loop of an op, as the analysis sees it.
struct LoopInfo {
  int64_t extent;
  /// The op's own view of the loop (from its iteration space).
  IterKind kind;
  /// The class of the loop's dimension group across the graph.
  IterKind groupClass;
  /// The loop's group id (loops and value dims with the same id are one
  /// dimension); stable within one analysis.
  unsigned group;
};

class DimensionClasses {
public:
  explicit DimensionClasses(graph::GraphOp graph);

  /// The class of each dim of `value` (a graph argument, a block argument
  /// or an op result).
  llvm::SmallVector<IterKind> getClasses(mlir::Value value) const;

  /// The group id of dim `dim` of `value`.
  unsigned getGroup(mlir::Value value, unsigned dim) const;

  /// The loops of `op` (an op with IterationSpaceOpInterface).
  llvm::SmallVector<LoopInfo> getLoops(mlir::Operation *op) const;

  /// The class of a dimension group.
  IterKind getGroupClass(unsigned group) const;

private:
  unsigned nodeOf(mlir::Value value, unsigned dim) const;
  unsigned nodeOf(mlir::Operation *op, unsigned loop) const;

  // Union-find over "nodes": one per (value, dim) and one per (op, loop).
  llvm::DenseMap<std::pair<mlir::Value, unsigned>, unsigned> valueNodes;
  llvm::DenseMap<std::pair<mlir::Operation *, unsigned>, unsigned> loopNodes;
  llvm::DenseMap<mlir::Operation *, graph::IterationSpace> spaces;
  mutable llvm::EquivalenceClasses<unsigned> groups;
  llvm::DenseMap<unsigned, IterKind> groupClasses; // by group leader
};

/// "parallel", "reduction", "carried".
inline llvm::StringRef stringifyClass(IterKind kind) {
  return graph::stringifyIterKind(kind);
}

} // namespace attn::analysis

#endif // ATTN_ANALYSIS_DIMENSIONCLASSES_H
