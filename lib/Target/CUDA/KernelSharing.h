//===- KernelSharing.h - kernel ops that can be one CUDA kernel -*- C++ -*-===//
//
// Which emitted kernels can share one compiled kernel (KernelSharing.cpp);
// ModuleEmitter.cpp writes each such group as one kernel that switches on
// a variant parameter.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_LIB_TARGET_CUDA_KERNELSHARING_H
#define ATTN_LIB_TARGET_CUDA_KERNELSHARING_H

#include "KernelPatterns.h"

#include <memory>
#include <vector>

namespace attn::cuda {

/// Kernel ops emitted as one kernel: the first op's, with each op's own
/// part as one case of a switch on the "variant" scalar.
struct SharedKernel {
  std::string name;
  llvm::SmallVector<unsigned> members; // emission numbers, in launch order
  /// Parameter types: the results', then the inputs' (the longest list).
  llvm::SmallVector<std::string> resultTypes, inputTypes;
};


/// Groups the emitted `kernels` that can share one kernel; returns the
/// groups of two or more, and sets sharedOf[i] to the group of kernel i
/// (-1: on its own).
std::vector<SharedKernel>
findSharedKernels(llvm::ArrayRef<std::unique_ptr<KernelEmission>> kernels,
                  std::vector<int> &sharedOf);

} // namespace attn::cuda

#endif
