//===- GraphDialect.cpp - the attn graph dialect --------------------------===//
//
// Registers the ops of the `attn` dialect and instantiates the generated
// dialect and interface definitions.
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Graph/IR/GraphDialect.h"
#include "attn/Dialect/Graph/IR/GraphOps.h"

using namespace mlir;
using namespace attn::graph;

#include "attn/Dialect/Graph/IR/GraphDialect.cpp.inc"
#include "attn/Dialect/Graph/IR/GraphInterfaces.cpp.inc"

void GraphDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "attn/Dialect/Graph/IR/GraphOps.cpp.inc"
      >();
}

llvm::StringRef attn::graph::stringifyIterKind(IterKind kind) {
  switch (kind) {
  case IterKind::Parallel:
    return "parallel";
  case IterKind::Reduction:
    return "reduction";
  case IterKind::Carried:
    return "carried";
  }
  llvm_unreachable("unknown iteration kind");
}
