//===- GraphDialect.h - the attn graph dialect ------------------*- C++ -*-===//
//
// Declares the `attn` dialect class generated from GraphDialect.td.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_GRAPH_IR_GRAPHDIALECT_H
#define ATTN_DIALECT_GRAPH_IR_GRAPHDIALECT_H

#include "mlir/IR/Dialect.h"

#include "attn/Dialect/Graph/IR/GraphDialect.h.inc"

#endif // ATTN_DIALECT_GRAPH_IR_GRAPHDIALECT_H
