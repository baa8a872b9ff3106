//===- AnalyzeCommand.cpp - `attnc analyze` -------------------------------===//
//
// Loads a model, runs the dependence and cost analyses on one graph and
// prints the parallelism report as text, JSON, Graphviz or SVG. The model
// is parsed with an AsmParserState so that the report names values as the
// user wrote them (%hu, %h), not as the printer would renumber them.
// Output is written atomically; SVG comes from piping the DOT text through
// Graphviz's `dot`, which is optional.
//
//===----------------------------------------------------------------------===//

#include "attn/Driver/Driver.h"
#include "attn/Pipelines/Pipelines.h"

#include "mlir/Pass/PassManager.h"

#include "attn/Analysis/ParallelismReport.h"
#include "attn/InitAll.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/AsmParser/AsmParserState.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace attn;
using namespace attn::driver;

namespace {

/// SSA names as spelled in the source, from the parser's record of where
/// each value was defined.
class SourceNames {
public:
  explicit SourceNames(const AsmParserState &state) : state(state) {}

  /// "%hu"; "%0#1" for the second result of `%0:2 = ...`; empty when the
  /// value was not defined in the source text.
  std::string nameOf(Value value) const {
    if (auto argument = dyn_cast<BlockArgument>(value)) {
      const AsmParserState::BlockDefinition *block =
          state.getBlockDef(argument.getOwner());
      if (!block || argument.getArgNumber() >= block->arguments.size())
        return "";
      return textOf(block->arguments[argument.getArgNumber()].loc);
    }
    auto result = cast<OpResult>(value);
    const AsmParserState::OperationDefinition *op =
        state.getOpDef(result.getOwner());
    if (!op)
      return "";
    // Result groups are in order: `%a, %b:2 = ...` is {0: %a, 1: %b}, and
    // result 2 is %b#1.
    unsigned number = result.getResultNumber();
    auto groups = op->resultGroups;
    for (size_t i = groups.size(); i-- > 0;) {
      unsigned start = groups[i].startIndex;
      if (start > number)
        continue;
      unsigned end = i + 1 < groups.size() ? groups[i + 1].startIndex
                                           : result.getOwner()->getNumResults();
      std::string name = textOf(groups[i].definition.loc);
      if (!name.empty() && end - start > 1)
        name += "#" + std::to_string(number - start);
      return name;
    }
    return "";
  }

private:
  static std::string textOf(llvm::SMRange range) {
    if (!range.isValid())
      return "";
    return std::string(range.Start.getPointer(),
                       range.End.getPointer() - range.Start.getPointer());
  }

  const AsmParserState &state;
};

} // namespace

/// loadModel, but keeping the parser's source record in `asmState`.
static OwningOpRef<ModuleOp> loadWithNames(llvm::StringRef path,
                                           MLIRContext &context,
                                           llvm::SourceMgr &sourceMgr,
                                           AsmParserState &asmState) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFileOrSTDIN(path, /*IsText=*/true);
  if (std::error_code error = buffer.getError()) {
    reportError("cannot read model '" + path + "': " + error.message());
    return nullptr;
  }
  llvm::StringRef identifier = (*buffer)->getBufferIdentifier();
  sourceMgr.AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());
  // What parseSourceFile<ModuleOp> does, through the entry point that
  // fills an AsmParserState; parsing verifies as well.
  Block block;
  ParserConfig config(&context);
  if (failed(parseAsmSourceFile(sourceMgr, &block, config, &asmState)))
    return nullptr;
  Location fileLoc = FileLineColLoc::get(&context, identifier, 0, 0);
  return mlir::detail::constructContainerOpForParserIfNecessary<ModuleOp>(
      &block, &context, fileLoc);
}

/// Renders `dot` to SVG with Graphviz; false (after reporting) on failure.
static bool renderSVG(llvm::StringRef dotProgram, llvm::StringRef dot,
                      std::string &svg) {
  llvm::SmallString<128> dotPath, svgPath, errPath;
  if (std::error_code error =
          llvm::sys::fs::createTemporaryFile("attnc-analyze", "dot", dotPath)) {
    reportError("cannot create a temporary file: " + error.message());
    return false;
  }
  llvm::FileRemover removeDot(dotPath);
  if (llvm::sys::fs::createTemporaryFile("attnc-analyze", "svg", svgPath) ||
      llvm::sys::fs::createTemporaryFile("attnc-analyze", "err", errPath)) {
    reportError("cannot create a temporary file");
    return false;
  }
  llvm::FileRemover removeSVG(svgPath), removeErr(errPath);
  {
    std::error_code error;
    llvm::raw_fd_ostream os(dotPath, error);
    if (error) {
      reportError("cannot write '" + dotPath + "': " + error.message());
      return false;
    }
    os << dot;
  }
  llvm::StringRef args[] = {dotProgram, "-Tsvg", "-o", svgPath, dotPath};
  std::optional<llvm::StringRef> redirects[] = {std::nullopt, std::nullopt,
                                                llvm::StringRef(errPath)};
  std::string message;
  int rc = llvm::sys::ExecuteAndWait(dotProgram, args, std::nullopt, redirects,
                                     /*SecondsToWait=*/60, 0, &message);
  if (rc != 0) {
    std::string detail = message;
    if (auto err = llvm::MemoryBuffer::getFile(errPath))
      detail += (detail.empty() ? "" : ": ") +
                llvm::StringRef((*err)->getBuffer()).trim().str();
    std::replace(detail.begin(), detail.end(), '\n', ' ');
    reportError("Graphviz 'dot' failed (exit code " + llvm::Twine(rc) +
                ")" + (detail.empty() ? "" : ": " + detail));
    return false;
  }
  auto output = llvm::MemoryBuffer::getFile(svgPath);
  if (!output) {
    reportError("cannot read Graphviz output: " + output.getError().message());
    return false;
  }
  svg = (*output)->getBuffer().str();
  return true;
}

int attn::driver::analyzeModel(const AnalyzeOptions &options) {
  const std::string &format = options.format;
  if (format != "text" && format != "json" && format != "dot" &&
      format != "svg") {
    reportError("unknown report format '" + format +
                "' (use text, json, dot or svg)");
    return 1;
  }
  // Cheap checks first: a typo in --target or a missing Graphviz should
  // not wait for the model to load.
  llvm::Expected<analysis::TargetDescription> target =
      analysis::lookupTarget(options.target);
  if (!target) {
    reportError(llvm::toString(target.takeError()));
    return 1;
  }
  std::string dotProgram;
  if (format == "svg") {
    llvm::ErrorOr<std::string> found = llvm::sys::findProgramByName("dot");
    if (!found) {
      reportError("--emit=svg needs Graphviz's 'dot' program, which is not "
                  "on PATH; install Graphviz, or use --emit=dot and render "
                  "the file elsewhere");
      return 1;
    }
    dotProgram = *found;
  }

  DialectRegistry registry;
  attn::registerAllDialects(registry);
  MLIRContext context(registry);
  OneLineDiagnostics diagnostics(context);
  llvm::SourceMgr sourceMgr;
  AsmParserState asmState;
  OwningOpRef<ModuleOp> module =
      loadWithNames(options.modelPath, context, sourceMgr, asmState);
  if (!module)
    return 1;
  if (options.optimize) {
    PassManager pm(&context);
    buildOptimizePipeline(pm);
    if (failed(pm.run(*module)))
      return 1;
  }
  graph::GraphOp graph = findEntry(*module, options.entry, options.modelPath);
  if (!graph)
    return 1;

  // Source names key on the parsed values; after the pipeline some are
  // gone and their storage may be reused, so optimised reports number
  // values instead.
  SourceNames names(asmState);
  analysis::ParallelismReport report = analysis::buildReport(
      graph, *target, [&](Value value) {
        return options.optimize ? std::string() : names.nameOf(value);
      });
  if (report.file.empty())
    report.file = options.modelPath;

  std::string text;
  {
    llvm::raw_string_ostream os(text);
    if (format == "text")
      analysis::printReportText(report, os);
    else if (format == "json")
      os << llvm::formatv("{0:2}", analysis::reportToJSON(report)) << "\n";
    else
      analysis::printReportDot(report, os);
  }
  if (format == "svg") {
    std::string svg;
    if (!renderSVG(dotProgram, text, svg))
      return 1;
    text = std::move(svg);
  }

  // writeToOutput goes through a temporary file and a rename: a failure
  // never leaves a truncated report behind.
  if (llvm::Error error =
          llvm::writeToOutput(options.outputPath, [&](llvm::raw_ostream &os) {
            os << text;
            return llvm::Error::success();
          })) {
    reportError("cannot write '" + options.outputPath +
                "': " + llvm::toString(std::move(error)));
    return 1;
  }
  return 0;
}
