//===- Pipelines.h - named pass pipelines -----------------------*- C++ -*-===//
//
// The pass sequences attnc runs, in one place, so that `attnc` and
// `attnc-opt --attn-optimize` run exactly the same thing.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_PIPELINES_PIPELINES_H
#define ATTN_PIPELINES_PIPELINES_H

#include "llvm/ADT/StringRef.h"

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

/// The optimisations, then kernel formation for `target` (sm_80, sm_90,
/// sm_90a) on a GPU of `sms` SMs (0: the target's count): a module whose
/// graphs hold kernel ops only.
void buildKernelPipeline(mlir::OpPassManager &pm, llvm::StringRef target,
                         int64_t sms = 0);

/// Registers `attn-optimize` and `attn-to-kernels{target=...}` as named
/// pipelines (attnc-opt --attn-optimize, --attn-to-kernels).
void registerPipelines();

} // namespace attn

#endif // ATTN_PIPELINES_PIPELINES_H
