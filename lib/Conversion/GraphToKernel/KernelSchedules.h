//===- KernelSchedules.h - tiles and launch shapes per kernel ---*- C++ -*-===//
//
// Chooses each kernel's schedule (its loops' roles and tiles, block count,
// threads and shared memory) from the target's kernel defaults, clamped to
// the problem so small shapes do not launch mostly-empty tiles.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_LIB_CONVERSION_GRAPHTOKERNEL_KERNELSCHEDULES_H
#define ATTN_LIB_CONVERSION_GRAPHTOKERNEL_KERNELSCHEDULES_H

#include "attn/Analysis/TargetDescription.h"
#include "attn/Dialect/Kernel/IR/KernelDialect.h"

#include "mlir/IR/Operation.h"

namespace attn::kernel {

struct Schedule {
  llvm::SmallVector<LoopAttr> loops;
  int64_t blocks = 1;
  int64_t threads = 1;
  int64_t smem = 0;
};

/// The schedule of a kernel whose anchor is `anchor` (the matmul,
/// attention, row op, scan or assoc_scan; for a pointwise kernel the op
/// producing its first result).
Schedule scheduleKernel(mlir::Operation *anchor,
                        const analysis::TargetDescription &target);

} // namespace attn::kernel

#endif
