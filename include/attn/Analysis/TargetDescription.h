//===- TargetDescription.h - GPU ceilings for the cost model ----*- C++ -*-===//
//
// The measured ceilings of each GPU target, read from the one target
// description file, targets/targets.json (embedded in the binary at build
// time), and the lower bound on GPU time they give a graph.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_ANALYSIS_TARGETDESCRIPTION_H
#define ATTN_ANALYSIS_TARGETDESCRIPTION_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace attn::analysis {

class CostAnalysis;

/// The starting schedule for each kernel kind on a target: what kernel
/// formation (--attn-form-kernels) clamps to each problem's shape.
struct KernelDefaults {
  int64_t sms, smemPerBlockBytes, maxThreadsPerBlock;
  /// What an SM holds, for the blocks that fit one at once (occupancy).
  int64_t smemPerSMBytes, registersPerSM, maxThreadsPerSM, maxBlocksPerSM;
  int64_t gemmTileM, gemmTileN, gemmTileK, gemmStages, gemmThreads;
  int64_t attentionTileQ, attentionTileKV, attentionThreads;
  int64_t pointwiseThreads, pointwiseElementsPerThread;
  int64_t rowThreads;
  int64_t scanChunk, scanThreads;
  int64_t recurrenceThreads;
};

struct TargetDescription {
  std::string name;    // "sm_90"
  std::string gpu;     // "NVIDIA H200"
  double matmulTflops; // dense bf16/f16 tensor-core matmul, measured
  double vectorTflops; // f32 non-tensor-core arithmetic
  double bandwidthTBs; // device memory, measured copy bandwidth
  double syncMicros;   // one grid-wide synchronisation (dependent step)
  std::string syncJustification;
  KernelDefaults kernels;
};

/// The target named `name` ("sm_90", "sm_80").
llvm::Expected<TargetDescription> lookupTarget(llvm::StringRef name);

/// Names of all described targets.
std::vector<std::string> listTargets();

/// Lower bound on GPU time, in microseconds, and its parts.
struct TimeBound {
  double computeMicros; // matmul flops at the matmul ceiling + the rest at
                        // the vector ceiling
  double memoryMicros;  // minimum bytes at the bandwidth ceiling
  double syncMicros;    // sequential scan steps x grid sync cost
  double totalMicros;   // max(compute, memory) + sync
};
TimeBound lowerBound(const CostAnalysis &cost, const TargetDescription &target);

} // namespace attn::analysis

#endif // ATTN_ANALYSIS_TARGETDESCRIPTION_H
