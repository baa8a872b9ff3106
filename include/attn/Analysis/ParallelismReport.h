//===- ParallelismReport.h - what `attnc analyze` prints --------*- C++ -*-===//
//
// The analyses' findings for one graph, gathered into plain data (names,
// numbers, verdicts) so that the text table, the JSON document and the
// Graphviz picture are three printers over one model, and cannot disagree.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_ANALYSIS_PARALLELISMREPORT_H
#define ATTN_ANALYSIS_PARALLELISMREPORT_H

#include "attn/Analysis/DimensionClasses.h"
#include "attn/Analysis/Linearity.h"
#include "attn/Analysis/TargetDescription.h"

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <string>
#include <vector>

namespace attn::analysis {

struct ReportLoop {
  std::string name;  // "d0", "d1", ... in the op's loop order
  int64_t extent;
  IterKind kind;     // the op's own view
  IterKind groupClass;
  unsigned group;
};

struct ReportOp {
  unsigned id;             // position in the report, program order
  std::string op;          // "attn.matmul"
  std::string results;     // "%hu" or "%0:2", from the source when known
  std::string location;    // "lstm.ir:12:5"
  int scan = -1;           // index into ParallelismReport::scans of the
                           // innermost enclosing scan, or -1
  std::vector<ReportLoop> loops;
  int64_t flops;           // per execution (per step inside a scan)
  int64_t bytes;
  int64_t span;
  int64_t finish;          // step count at the end of this op (in region)
  bool critical;
  bool stateDependent;     // inside a scan: depends on its carried state
  bool hoistable;          // inside a scan: step-invariant, can be hoisted
  std::vector<unsigned> operands; // ids of producer ops in the report
};

struct ReportCarried {
  std::string name;        // "%h"
  std::string type;        // "tensor<3x11xf32>"
  LinearityVerdict::Kind linearity;
  std::string reason;
  /// ReportOp id of the body op whose result the scan's yield passes as
  /// this value's next step, or -1 when the yielded value is a block
  /// argument or a value from outside the body.
  int updateProducer = -1;
  /// ReportOp ids of the body ops (at any depth) that read the carried block
  /// argument, ascending, each once; an op nested in an inner scan's body
  /// counts as itself, a use by an inner scan's yield as the inner scan.
  std::vector<unsigned> readers;
};

struct ReportScan {
  unsigned opId;           // the scan's own ReportOp id
  int parent = -1;         // enclosing scan index, or -1
  std::string location;
  int64_t length;          // steps T
  int64_t walkedDim;
  bool reverse;
  std::vector<ReportCarried> carried;
  std::vector<unsigned> hoistable;  // ReportOp ids
  int64_t bodyFlops;                // per step
  int64_t hoistableFlops;           // per step
  double hoistableShare;            // hoistableFlops / bodyFlops
  int64_t bodySpan;                 // per step
  int64_t chainLength;              // dependent steps: length x bodySpan
};

struct ReportSummary {
  int64_t flops;
  int64_t matmulFlops;
  int64_t minBytes;
  int64_t unfusedBytes;
  int64_t span;
  int64_t syncSteps;
  double parallelism;
  TargetDescription target;
  TimeBound bound;
};

struct ParallelismReport {
  std::string graph;       // "lstm_small"
  std::string file;
  std::vector<ReportOp> ops;
  std::vector<ReportScan> scans;
  ReportSummary summary;
};

/// Names a value for the report ("%h"); empty when unknown.
using ValueNamer = llvm::function_ref<std::string(mlir::Value)>;

/// Runs every analysis on `graph` and gathers the report.
ParallelismReport buildReport(graph::GraphOp graph,
                              const TargetDescription &target,
                              ValueNamer nameOf);

/// The human-readable report: op table, a section per scan, summary.
void printReportText(const ParallelismReport &report, llvm::raw_ostream &os);

/// The JSON document; its schema is documented in docs/analyze-json.md and
/// versioned by its "schema" field.
llvm::json::Value reportToJSON(const ParallelismReport &report);

/// A Graphviz digraph: nodes are ops with their loop classes, edges are
/// dataflow, the chain through carried state is highlighted, each carried
/// value closes its loop with a dashed back edge from its update's producer
/// to its readers, and hoistable ops are marked.
void printReportDot(const ParallelismReport &report, llvm::raw_ostream &os);

} // namespace attn::analysis

#endif // ATTN_ANALYSIS_PARALLELISMREPORT_H
