//===- Pipelines.cpp - named pass pipelines -------------------------------===//
//
// See Pipelines.h. Hoisting runs before the linear-recurrence conversion
// (so that the coefficients the conversion builds are computed from whole
// sequences) and after it (so that the scan the conversion leaves, which
// carries nothing, dissolves into whole-sequence ops).
//
//===----------------------------------------------------------------------===//

#include "attn/Pipelines/Pipelines.h"

#include "attn/Conversion/Passes.h"
#include "attn/Dialect/Graph/Transforms/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

void attn::buildOptimizePipeline(mlir::OpPassManager &pm) {
  pm.addPass(graph::createFormAttention());
  pm.addPass(graph::createHoistScanInvariants());
  pm.addPass(graph::createLinearScanToAssoc());
  pm.addPass(graph::createHoistScanInvariants());
  pm.addPass(mlir::createCanonicalizerPass());
  pm.addPass(mlir::createCSEPass());
  // Last: the passes above look through single ops, not fused bodies.
  pm.addPass(graph::createFuseElementwise());
}

void attn::buildKernelPipeline(mlir::OpPassManager &pm,
                               llvm::StringRef target, int64_t sms) {
  buildOptimizePipeline(pm);
  FormKernelsOptions options;
  options.target = target.str();
  options.sms = sms;
  pm.addPass(createFormKernels(options));
}

namespace {
struct KernelPipelineOptions
    : mlir::PassPipelineOptions<KernelPipelineOptions> {
  Option<std::string> target{*this, "target",
                             llvm::cl::desc("sm_80, sm_90 or sm_90a"),
                             llvm::cl::init("sm_90")};
  Option<int64_t> sms{*this, "sms",
                      llvm::cl::desc("SMs of the GPU (0: the target's)"),
                      llvm::cl::init(0)};
};
} // namespace

void attn::registerPipelines() {
  mlir::PassPipelineRegistration<KernelPipelineOptions>(
      "attn-to-kernels",
      "attn-optimize, then kernel formation for a target",
      [](mlir::OpPassManager &pm, const KernelPipelineOptions &options) {
        buildKernelPipeline(pm, options.target, options.sms);
      });
  mlir::PassPipelineRegistration<>(
      "attn-optimize", "The attn graph optimisation pipeline",
      [](mlir::OpPassManager &pm) { buildOptimizePipeline(pm); });
}
