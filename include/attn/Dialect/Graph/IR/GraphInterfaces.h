//===- GraphInterfaces.h - iteration-space interface ------------*- C++ -*-===//
//
// The data an op hands out through IterationSpaceOpInterface: its loop
// nest (extents and kinds) and one affine access map per operand and
// result. See GraphInterfaces.td for the meaning of each field.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_GRAPH_IR_GRAPHINTERFACES_H
#define ATTN_DIALECT_GRAPH_IR_GRAPHINTERFACES_H

#include "mlir/IR/AffineMap.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"

namespace attn::graph {

/// How the iterations along one loop dimension relate to each other.
enum class IterKind {
  /// Independent iterations: may run in any order or all at once.
  Parallel,
  /// Iterations combine into one value with an associative operator.
  Reduction,
  /// Iteration i consumes what iteration i-1 produced (a scan's walk).
  Carried,
};

llvm::StringRef stringifyIterKind(IterKind kind);

/// How an op's results depend on one operand (see getOperandLinearity).
enum class OperandLinearity { Additive, Factor, Nonlinear };

/// A pair of loops that range over the same tensor dimension in two roles:
/// the parallel loop of a row op's result and the reduction loop that
/// gathers the row's statistics. Each result element depends on the whole
/// row, so analyses treat the two loops as one dimension.
using TiedLoops = std::pair<unsigned, unsigned>;

/// The loop nest an op denotes; see IterationSpaceOpInterface.
struct IterationSpace {
  llvm::SmallVector<int64_t> bounds;
  llvm::SmallVector<IterKind> kinds;
  llvm::SmallVector<mlir::AffineMap> operandMaps;
  llvm::SmallVector<mlir::AffineMap> resultMaps;
  llvm::SmallVector<TiedLoops> tiedLoops;

  unsigned getNumLoops() const { return bounds.size(); }
};

/// Marks ops that accept extra leading dims on their operands and then
/// produce results with the same extra leading dims, computing the same
/// thing for each leading index (elementwise ops broadcast them, matmul
/// treats them as batch dims). Their attributes name no dims, so a copy of
/// the op over a whole sequence means "every step at once".
template <typename ConcreteType>
class BatchPolymorphic
    : public mlir::OpTrait::TraitBase<ConcreteType, BatchPolymorphic> {};

} // namespace attn::graph

#include "attn/Dialect/Graph/IR/GraphInterfaces.h.inc"

#endif // ATTN_DIALECT_GRAPH_IR_GRAPHINTERFACES_H
