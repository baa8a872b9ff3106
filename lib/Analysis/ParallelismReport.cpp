//===- ParallelismReport.cpp - gather the analyses into a report ----------===//
//
// Runs the dimension, cost, step-invariance and linearity analyses on a
// graph and copies their findings into the plain-data report the printers
// share. Ops are listed in program order (pre-order, so a scan comes before
// its body); dimension groups are renumbered in order of first appearance
// so that reports are identical from run to run.
//
//===----------------------------------------------------------------------===//

#include "attn/Analysis/ParallelismReport.h"

#include "attn/Analysis/Cost.h"
#include "attn/Analysis/StepInvariance.h"

#include "llvm/Support/Path.h"

#include <map>
#include <memory>
#include <set>

using namespace mlir;
using namespace attn;
using namespace attn::analysis;
using namespace attn::graph;

static std::string locationOf(Operation *op) {
  auto loc = dyn_cast<FileLineColLoc>(op->getLoc());
  if (!loc)
    return "";
  return (llvm::sys::path::filename(loc.getFilename().getValue()) + ":" +
          llvm::Twine(loc.getLine()) + ":" + llvm::Twine(loc.getColumn()))
      .str();
}

static std::string typeString(Type type) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << type;
  return text;
}

ParallelismReport attn::analysis::buildReport(GraphOp graph,
                                              const TargetDescription &target,
                                              ValueNamer nameOf) {
  DimensionClasses dims(graph);
  CostAnalysis cost(graph);
  ParallelismReport report;
  report.graph = graph.getSymName().str();
  if (auto loc = dyn_cast<FileLineColLoc>(graph.getLoc()))
    report.file = loc.getFilename().str();

  DenseMap<Operation *, unsigned> ids;
  DenseMap<Operation *, int> scanIndex;
  DenseMap<Operation *, std::unique_ptr<StepInvariance>> invariance;
  std::map<unsigned, unsigned> groupIds;
  auto groupId = [&](unsigned leader) {
    return groupIds.try_emplace(leader, groupIds.size()).first->second;
  };
  auto valueName = [&](Value value, unsigned fallback) {
    std::string name = nameOf(value);
    return name.empty() ? "%" + std::to_string(fallback) : name;
  };

  graph.getBody().walk<WalkOrder::PreOrder>([&](Operation *op) {
    if (op->hasTrait<OpTrait::IsTerminator>())
      return;
    ReportOp entry;
    entry.id = report.ops.size();
    entry.op = op->getName().getStringRef().str();
    for (Value result : op->getResults()) {
      std::string name = nameOf(result);
      if (name.empty())
        name = "%" + std::to_string(entry.id) +
               (op->getNumResults() > 1
                    ? "#" + std::to_string(cast<OpResult>(result).getResultNumber())
                    : "");
      entry.results += (entry.results.empty() ? "" : ", ") + name;
    }
    entry.location = locationOf(op);
    if (auto iface = dyn_cast<IterationSpaceOpInterface>(op))
      for (auto [i, loop] : llvm::enumerate(dims.getLoops(op)))
        entry.loops.push_back({"d" + std::to_string(i), loop.extent,
                               loop.kind, loop.groupClass,
                               groupId(loop.group)});
    const OpCost &opCost = cost.getCost(op);
    entry.flops = opCost.flops;
    entry.bytes = opCost.bytes;
    entry.span = opCost.span;
    entry.finish = opCost.finish;
    entry.critical = opCost.critical;
    entry.stateDependent = entry.hoistable = false;
    if (auto scan = op->getParentOfType<ScanOp>()) {
      entry.scan = scanIndex.lookup(scan);
      const StepInvariance &inv = *invariance[scan];
      entry.stateDependent = inv.isStateDependent(op);
      entry.hoistable = !entry.stateDependent &&
                        op->getParentOp() == scan.getOperation();
    }
    for (Value operand : op->getOperands())
      if (Operation *producer = operand.getDefiningOp())
        if (ids.count(producer))
          entry.operands.push_back(ids.lookup(producer));
    ids[op] = entry.id;
    report.ops.push_back(std::move(entry));

    if (auto scan = dyn_cast<ScanOp>(op)) {
      invariance[scan] = std::make_unique<StepInvariance>(scan);
      ReportScan section;
      section.opId = ids[op];
      if (auto parent = scan->getParentOfType<ScanOp>())
        section.parent = scanIndex.lookup(parent);
      section.location = locationOf(op);
      section.length = scan.getLength();
      section.walkedDim = scan.getDim();
      section.reverse = scan.getReverse();
      SmallVector<LinearityVerdict> verdicts = analyzeLinearity(scan);
      for (auto [i, arg] : llvm::enumerate(scan.getCarriedArgs()))
        section.carried.push_back({valueName(arg, i), typeString(arg.getType()),
                                   verdicts[i].kind, verdicts[i].reason});
      scanIndex[scan] = report.scans.size();
      report.scans.push_back(std::move(section));
    }
  });

  // Per-scan figures need the body's ops, listed after the scan itself.
  graph.walk([&](ScanOp scan) {
    ReportScan &section = report.scans[scanIndex[scan]];
    section.bodyFlops = section.hoistableFlops = 0;
    for (Operation &op : scan.getBody().front().without_terminator()) {
      const ReportOp &entry = report.ops[ids[&op]];
      section.bodyFlops += entry.flops;
      if (entry.hoistable) {
        section.hoistable.push_back(entry.id);
        section.hoistableFlops += entry.flops;
      }
    }
    section.hoistableShare =
        section.bodyFlops == 0
            ? 0.0
            : double(section.hoistableFlops) / double(section.bodyFlops);
    section.bodySpan = cost.getBodySpan(scan);

    // The loop through each carried value: the yield's operands after the
    // stacked outputs are the next carries, produced by a body op (or
    // passed through from a block argument or an outside value: no
    // producer); the carried block argument's users are its readers.
    Block &body = scan.getBody().front();
    Operation *yield = body.getTerminator();
    size_t numStacked = scan.getStackedOutputs().size();
    for (auto [i, arg] : llvm::enumerate(scan.getCarriedArgs())) {
      ReportCarried &carried = section.carried[i];
      Value next = yield->getOperand(numStacked + i);
      if (Operation *producer = next.getDefiningOp())
        if (producer->getBlock() == &body && ids.count(producer))
          carried.updateProducer = ids.lookup(producer);
      std::set<unsigned> readers;
      for (Operation *user : arg.getUsers()) {
        // A terminator is not in the report: a use by an inner scan's
        // yield is a read by the inner scan; by this scan's own yield, a
        // pass-through, not a read.
        while (user && user != scan.getOperation() && !ids.count(user))
          user = user->getParentOp();
        if (user && user != scan.getOperation())
          readers.insert(ids.lookup(user));
      }
      carried.readers.assign(readers.begin(), readers.end());
    }
    // A scan without carried values has no chain: its steps run at once.
    section.chainLength = scan.getInits().empty()
                              ? section.bodySpan
                              : section.length * section.bodySpan;
  });

  ReportSummary &summary = report.summary;
  summary.flops = cost.getTotalFlops();
  summary.matmulFlops = cost.getMatmulFlops();
  summary.minBytes = cost.getMinBytes();
  summary.unfusedBytes = cost.getUnfusedBytes();
  summary.span = cost.getSpan();
  summary.syncSteps = cost.getSyncSteps();
  summary.parallelism = cost.getParallelism();
  summary.target = target;
  summary.bound = lowerBound(cost, target);
  return report;
}
