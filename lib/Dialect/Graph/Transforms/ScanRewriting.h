//===- ScanRewriting.h - reshaping attn.scan ops ----------------*- C++ -*-===//
//
// Helpers shared by passes that change a scan's operands or results: a
// scan's operand and result lists are fixed at creation, so adding or
// dropping one means building a new scan and moving the body over.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_LIB_DIALECT_GRAPH_TRANSFORMS_SCANREWRITING_H
#define ATTN_LIB_DIALECT_GRAPH_TRANSFORMS_SCANREWRITING_H

#include "attn/Dialect/Graph/IR/GraphOps.h"

namespace attn::graph {

/// Appends `sequences` to the scan's sequence operands, with one new body
/// argument each (after the existing sequence arguments). Returns the new
/// scan; `scan` is erased.
ScanOp appendSequences(ScanOp scan, mlir::ValueRange sequences);

/// Appends `values` (defined in the body) to the scan's yielded step
/// outputs, each stacked into a new result after the existing stacked
/// results. Returns the new scan; `scan` is erased.
ScanOp appendStackedOutputs(ScanOp scan, mlir::ValueRange values);

/// Removes what a scan carries or computes for nothing: carried values the
/// body passes through unchanged (their uses read the initial value
/// instead), stacked outputs nobody uses, and sequences the body no longer
/// reads (one is always kept: it gives the scan its length). Outputs that
/// are the step's own slices are the sequences themselves; a scan left
/// with nothing else to compute is erased. Returns the new scan, `scan`
/// itself when nothing changed, or null when the scan is gone.
ScanOp removeDeadScanParts(ScanOp scan);

} // namespace attn::graph

#endif // ATTN_LIB_DIALECT_GRAPH_TRANSFORMS_SCANREWRITING_H
