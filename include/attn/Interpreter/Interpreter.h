//===- Interpreter.h - the reference interpreter ----------------*- C++ -*-===//
//
// Executes an `attn.graph` on the CPU, op by op, with `attn.scan` run step
// by step exactly as written (nesting and reverse included). Its results
// define what a model means: every compiled form of the model is tested
// against them.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_INTERPRETER_INTERPRETER_H
#define ATTN_INTERPRETER_INTERPRETER_H

#include "attn/Dialect/Graph/IR/GraphOps.h"
#include "attn/Interpreter/Tensor.h"

#include "llvm/ADT/SmallVector.h"

namespace attn::interp {

struct InterpreterOptions {
  Precision precision = Precision::F32;
  /// The largest tensor (in elements) a run may create; a bigger one is
  /// reported at the op that would make it, instead of exhausting memory.
  int64_t maxTensorElements = int64_t(1) << 28;
  /// The most elements all live values may hold together (2^30 doubles is
  /// 8 GiB): beyond it a run is refused at the op, not killed by the OS.
  int64_t maxLiveElements = int64_t(1) << 30;
};

/// Runs `graph` on `arguments`, which must match its argument types.
/// Errors (a tensor over the size limit, an unsupported constant) are
/// emitted as diagnostics at the offending op and yield failure.
mlir::FailureOr<llvm::SmallVector<Tensor>>
runGraph(graph::GraphOp graph, llvm::ArrayRef<Tensor> arguments,
         const InterpreterOptions &options = {});

} // namespace attn::interp

#endif // ATTN_INTERPRETER_INTERPRETER_H
