//===- ReportPrintersTest.cpp - text, JSON and DOT report printers --------===//
//
// The three printers of the parallelism report, run on a report built by
// hand (a small LSTM-like scan followed by one op), so that a failure
// points at a printer rather than at an analysis. Also the target
// description file and the time bound formula, which the report's summary
// rests on.
//
//===----------------------------------------------------------------------===//

#include "attn/Analysis/Cost.h"
#include "attn/Analysis/ParallelismReport.h"
#include "attn/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Regex.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>

using namespace llvm;
using namespace attn::analysis;
using attn::graph::IterKind;

namespace {

ReportLoop loop(const char *name, int64_t extent, IterKind kind,
                IterKind groupClass, unsigned group) {
  return ReportLoop{name, extent, kind, groupClass, group};
}

ReportOp op(unsigned id, const char *name, const char *results, int scan) {
  ReportOp op;
  op.id = id;
  op.op = name;
  op.results = results;
  op.location = "lstm.ir:" + std::to_string(10 + id) + ":5";
  op.scan = scan;
  op.flops = op.bytes = op.span = op.finish = 0;
  op.critical = op.stateDependent = op.hoistable = false;
  return op;
}

/// A scan (op 0) whose body holds a hoistable matmul (1), the recurrent
/// matmul (2) and an add (3) on the state; op 4 uses the scan's result.
/// The add yields the next %h, which the recurrent matmul reads.
ParallelismReport makeReport() {
  using K = IterKind;
  ParallelismReport report;
  report.graph = "lstm_like";
  report.file = "lstm.ir";

  ReportOp scan = op(0, "attn.scan", "%hs, %hT", -1);
  scan.loops = {loop("d0", 7, K::Carried, K::Carried, 0),
                loop("d1", 3, K::Parallel, K::Parallel, 1),
                loop("d2", 11, K::Parallel, K::Parallel, 2)};
  scan.flops = 123456789012345; // beyond 2^32 and a double's integer grid
  scan.bytes = 4096;
  scan.span = 14;
  scan.finish = 14;
  scan.critical = true;

  ReportOp xw = op(1, "attn.matmul", "%xw", 0);
  xw.loops = {loop("d0", 3, K::Parallel, K::Parallel, 1),
              loop("d1", 44, K::Parallel, K::Parallel, 3),
              loop("d2", 5, K::Reduction, K::Reduction, 4)};
  xw.flops = 1320;
  xw.bytes = 1100;
  xw.span = 1;
  xw.finish = 1;
  xw.hoistable = true;

  // A result name with characters that DOT must escape.
  ReportOp hu = op(2, "attn.matmul", "%h\"u\\", 0);
  hu.loops = {loop("d0", 3, K::Parallel, K::Parallel, 1),
              loop("d1", 44, K::Parallel, K::Parallel, 3),
              loop("d2", 11, K::Parallel, K::Reduction, 5)};
  hu.flops = 2904;
  hu.bytes = 2600;
  hu.span = 1;
  hu.finish = 1;
  hu.critical = true;
  hu.stateDependent = true;

  ReportOp add = op(3, "attn.add", "%s", 0);
  add.loops = {loop("d0", 3, K::Parallel, K::Parallel, 1),
               loop("d1", 44, K::Parallel, K::Parallel, 3)};
  add.flops = 132;
  add.bytes = 1584;
  add.span = 1;
  add.finish = 2;
  add.critical = true;
  add.stateDependent = true;
  add.operands = {1, 2};

  ReportOp tail = op(4, "attn.tanh", "%t", -1);
  tail.loops = {loop("d0", 3, K::Parallel, K::Parallel, 1),
                loop("d1", 11, K::Parallel, K::Parallel, 2)};
  tail.flops = 33;
  tail.bytes = 264;
  tail.span = 1;
  tail.finish = 15;
  tail.critical = true;
  tail.operands = {0};

  report.ops = {scan, xw, hu, add, tail};

  ReportScan section;
  section.opId = 0;
  section.location = scan.location;
  section.length = 7;
  section.walkedDim = 0;
  section.reverse = false;
  section.carried = {{"%h", "tensor<3x11xf32>",
                      LinearityVerdict::Kind::Nonlinear,
                      "matmul with the state"}};
  section.carried[0].updateProducer = 3;
  section.carried[0].readers = {2};
  section.hoistable = {1};
  section.bodyFlops = 1320 + 2904 + 132;
  section.hoistableFlops = 1320;
  section.hoistableShare = 1320.0 / section.bodyFlops;
  section.bodySpan = 2;
  section.chainLength = 14;
  report.scans = {section};

  ReportSummary &summary = report.summary;
  summary.flops = 123456789012345 + 33;
  summary.matmulFlops = 7 * (1320 + 2904);
  summary.minBytes = 5000;
  summary.unfusedBytes = 8000;
  summary.span = 15;
  summary.syncSteps = 7;
  summary.parallelism = double(summary.flops) / 15;
  Expected<TargetDescription> target = lookupTarget("sm_90");
  EXPECT_TRUE(bool(target)) << toString(target.takeError());
  summary.target = *target;
  summary.bound = {0.5, 0.25, 10.5, 11.0};
  return report;
}

std::string text(const ParallelismReport &report) {
  std::string out;
  raw_string_ostream os(out);
  printReportText(report, os);
  return out;
}

std::string dot(const ParallelismReport &report) {
  std::string out;
  raw_string_ostream os(out);
  printReportDot(report, os);
  return out;
}

//===----------------------------------------------------------------------===//
// JSON
//===----------------------------------------------------------------------===//

TEST(ReportJSON, TopLevelAndTarget) {
  json::Value value = reportToJSON(makeReport());
  // Through text and back, as a tool would read it.
  Expected<json::Value> parsed = json::parse(formatv("{0}", value).str());
  ASSERT_TRUE(bool(parsed)) << toString(parsed.takeError());
  const json::Object &root = *parsed->getAsObject();
  EXPECT_EQ(root.getString("schema"), "attnc.analyze/1");
  EXPECT_EQ(root.getString("graph"), "lstm_like");
  EXPECT_EQ(root.getString("file"), "lstm.ir");
  const json::Object *target = root.getObject("target");
  ASSERT_TRUE(target);
  EXPECT_EQ(target->getString("name"), "sm_90");
  EXPECT_EQ(target->getNumber("matmul_tflops"), 790);
  EXPECT_EQ(target->getNumber("bandwidth_tbs"), 4.3);
  EXPECT_TRUE(target->getNumber("vector_tflops"));
  EXPECT_TRUE(target->getNumber("sync_us"));
  EXPECT_FALSE(target->getString("sync_justification")->empty());
}

TEST(ReportJSON, OpsKeepEveryField) {
  json::Value value = reportToJSON(makeReport());
  const json::Array &ops = *value.getAsObject()->getArray("ops");
  ASSERT_EQ(ops.size(), 5u);
  const json::Object &scan = *ops[0].getAsObject();
  EXPECT_EQ(scan.getInteger("id"), 0);
  EXPECT_EQ(scan.getString("op"), "attn.scan");
  EXPECT_EQ(scan.getString("results"), "%hs, %hT");
  EXPECT_EQ(scan.getString("location"), "lstm.ir:10:5");
  EXPECT_TRUE(scan.get("scan")->getAsNull()); // top level: null, not -1
  EXPECT_EQ(scan.getInteger("flops"), 123456789012345); // exact
  EXPECT_EQ(scan.getInteger("bytes"), 4096);
  EXPECT_EQ(scan.getInteger("span"), 14);
  EXPECT_EQ(scan.getInteger("finish"), 14);
  EXPECT_EQ(scan.getBoolean("critical"), true);
  EXPECT_EQ(scan.getBoolean("state_dependent"), false);
  EXPECT_EQ(scan.getBoolean("hoistable"), false);
  EXPECT_EQ(scan.getArray("operands")->size(), 0u);

  const json::Object &hu = *ops[2].getAsObject();
  EXPECT_EQ(hu.getInteger("scan"), 0);
  EXPECT_EQ(hu.getBoolean("state_dependent"), true);
  const json::Object &loop = *(*hu.getArray("loops"))[2].getAsObject();
  EXPECT_EQ(loop.getString("name"), "d2");
  EXPECT_EQ(loop.getInteger("extent"), 11);
  EXPECT_EQ(loop.getString("kind"), "parallel");
  EXPECT_EQ(loop.getString("group_class"), "reduction");
  EXPECT_EQ(loop.getInteger("group"), 5);

  const json::Array &operands = *ops[3].getAsObject()->getArray("operands");
  ASSERT_EQ(operands.size(), 2u);
  EXPECT_EQ(operands[0].getAsInteger(), 1);
  EXPECT_EQ(operands[1].getAsInteger(), 2);
}

TEST(ReportJSON, ScansAndSummary) {
  json::Value value = reportToJSON(makeReport());
  const json::Object &root = *value.getAsObject();
  const json::Object &scan = *(*root.getArray("scans"))[0].getAsObject();
  EXPECT_EQ(scan.getInteger("index"), 0);
  EXPECT_EQ(scan.getInteger("op_id"), 0);
  EXPECT_TRUE(scan.get("parent")->getAsNull());
  EXPECT_EQ(scan.getInteger("length"), 7);
  EXPECT_EQ(scan.getInteger("walked_dim"), 0);
  EXPECT_EQ(scan.getBoolean("reverse"), false);
  EXPECT_EQ(scan.getInteger("body_flops"), 4356);
  EXPECT_EQ(scan.getInteger("hoistable_flops"), 1320);
  EXPECT_NEAR(*scan.getNumber("hoistable_share"), 1320.0 / 4356, 1e-12);
  EXPECT_EQ(scan.getInteger("body_span"), 2);
  EXPECT_EQ(scan.getInteger("chain_length"), 14);
  EXPECT_EQ((*scan.getArray("hoistable"))[0].getAsInteger(), 1);
  const json::Object &carried = *(*scan.getArray("carried"))[0].getAsObject();
  EXPECT_EQ(carried.getString("name"), "%h");
  EXPECT_EQ(carried.getString("type"), "tensor<3x11xf32>");
  EXPECT_EQ(carried.getString("linearity"), "nonlinear");
  EXPECT_EQ(carried.getString("reason"), "matmul with the state");
  EXPECT_EQ(carried.getInteger("update_producer"), 3);
  const json::Array &readers = *carried.getArray("readers");
  ASSERT_EQ(readers.size(), 1u);
  EXPECT_EQ(readers[0].getAsInteger(), 2);

  const json::Object &summary = *root.getObject("summary");
  EXPECT_EQ(summary.getInteger("flops"), 123456789012345 + 33);
  EXPECT_EQ(summary.getInteger("matmul_flops"), 7 * 4224);
  EXPECT_EQ(summary.getInteger("min_bytes"), 5000);
  EXPECT_EQ(summary.getInteger("unfused_bytes"), 8000);
  EXPECT_EQ(summary.getInteger("span"), 15);
  EXPECT_EQ(summary.getInteger("sync_steps"), 7);
  EXPECT_TRUE(summary.getNumber("parallelism"));
  const json::Object &bound = *summary.getObject("bound");
  EXPECT_EQ(bound.getNumber("compute_us"), 0.5);
  EXPECT_EQ(bound.getNumber("memory_us"), 0.25);
  EXPECT_EQ(bound.getNumber("sync_us"), 10.5);
  EXPECT_EQ(bound.getNumber("total_us"), 11.0);
}

TEST(ReportJSON, UndefinedRatiosAreNull) {
  ParallelismReport report = makeReport();
  report.scans[0].hoistableShare = std::numeric_limits<double>::quiet_NaN();
  json::Value value = reportToJSON(report);
  // Printed JSON must stay parseable: no bare nan.
  Expected<json::Value> parsed = json::parse(formatv("{0}", value).str());
  ASSERT_TRUE(bool(parsed)) << toString(parsed.takeError());
  const json::Object &scan =
      *(*parsed->getAsObject()->getArray("scans"))[0].getAsObject();
  EXPECT_TRUE(scan.get("hoistable_share")->getAsNull());
}

TEST(ReportJSON, PassThroughCarryHasNullProducer) {
  ParallelismReport report = makeReport();
  report.scans[0].carried[0].updateProducer = -1;
  report.scans[0].carried[0].readers.clear();
  json::Value value = reportToJSON(report);
  const json::Object &scan =
      *(*value.getAsObject()->getArray("scans"))[0].getAsObject();
  const json::Object &carried = *(*scan.getArray("carried"))[0].getAsObject();
  EXPECT_TRUE(carried.get("update_producer")->getAsNull()); // not -1
  EXPECT_EQ(carried.getArray("readers")->size(), 0u);
}

//===----------------------------------------------------------------------===//
// DOT
//===----------------------------------------------------------------------===//

/// `text` with the contents of double-quoted strings removed (escapes
/// honoured), so that structure can be checked without labels.
std::string stripStrings(StringRef text) {
  std::string out;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted && c == '\\') {
      ++i;
      continue;
    }
    if (c == '"') {
      quoted = !quoted;
      out += '"';
      continue;
    }
    if (!quoted)
      out += c;
  }
  EXPECT_FALSE(quoted) << "unterminated string";
  return out;
}

TEST(ReportDot, WellFormed) {
  std::string out = dot(makeReport());
  std::string bare = stripStrings(out);
  EXPECT_TRUE(StringRef(out).starts_with("digraph "));
  EXPECT_EQ(llvm::count(bare, '{'), llvm::count(bare, '}'));
  EXPECT_EQ(llvm::count(bare, '['), llvm::count(bare, ']'));

  // Every edge endpoint is a declared node.
  std::set<std::string> declared;
  std::vector<std::pair<std::string, std::string>> edges;
  SmallVector<StringRef> lines;
  StringRef(bare).split(lines, '\n');
  Regex node("^ *(op[0-9]+) \\[");
  Regex edge("^ *(op[0-9]+) -> (op[0-9]+)");
  int visible = 0;
  for (StringRef line : lines) {
    SmallVector<StringRef> match;
    if (edge.match(line, &match)) {
      edges.push_back({match[1].str(), match[2].str()});
      visible += !line.contains("style=invis");
    }
    else if (node.match(line, &match))
      declared.insert(match[1].str());
  }
  EXPECT_EQ(declared.size(), 5u);
  EXPECT_EQ(visible, 4); // dataflow and the back edge of %h; the rest
                         // only lay the body out
  for (auto &[from, to] : edges) {
    EXPECT_TRUE(declared.count(from)) << from;
    EXPECT_TRUE(declared.count(to)) << to;
  }
}

TEST(ReportDot, NoBackEdgeWithoutProducer) {
  ParallelismReport report = makeReport();
  // A carry that passes through (yield %h) or takes an outside value has
  // no producer in the body: nothing to draw.
  report.scans[0].carried[0].updateProducer = -1;
  std::string out = dot(report);
  EXPECT_EQ(out.find("constraint=false"), std::string::npos) << out;
  // A carried value's name is escaped in the back edge's label.
  report.scans[0].carried[0].updateProducer = 3;
  report.scans[0].carried[0].name = "%h\"x";
  out = dot(report);
  EXPECT_NE(out.find("label=\"%h\\\"x\""), std::string::npos) << out;
}

TEST(ReportDot, ClustersAndHighlights) {
  std::string out = dot(makeReport());
  // One cluster per scan, holding the scan and its body.
  EXPECT_EQ(StringRef(out).count("subgraph cluster_"), 1u);
  size_t cluster = out.find("subgraph cluster_0 {");
  ASSERT_NE(cluster, std::string::npos);
  std::string body = out.substr(cluster, out.find("\n  }\n", cluster) - cluster);
  for (const char *id : {"op0;", "op1;", "op2;", "op3;"})
    EXPECT_NE(body.find(id), std::string::npos) << id;
  EXPECT_EQ(body.find("op4;"), std::string::npos);

  // The state chain is red and bold; hoistable ops dashed; critical thick.
  EXPECT_NE(out.find("op2 -> op3 [color=red3"), std::string::npos);
  EXPECT_NE(out.find("op1 -> op3;"), std::string::npos);
  EXPECT_NE(out.find("rounded,dashed"), std::string::npos);
  EXPECT_NE(out.find("penwidth=3"), std::string::npos);
  // The loop through %h: from its update's producer (the add) back to its
  // reader (the recurrent matmul), dashed red, labelled, and left out of
  // the layout's ranking.
  size_t back = out.find("op3 -> op2 [");
  ASSERT_NE(back, std::string::npos) << out;
  std::string attrs = out.substr(back, out.find('\n', back) - back);
  for (const char *attr : {"label=\"%h\"", "color=red3", "style=dashed",
                           "constraint=false"})
    EXPECT_NE(attrs.find(attr), std::string::npos) << attr << ": " << attrs;
  EXPECT_EQ(StringRef(out).count("constraint=false"), 1u);
  // Quotes and backslashes in names are escaped.
  EXPECT_NE(out.find("%h\\\"u\\\\"), std::string::npos);
  EXPECT_NE(out.find("d2:11 P\u2192R"), std::string::npos);
}

//===----------------------------------------------------------------------===//
// Text
//===----------------------------------------------------------------------===//

TEST(ReportText, KeyLines) {
  std::string out = text(makeReport());
  for (const char *line :
       {"@lstm_like in lstm.ir", "Scan #0: op 0 (%hs, %hT) at lstm.ir:10:5",
        "walks dim 0 forward, 7 steps", "nonlinear: matmul with the state",
        "chain: 7 steps x 2 dependent ops per step = 14 dependent steps",
        "Summary", "Lower bound on GPU time, sm_90 (NVIDIA H200): 11.0 us",
        "790 TFLOP/s", "4.3 TB/s", "max(compute, memory) + sync",
        "  attn.matmul [hoist]", "  attn.matmul [state]",
        "d0:3 P  d1:44 P  d2:5 R", "d2:11 P\u2192R", "123 T", "30.3%"})
    EXPECT_NE(out.find(line), std::string::npos) << line << "\n" << out;
}

TEST(ReportText, TableColumnsAligned) {
  std::string out = text(makeReport());
  SmallVector<StringRef> lines;
  StringRef(out).split(lines, '\n');
  // The table runs from its header to the first blank line. Locations all
  // name the report's file, so the table shows line:col only, and every
  // row starts that cell where the header's "line:col" starts.
  auto header = llvm::find_if(
      lines, [](StringRef line) { return line.contains("line:col"); });
  ASSERT_NE(header, lines.end()) << out;
  size_t column = header->find("line:col");
  int rows = 0;
  for (auto it = std::next(header); it != lines.end() && !it->empty(); ++it) {
    std::string location = " " + std::to_string(10 + rows) + ":5 ";
    size_t at = it->find(location);
    ASSERT_NE(at, StringRef::npos) << it->str();
    // Count code points: the op column may hold UTF-8 before it.
    size_t width = 0;
    for (unsigned char c : it->take_front(at + 1))
      width += (c & 0xC0) != 0x80;
    EXPECT_EQ(width, column) << it->str();
    EXPECT_FALSE(it->contains("lstm.ir")) << it->str();
    ++rows;
  }
  EXPECT_EQ(rows, 5);
}

//===----------------------------------------------------------------------===//
// Targets and the time bound
//===----------------------------------------------------------------------===//

TEST(TargetDescription, KnownTargets) {
  std::vector<std::string> names = listTargets();
  for (const char *name : {"sm_80", "sm_90", "sm_90a"})
    EXPECT_NE(llvm::find(names, name), names.end()) << name;
  Expected<TargetDescription> h200 = lookupTarget("sm_90");
  ASSERT_TRUE(bool(h200)) << toString(h200.takeError());
  EXPECT_EQ(h200->gpu, "NVIDIA H200");
  EXPECT_EQ(h200->matmulTflops, 790);
  EXPECT_EQ(h200->bandwidthTBs, 4.3);
  EXPECT_GT(h200->syncMicros, 0);
  EXPECT_FALSE(h200->syncJustification.empty());
  Expected<TargetDescription> alias = lookupTarget("sm_90a");
  ASSERT_TRUE(bool(alias)) << toString(alias.takeError());
  EXPECT_EQ(alias->name, "sm_90a");
  EXPECT_EQ(alias->matmulTflops, h200->matmulTflops);
  Expected<TargetDescription> a100 = lookupTarget("sm_80");
  ASSERT_TRUE(bool(a100)) << toString(a100.takeError());
  EXPECT_LT(a100->matmulTflops, h200->matmulTflops);
}

// The kernel defaults kernel formation starts from: SM counts from the
// programming guide, and tiles that fit each target's shared memory.
TEST(TargetDescription, KernelDefaultsFitTheTarget) {
  for (const char *name : {"sm_80", "sm_90"}) {
    Expected<TargetDescription> target = lookupTarget(name);
    ASSERT_TRUE(bool(target)) << toString(target.takeError());
    const KernelDefaults &k = target->kernels;
    EXPECT_EQ(k.sms, std::string(name) == "sm_90" ? 132 : 108);
    // bf16 operand staging for all pipeline stages.
    int64_t gemmStaging =
        k.gemmStages * (k.gemmTileM * k.gemmTileK + k.gemmTileK * k.gemmTileN) * 2;
    EXPECT_LE(gemmStaging, k.smemPerBlockBytes) << name;
    EXPECT_LE(k.gemmThreads, k.maxThreadsPerBlock);
    EXPECT_EQ(k.gemmTileM % 16, 0);
    EXPECT_EQ(k.attentionTileKV % 16, 0);
  }
}

TEST(TargetDescription, UnknownTargetNamesTheKnownOnes) {
  Expected<TargetDescription> target = lookupTarget("sm_75");
  ASSERT_FALSE(bool(target));
  std::string message = toString(target.takeError());
  EXPECT_NE(message.find("'sm_75'"), std::string::npos) << message;
  EXPECT_NE(message.find("sm_80, sm_90, sm_90a"), std::string::npos)
      << message;
}

TEST(TargetDescription, LowerBoundOfLSTM) {
  mlir::DialectRegistry registry;
  attn::registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  auto module = mlir::parseSourceFile<mlir::ModuleOp>(
      ATTNC_EXAMPLES_DIR "/lstm_small.ir", &context);
  ASSERT_TRUE(module);
  auto graph = *module->getOps<attn::graph::GraphOp>().begin();
  CostAnalysis cost(graph);
  Expected<TargetDescription> target = lookupTarget("sm_90");
  ASSERT_TRUE(bool(target)) << toString(target.takeError());
  TimeBound bound = lowerBound(cost, *target);
  double matmul = double(cost.getMatmulFlops());
  double other = double(cost.getTotalFlops()) - matmul;
  EXPECT_DOUBLE_EQ(bound.computeMicros,
                   matmul / 790e6 + other / (target->vectorTflops * 1e6));
  EXPECT_DOUBLE_EQ(bound.memoryMicros, double(cost.getMinBytes()) / 4.3e6);
  EXPECT_DOUBLE_EQ(bound.syncMicros,
                   double(cost.getSyncSteps()) * target->syncMicros);
  EXPECT_DOUBLE_EQ(bound.totalMicros,
                   std::max(bound.computeMicros, bound.memoryMicros) +
                       bound.syncMicros);
  // Seven sequential steps: the barrier dominates a graph this small.
  EXPECT_EQ(cost.getSyncSteps(), 7);
  EXPECT_GT(bound.syncMicros, bound.computeMicros);
}

} // namespace
