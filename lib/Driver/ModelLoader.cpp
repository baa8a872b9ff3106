//===- ModelLoader.cpp - reading model files ------------------------------===//
//
// Turns a path into a verified module, or into one clear error line: a
// missing file, malformed text and verifier failures all end here.
//
//===----------------------------------------------------------------------===//

#include "attn/Driver/Driver.h"

#include "mlir/Parser/Parser.h"
#include "llvm/Support/MemoryBuffer.h"

using namespace mlir;
using namespace attn;
using namespace attn::driver;

OwningOpRef<ModuleOp> attn::driver::loadModel(llvm::StringRef path,
                                              MLIRContext &context,
                                              llvm::SourceMgr &sourceMgr) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFileOrSTDIN(path, /*IsText=*/true);
  if (std::error_code error = buffer.getError()) {
    reportError("cannot read model '" + path + "': " + error.message());
    return nullptr;
  }
  sourceMgr.AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());
  // Parsing verifies the module as well; both report through the
  // context's diagnostic handler.
  return parseSourceFile<ModuleOp>(sourceMgr, &context);
}

graph::GraphOp attn::driver::findEntry(ModuleOp module, llvm::StringRef entry,
                                       llvm::StringRef path) {
  graph::GraphOp first;
  for (auto graph : module.getOps<graph::GraphOp>()) {
    if (!first)
      first = graph;
    if (!entry.empty() && graph.getSymName() == entry)
      return graph;
  }
  if (!entry.empty())
    reportError(path + " has no graph named '" + entry + "'");
  else if (!first)
    reportError(path + " holds no attn.graph to run");
  return entry.empty() ? first : graph::GraphOp();
}
