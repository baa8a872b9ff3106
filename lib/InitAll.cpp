//===- InitAll.cpp - register every attnc dialect and pass ----------------===//
//
// See InitAll.h.
//
//===----------------------------------------------------------------------===//

#include "attn/InitAll.h"

#include "attn/Conversion/Passes.h"
#include "attn/Dialect/Graph/IR/GraphDialect.h"
#include "attn/Dialect/Kernel/IR/KernelDialect.h"
#include "attn/Dialect/Graph/Transforms/Passes.h"
#include "attn/Pipelines/Pipelines.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Transforms/Passes.h"

void attn::registerAllDialects(mlir::DialectRegistry &registry) {
  registry.insert<attn::graph::GraphDialect, attn::kernel::KernelDialect>();
}

void attn::registerAllPasses() {
  attn::graph::registerAttnGraphPasses();
  attn::registerAttnConversionPasses();
  attn::registerPipelines();
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
}
