//===- RunCommand.cpp - `attnc run` ---------------------------------------===//
//
// Runs a graph on a device: binds inputs from .npy files (in argument
// order) or from the documented random generator, executes, and writes
// every result as DIR/out<i>.npy. Inputs are checked against the graph's
// signature before anything runs, and each output file is written
// atomically, so a failed run never leaves a partial file behind.
//
//===----------------------------------------------------------------------===//

#include "attn/Driver/Driver.h"

#include "attn/InitAll.h"
#include "attn/Interpreter/Interpreter.h"
#include "attn/Support/RandomInputs.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace attn;
using namespace attn::driver;

/// The arguments of `graph`: files first, in order; random for the rest.
static std::optional<std::vector<interp::Tensor>>
bindArguments(graph::GraphOp graph, const RunOptions &options,
              const interp::InterpreterOptions &limits) {
  ArrayRef<Type> inputs = graph.getFunctionType().getInputs();
  if (options.inputPaths.size() > inputs.size()) {
    reportError(llvm::Twine(options.inputPaths.size()) + " input files given "
                "but graph @" + graph.getSymName() + " takes " +
                llvm::Twine(inputs.size()) + " arguments");
    return std::nullopt;
  }
  std::vector<interp::Tensor> arguments;
  for (auto [i, type] : llvm::enumerate(inputs)) {
    auto tensorType = cast<RankedTensorType>(type);
    std::vector<int64_t> shape(tensorType.getShape().begin(),
                               tensorType.getShape().end());
    DType dtype = *interp::dtypeOf(tensorType);
    if (tensorType.getNumElements() > limits.maxTensorElements) {
      reportError("argument " + llvm::Twine(i) + " of @" +
                  graph.getSymName() + " has " +
                  llvm::Twine(tensorType.getNumElements()) +
                  " elements, more than the interpreter's limit of " +
                  llvm::Twine(limits.maxTensorElements));
      return std::nullopt;
    }
    if (i >= options.inputPaths.size()) {
      arguments.push_back(interp::fromNpy(
          randomInput(options.seed, i, shape, dtype)));
      continue;
    }
    const std::string &path = options.inputPaths[i];
    NpyArray array;
    std::string error;
    if (!readNpy(path, array, error)) {
      reportError(error);
      return std::nullopt;
    }
    if (array.dtype != dtype || array.shape != shape) {
      reportError(path + ": argument " + llvm::Twine(i) + " of @" +
                  graph.getSymName() + " is " + shapeString(shape) + " " +
                  dtypeName(dtype) + " but the file holds " +
                  shapeString(array.shape) + " " + dtypeName(array.dtype));
      return std::nullopt;
    }
    arguments.push_back(interp::fromNpy(array));
  }
  return arguments;
}

/// Writes the results; float results become f32 unless asked to keep them.
static bool writeResults(llvm::ArrayRef<interp::Tensor> results,
                         const RunOptions &options) {
  if (std::error_code error =
          llvm::sys::fs::create_directories(options.outDir)) {
    reportError("cannot create output directory '" + options.outDir +
                "': " + error.message());
    return false;
  }
  for (auto [i, result] : llvm::enumerate(results)) {
    llvm::SmallString<256> path(options.outDir);
    llvm::sys::path::append(path, "out" + llvm::Twine(i) + ".npy");
    DType dtype = options.keepDType || result.dtype == DType::I1
                      ? result.dtype
                      : DType::F32;
    std::string error;
    if (!writeNpy(std::string(path), interp::toNpy(result, dtype), error)) {
      reportError(error);
      return false;
    }
    llvm::outs() << "wrote " << path << ": " << shapeString(result.shape)
                 << " " << dtypeName(dtype) << "\n";
  }
  return true;
}

int attn::driver::runModel(const RunOptions &options) {
  if (options.device == "emu" || options.device == "cuda")
    return runOnDevice(options);
  if (options.device != "interp") {
    reportError("unknown device '" + options.device +
                "'; use --device=interp, emu or cuda");
    return 1;
  }
  if (options.profile) {
    reportError("--profile times kernels: use it with --device=emu or cuda");
    return 1;
  }
  // A compiled model holds kernels, not the graph the interpreter needs.
  if (auto head = llvm::MemoryBuffer::getFileSlice(options.modelPath, 4, 0);
      head && (*head)->getBuffer() == "\x7f" "ELF") {
    reportError(options.modelPath +
                " is a compiled model; the interpreter runs .ir files (run "
                "the compiled model with --device=emu or --device=cuda)");
    return 1;
  }
  DialectRegistry registry;
  attn::registerAllDialects(registry);
  MLIRContext context(registry);
  OneLineDiagnostics diagnostics(context);
  llvm::SourceMgr sourceMgr;
  OwningOpRef<ModuleOp> module =
      loadModel(options.modelPath, context, sourceMgr);
  if (!module)
    return 1;
  graph::GraphOp graph =
      findEntry(*module, options.entry, options.modelPath);
  if (!graph)
    return 1;
  interp::InterpreterOptions interpreterOptions;
  interpreterOptions.precision = options.precision;
  std::optional<std::vector<interp::Tensor>> arguments =
      bindArguments(graph, options, interpreterOptions);
  if (!arguments)
    return 1;
  FailureOr<SmallVector<interp::Tensor>> results =
      interp::runGraph(graph, *arguments, interpreterOptions);
  if (failed(results))
    return 1;
  return writeResults(*results, options) ? 0 : 1;
}
