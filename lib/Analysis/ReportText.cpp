//===- ReportText.cpp - the human-readable parallelism report -------------===//
//
// Prints what `attnc analyze` shows by default: a table of the graph's ops
// (loops with their classes, flops, bytes, place on the critical path),
// body ops indented under their scan; then one section per scan (carried
// state and its linearity, what can be hoisted, the chain length); then
// the totals and the lower bound on GPU time. Numbers get SI prefixes here
// for reading; the JSON printer keeps them exact.
//
//===----------------------------------------------------------------------===//

#include "attn/Analysis/ParallelismReport.h"

#include "ReportFormat.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Path.h"

using namespace llvm;
using namespace attn::analysis;
using namespace attn::analysis::detail;

namespace {

/// A table whose columns are as wide as their widest cell. Cells may hold
/// UTF-8, so widths are counted in code points, not bytes.
class Table {
public:
  /// `rightAligned[i]` for numeric columns.
  explicit Table(std::vector<bool> rightAligned)
      : rightAligned(std::move(rightAligned)) {}

  void addRow(std::vector<std::string> row) { rows.push_back(std::move(row)); }

  void print(raw_ostream &os, StringRef indent) const {
    std::vector<size_t> widths(rightAligned.size(), 0);
    for (const std::vector<std::string> &row : rows)
      for (auto [i, cell] : llvm::enumerate(row))
        widths[i] = std::max(widths[i], displayWidth(cell));
    for (const std::vector<std::string> &row : rows) {
      std::string line = indent.str();
      for (auto [i, cell] : llvm::enumerate(row)) {
        std::string pad(widths[i] - displayWidth(cell), ' ');
        if (i)
          line += "  ";
        line += rightAligned[i] ? pad + cell : cell + pad;
      }
      // The last column is left-aligned; its padding is noise.
      os << StringRef(line).rtrim() << "\n";
    }
  }

private:
  std::vector<bool> rightAligned;
  std::vector<std::vector<std::string>> rows;
};

} // namespace

/// How many scans enclose the op.
static unsigned depthOf(const ParallelismReport &report, const ReportOp &op) {
  unsigned depth = 0;
  for (int scan = op.scan; scan >= 0; scan = report.scans[scan].parent)
    ++depth;
  return depth;
}

/// "op 3 (%hs, %hT, %cT)" or "op 3".
static std::string describeOp(const ReportOp &op) {
  std::string text = "op " + std::to_string(op.id);
  if (!op.results.empty())
    text += " (" + op.results + ")";
  return text;
}

/// The prefix ("lstm.ir:") every op's location starts with, when they all
/// name the report's own file; the table then shows only line:col, since
/// the file is in the report's first line.
static std::string commonFilePrefix(const ParallelismReport &report) {
  std::string prefix = sys::path::filename(report.file).str() + ":";
  for (const ReportOp &op : report.ops)
    if (!StringRef(op.location).starts_with(prefix))
      return "";
  return prefix;
}

static void printOpTable(const ParallelismReport &report, raw_ostream &os) {
  os << "Ops\n";
  std::string filePrefix = commonFilePrefix(report);
  Table table({true, false, false, false, true, true, true, false});
  table.addRow({"id", "op", "results", filePrefix.empty() ? "location" : "line:col",
                "flops", "bytes", "finish", "loops"});
  for (const ReportOp &op : report.ops) {
    std::string name = std::string(2 * depthOf(report, op), ' ') + op.op;
    if (op.scan >= 0 && op.stateDependent)
      name += " [state]";
    else if (op.scan >= 0 && op.hoistable)
      name += " [hoist]";
    table.addRow({std::to_string(op.id), name, op.results,
                  op.location.substr(filePrefix.size()),
                  formatSI(double(op.flops), "", ""),
                  formatSI(double(op.bytes), "", ""),
                  std::to_string(op.finish) + (op.critical ? "*" : " "),
                  formatLoops(op.loops)});
  }
  table.print(os, "  ");
  os << "\n"
     << "  loops   dN:extent and class: P parallel, R reduction, C carried "
        "(a scan's\n"
     << "          walk); X\u2192Y: the op sees kind X, the dimension is Y "
        "across the graph\n"
     << "  [state] depends on its scan's carried state: runs step after "
        "step\n"
     << "  [hoist] step-invariant: can run for all steps at once, before "
        "the scan\n"
     << "  finish  dependent steps from the start of the op's region to its "
        "end;\n"
     << "          * on the critical path. Ops inside a scan are indented "
        "under it,\n"
     << "          their flops, bytes and finish are per step; k, M, G: "
        "10^3, 10^6, 10^9\n";
}

static void printCarried(const ReportScan &scan, raw_ostream &os) {
  os << "  carried state:\n";
  Table table({false, false, false});
  for (const ReportCarried &carried : scan.carried)
    table.addRow({carried.name.empty() ? "(unnamed)" : carried.name,
                  carried.type,
                  stringifyLinearity(carried.linearity).str() + ": " +
                      carried.reason});
  table.print(os, "    ");
}

static void printHoistable(const ParallelismReport &report,
                           const ReportScan &scan, raw_ostream &os) {
  if (scan.hoistable.empty()) {
    os << "  hoistable: none, every op of the body depends on the carried "
          "state\n";
    return;
  }
  os << "  hoistable (step-invariant): " << scan.hoistable.size()
     << (scan.hoistable.size() == 1 ? " op, " : " ops, ") << formatSI(double(scan.hoistableFlops), "FLOP") << " of "
     << formatSI(double(scan.bodyFlops), "FLOP") << " per step ("
     << formatShare(scan.hoistableShare) << ")\n";
  Table table({true, false, false, true, true});
  for (unsigned id : scan.hoistable) {
    const ReportOp &op = report.ops[id];
    double share = scan.bodyFlops ? double(op.flops) / double(scan.bodyFlops)
                                  : 0.0;
    table.addRow({"op " + std::to_string(id), op.op, op.results,
                  formatSI(double(op.flops), "FLOP"), formatShare(share)});
  }
  table.print(os, "    ");
}

static void printScans(const ParallelismReport &report, raw_ostream &os) {
  for (auto [index, scan] : llvm::enumerate(report.scans)) {
    const ReportOp &op = report.ops[scan.opId];
    os << "\nScan #" << index << ": " << describeOp(op) << " at "
       << scan.location << "\n";
    os << "  walks dim " << scan.walkedDim << " "
       << (scan.reverse ? "in reverse" : "forward") << ", " << scan.length
       << " steps";
    if (scan.parent >= 0)
      os << ", inside scan #" << scan.parent << " (once per outer step)";
    os << "\n";
    printCarried(scan, os);
    printHoistable(report, scan, os);
    os << "  chain: " << scan.length << " steps x " << scan.bodySpan
       << " dependent ops per step = " << scan.chainLength
       << " dependent steps\n";
  }
}

static void printSummary(const ParallelismReport &report, raw_ostream &os) {
  const ReportSummary &summary = report.summary;
  double matmulShare = summary.flops ? double(summary.matmulFlops) /
                                           double(summary.flops)
                                     : 0.0;
  os << "\nSummary\n";
  Table table({false, false});
  table.addRow({"work", formatSI(double(summary.flops), "FLOP") + " (" +
                            formatSI(double(summary.matmulFlops), "FLOP") +
                            " in matmuls, " + formatShare(matmulShare) + ")"});
  table.addRow({"bytes", formatSI(double(summary.minBytes), "B") +
                             " fused (graph arguments and results), " +
                             formatSI(double(summary.unfusedBytes), "B") +
                             " unfused (every op alone)"});
  table.addRow({"span", std::to_string(summary.span) +
                            " dependent steps on the critical path; " +
                            std::to_string(summary.syncSteps) +
                            " sequential scan steps, each a grid-wide sync"});
  table.addRow({"parallelism",
                formatSI(summary.parallelism, "", " ") +
                    " flops per dependent step (work / span)"});
  table.print(os, "  ");

  const TargetDescription &target = summary.target;
  const TimeBound &bound = summary.bound;
  int64_t otherFlops = summary.flops - summary.matmulFlops;
  os << "\nLower bound on GPU time, " << target.name << " (" << target.gpu
     << "): " << formatMicros(bound.totalMicros) << "\n";
  Table parts({false, true, false});
  parts.addRow({"compute", formatMicros(bound.computeMicros),
                formatSI(double(summary.matmulFlops), "FLOP") + " of matmul at " +
                    formatRate(target.matmulTflops) + " TFLOP/s (bf16 tensor "
                    "cores) + " + formatSI(double(otherFlops), "FLOP") +
                    " at " + formatRate(target.vectorTflops) +
                    " TFLOP/s (f32)"});
  parts.addRow({"memory", formatMicros(bound.memoryMicros),
                formatSI(double(summary.minBytes), "B") + " at " +
                    formatRate(target.bandwidthTBs) + " TB/s"});
  parts.addRow({"sync", formatMicros(bound.syncMicros),
                std::to_string(summary.syncSteps) + " steps x " +
                    formatRate(target.syncMicros) +
                    " us grid-wide barrier (an estimate; see --json "
                    "target.sync_justification)"});
  parts.addRow({"total", formatMicros(bound.totalMicros),
                "max(compute, memory) + sync"});
  parts.print(os, "  ");
}

void attn::analysis::printReportText(const ParallelismReport &report,
                                     raw_ostream &os) {
  os << "@" << report.graph << " in " << report.file << "\n\n";
  printOpTable(report, os);
  printScans(report, os);
  printSummary(report, os);
}
