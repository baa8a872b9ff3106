//===- KernelDialect.cpp - the kernel-level dialect -----------------------===//
//
// Registers the kernel ops and the loop attribute, and declares the dialect
// a member of attn graphs, so a kernel-level graph stays an attn.graph with
// the same signature, printer and interpreter entry point.
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Kernel/IR/KernelDialect.h"

#include "attn/Dialect/Kernel/IR/KernelOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace attn::kernel;

#include "attn/Dialect/Kernel/IR/KernelDialect.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "attn/Dialect/Kernel/IR/KernelAttrs.cpp.inc"

void KernelDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "attn/Dialect/Kernel/IR/KernelOps.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "attn/Dialect/Kernel/IR/KernelAttrs.cpp.inc"
      >();
  addInterfaces<attn::graph::GraphMemberDialectInterface>();
}

LogicalResult LoopAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               StringRef name, int64_t extent, StringRef role,
                               int64_t tile) {
  if (role != "grid" && role != "looped")
    return emitError() << "loop '" << name << "' has role '" << role
                       << "'; expected 'grid' or 'looped'";
  if (extent < 1 || tile < 1)
    return emitError() << "loop '" << name
                       << "' needs a positive extent and tile";
  return success();
}
