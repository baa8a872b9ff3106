//===- CompileCommand.cpp - attnc MODEL.ir [--emit=...] [-o FILE] ---------===//
//
// The compiler proper: parse and verify, run the pipeline up to the
// requested stage, and write that stage (the input, the optimised graph,
// the kernel-level graph, the generated CUDA, the launch plan, PTX, or the
// model.cubin artifact). Every output goes through a temporary file and a
// rename, so a failure never leaves a truncated file behind.
//
//===----------------------------------------------------------------------===//

#include "attn/Driver/Driver.h"

#include "attn/Analysis/TargetDescription.h"
#include "attn/InitAll.h"
#include "attn/Pipelines/Pipelines.h"
#include "attn/Target/CUDA/CUDAEmitter.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <optional>

using namespace mlir;
using namespace attn;
using namespace attn::driver;

static int write(const std::string &path, llvm::StringRef bytes) {
  if (llvm::Error error = llvm::writeToOutput(path, [&](llvm::raw_ostream &os) {
        os << bytes;
        return llvm::Error::success();
      })) {
    reportError("cannot write '" + path + "': " + toString(std::move(error)));
    return 1;
  }
  return 0;
}

namespace {
/// Stage timings for --timing, in milliseconds of wall time.
class StageClock {
public:
  explicit StageClock(bool enabled) : enabled(enabled) {}
  void lap(const char *stage, std::string detail = "") {
    auto now = std::chrono::steady_clock::now();
    stages.push_back(
        {stage, std::chrono::duration<double, std::milli>(now - last).count(),
         std::move(detail)});
    last = now;
  }
  ~StageClock() {
    if (!enabled)
      return;
    double total = 0;
    for (const Stage &stage : stages)
      total += stage.ms;
    llvm::errs() << "attnc: timing:";
    for (const Stage &stage : stages)
      llvm::errs() << " " << stage.name << " " << llvm::format("%.1f", stage.ms)
                   << " ms" << stage.detail << ",";
    llvm::errs() << " total " << llvm::format("%.1f", total) << " ms\n";
  }

private:
  bool enabled;
  std::chrono::steady_clock::time_point last = std::chrono::steady_clock::now();
  struct Stage {
    const char *name;
    double ms;
    std::string detail;
  };
  std::vector<Stage> stages;
};
} // namespace

/// The emitter's mode for a --f32-matmul value; none for an unknown one.
static std::optional<cuda::F32Matmul> parseF32Matmul(llvm::StringRef mode) {
  if (mode == "3xtf32")
    return cuda::F32Matmul::Tf32x3;
  if (mode == "tf32")
    return cuda::F32Matmul::Tf32;
  if (mode == "simt")
    return cuda::F32Matmul::Simt;
  return std::nullopt;
}

int attn::driver::compileModel(const CompileOptions &options) {
  StageClock clock(options.timing);
  if (options.modelPath.empty()) {
    reportError("no model file given (try: attnc --help)");
    return 1;
  }
  if (llvm::Expected<analysis::TargetDescription> target =
          analysis::lookupTarget(options.arch);
      !target) {
    reportError("--arch: " + toString(target.takeError()));
    return 1;
  } else if (options.sms < 0 || options.sms > target->kernels.sms) {
    reportError("--sms " + std::to_string(options.sms) + ": a " +
                options.arch + " GPU has 1 to " +
                std::to_string(target->kernels.sms) + " SMs");
    return 1;
  }
  if (!parseF32Matmul(options.f32Matmul)) {
    reportError("--f32-matmul: unknown mode '" + options.f32Matmul +
                "' (3xtf32, tf32 or simt)");
    return 1;
  }
  if (options.recurrenceExchange != "tagged" &&
      options.recurrenceExchange != "barrier") {
    reportError("--recurrence-exchange: unknown mode '" +
                options.recurrenceExchange + "' (tagged or barrier)");
    return 1;
  }
  if (options.scanLookahead < 0 || options.scanLookahead > 32) {
    reportError("--scan-lookahead " + std::to_string(options.scanLookahead) +
                ": 1 to 32 chunks a round, or 0 for the compiler's choice");
    return 1;
  }
  DialectRegistry registry;
  registerAllDialects(registry);
  MLIRContext context(registry);
  OneLineDiagnostics diagnostics(context);
  llvm::SourceMgr sourceMgr;
  OwningOpRef<ModuleOp> module =
      loadModel(options.modelPath, context, sourceMgr);
  if (!module)
    return 1;
  clock.lap("parse");

  if (options.emit != "input") {
    PassManager pm(&context);
    if (options.emit == "graph")
      buildOptimizePipeline(pm);
    else
      buildKernelPipeline(pm, options.arch, options.sms);
    if (failed(pm.run(*module)))
      return 1;
    clock.lap("pipeline");
  }
  if (options.emit == "input" || options.emit == "graph" ||
      options.emit == "kernel") {
    std::string text;
    llvm::raw_string_ostream os(text);
    module->print(os);
    return write(options.outputPath, text);
  }

  graph::GraphOp graph = findEntry(*module, options.entry, options.modelPath);
  if (!graph)
    return 1;
  cuda::EmitOptions emitOptions;
  emitOptions.arch = options.arch;
  emitOptions.f32Matmul = *parseF32Matmul(options.f32Matmul);
  emitOptions.recurrenceExchange = options.recurrenceExchange == "barrier"
                                       ? cuda::RecurrenceExchange::Barrier
                                       : cuda::RecurrenceExchange::Tagged;
  emitOptions.scanLookahead = options.scanLookahead;
  FailureOr<cuda::EmittedModule> emitted = cuda::emitModule(graph, emitOptions);
  if (failed(emitted))
    return 1;
  clock.lap("emit");
  if (!options.breakKernel.empty()) {
    // NAME: the first line of the kernel; NAME:V: the first of case V of
    // a shared kernel's variant switch.
    auto [name, variant] = llvm::StringRef(options.breakKernel).split(':');
    std::string header = " " + name.str() + "(\n";
    size_t at = emitted->source.find(header);
    size_t body = at == std::string::npos
                      ? at
                      : emitted->source.find(") {\n", at);
    if (body != std::string::npos && !variant.empty()) {
      // Only within this kernel: up to its emulation thunk.
      size_t end = emitted->source.find("\n#if defined(ATTNC_EMU)", body);
      body = emitted->source.find("  case " + variant.str() + ": {", body);
      if (body != std::string::npos && body < end)
        body = emitted->source.find('\n', body) - 3;
      else
        body = std::string::npos;
    }
    if (body == std::string::npos) {
      reportError("--debug-break-kernel: no kernel '" + options.breakKernel +
                  "'");
      return 1;
    }
    emitted->source.insert(body + 4, "  attnc_not_a_function();\n");
    // The spans after the new line move down by one; the one holding it
    // grows.
    unsigned line = unsigned(std::count(emitted->source.begin(),
                                        emitted->source.begin() + body + 4,
                                        '\n')) + 1;
    for (std::vector<cuda::SourceSpan> *spans :
         {&emitted->spans, &emitted->opSpans})
      for (cuda::SourceSpan &span : *spans) {
        if (span.firstLine > line)
          ++span.firstLine;
        if (span.lastLine >= line)
          ++span.lastLine;
      }
  }
  if (options.emit == "cuda")
    return write(options.outputPath, emitted->source);
  if (options.emit == "plan")
    return write(options.outputPath, emitted->plan);

  cuda::CompileOptions compile;
  compile.arch = options.arch;
  compile.wantPTX = options.emit == "ptx";
  compile.jobs = options.jobs;
  FailureOr<cuda::CompiledModule> compiled =
      cuda::compileModule(*emitted, compile, graph.getLoc());
  if (failed(compiled))
    return 1;
  // Each program's wall time: NVRTC's parallel compile is as slow as its
  // slowest program.
  std::string detail;
  if (compiled->programMs.size() > 1) {
    detail = " (programs";
    for (double ms : compiled->programMs)
      detail += " " + llvm::formatv("{0:F1}", ms).str();
    detail += " ms, link " + llvm::formatv("{0:F1}", compiled->linkMs).str() +
              " ms)";
  }
  clock.lap("nvrtc", detail);
  if (options.emit == "ptx")
    return write(options.outputPath, compiled->ptx);
  if (options.outputPath == "-") {
    reportError("a cubin is binary: name an output file with -o");
    return 1;
  }
  int status = write(options.outputPath, llvm::StringRef(compiled->cubin.data(),
                                                       compiled->cubin.size()));
  clock.lap("write");
  return status;
}

bool attn::driver::compileToModelFile(llvm::StringRef irText,
                                      llvm::StringRef bufferName,
                                      llvm::StringRef arch,
                                      llvm::StringRef entry,
                                      std::vector<char> &modelFile,
                                      std::string &error,
                                      llvm::StringRef f32Matmul,
                                      int64_t sms) {
  if (llvm::Expected<analysis::TargetDescription> target =
          analysis::lookupTarget(arch);
      !target) {
    error = toString(target.takeError());
    return false;
  } else if (sms < 0 || sms > target->kernels.sms) {
    sms = 0; // a larger GPU runs the target's layout
  }
  std::optional<cuda::F32Matmul> mode = parseF32Matmul(f32Matmul);
  if (!mode) {
    error = "unknown f32 matmul mode '" + f32Matmul.str() + "'";
    return false;
  }
  DialectRegistry registry;
  registerAllDialects(registry);
  MLIRContext context(registry);
  // Keep the first error as one line, like the command line tools print it.
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
    if (diag.getSeverity() != DiagnosticSeverity::Error || !error.empty())
      return success();
    std::string where;
    if (auto loc = dyn_cast<FileLineColLoc>(diag.getLocation()))
      where = (loc.getFilename().str() + ":" + std::to_string(loc.getLine()) +
               ":" + std::to_string(loc.getColumn()) + ": ");
    error = where + diag.str();
    return success();
  });
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(irText, bufferName), llvm::SMLoc());
  OwningOpRef<ModuleOp> module =
      parseSourceFile<ModuleOp>(sourceMgr, ParserConfig(&context));
  auto fail = [&] {
    if (error.empty())
      error = "compilation failed";
    return false;
  };
  if (!module)
    return fail();
  PassManager pm(&context);
  buildKernelPipeline(pm, arch, sms);
  if (failed(pm.run(*module)))
    return fail();
  graph::GraphOp graph;
  for (auto candidate : module->getOps<graph::GraphOp>())
    if (entry.empty() || candidate.getSymName() == entry) {
      graph = candidate;
      break;
    }
  if (!graph) {
    error = bufferName.str() + (entry.empty()
                                    ? std::string(": no attn.graph in the module")
                                    : ": no graph named '" + entry.str() + "'");
    return false;
  }
  cuda::EmitOptions emitOptions;
  emitOptions.arch = arch.str();
  emitOptions.f32Matmul = *mode;
  FailureOr<cuda::EmittedModule> emitted = cuda::emitModule(graph, emitOptions);
  if (failed(emitted))
    return fail();
  cuda::CompileOptions compile;
  compile.arch = arch.str();
  FailureOr<cuda::CompiledModule> compiled =
      cuda::compileModule(*emitted, compile, graph.getLoc());
  if (failed(compiled))
    return fail();
  modelFile = std::move(compiled->cubin);
  return true;
}
