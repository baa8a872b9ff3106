//===- InspectCommand.cpp - attnc inspect MODEL.cubin ---------------------===//
//
// Reads a model file the way the runtime does (format version, checksum,
// plan) and prints what it holds: per kernel, its launch, ptxas's
// register, shared memory, stack and spill figures and the tensor-core,
// asynchronous-copy and grid-barrier instructions it uses; then the plan.
// No GPU or driver is involved.
//
//===----------------------------------------------------------------------===//

#include "attn/Driver/Driver.h"

#include "ModelFile.h"
#include "Plan.h"

#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <map>
#include <sstream>

using namespace attn;
using namespace attn::driver;

int attn::driver::inspectModel(const std::string &path) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                  /*RequiresNullTerminator=*/false);
  if (!buffer) {
    reportError("cannot read model '" + path + "': " +
                buffer.getError().message());
    return 1;
  }
  std::vector<char> file((*buffer)->getBufferStart(),
                         (*buffer)->getBufferEnd());
  attnc::rt::ModelContents contents;
  std::string error;
  attnc::rt::Plan plan;
  if (!attnc::rt::readModelContents(file, &contents, &error) ||
      !attnc::rt::parsePlan(contents.plan, &plan, &error)) {
    reportError(path + ": " + error);
    return 1;
  }
  // ptxas's line per kernel, by kernel name.
  std::map<std::string, std::string> resources;
  std::istringstream lines(contents.resources);
  for (std::string line; std::getline(lines, line);)
    if (size_t space = line.find(' '); space != std::string::npos)
      resources[line.substr(0, space)] = line.substr(space + 1);

  llvm::raw_ostream &os = llvm::outs();
  os << path << ": attnc model for " << plan.arch << ", entry @" << plan.entry
     << ", " << file.size() << " bytes\n";
  os << "kernels:\n";
  // Kernels that several ops share (docs/codegen.md): how many launch each.
  std::map<std::string, int> launches;
  for (const attnc::rt::PlanStep &step : plan.steps)
    if (step.op == attnc::rt::PlanStep::Op::Launch)
      ++launches[step.kernel];
  for (const attnc::rt::PlanStep &step : plan.steps) {
    if (step.op != attnc::rt::PlanStep::Op::Launch)
      continue;
    os << "  " << step.kernel << " (" << step.kind << "): grid "
       << step.grid[0] << ", block " << step.block[0] << ", dynamic smem "
       << step.dynamicShared << (step.cooperative ? ", cooperative" : "");
    if (!step.scalars.empty())
      os << ", variant " << step.scalars.back() << " of "
         << launches[step.kernel] << " sharing it";
    os << "\n    ptxas: ";
    auto it = resources.find(step.kernel);
    std::string report = it == resources.end() ? "no report" : it->second;
    // The instructions the kernel uses through the device library follow
    // ptxas's figures (see NVRTCCompiler.cpp).
    size_t uses = report.find(" uses ");
    std::string instructions =
        uses == std::string::npos ? "-" : report.substr(uses + 6);
    os << report.substr(0, uses) << "\n";
    if (instructions != "-")
      os << "    uses: " << instructions << "\n";
  }
  os << "plan:\n" << contents.plan;
  return 0;
}
