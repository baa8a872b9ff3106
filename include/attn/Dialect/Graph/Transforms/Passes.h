//===- Passes.h - attn graph passes -----------------------------*- C++ -*-===//
//
// Declarations and registration of the graph passes (Passes.td).
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_GRAPH_TRANSFORMS_PASSES_H
#define ATTN_DIALECT_GRAPH_TRANSFORMS_PASSES_H

#include "attn/Dialect/Graph/IR/GraphDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace attn::graph {

#define GEN_PASS_DECL
#include "attn/Dialect/Graph/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "attn/Dialect/Graph/Transforms/Passes.h.inc"

} // namespace attn::graph

#endif // ATTN_DIALECT_GRAPH_TRANSFORMS_PASSES_H
