//===- Pipelines.h - named pass pipelines -----------------------*- C++ -*-===//
//
// The pass sequences attnc runs, in one place, so that `attnc` and
// `attnc-opt --attn-optimize` run exactly the same thing.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_PIPELINES_PIPELINES_H
#define ATTN_PIPELINES_PIPELINES_H

namespace mlir {
class OpPassManager;
} // namespace mlir

namespace attn {

/// The graph optimisations, on a module of attn graphs:
///   form attention ops from decomposed attention,
///   hoist step-invariant work out of scans,
///   turn elementwise-linear recurrences into associative scans,
///   hoist again (what the conversion left is a map over the steps),
///   canonicalize and CSE,
///   fuse chains of elementwise ops.
void buildOptimizePipeline(mlir::OpPassManager &pm);

/// Registers `attn-optimize` as a named pipeline (attnc-opt --attn-optimize).
void registerPipelines();

} // namespace attn

#endif // ATTN_PIPELINES_PIPELINES_H
