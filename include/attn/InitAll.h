//===- InitAll.h - register every attnc dialect and pass --------*- C++ -*-===//
//
// One place that knows every dialect and pass of the project, so that the
// tools (attnc, attnc-opt) and tests register the same set.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_INITALL_H
#define ATTN_INITALL_H

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace attn {

/// Adds every dialect attnc models may use to `registry`.
void registerAllDialects(mlir::DialectRegistry &registry);

/// Registers every attnc pass and pipeline, plus the upstream passes that
/// are useful on attn graphs (canonicalize, cse).
void registerAllPasses();

} // namespace attn

#endif // ATTN_INITALL_H
