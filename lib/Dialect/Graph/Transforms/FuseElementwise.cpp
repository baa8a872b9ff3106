//===- FuseElementwise.cpp - chains of elementwise ops become one ---------===//
//
// Implements --attn-fuse-elementwise (see Passes.td). Ops are visited from
// the end of each block backwards; an elementwise op starts a cluster, and
// its elementwise producers join when every user of theirs is already in
// that cluster. So nothing is computed twice (the cost rule,
// docs/passes/fusion.md), the cluster's only value used outside is its
// last op's result, and the fused op can take that op's place.
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Graph/Transforms/Passes.h"

#include "attn/Dialect/Graph/IR/GraphOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/SetVector.h"

namespace attn::graph {
#define GEN_PASS_DEF_FUSEELEMENTWISE
#include "attn/Dialect/Graph/Transforms/Passes.h.inc"
} // namespace attn::graph

using namespace mlir;
using namespace attn;
using namespace attn::graph;

/// Elementwise: batch-polymorphic (so the op computes position by position
/// with broadcasting) and without reduction loops (which rules out matmul).
static bool isElementwise(Operation *op) {
  return op->hasTrait<BatchPolymorphic>() && op->getNumResults() == 1 &&
         hasNoReductionOrRegion(op);
}

/// Replaces `cluster` (in program order, the last op its root) by one
/// attn.fused at the root's place.
static void outline(ArrayRef<Operation *> cluster) {
  Operation *root = cluster.back();
  DenseSet<Operation *> members(cluster.begin(), cluster.end());
  llvm::SetVector<Value> inputs;
  for (Operation *op : cluster)
    for (Value operand : op->getOperands())
      if (!members.contains(operand.getDefiningOp()))
        inputs.insert(operand);

  OpBuilder builder(root);
  auto fused = FusedOp::create(builder, root->getLoc(),
                               root->getResult(0).getType(),
                               inputs.getArrayRef());
  Block *body = builder.createBlock(&fused.getBody());
  IRMapping mapping;
  for (Value input : inputs)
    mapping.map(input, body->addArgument(input.getType(), input.getLoc()));
  for (Operation *op : cluster)
    builder.clone(*op, mapping);
  YieldOp::create(builder, root->getLoc(),
                  mapping.lookup(root->getResult(0)));
  root->getResult(0).replaceAllUsesWith(fused.getResult());
  for (Operation *op : llvm::reverse(cluster))
    op->erase();
}

static void fuseBlock(Block &block) {
  DenseMap<Operation *, unsigned> clusterOf;
  SmallVector<SmallVector<Operation *>> clusters;
  SmallVector<Operation *> ops;
  for (Operation &op : block.without_terminator())
    ops.push_back(&op);
  for (Operation *op : llvm::reverse(ops)) {
    if (!isElementwise(op))
      continue;
    // Join the cluster that holds every user, if there is one.
    std::optional<unsigned> joined;
    for (Operation *user : op->getUsers()) {
      auto it = clusterOf.find(user);
      if (it == clusterOf.end() || (joined && *joined != it->second)) {
        joined.reset();
        break;
      }
      joined = it->second;
    }
    if (!joined) {
      joined = clusters.size();
      clusters.emplace_back();
    }
    clusterOf[op] = *joined;
    clusters[*joined].push_back(op);
  }
  for (SmallVector<Operation *> &cluster : clusters) {
    if (cluster.size() < 2)
      continue;
    std::reverse(cluster.begin(), cluster.end()); // program order
    outline(cluster);
  }
}

namespace {
struct FuseElementwisePass
    : attn::graph::impl::FuseElementwiseBase<FuseElementwisePass> {
  void runOnOperation() override {
    SmallVector<Block *> blocks;
    // A score modification is already one elementwise body, inlined per
    // score by attention kernels, and may only hold elementwise ops.
    getOperation().walk([&](Block *block) {
      if (!isa<ModuleOp, FusedOp, AttentionOp>(block->getParentOp()))
        blocks.push_back(block);
    });
    for (Block *block : blocks)
      fuseBlock(*block);
  }
};
} // namespace
