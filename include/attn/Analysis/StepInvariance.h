//===- StepInvariance.h - what a scan step does not need --------*- C++ -*-===//
//
// Inside a scan body, a value is state-dependent when it depends, through
// any chain of ops (nested regions included), on one of the scan's carried
// block arguments; otherwise it is step-invariant: it depends only on the
// step's slices of the sequences and on values from outside the scan, and
// can be computed for all steps at once before the scan (the LSTM input
// projection x_t W).
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_ANALYSIS_STEPINVARIANCE_H
#define ATTN_ANALYSIS_STEPINVARIANCE_H

#include "attn/Dialect/Graph/IR/GraphOps.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

namespace attn::analysis {

class StepInvariance {
public:
  explicit StepInvariance(graph::ScanOp scan);

  /// Whether `value`, defined in the scan's body, depends on carried state.
  bool isStateDependent(mlir::Value value) const {
    return dependent.contains(value);
  }
  /// Whether any result of `op` (an op of the body) is state-dependent.
  bool isStateDependent(mlir::Operation *op) const;

  /// The carried block arguments `value` depends on (indices into the
  /// scan's carried values).
  llvm::SmallVector<unsigned> getCarriedDependencies(mlir::Value value) const;

  /// The ops directly in the body, except the terminator, that are
  /// step-invariant: the candidates for hoisting, in body order.
  llvm::SmallVector<mlir::Operation *> getHoistableOps() const;

  graph::ScanOp getScan() const { return scan; }

private:
  // Op handles are values; MLIR's accessors are non-const.
  mutable graph::ScanOp scan;
  /// Per state-dependent value: a bitmask of the carried values it
  /// depends on (scans carry few values).
  llvm::DenseMap<mlir::Value, uint64_t> dependent;
};

} // namespace attn::analysis

#endif // ATTN_ANALYSIS_STEPINVARIANCE_H
