//===- attnc-opt.cpp - the attnc optimizer driver -------------------------===//
//
// The standard MLIR opt driver with every attnc dialect and pass
// registered: what pass authors run in lit tests.
//
//===----------------------------------------------------------------------===//

#include "attn/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

namespace attn::test {
void registerTestPrintDependencePass();
} // namespace attn::test

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  attn::registerAllDialects(registry);
  attn::registerAllPasses();
  // Test-only passes (test/lib), for lit.
  attn::test::registerTestPrintDependencePass();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "attnc optimizer driver\n", registry));
}
