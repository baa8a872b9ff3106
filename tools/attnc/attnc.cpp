//===- attnc.cpp - the attnc compiler driver ------------------------------===//
//
// The user-facing tool. Commands:
//
//   attnc MODEL.ir [--emit=input|graph|kernel|cuda|plan|ptx|cubin]
//             [--arch sm_80|sm_90|sm_90a] [-o FILE]
//             compile to model.cubin (default), or print a stage
//   attnc inspect MODEL.cubin
//             the kernels, their ptxas resource use and the plan
//   attnc run MODEL.ir|model.cubin [--entry NAME] [--input FILE.npy]... [--seed N]
//             [--out DIR] [--keep-dtype] [--precision f32|f64]
//             [--device interp|emu|cuda]
//   attnc analyze MODEL.ir [--entry NAME] [--target sm_90] [--optimize]
//             [--emit=text|json|dot|svg] [--json] [-o FILE]
//
// Flag parsing only; the work is in lib/Driver.
//
//===----------------------------------------------------------------------===//

#include "attn/Driver/Driver.h"
#include "attn/InitAll.h"
#include "attn/Pipelines/Pipelines.h"

#include "mlir/Pass/PassManager.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;
using namespace attn;

static cl::SubCommand runCommand("run",
                                 "Run a graph and write its results as .npy");
static cl::SubCommand inspectCommand(
    "inspect", "Print a model file's kernels, their ptxas resource use and "
               "the launch plan (no GPU needed)");
static cl::opt<std::string> inspectPath(cl::Positional, cl::Required,
                                        cl::desc("MODEL.cubin"),
                                        cl::sub(inspectCommand));
static cl::SubCommand
    analyzeCommand("analyze", "Report what in a graph can run in parallel, "
                              "its dependence chains and a GPU time bound");

//===----------------------------------------------------------------------===//
// Top-level (compile) flags
//===----------------------------------------------------------------------===//

static cl::opt<std::string> modelPath(cl::Positional, cl::desc("MODEL.ir"),
                                      cl::sub(cl::SubCommand::getTopLevel()));
static cl::opt<std::string> outputPath("o", cl::desc("Output file"),
                                       cl::value_desc("FILE"), cl::init("-"),
                                       cl::sub(cl::SubCommand::getTopLevel()));
enum class EmitKind { Input, Graph, Kernel, Cuda, Plan, Ptx, Cubin };
static cl::opt<EmitKind> emitKind(
    "emit", cl::desc("What to produce"), cl::init(EmitKind::Cubin),
    cl::values(clEnumValN(EmitKind::Input, "input",
                          "the parsed and verified input"),
               clEnumValN(EmitKind::Graph, "graph",
                          "the graph after the attn-optimize pipeline"),
               clEnumValN(EmitKind::Kernel, "kernel",
                          "the kernel-level graph (attn-to-kernels)"),
               clEnumValN(EmitKind::Cuda, "cuda",
                          "the generated CUDA C++ (what NVRTC compiles)"),
               clEnumValN(EmitKind::Plan, "plan",
                          "the launch plan embedded in the cubin"),
               clEnumValN(EmitKind::Ptx, "ptx", "PTX of the kernels"),
               clEnumValN(EmitKind::Cubin, "cubin",
                          "the model file: a cubin with the plan (default; "
                          "needs -o)")),
    cl::sub(cl::SubCommand::getTopLevel()));
static cl::opt<std::string> breakKernel(
    "debug-break-kernel", cl::Hidden,
    cl::desc("Testing: add a line NVRTC rejects to this generated kernel "
             "(NAME, or NAME:V for case V of a shared kernel)"),
    cl::sub(cl::SubCommand::getTopLevel()));
static cl::opt<bool> timing(
    "timing", cl::desc("Print the time of each compilation stage to stderr"),
    cl::sub(cl::SubCommand::getTopLevel()));
static cl::opt<unsigned> jobs(
    "j",
    cl::desc("NVRTC programs to compile in parallel, the kernels split over "
             "them and linked (default 0: one per hardware thread, at most 8)"),
    cl::value_desc("N"), cl::init(0), cl::sub(cl::SubCommand::getTopLevel()));
static cl::opt<int64_t> sms(
    "sms",
    cl::desc("SMs of the GPU the model will run on, where it has fewer than "
             "the target's (an H100 PCIe's 114 for sm_90): a persistent "
             "recurrence's blocks must all be resident at once (default 0: "
             "the target's count)"),
    cl::value_desc("N"), cl::init(0), cl::sub(cl::SubCommand::getTopLevel()));
enum class F32MatmulKind { Tf32x3, Tf32, Simt };
static cl::opt<F32MatmulKind> f32Matmul(
    "f32-matmul", cl::desc("How products of two f32 matrices run"),
    cl::init(F32MatmulKind::Tf32x3),
    cl::values(clEnumValN(F32MatmulKind::Tf32x3, "3xtf32",
                          "TF32 tensor cores, each operand split in two "
                          "(3 MMAs per product): about f32's accuracy "
                          "(default)"),
               clEnumValN(F32MatmulKind::Tf32, "tf32",
                          "one TF32 MMA per product (10-bit significands, "
                          "as PyTorch's allow_tf32)"),
               clEnumValN(F32MatmulKind::Simt, "simt",
                          "f32 FMAs, no tensor cores")),
    cl::sub(cl::SubCommand::getTopLevel()), cl::sub(runCommand));

static cl::opt<std::string> recurrenceExchange(
    "recurrence-exchange",
    cl::desc("How a persistent recurrence's blocks pass on its state each "
             "step: tagged (tagged copies where the recurrence allows, "
             "default) or barrier (a grid barrier every step)"),
    cl::value_desc("tagged|barrier"), cl::init("tagged"),
    cl::sub(cl::SubCommand::getTopLevel()));

static cl::opt<int64_t> scanLookahead(
    "scan-lookahead",
    cl::desc("Chunks a single-pass scan's look-back loads at once (1 to "
             "32; default 0: 16 where registers allow, else 8)"),
    cl::value_desc("N"), cl::init(0), cl::sub(cl::SubCommand::getTopLevel()));

static std::string f32MatmulName() {
  return f32Matmul == F32MatmulKind::Simt   ? "simt"
         : f32Matmul == F32MatmulKind::Tf32 ? "tf32"
                                            : "3xtf32";
}
static cl::opt<std::string>
    arch("arch", cl::desc("GPU target: sm_80, sm_90 (default) or sm_90a"),
         cl::init("sm_90"), cl::sub(cl::SubCommand::getTopLevel()));

//===----------------------------------------------------------------------===//
// `run` flags
//===----------------------------------------------------------------------===//

static cl::opt<std::string> runModelPath(cl::Positional, cl::Required,
                                         cl::desc("MODEL.ir"),
                                         cl::sub(runCommand));
static cl::opt<std::string> entry("entry", cl::desc("Graph to run"),
                                  cl::value_desc("NAME"), cl::sub(runCommand));
static cl::list<std::string>
    inputs("input", cl::desc("Input .npy file, in argument order"),
           cl::value_desc("FILE.npy"), cl::sub(runCommand));
static cl::opt<uint64_t> seed("seed",
                              cl::desc("Seed of the random inputs (default 0)"),
                              cl::init(0), cl::sub(runCommand));
static cl::opt<std::string> outDir("out", cl::desc("Output directory"),
                                   cl::value_desc("DIR"), cl::init("."),
                                   cl::sub(runCommand));
static cl::opt<bool> keepDType("keep-dtype",
                               cl::desc("Write f16/bf16 results as such "
                                        "instead of f32"),
                               cl::sub(runCommand));
static cl::opt<std::string> device("device",
                                   cl::desc("Where to run: interp, emu or cuda"),
                                   cl::init("interp"), cl::sub(runCommand));
static cl::opt<bool> profile(
    "profile",
    cl::desc("After the run, time each kernel launch of a second run on its "
             "own and print the times (--device=emu or cuda)"),
    cl::sub(runCommand));
static cl::opt<interp::Precision> precision(
    "precision", cl::desc("Interpreter arithmetic"),
    cl::init(interp::Precision::F32),
    cl::values(clEnumValN(interp::Precision::F32, "f32",
                          "f32 compute, results rounded to their types"),
               clEnumValN(interp::Precision::F64, "f64",
                          "f64 throughout, no rounding (references)")),
    cl::sub(runCommand));

//===----------------------------------------------------------------------===//
// `analyze` flags
//===----------------------------------------------------------------------===//

// Options named like those of other subcommands ("entry", "o", "emit") are
// separate objects: a cl::opt belongs to the subcommands it is bound to,
// and one object bound to two would mix their values.
static cl::opt<std::string> analyzeModelPath(cl::Positional, cl::Required,
                                             cl::desc("MODEL.ir"),
                                             cl::sub(analyzeCommand));
static cl::opt<std::string> analyzeEntry("entry",
                                         cl::desc("Graph to analyze"),
                                         cl::value_desc("NAME"),
                                         cl::sub(analyzeCommand));
static cl::opt<std::string>
    analyzeTarget("target",
                  cl::desc("GPU whose ceilings bound the time (default "
                           "sm_90; targets/targets.json lists them)"),
                  cl::value_desc("sm_XX"), cl::init("sm_90"),
                  cl::sub(analyzeCommand));
static cl::opt<std::string> analyzeEmit(
    "emit", cl::desc("Report format: text (default), json, dot or svg"),
    cl::value_desc("FORMAT"), cl::init("text"), cl::sub(analyzeCommand));
static cl::opt<bool> analyzeJSON("json", cl::desc("Same as --emit=json"),
                                 cl::sub(analyzeCommand));
static cl::opt<std::string> analyzeOutput("o", cl::desc("Output file"),
                                          cl::value_desc("FILE"),
                                          cl::init("-"),
                                          cl::sub(analyzeCommand));

static cl::opt<bool> analyzeOptimized(
    "optimize", cl::desc("Analyze the graph after the attn-optimize pipeline"),
    cl::sub(analyzeCommand));

/// `attnc analyze ...`.
static int analyze() {
  driver::AnalyzeOptions options;
  options.modelPath = analyzeModelPath;
  options.entry = analyzeEntry;
  options.target = analyzeTarget;
  options.format = analyzeEmit;
  options.outputPath = analyzeOutput;
  options.optimize = analyzeOptimized;
  if (analyzeJSON) {
    // --json is a shorthand; contradicting it is a mistake worth saying.
    if (analyzeEmit.getNumOccurrences() && analyzeEmit != "json") {
      driver::reportError("--json conflicts with --emit=" + analyzeEmit);
      return 1;
    }
    options.format = "json";
  }
  return driver::analyzeModel(options);
}

/// `attnc MODEL.ir --emit=...`.
static int compile() {
  driver::CompileOptions options;
  options.modelPath = modelPath;
  options.arch = arch;
  options.outputPath = outputPath;
  options.breakKernel = breakKernel;
  options.timing = timing;
  options.jobs = jobs;
  options.sms = sms;
  options.f32Matmul = f32MatmulName();
  options.recurrenceExchange = recurrenceExchange;
  options.scanLookahead = scanLookahead;
  switch (emitKind) {
  case EmitKind::Input:
    options.emit = "input";
    break;
  case EmitKind::Graph:
    options.emit = "graph";
    break;
  case EmitKind::Kernel:
    options.emit = "kernel";
    break;
  case EmitKind::Cuda:
    options.emit = "cuda";
    break;
  case EmitKind::Plan:
    options.emit = "plan";
    break;
  case EmitKind::Ptx:
    options.emit = "ptx";
    break;
  case EmitKind::Cubin:
    options.emit = "cubin";
    break;
  }
  return driver::compileModel(options);
}

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  // Flag errors become one `attnc: error:` line like every other error.
  std::string flagErrors;
  raw_string_ostream flagErrorStream(flagErrors);
  if (!cl::ParseCommandLineOptions(argc, argv,
                                   "attnc: compile and run attn model graphs\n",
                                   &flagErrorStream)) {
    StringRef first = StringRef(flagErrors).trim().split('\n').first;
    // A bad value of an enumerated flag (--emit=x) is reported by the
    // option itself, on its own line to stderr: that line is the error.
    if (first.empty())
      return 1;
    first.consume_front("attnc: ");
    driver::reportError(first.contains("Try:") ? first
                                               : first + " (try: attnc --help)");
    return 1;
  }
  // LLVM makes top-level flags visible to every subcommand; those that only
  // compiling reads would be ignored there without a word, so a
  // subcommand given one refuses it.
  if (runCommand || analyzeCommand || inspectCommand) {
    const char *subcommand = runCommand       ? "run"
                             : analyzeCommand ? "analyze"
                                              : "inspect";
    const std::pair<cl::Option *, const char *> compileOnly[] = {
        {&arch, "--arch"},       {&sms, "--sms"},
        {&jobs, "-j"},           {&emitKind, "--emit"},
        {&timing, "--timing"},   {&recurrenceExchange, "--recurrence-exchange"},
        {&scanLookahead, "--scan-lookahead"},
        {&breakKernel, "--debug-break-kernel"}, {&outputPath, "-o"}};
    for (auto [option, name] : compileOnly)
      if (option->getNumOccurrences()) {
        driver::reportError(std::string(name) +
                            " is a flag of compiling (attnc MODEL.ir " + name +
                            " ...); attnc " + subcommand + " does not take it");
        return 1;
      }
  }
  if (runCommand) {
    driver::RunOptions options;
    options.modelPath = runModelPath;
    options.entry = entry;
    options.inputPaths.assign(inputs.begin(), inputs.end());
    options.seed = seed;
    options.outDir = outDir;
    options.keepDType = keepDType;
    options.device = device;
    options.profile = profile;
    options.precision = precision;
    options.f32Matmul = f32MatmulName();
    return driver::runModel(options);
  }
  if (analyzeCommand)
    return analyze();
  if (inspectCommand)
    return driver::inspectModel(inspectPath);
  return compile();
}
