//===- CUDAEmitter.h - kernel-level graphs to CUDA C++ and cubins -*- C++ -*-===//
//
// The Target library: a kernel-level attn.graph (after --attn-form-kernels)
// becomes one CUDA C++ translation unit, one `extern "C" __global__`
// function per kernel op, written against the device library
// (runtime/device/attnc/device.h), plus the launch plan the runtime needs.
// compileModel then runs NVRTC and produces the model.cubin artifact.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_TARGET_CUDA_CUDAEMITTER_H
#define ATTN_TARGET_CUDA_CUDAEMITTER_H

#include "attn/Dialect/Graph/IR/GraphOps.h"

#include "mlir/Support/LLVM.h"

#include <string>
#include <vector>

namespace attn::cuda {

/// Which kernel op produced which lines of the generated source, so an
/// NVRTC diagnostic can name the op.
struct SourceSpan {
  std::string kernel;
  unsigned firstLine = 0, lastLine = 0;
  mlir::Location loc;
};

struct EmittedModule {
  /// The kernels, exactly as NVRTC and the CPU emulation compile them.
  std::string source;
  /// The launch plan's text form (runtime/src/Plan.h).
  std::string plan;
  std::vector<SourceSpan> spans;
  /// Inside a kernel that several ops share, the lines of each op's own
  /// part (its case of the variant switch), so a diagnostic there names
  /// that op.
  std::vector<SourceSpan> opSpans;
  std::vector<std::string> kernelNames;
  /// Per kernel, the special instructions its code uses through the device
  /// library ("mma.sync.m16n8k16 ldmatrix cp.async"; empty for none).
  std::vector<std::string> instructions;
  /// Per kernel, the fewest registers per thread ptxas may give it, as its
  /// setmaxnreg limits take them from the block's pool (0: any number).
  /// In relocatable code ptxas ignores setmaxnreg (C7504), so a module
  /// with such a kernel compiles as one whole program.
  std::vector<int64_t> minRegisters;
};

/// Emits every kernel op of `graph`, which must be at kernel level.
/// Errors are diagnostics at the offending op.
/// How products of two f32 matrices run (attnc --f32-matmul).
enum class F32Matmul {
  /// TF32 tensor cores with error compensation: each operand split into
  /// two TF32 parts, three MMAs per product ("3xTF32"), about f32's
  /// accuracy (docs/codegen.md).
  Tf32x3,
  /// One TF32 MMA per product: 10-bit significands, relative errors near
  /// 1e-3, as cuDNN's and PyTorch's TF32 modes.
  Tf32,
  /// f32 FMAs off the tensor cores.
  Simt,
};

/// How the blocks of a persistent recurrence pass its state on each step
/// (attnc --recurrence-exchange).
enum class RecurrenceExchange {
  /// Tagged copies of the state where the recurrence allows
  /// (lib/Target/CUDA/RecurrenceExchange.cpp), else a grid barrier.
  Tagged,
  /// A grid barrier every step.
  Barrier,
};

struct EmitOptions {
  std::string arch = "sm_90";
  F32Matmul f32Matmul = F32Matmul::Tf32x3;
  RecurrenceExchange recurrenceExchange = RecurrenceExchange::Tagged;
  /// Chunks a single-pass scan's look-back round loads at once (attnc
  /// --scan-lookahead): 0 lets the emitter choose (EmitScan.cpp).
  int64_t scanLookahead = 0;
};

mlir::FailureOr<EmittedModule> emitModule(graph::GraphOp graph,
                                          const EmitOptions &options);

/// What NVRTC made of a module.
struct CompiledModule {
  std::vector<char> cubin; // the complete model file
  std::string ptx;         // filled when asked for
  std::string resources;   // ptxas's per-kernel report, as embedded
  /// Wall time of each NVRTC program (compiled in parallel) and of the
  /// nvJitLink step joining them, in milliseconds, for --timing.
  std::vector<double> programMs;
  double linkMs = 0;
};

struct CompileOptions {
  std::string arch = "sm_90";
  bool wantPTX = false;
  /// NVRTC programs compiled at once: the kernels are split over them and
  /// the results linked with nvJitLink. 0: one per hardware thread (at
  /// most 8 and one per kernel); 1: a single program, no link.
  unsigned jobs = 0;
};

/// Compiles `module` with NVRTC into a model file: a cubin that also holds
/// the plan, the kernel source (for the emulation device), ptxas's
/// resource report and a checksum over the whole file. Errors are
/// diagnostics at `loc`, or at the kernel op whose lines NVRTC rejected.
mlir::FailureOr<CompiledModule> compileModule(const EmittedModule &module,
                                              const CompileOptions &options,
                                              mlir::Location loc);

/// Whether this attnc was built with NVRTC.
bool haveNVRTC();

} // namespace attn::cuda

#endif
