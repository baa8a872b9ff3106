//===- Driver.h - the pieces the attnc tool is made of ----------*- C++ -*-===//
//
// Loading a model file with one-line diagnostics, choosing its entry graph,
// and the `run` command. The attnc binary only parses flags and calls
// these, so tests and future tools (the runtime's JIT) reuse them.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DRIVER_DRIVER_H
#define ATTN_DRIVER_DRIVER_H

#include "attn/Dialect/Graph/IR/GraphOps.h"
#include "attn/Interpreter/Tensor.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/SourceMgr.h"

#include <string>
#include <vector>

namespace attn::driver {

/// Prints every error and warning as one line, `file:line:col: error: msg`,
/// to stderr while alive. Notes (like MLIR's "see current operation") are
/// dropped: the error line already says what is wrong and where.
class OneLineDiagnostics {
public:
  explicit OneLineDiagnostics(mlir::MLIRContext &context);
  ~OneLineDiagnostics();

private:
  mlir::MLIRContext &context;
  mlir::DiagnosticEngine::HandlerID id;
};

/// Prints `attnc: error: <message>` to stderr.
void reportError(const llvm::Twine &message);

/// Reads, parses and verifies a model file; null (after reporting) on any
/// error. `sourceMgr` must outlive the returned module.
mlir::OwningOpRef<mlir::ModuleOp> loadModel(llvm::StringRef path,
                                            mlir::MLIRContext &context,
                                            llvm::SourceMgr &sourceMgr);

/// The graph named `entry`, or when `entry` is empty the module's only
/// graph or else its first. Null (after reporting) if there is none.
graph::GraphOp findEntry(mlir::ModuleOp module, llvm::StringRef entry,
                         llvm::StringRef path);

/// Everything `attnc run` is asked to do.
struct RunOptions {
  std::string modelPath;
  std::string entry;
  std::vector<std::string> inputPaths;
  uint64_t seed = 0;
  std::string outDir = ".";
  bool keepDType = false;
  std::string device = "interp";
  /// Time each kernel launch of a second run (emu and cuda devices).
  bool profile = false;
  interp::Precision precision = interp::Precision::F32;
  /// How f32 x f32 matrix products run when a .ir file is compiled for the
  /// emu or cuda device (CompileOptions::f32Matmul).
  std::string f32Matmul = "3xtf32";
};

/// `attnc run`: returns the process exit code.
int runModel(const RunOptions &options);

/// `attnc run --device=emu|cuda`: through the runtime library (a .ir file
/// is compiled in process first, as the JIT does, without its cache).
int runOnDevice(const RunOptions &options);

/// Everything `attnc MODEL.ir` is asked to do.
struct CompileOptions {
  std::string modelPath;
  std::string entry;
  /// input, graph, kernel, cuda, plan, ptx or cubin.
  std::string emit = "cubin";
  std::string arch = "sm_90";
  /// Where to write; "-" is stdout (not for cubins). Written atomically.
  std::string outputPath = "-";
  /// Testing hook: a kernel whose generated body gets a line NVRTC
  /// rejects, to test how its diagnostics are reported.
  std::string breakKernel;
  /// Print the time of each stage (parse, pipeline, emission, NVRTC,
  /// write) to stderr.
  bool timing = false;
  /// NVRTC programs compiled in parallel (cuda::CompileOptions::jobs).
  unsigned jobs = 0;
  /// SMs of the GPU the model will run on (0: the target's count): the
  /// most blocks a persistent recurrence may have.
  int64_t sms = 0;
  /// How f32 x f32 matrix products run: "3xtf32", "tf32" or "simt"
  /// (cuda::F32Matmul).
  std::string f32Matmul = "3xtf32";
  /// How a persistent recurrence's blocks pass on its state each step:
  /// "tagged" or "barrier" (cuda::RecurrenceExchange).
  std::string recurrenceExchange = "tagged";
  /// Chunks a scan's look-back round loads at once, 1 to 32; 0: the
  /// emitter's choice (cuda::EmitOptions::scanLookahead).
  int64_t scanLookahead = 0;
};

/// `attnc MODEL.ir`: returns the process exit code.
int compileModel(const CompileOptions &options);

/// Compiles attn IR text to a model file (the bytes of model.cubin) for
/// `arch`, in process: graph `entry`, or the first when `entry` is empty.
/// On failure returns false with the first error, one line, in `error`
/// (`bufferName` stands for the file in positions). f32 x f32 products
/// run as `f32Matmul` says (CompileOptions::f32Matmul). `sms` is the SM
/// count of the GPU it is for (CompileOptions::sms); 0, or more than the
/// target description's, compiles for the target's.
bool compileToModelFile(llvm::StringRef irText, llvm::StringRef bufferName,
                        llvm::StringRef arch, llvm::StringRef entry,
                        std::vector<char> &modelFile, std::string &error,
                        llvm::StringRef f32Matmul = "3xtf32",
                        int64_t sms = 0);

/// `attnc inspect MODEL.cubin`: prints the kernels with ptxas's resource
/// report, and the plan. Needs no GPU. Returns the exit code.
int inspectModel(const std::string &path);

/// Everything `attnc analyze` is asked to do.
struct AnalyzeOptions {
  std::string modelPath;
  std::string entry;
  std::string target = "sm_90";
  /// "text" (default), "json", "dot" or "svg".
  std::string format = "text";
  /// Where to write; "-" is stdout. Files are written atomically.
  std::string outputPath = "-";
  /// Analyze the graph after the attn-optimize pipeline.
  bool optimize = false;
};

/// `attnc analyze`: returns the process exit code.
int analyzeModel(const AnalyzeOptions &options);

} // namespace attn::driver

#endif // ATTN_DRIVER_DRIVER_H
