//===- Cost.h - work, bytes and span of a graph -----------------*- C++ -*-===//
//
// For the static shapes of a graph: the work (flops, by each op's
// getFlopCount, a scan's body counted once per step), the bytes each op
// moves through device memory when run alone, the bytes a perfectly fused
// graph must move (its arguments and results), and the span: the number of
// dependent steps on the critical path, where an op is one step and a scan
// is its length times its body's span. Parallelism is work over span.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_ANALYSIS_COST_H
#define ATTN_ANALYSIS_COST_H

#include "attn/Dialect/Graph/IR/GraphOps.h"

#include "llvm/ADT/DenseMap.h"

namespace attn::analysis {

struct OpCost {
  /// Flops of one execution of the op (a scan: all its steps).
  int64_t flops = 0;
  /// Bytes the op reads and writes when it runs alone: its operands and
  /// results once each (a scan: sequences, initial state, results, and the
  /// outer values its body uses, once; the body kept on chip).
  int64_t bytes = 0;
  /// Dependent steps the op itself takes (1; a scan: length x body span;
  /// constants and generators: 0, they fold at compile time).
  int64_t span = 0;
  /// Steps on the longest path from the region's inputs to the end of
  /// this op (its finish time in steps).
  int64_t finish = 0;
  /// On a longest path of its region (zero slack).
  bool critical = false;
};

class CostAnalysis {
public:
  explicit CostAnalysis(graph::GraphOp graph);

  /// The cost of `op`, any op of the graph at any nesting depth. For ops in
  /// a scan body, figures are per step and `finish`/`critical` are relative
  /// to the body.
  const OpCost &getCost(mlir::Operation *op) const { return costs.at(op); }

  /// The span of a scan body (one step).
  int64_t getBodySpan(graph::ScanOp scan) const { return bodySpans.at(scan); }

  int64_t getTotalFlops() const { return totalFlops; }
  /// Sum of every top-level op's bytes: what an unfused execution moves.
  int64_t getUnfusedBytes() const { return unfusedBytes; }
  /// Graph arguments plus results: what a perfectly fused execution moves.
  int64_t getMinBytes() const { return minBytes; }
  int64_t getSpan() const { return span; }
  /// Sequential scan steps on the critical path (nested scans multiply):
  /// each needs at least one grid-wide synchronisation on a GPU.
  int64_t getSyncSteps() const { return syncSteps; }
  double getParallelism() const {
    return span == 0 ? 0.0 : double(totalFlops) / double(span);
  }
  /// Flops of matmuls (tensor-core work) among the total.
  int64_t getMatmulFlops() const { return matmulFlops; }

private:
  llvm::DenseMap<mlir::Operation *, OpCost> costs;
  llvm::DenseMap<mlir::Operation *, int64_t> bodySpans;
  int64_t totalFlops = 0, unfusedBytes = 0, minBytes = 0, span = 0,
          syncSteps = 0, matmulFlops = 0;
};

/// Bytes of a value's tensor.
int64_t bytesOf(mlir::Value value);

} // namespace attn::analysis

#endif // ATTN_ANALYSIS_COST_H
