//===- GraphDialect.h - the attn graph dialect ------------------*- C++ -*-===//
//
// Declares the `attn` dialect class generated from GraphDialect.td.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_GRAPH_IR_GRAPHDIALECT_H
#define ATTN_DIALECT_GRAPH_IR_GRAPHDIALECT_H

#include "mlir/IR/Dialect.h"
#include "mlir/IR/DialectInterface.h"

#include "attn/Dialect/Graph/IR/GraphDialect.h.inc"

namespace attn::graph {

/// Registered by a dialect whose ops may stand in an attn.graph body next
/// to attn ops (the kernel dialect, whose ops are graph values computed by
/// one kernel each). Without it, a graph holds attn ops only.
class GraphMemberDialectInterface
    : public mlir::DialectInterface::Base<GraphMemberDialectInterface> {
public:
  explicit GraphMemberDialectInterface(mlir::Dialect *dialect)
      : Base(dialect) {}
};

} // namespace attn::graph

#endif // ATTN_DIALECT_GRAPH_IR_GRAPHDIALECT_H
