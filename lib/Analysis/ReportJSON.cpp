//===- ReportJSON.cpp - the parallelism report as a JSON document ---------===//
//
// The machine-readable form of `attnc analyze`, schema "attnc.analyze/1",
// documented field by field in docs/analyze-json.md. Every field of the
// report structs appears, under a snake_case key, with counts as exact
// integers (flops and bytes fit an int64 for any model in scope, and
// tools compare them exactly); "none" is null rather than -1. Adding a
// field keeps the schema name; renaming or removing one bumps it.
//
//===----------------------------------------------------------------------===//

#include "attn/Analysis/ParallelismReport.h"

#include <cmath>

using namespace llvm;
using namespace attn::analysis;

/// A ratio; JSON has no NaN or infinity, and a scan without flops has no
/// share, so those become null.
static json::Value ratio(double value) {
  if (!std::isfinite(value))
    return nullptr;
  return value;
}

/// An index that is -1 for "none".
static json::Value optionalIndex(int index) {
  if (index < 0)
    return nullptr;
  return index;
}

static json::Array idArray(const std::vector<unsigned> &ids) {
  json::Array array;
  for (unsigned id : ids)
    array.push_back(int64_t(id));
  return array;
}

static json::Value toJSON(const ReportLoop &loop) {
  return json::Object{{"name", loop.name},
                      {"extent", loop.extent},
                      {"kind", stringifyClass(loop.kind)},
                      {"group_class", stringifyClass(loop.groupClass)},
                      {"group", int64_t(loop.group)}};
}

static json::Value toJSON(const ReportOp &op) {
  json::Array loops;
  for (const ReportLoop &loop : op.loops)
    loops.push_back(toJSON(loop));
  return json::Object{{"id", int64_t(op.id)},
                      {"op", op.op},
                      {"results", op.results},
                      {"location", op.location},
                      {"scan", optionalIndex(op.scan)},
                      {"loops", std::move(loops)},
                      {"flops", op.flops},
                      {"bytes", op.bytes},
                      {"span", op.span},
                      {"finish", op.finish},
                      {"critical", op.critical},
                      {"state_dependent", op.stateDependent},
                      {"hoistable", op.hoistable},
                      {"operands", idArray(op.operands)}};
}

static json::Value toJSON(const ReportCarried &carried) {
  return json::Object{{"name", carried.name},
                      {"type", carried.type},
                      {"linearity", stringifyLinearity(carried.linearity)},
                      {"reason", carried.reason},
                      {"update_producer", optionalIndex(carried.updateProducer)},
                      {"readers", idArray(carried.readers)}};
}

static json::Value toJSON(const ReportScan &scan, size_t index) {
  json::Array carried;
  for (const ReportCarried &value : scan.carried)
    carried.push_back(toJSON(value));
  return json::Object{{"index", int64_t(index)},
                      {"op_id", int64_t(scan.opId)},
                      {"parent", optionalIndex(scan.parent)},
                      {"location", scan.location},
                      {"length", scan.length},
                      {"walked_dim", scan.walkedDim},
                      {"reverse", scan.reverse},
                      {"carried", std::move(carried)},
                      {"hoistable", idArray(scan.hoistable)},
                      {"body_flops", scan.bodyFlops},
                      {"hoistable_flops", scan.hoistableFlops},
                      {"hoistable_share", ratio(scan.hoistableShare)},
                      {"body_span", scan.bodySpan},
                      {"chain_length", scan.chainLength}};
}

static json::Value toJSON(const TargetDescription &target) {
  return json::Object{{"name", target.name},
                      {"gpu", target.gpu},
                      {"matmul_tflops", target.matmulTflops},
                      {"vector_tflops", target.vectorTflops},
                      {"bandwidth_tbs", target.bandwidthTBs},
                      {"sync_us", target.syncMicros},
                      {"sync_justification", target.syncJustification}};
}

static json::Value toJSON(const ReportSummary &summary) {
  const TimeBound &bound = summary.bound;
  return json::Object{
      {"flops", summary.flops},
      {"matmul_flops", summary.matmulFlops},
      {"min_bytes", summary.minBytes},
      {"unfused_bytes", summary.unfusedBytes},
      {"span", summary.span},
      {"sync_steps", summary.syncSteps},
      {"parallelism", ratio(summary.parallelism)},
      {"bound", json::Object{{"compute_us", ratio(bound.computeMicros)},
                             {"memory_us", ratio(bound.memoryMicros)},
                             {"sync_us", ratio(bound.syncMicros)},
                             {"total_us", ratio(bound.totalMicros)}}}};
}

json::Value attn::analysis::reportToJSON(const ParallelismReport &report) {
  json::Array ops, scans;
  for (const ReportOp &op : report.ops)
    ops.push_back(toJSON(op));
  for (auto [index, scan] : llvm::enumerate(report.scans))
    scans.push_back(toJSON(scan, index));
  // The summary's target sits at the top level: it describes the whole
  // document's assumptions, not one of its totals.
  return json::Object{{"schema", "attnc.analyze/1"},
                      {"graph", report.graph},
                      {"file", report.file},
                      {"target", toJSON(report.summary.target)},
                      {"ops", std::move(ops)},
                      {"scans", std::move(scans)},
                      {"summary", toJSON(report.summary)}};
}
