//===- TestPrintDependence.cpp - print the dependence analyses ------------===//
//
// `attnc-opt --attn-print-dependence` prints, for every op of every graph,
// its loops with their kinds and group classes, the classes of each result
// dim, and inside scans whether it is state-dependent; then per scan the
// linearity verdict of each carried value, the hoistable ops and the chain
// length. Lit tests FileCheck this text; it is not a user interface (that
// is `attnc analyze`).
//
//===----------------------------------------------------------------------===//

#include "attn/Analysis/Cost.h"
#include "attn/Analysis/DimensionClasses.h"
#include "attn/Analysis/Linearity.h"
#include "attn/Analysis/StepInvariance.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassRegistry.h"

using namespace mlir;
using namespace attn;
using namespace attn::analysis;
using namespace attn::graph;

namespace {

struct TestPrintDependencePass
    : PassWrapper<TestPrintDependencePass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(TestPrintDependencePass)

  StringRef getArgument() const final { return "attn-print-dependence"; }
  StringRef getDescription() const final {
    return "Print dimension classes, step invariance and linearity";
  }

  void runOnOperation() override {
    for (auto graph : getOperation().getOps<GraphOp>())
      printGraph(graph, llvm::outs());
  }

  static void printLoc(Operation *op, llvm::raw_ostream &os) {
    if (auto loc = dyn_cast<FileLineColLoc>(op->getLoc()))
      os << " at " << loc.getLine() << ":" << loc.getColumn();
  }

  void printGraph(GraphOp graph, llvm::raw_ostream &os) {
    DimensionClasses dims(graph);
    CostAnalysis cost(graph);
    os << "graph @" << graph.getSymName() << "\n";
    for (auto [i, arg] : llvm::enumerate(graph.getArguments())) {
      os << "  arg " << i << ":";
      for (IterKind kind : dims.getClasses(arg))
        os << " " << stringifyClass(kind);
      os << "\n";
    }
    DenseMap<Operation *, std::unique_ptr<StepInvariance>> invariance;
    graph.getBody().walk<WalkOrder::PreOrder>([&](Operation *op) {
      if (op->hasTrait<OpTrait::IsTerminator>())
        return;
      if (auto scan = dyn_cast<ScanOp>(op))
        invariance[op] = std::make_unique<StepInvariance>(scan);
      os << "  " << op->getName();
      printLoc(op, os);
      if (auto scan = op->getParentOfType<ScanOp>())
        os << (invariance[scan]->isStateDependent(op) ? " [state]"
                                                      : " [invariant]");
      os << " loops:";
      for (const LoopInfo &loop : dims.getLoops(op)) {
        os << " " << loop.extent << ":" << stringifyClass(loop.kind);
        if (loop.groupClass != loop.kind)
          os << "->" << stringifyClass(loop.groupClass);
      }
      for (auto [i, result] : llvm::enumerate(op->getResults())) {
        os << " | result " << i << ":";
        for (IterKind kind : dims.getClasses(result))
          os << " " << stringifyClass(kind);
      }
      const OpCost &c = cost.getCost(op);
      os << " | flops " << c.flops << " span " << c.span << "\n";
    });
    graph.walk([&](ScanOp scan) {
      os << "  scan";
      printLoc(scan, os);
      os << ": length " << scan.getLength() << ", body span "
         << cost.getBodySpan(scan) << ", chain "
         << cost.getCost(scan).span << "\n";
      SmallVector<LinearityVerdict> verdicts = analyzeLinearity(scan);
      for (auto [i, verdict] : llvm::enumerate(verdicts))
        os << "    carried " << i << ": "
           << stringifyLinearity(verdict.kind) << ": " << verdict.reason
           << "\n";
      for (Operation *op : StepInvariance(scan).getHoistableOps()) {
        os << "    hoistable: " << op->getName();
        printLoc(op, os);
        os << "\n";
      }
    });
    os << "  total: flops " << cost.getTotalFlops() << ", matmul flops "
       << cost.getMatmulFlops() << ", span " << cost.getSpan()
       << ", sync steps " << cost.getSyncSteps() << ", min bytes "
       << cost.getMinBytes() << "\n";
  }
};

} // namespace

namespace attn::test {
void registerTestPrintDependencePass() {
  PassRegistration<TestPrintDependencePass>();
}
} // namespace attn::test
