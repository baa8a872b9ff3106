//===- Linearity.h - is a recurrence linear in its state? -------*- C++ -*-===//
//
// For each carried value h of a scan, decides whether its update has the
// form h' = a * h + b (elementwise, broadcasting allowed) with a and b
// state-independent. When it does, the recurrence composes associatively,
// (a1, b1) o (a2, b2) = (a1 a2, a2 b1 + b2), and can run as a parallel
// scan. Otherwise the verdict names the op that breaks linearity and why:
// a nonlinear function of the state, a product of two state-dependent
// values, or a matmul with the state (linear, but not elementwise).
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_ANALYSIS_LINEARITY_H
#define ATTN_ANALYSIS_LINEARITY_H

#include "attn/Dialect/Graph/IR/GraphOps.h"

#include <string>

namespace attn::analysis {

struct LinearityVerdict {
  enum class Kind {
    /// h' = a * h + b elementwise, a and b state-independent: scan-able.
    Elementwise,
    /// h' = A(h) + b with A a linear map that is not elementwise (a matmul
    /// or reshuffle of the state): associative, but with matrix products.
    LinearNotElementwise,
    /// Anything else.
    Nonlinear,
  };
  Kind kind;
  /// Why, in one sentence, for the report.
  std::string reason;
  /// The op that decided a non-elementwise verdict, if any.
  mlir::Operation *culprit = nullptr;
};

/// "elementwise-linear", "linear-not-elementwise", "nonlinear".
llvm::StringRef stringifyLinearity(LinearityVerdict::Kind kind);

/// Whether `op` reads operand `index` position by position: no reduction
/// loop, and the operand indexed exactly like its single result (no
/// transpose, window, broadcast of that operand or reshape).
bool readsPositionwise(graph::IterationSpaceOpInterface op, unsigned index);

/// One verdict per carried value of the scan, in order.
llvm::SmallVector<LinearityVerdict> analyzeLinearity(graph::ScanOp scan);

} // namespace attn::analysis

#endif // ATTN_ANALYSIS_LINEARITY_H
