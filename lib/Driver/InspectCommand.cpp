//===- InspectCommand.cpp - attnc inspect MODEL.cubin ---------------------===//
//
// Reads a model file the way the runtime does (format version, checksum,
// plan) and prints what it holds: per kernel, its launch, ptxas's
// register, shared memory, stack and spill figures, how many of its blocks
// an SM holds at once and what bounds that (targets/targets.json's SM
// limits), and the tensor-core, asynchronous-copy and grid-barrier
// instructions it uses; then the plan. No GPU or driver is involved.
//
//===----------------------------------------------------------------------===//

#include "attn/Analysis/TargetDescription.h"
#include "attn/Driver/Driver.h"

#include "ModelFile.h"
#include "Plan.h"

#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <optional>
#include <sstream>

using namespace attn;
using namespace attn::driver;

/// The blocks of a kernel an SM holds at once, and the resources that stop
/// one more (all that bind): registers (allocated per warp in units of 256, so each
/// thread's count rounds up to a multiple of 8), shared memory (the
/// dynamic and static bytes, plus the 1 KiB the system reserves per block
/// from sm_80 on), threads, or the block limit.
static std::string occupancy(const analysis::KernelDefaults &sm,
                             int64_t threads, int64_t registers,
                             int64_t sharedBytes) {
  int64_t warps = (threads + 31) / 32;
  int64_t warpRegisters = (registers + 7) / 8 * 8 * 32;
  std::pair<int64_t, const char *> limits[] = {
      {warpRegisters ? sm.registersPerSM / warpRegisters / warps
                     : sm.maxBlocksPerSM,
       "registers"},
      {sm.smemPerSMBytes / (sharedBytes + 1024), "shared memory"},
      {sm.maxThreadsPerSM / (warps * 32), "threads"},
      {sm.maxBlocksPerSM, "the block limit"}};
  int64_t blocks = limits[0].first;
  for (auto &limit : limits)
    blocks = std::min(blocks, limit.first);
  std::string bound;
  for (auto &limit : limits)
    if (limit.first == blocks)
      bound += (bound.empty() ? "" : ", ") + std::string(limit.second);
  return std::to_string(blocks) + (blocks == 1 ? " block" : " blocks") +
         " per SM (" + bound + ")";
}

/// The number after `key ` in ptxas's report line, if there is one.
static std::optional<int64_t> reported(const std::string &report,
                                       const std::string &key) {
  size_t at = report.find(key + " ");
  if (at == std::string::npos)
    return std::nullopt;
  return std::strtoll(report.c_str() + at + key.size() + 1, nullptr, 10);
}

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

  // The SM limits of the model's architecture; a model for one attnc does
  // not know still prints everything else.
  llvm::Expected<analysis::TargetDescription> described =
      analysis::lookupTarget(plan.arch);
  std::optional<analysis::TargetDescription> target;
  if (described)
    target = *described;
  else
    llvm::consumeError(described.takeError());

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
    std::optional<int64_t> registers = reported(report, "registers"),
                           shared = reported(report, "shared");
    if (target && registers && shared)
      os << "    occupancy: "
         << occupancy(target->kernels, step.block[0] * step.block[1] *
                                           step.block[2],
                      *registers, int64_t(step.dynamicShared) + *shared)
         << "\n";
    if (instructions != "-")
      os << "    uses: " << instructions << "\n";
  }
  os << "plan:\n" << contents.plan;
  return 0;
}
