//===- ReportDot.cpp - the parallelism report as a Graphviz picture -------===//
//
// `attnc analyze --emit=dot`: ops are nodes labelled with their loops and
// classes, edges are dataflow, and every scan is a cluster holding its own
// node and its body, so nesting shows as nested boxes. The chain through
// carried state is drawn red with bold edges, since that is the part of
// the graph that must run step after step, and each carried value closes
// its loop with a dashed red back edge, labelled with its name, from the
// op that produces its next value to the ops that read it (laid out with
// constraint=false, so the loop does not turn the body upside down);
// hoistable ops are green and dashed; ops on the critical path have a
// thick border.
//
//===----------------------------------------------------------------------===//

#include "attn/Analysis/ParallelismReport.h"

#include "ReportFormat.h"

using namespace llvm;
using namespace attn::analysis;
using namespace attn::analysis::detail;

/// `text` as the body of a double-quoted DOT string. Newlines become
/// Graphviz's centred line break; backslashes are doubled so that nothing
/// from the model (a location, a type) reads as an escape sequence.
static std::string escape(StringRef text) {
  std::string escaped;
  for (char c : text) {
    if (c == '"' || c == '\\')
      escaped += '\\';
    if (c == '\n') {
      escaped += "\\n";
      continue;
    }
    escaped += c;
  }
  return escaped;
}

static std::string nodeName(unsigned id) { return "op" + std::to_string(id); }

static std::string nodeLabel(const ReportOp &op) {
  std::string label = "#" + std::to_string(op.id) + " " + op.op;
  if (!op.results.empty())
    label += "\n" + op.results;
  if (!op.loops.empty())
    label += "\n" + formatLoops(op.loops);
  if (op.flops)
    label += "\n" + formatSI(double(op.flops), "FLOP") +
             (op.scan >= 0 ? " per step" : "");
  return label;
}

static std::string nodeAttributes(const ReportOp &op) {
  std::string style = "rounded";
  std::string attrs;
  if (op.stateDependent) {
    attrs += ", color=red3, fontcolor=red3";
  } else if (op.hoistable) {
    attrs += ", color=darkgreen, fontcolor=darkgreen";
    style += ",dashed";
  }
  if (op.critical)
    attrs += ", penwidth=3";
  return "label=\"" + escape(nodeLabel(op)) + "\", style=\"" + style + "\"" +
         attrs;
}

/// The ops directly in each region: index 0 is the graph's top level,
/// index s + 1 is scan s's body.
static std::vector<std::vector<unsigned>>
opsByRegion(const ParallelismReport &report) {
  std::vector<std::vector<unsigned>> regions(report.scans.size() + 1);
  for (const ReportOp &op : report.ops)
    if (op.scan + 1 >= 0 && size_t(op.scan + 1) < regions.size())
      regions[op.scan + 1].push_back(op.id);
  return regions;
}

/// Scan `index`'s cluster: its own node, its body's ops and, nested, the
/// clusters of scans in its body.
static void printCluster(const ParallelismReport &report, size_t index,
                         const std::vector<std::vector<unsigned>> &regions,
                         unsigned depth, raw_ostream &os) {
  const ReportScan &scan = report.scans[index];
  std::string indent(2 * depth, ' ');
  os << indent << "subgraph cluster_" << index << " {\n";
  std::string label = "scan #" + std::to_string(index) + ": " +
                      std::to_string(scan.length) + " steps along dim " +
                      std::to_string(scan.walkedDim) +
                      (scan.reverse ? " (reverse)" : "") + ", chain " +
                      std::to_string(scan.chainLength);
  os << indent << "  label=\"" << escape(label)
     << "\"; style=\"rounded\"; color=gray40;\n";
  os << indent << "  " << nodeName(scan.opId) << ";\n";
  for (unsigned id : regions[index + 1]) {
    auto nested = llvm::find_if(report.scans, [&](const ReportScan &inner) {
      return inner.opId == id;
    });
    if (nested != report.scans.end())
      printCluster(report, nested - report.scans.begin(), regions, depth + 1,
                   os);
    else
      os << indent << "  " << nodeName(id) << ";\n";
  }
  os << indent << "}\n";
}

void attn::analysis::printReportDot(const ParallelismReport &report,
                                    raw_ostream &os) {
  os << "digraph \"" << escape(report.graph) << "\" {\n";
  std::string title =
      "@" + report.graph + " (" + report.file + ")\n" +
      "red: depends on carried state (bold edges: the chain; dashed red "
      "edges: a carried value into the next step); green dashed: "
      "hoistable; thick border: critical path\n"
      "loops: P parallel, R reduction, C carried; X\u2192Y: op's kind, then "
      "the dimension's class across the graph";
  os << "  graph [label=\"" << escape(title)
     << "\", labelloc=t, fontname=\"Helvetica\", compound=true];\n";
  os << "  node [shape=box, fontname=\"Helvetica\", fontsize=10];\n";
  os << "  edge [color=gray30, fontname=\"Helvetica\", fontsize=10];\n\n";

  // Nodes first, with their attributes; clusters then only name them.
  for (const ReportOp &op : report.ops)
    os << "  " << nodeName(op.id) << " [" << nodeAttributes(op) << "];\n";
  os << "\n";

  std::vector<std::vector<unsigned>> regions = opsByRegion(report);
  for (auto [index, scan] : llvm::enumerate(report.scans))
    if (scan.parent < 0)
      printCluster(report, index, regions, 1, os);
  os << "\n";

  // Layout only: the scan's node sits above its body, whose first ops
  // (those fed by nothing else in the body) hang from it.
  for (const ReportOp &op : report.ops) {
    if (op.scan < 0 || size_t(op.scan) >= report.scans.size())
      continue;
    bool fedFromBody = llvm::any_of(op.operands, [&](unsigned producer) {
      return producer < report.ops.size() &&
             report.ops[producer].scan == op.scan;
    });
    if (!fedFromBody)
      os << "  " << nodeName(report.scans[op.scan].opId) << " -> "
         << nodeName(op.id) << " [style=invis];\n";
  }

  for (const ReportOp &op : report.ops)
    for (unsigned producer : op.operands) {
      bool chain = producer < report.ops.size() &&
                   report.ops[producer].stateDependent && op.stateDependent;
      os << "  " << nodeName(producer) << " -> " << nodeName(op.id);
      if (chain)
        os << " [color=red3, penwidth=2.5]";
      os << ";\n";
    }

  // The loop through each carried value: step t's producer of the next
  // value feeds step t+1's readers of the block argument.
  for (const ReportScan &scan : report.scans)
    for (const ReportCarried &carried : scan.carried) {
      if (carried.updateProducer < 0 ||
          size_t(carried.updateProducer) >= report.ops.size())
        continue;
      for (unsigned reader : carried.readers) {
        if (reader >= report.ops.size())
          continue;
        os << "  " << nodeName(carried.updateProducer) << " -> "
           << nodeName(reader) << " [label=\"" << escape(carried.name)
           << "\", color=red3, fontcolor=red3, style=dashed, penwidth=2, "
              "constraint=false];\n";
      }
    }
  os << "}\n";
}
