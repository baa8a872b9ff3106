//===- TargetDescription.cpp - GPU ceilings and the time lower bound ------===//
//
// Reads the target description file, targets/targets.json, which CMake
// embeds as kTargetsJSON, and turns a graph's cost into a lower bound on
// GPU time: a roofline (the slower of compute at the measured ceilings and
// the minimum traffic at the measured bandwidth) plus one grid-wide
// synchronisation per sequential scan step, which no amount of parallel
// hardware hides.
//
//===----------------------------------------------------------------------===//

#include "attn/Analysis/TargetDescription.h"

#include "attn/Analysis/Cost.h"
#include "attn/Analysis/TargetsJSON.inc"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/JSON.h"

#include <algorithm>

using namespace llvm;
using namespace attn::analysis;

/// The parsed "targets" array. The file is embedded, so a malformed one is
/// a build-time mistake; it still surfaces as an error, never a crash.
static Expected<json::Array> parseTargets() {
  Expected<json::Value> document = json::parse(kTargetsJSON);
  if (!document)
    return createStringError("targets/targets.json is not valid JSON: " +
                             toString(document.takeError()));
  json::Object *root = document->getAsObject();
  json::Array *targets = root ? root->getArray("targets") : nullptr;
  if (!targets)
    return createStringError(
        "targets/targets.json has no \"targets\" array");
  return std::move(*targets);
}

/// Whether `entry` is called `name`, by its name or one of its aliases.
static bool answersTo(const json::Object &entry, StringRef name) {
  if (entry.getString("name") == name)
    return true;
  if (const json::Array *aliases = entry.getArray("aliases"))
    for (const json::Value &alias : *aliases)
      if (alias.getAsString() == name)
        return true;
  return false;
}

/// The "kernels" object of `entry`: positive integers, every one required,
/// so a schedule never silently falls back to a made-up number.
static Error readKernelDefaults(const json::Object &entry, StringRef name,
                                KernelDefaults &out) {
  const json::Object *kernels = entry.getObject("kernels");
  if (!kernels)
    return createStringError("target '" + name +
                             "' in targets/targets.json has no \"kernels\"");
  std::pair<StringRef, int64_t *> fields[] = {
      {"sms", &out.sms},
      {"smem_per_block_bytes", &out.smemPerBlockBytes},
      {"max_threads_per_block", &out.maxThreadsPerBlock},
      {"smem_per_sm_bytes", &out.smemPerSMBytes},
      {"registers_per_sm", &out.registersPerSM},
      {"max_threads_per_sm", &out.maxThreadsPerSM},
      {"max_blocks_per_sm", &out.maxBlocksPerSM},
      {"gemm_tile_m", &out.gemmTileM},
      {"gemm_tile_n", &out.gemmTileN},
      {"gemm_tile_k", &out.gemmTileK},
      {"gemm_stages", &out.gemmStages},
      {"gemm_threads", &out.gemmThreads},
      {"attention_tile_q", &out.attentionTileQ},
      {"attention_tile_kv", &out.attentionTileKV},
      {"attention_threads", &out.attentionThreads},
      {"pointwise_threads", &out.pointwiseThreads},
      {"pointwise_elements_per_thread", &out.pointwiseElementsPerThread},
      {"row_threads", &out.rowThreads},
      {"scan_chunk", &out.scanChunk},
      {"scan_threads", &out.scanThreads},
      {"recurrence_threads", &out.recurrenceThreads}};
  for (auto [key, slot] : fields) {
    std::optional<int64_t> value = kernels->getInteger(key);
    if (!value || *value <= 0)
      return createStringError("target '" + name + "' in targets/targets.json"
                               " needs a positive integer \"kernels\"." + key);
    *slot = *value;
  }
  // The recurrence kernel gives rows of a step to whole warps
  // (RecurrenceRowOps.cpp) and sums dot products with full-warp shuffles.
  if (out.recurrenceThreads % 32 != 0)
    return createStringError("target '" + name + "' in targets/targets.json"
                             " needs \"kernels\".recurrence_threads to be a "
                             "multiple of 32");
  return Error::success();
}

/// The description in `entry`, named `name` (the alias the user asked
/// for, when it was one).
static Expected<TargetDescription> readTarget(const json::Object &entry,
                                              StringRef name) {
  TargetDescription target;
  target.name = name.str();
  auto field = [&](StringRef key, double &out) -> Error {
    std::optional<double> value = entry.getNumber(key);
    // Every ceiling divides something: zero or negative would make the
    // bound meaningless rather than merely loose.
    if (!value || !(*value > 0))
      return createStringError("target '" + name + "' in targets/targets.json"
                               " needs a positive number \"" + key + "\"");
    out = *value;
    return Error::success();
  };
  if (Error error = field("matmul_tflops", target.matmulTflops))
    return std::move(error);
  if (Error error = field("vector_tflops", target.vectorTflops))
    return std::move(error);
  if (Error error = field("bandwidth_tbs", target.bandwidthTBs))
    return std::move(error);
  if (Error error = field("sync_us", target.syncMicros))
    return std::move(error);
  if (Error error = readKernelDefaults(entry, name, target.kernels))
    return std::move(error);
  target.gpu = entry.getString("gpu").value_or("").str();
  target.syncJustification =
      entry.getString("sync_justification").value_or("").str();
  return target;
}

Expected<TargetDescription> attn::analysis::lookupTarget(StringRef name) {
  Expected<json::Array> targets = parseTargets();
  if (!targets)
    return targets.takeError();
  for (const json::Value &value : *targets)
    if (const json::Object *entry = value.getAsObject())
      if (answersTo(*entry, name))
        return readTarget(*entry, name);
  return createStringError("unknown target '" + name + "' (known targets: " +
                           join(listTargets(), ", ") + ")");
}

std::vector<std::string> attn::analysis::listTargets() {
  std::vector<std::string> names;
  Expected<json::Array> targets = parseTargets();
  if (!targets) {
    consumeError(targets.takeError());
    return names;
  }
  for (const json::Value &value : *targets) {
    const json::Object *entry = value.getAsObject();
    if (!entry)
      continue;
    if (std::optional<StringRef> name = entry->getString("name"))
      names.push_back(name->str());
    if (const json::Array *aliases = entry->getArray("aliases"))
      for (const json::Value &alias : *aliases)
        if (std::optional<StringRef> name = alias.getAsString())
          names.push_back(name->str());
  }
  llvm::sort(names);
  return names;
}

TimeBound attn::analysis::lowerBound(const CostAnalysis &cost,
                                     const TargetDescription &target) {
  // TFLOP/s and TB/s are 1e12 per second, so flops / (rate * 1e6) is in
  // microseconds.
  auto micros = [](double amount, double ratePerPico) {
    return amount / (ratePerPico * 1e6);
  };
  double matmulFlops = double(cost.getMatmulFlops());
  double otherFlops = double(cost.getTotalFlops()) - matmulFlops;
  TimeBound bound;
  bound.computeMicros = micros(matmulFlops, target.matmulTflops) +
                        micros(std::max(otherFlops, 0.0), target.vectorTflops);
  bound.memoryMicros = micros(double(cost.getMinBytes()), target.bandwidthTBs);
  bound.syncMicros = double(cost.getSyncSteps()) * target.syncMicros;
  // Compute and traffic overlap at best; a dependent step's barrier
  // overlaps with neither, since nothing after it may start.
  bound.totalMicros =
      std::max(bound.computeMicros, bound.memoryMicros) + bound.syncMicros;
  return bound;
}
