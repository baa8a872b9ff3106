//===- FormKernels.cpp - graph ops grouped into kernel ops ----------------===//
//
// Implements --attn-form-kernels (see Passes.td). Works on the top level of
// each graph in four steps:
//
//  1. attn.fused bodies are inlined: they were elementwise clusters, and
//     kernel formation re-clusters with more kinds of members.
//  2. Every op gets a group. Anchors (matmul, attention, row ops, scans)
//     get one each. Elementwise and data-movement ops are visited from the
//     end backwards and join the group holding all their users, as in
//     --attn-fuse-elementwise, so nothing is computed twice and only a
//     group's last op has users outside it. Generators get no group: they
//     are cloned into each kernel that reads them, except where an anchor
//     reads one directly and needs it as a buffer.
//  3. Anchors absorb neighbouring elementwise-only groups: a GEMM or row
//     op its consumers (the epilogue), a row op the producer of its input
//     and a scan those of its coefficients and offsets (the prologue), when
//     shapes match so the fused work maps one to one onto the anchor's
//     output tile, row or step. Then pointwise groups that read a common
//     source and produce results of one shape merge into one kernel with
//     several results (siblings: RoPE's cos and sin tables; the V, Q and K
//     heads cut from one projection).
//  4. Each group is outlined into its kernel op at its last op's place,
//     with the schedule KernelSchedules.cpp chooses.
//
//===----------------------------------------------------------------------===//

#include "attn/Conversion/Passes.h"

#include "KernelSchedules.h"

#include "attn/Dialect/Graph/IR/GraphOps.h"
#include "attn/Dialect/Kernel/IR/KernelOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/SetVector.h"

namespace attn {
#define GEN_PASS_DEF_FORMKERNELS
#include "attn/Conversion/Passes.h.inc"
} // namespace attn

using namespace mlir;
using namespace attn;
using namespace attn::kernel;

namespace {

struct Group {
  GraphOpRole kind;           // the anchor's role; Elementwise for pointwise
  Operation *anchor = nullptr; // the anchor op, or the pointwise root
  bool hasDataMovement = false;
  bool absorbed = false;      // merged into an anchor's group
  SmallVector<Operation *> ops;
};

class KernelFormer {
public:
  KernelFormer(graph::GraphOp graph, const analysis::TargetDescription &target)
      : graph(graph), target(target) {}
  LogicalResult run();

private:
  void inlineFusedOps();
  void assignGroups();
  void absorbNeighbours();
  void mergeSiblings();
  bool areSiblings(unsigned first, unsigned second);
  void merge(unsigned into, unsigned from);
  bool isElementwiseGroupOfShape(unsigned group, ArrayRef<int64_t> shape);
  LogicalResult outline(Group &group);

  graph::GraphOp graph;
  const analysis::TargetDescription &target;
  bool usersShareGroup(Operation *op);
  void collect(Operation *user, Value operand, Group &group,
               const DenseSet<Operation *> &members,
               llvm::SetVector<Value> &inputs,
               llvm::SetVector<Operation *> &clones);

  SmallVector<Group> groups;
  DenseMap<Operation *, unsigned> groupOf;
  /// Data movement recomputed in every pointwise kernel that reads it.
  DenseSet<Operation *> duplicated;
};

} // namespace

static Block &topBlock(graph::GraphOp graph) {
  return graph.getBody().front();
}

void KernelFormer::inlineFusedOps() {
  SmallVector<graph::FusedOp> fusedOps;
  for (Operation &op : topBlock(graph))
    if (auto fused = dyn_cast<graph::FusedOp>(op))
      fusedOps.push_back(fused);
  for (graph::FusedOp fused : fusedOps) {
    OpBuilder builder(fused);
    IRMapping mapping;
    Block &body = fused.getBody().front();
    mapping.map(body.getArguments(), fused.getInputs());
    for (Operation &op : body.without_terminator())
      builder.clone(op, mapping);
    fused.getResult().replaceAllUsesWith(
        mapping.lookup(body.getTerminator()->getOperand(0)));
    fused.erase();
  }
}

void KernelFormer::assignGroups() {
  SmallVector<Operation *> ops;
  for (Operation &op : topBlock(graph).without_terminator())
    ops.push_back(&op);
  for (Operation *op : llvm::reverse(ops)) {
    GraphOpRole role = classifyGraphOp(op);
    if (role == GraphOpRole::Generator) {
      // A buffer only when something other than a pointwise op reads it.
      bool needsBuffer = llvm::any_of(op->getUsers(), [&](Operation *user) {
        return user->getBlock() != op->getBlock() || !isPointwiseMember(user);
      });
      if (!needsBuffer)
        continue;
      role = GraphOpRole::Elementwise;
      groupOf[op] = groups.size();
      groups.push_back({role, op, false, false, {op}});
      continue;
    }
    bool pointwise = role == GraphOpRole::Elementwise ||
                     role == GraphOpRole::DataMovement;
    if (role == GraphOpRole::DataMovement && !op->use_empty() &&
        llvm::all_of(op->getUsers(), [&](Operation *user) {
          auto it = groupOf.find(user);
          return (it != groupOf.end() &&
                  groups[it->second].kind == GraphOpRole::Elementwise) ||
                 duplicated.contains(user);
        }) &&
        !usersShareGroup(op)) {
      // Read by several pointwise kernels: each recomputes it, which is
      // index arithmetic, rather than a kernel of its own copying it.
      duplicated.insert(op);
      continue;
    }
    if (pointwise) {
      // Join the group that holds every user, if it is a pointwise one.
      std::optional<unsigned> joined;
      for (Operation *user : op->getUsers()) {
        auto it = groupOf.find(user);
        if (it == groupOf.end() ||
            groups[it->second].kind != GraphOpRole::Elementwise ||
            (joined && *joined != it->second)) {
          joined.reset();
          break;
        }
        joined = it->second;
      }
      if (joined) {
        groupOf[op] = *joined;
        groups[*joined].ops.push_back(op);
        groups[*joined].hasDataMovement |= role == GraphOpRole::DataMovement;
        continue;
      }
    }
    groupOf[op] = groups.size();
    groups.push_back({pointwise ? GraphOpRole::Elementwise : role, op,
                      role == GraphOpRole::DataMovement, false, {op}});
  }
  // Members were collected last-first.
  for (Group &group : groups)
    std::reverse(group.ops.begin(), group.ops.end());
}

/// Whether all users of `op` are in one group (then `op` simply joins it).
bool KernelFormer::usersShareGroup(Operation *op) {
  std::optional<unsigned> found;
  for (Operation *user : op->getUsers()) {
    auto it = groupOf.find(user);
    if (it == groupOf.end() || (found && *found != it->second))
      return false;
    found = it->second;
  }
  return found.has_value();
}

static ArrayRef<int64_t> shapeOf(Value value) {
  return cast<RankedTensorType>(value.getType()).getShape();
}

/// Whether `group` is a pointwise group of elementwise ops only, each
/// producing `shape`: then it maps one to one onto an anchor's output.
bool KernelFormer::isElementwiseGroupOfShape(unsigned group,
                                             ArrayRef<int64_t> shape) {
  const Group &g = groups[group];
  if (g.kind != GraphOpRole::Elementwise || g.hasDataMovement || g.absorbed)
    return false;
  // Duplicated data movement would be cloned in with the group; an
  // epilogue or prologue holds elementwise ops only.
  return llvm::all_of(g.ops, [&](Operation *op) {
    return classifyGraphOp(op) == GraphOpRole::Elementwise &&
           shapeOf(op->getResult(0)) == shape &&
           llvm::none_of(op->getOperands(), [&](Value operand) {
             return duplicated.contains(operand.getDefiningOp());
           });
  });
}

void KernelFormer::merge(unsigned into, unsigned from) {
  for (Operation *op : groups[from].ops) {
    groups[into].ops.push_back(op);
    groupOf[op] = into;
  }
  groups[from].ops.clear();
  groups[from].absorbed = true;
}

/// The single group all users of `value` are in, if any.
static std::optional<unsigned>
usersGroup(Value value, const DenseMap<Operation *, unsigned> &groupOf) {
  std::optional<unsigned> found;
  for (Operation *user : value.getUsers()) {
    auto it = groupOf.find(user);
    if (it == groupOf.end() || (found && *found != it->second))
      return std::nullopt;
    found = it->second;
  }
  return found;
}

void KernelFormer::absorbNeighbours() {
  for (unsigned i = 0, e = groups.size(); i < e; ++i) {
    GraphOpRole kind = groups[i].kind;
    Operation *anchor = groups[i].anchor;
    // A scan computes its coefficients and offsets as it reads them, when
    // their producers are elementwise groups read only by the scan: one
    // array less through memory each (minGRU's a = 1 - z).
    if (kind == GraphOpRole::Scan) {
      for (unsigned operand : {0u, 1u})
        if (Operation *producer = anchor->getOperand(operand).getDefiningOp()) {
          auto it = groupOf.find(producer);
          if (it != groupOf.end() && it->second != i &&
              groups[it->second].anchor == producer &&
              llvm::all_of(producer->getUsers(),
                           [&](Operation *u) { return u == anchor; }) &&
              isElementwiseGroupOfShape(it->second,
                                        shapeOf(anchor->getOperand(operand))))
            merge(i, it->second);
        }
      // Then, transitively, elementwise groups whose every reader is now
      // in the scan's group (minGRU's z = sigmoid(zx), read by both
      // a = 1 - z and b = z ht).
      for (bool grew = true; grew;) {
        grew = false;
        for (Operation *member : llvm::to_vector(groups[i].ops))
          for (Value operand : member->getOperands()) {
            Operation *producer = operand.getDefiningOp();
            auto it = producer ? groupOf.find(producer) : groupOf.end();
            if (it == groupOf.end() || it->second == i ||
                groups[it->second].anchor != producer ||
                usersGroup(producer->getResult(0), groupOf) != i ||
                !isElementwiseGroupOfShape(it->second, shapeOf(operand)))
              continue;
            merge(i, it->second);
            grew = true;
          }
      }
      continue;
    }
    if (kind != GraphOpRole::Gemm && kind != GraphOpRole::Row)
      continue;
    // Prologue: the row op's input comes from a group read only by it.
    if (kind == GraphOpRole::Row)
      if (Operation *producer = anchor->getOperand(0).getDefiningOp()) {
        auto it = groupOf.find(producer);
        if (it != groupOf.end() &&
            groups[it->second].anchor == producer &&
            llvm::all_of(producer->getUsers(),
                         [&](Operation *u) { return u == anchor; }) &&
            isElementwiseGroupOfShape(it->second,
                                      shapeOf(anchor->getOperand(0))))
          merge(i, it->second);
      }
    // Epilogue: every user of the result is in one elementwise group of the
    // result's shape.
    if (anchor->getNumResults() != 1)
      continue;
    std::optional<unsigned> consumers =
        usersGroup(anchor->getResult(0), groupOf);
    if (consumers && *consumers != i &&
        isElementwiseGroupOfShape(*consumers, shapeOf(anchor->getResult(0))))
      merge(i, *consumers);
  }
  // Keep members in program order (merging appended the epilogue).
  for (Group &group : groups)
    llvm::sort(group.ops, [](Operation *a, Operation *b) {
      return a->isBeforeInBlock(b);
    });
}

/// The ops whose results `group` reads from outside, looking through the
/// data movement cloned into it (so two groups that each cut their part
/// out of one tensor read the same source).
static DenseSet<Operation *>
sourcesOf(const Group &group, const DenseSet<Operation *> &duplicated) {
  DenseSet<Operation *> members(group.ops.begin(), group.ops.end()), sources;
  SmallVector<Value> work;
  for (Operation *op : group.ops)
    llvm::append_range(work, op->getOperands());
  while (!work.empty()) {
    Value value = work.pop_back_val();
    Operation *producer = value.getDefiningOp();
    // Generators are cloned into every reader: sharing one is no reason
    // to merge.
    if (!producer || members.contains(producer) ||
        classifyGraphOp(producer) == GraphOpRole::Generator)
      continue;
    if (duplicated.contains(producer) && sources.insert(producer).second)
      llvm::append_range(work, producer->getOperands());
    sources.insert(producer);
  }
  return sources;
}

/// Whether pointwise groups `first` and `second` (whose last op comes
/// later) can be one kernel: both produce only results of one shape (one
/// iteration space), they read a common source, and nothing reads
/// `first`'s results before `second`'s last op, where the merged kernel
/// will be (so `second` does not depend on `first` either).
bool KernelFormer::areSiblings(unsigned first, unsigned second) {
  const Group &a = groups[first], &b = groups[second];
  for (const Group *g : {&a, &b})
    if (g->kind != GraphOpRole::Elementwise || g->absorbed || g->ops.empty())
      return false;
  ArrayRef<int64_t> shape = shapeOf(b.ops.back()->getResult(0));
  DenseSet<Operation *> members(a.ops.begin(), a.ops.end());
  members.insert(b.ops.begin(), b.ops.end());
  Operation *place = b.ops.back();
  for (const Group *g : {&a, &b})
    for (Operation *op : g->ops)
      for (Value result : op->getResults())
        for (Operation *user : result.getUsers()) {
          // A reader inside a scan body or a score modification counts
          // where its top-level op is.
          Operation *reader = place->getBlock()->findAncestorOpInBlock(*user);
          if (!reader)
            return false;
          if (members.contains(reader))
            continue;
          if (shapeOf(result) != shape)
            return false;
          if (g == &a && !place->isBeforeInBlock(reader))
            return false;
        }
  DenseSet<Operation *> sourcesA = sourcesOf(a, duplicated);
  return llvm::any_of(sourcesOf(b, duplicated), [&](Operation *source) {
    return sourcesA.contains(source);
  });
}

/// Merges sibling pointwise groups (areSiblings), earliest first: one
/// launch and one index computation instead of several, and one kernel
/// for NVRTC to compile instead of several.
void KernelFormer::mergeSiblings() {
  SmallVector<unsigned> order;
  for (unsigned i = 0; i < groups.size(); ++i)
    if (!groups[i].ops.empty() && !groups[i].absorbed &&
        groups[i].kind == GraphOpRole::Elementwise)
      order.push_back(i);
  llvm::sort(order, [&](unsigned x, unsigned y) {
    return groups[x].ops.back()->isBeforeInBlock(groups[y].ops.back());
  });
  for (size_t i = 0; i < order.size(); ++i)
    for (size_t j = i + 1; j < order.size(); ++j) {
      if (!areSiblings(order[i], order[j]))
        continue;
      // The later group keeps its place; the earlier joins it.
      merge(order[j], order[i]);
      groups[order[j]].hasDataMovement |= groups[order[i]].hasDataMovement;
      llvm::sort(groups[order[j]].ops, [](Operation *x, Operation *y) {
        return x->isBeforeInBlock(y);
      });
      break;
    }
}

/// Sorts `operand` of `user` (a member of `group`) into the kernel's
/// inputs, or, for a generator or duplicated data movement read by a
/// pointwise member, into the ops cloned into the body (after what they
/// read, so `clones` stays in dependence order).
void KernelFormer::collect(Operation *user, Value operand, Group &group,
                           const DenseSet<Operation *> &members,
                           llvm::SetVector<Value> &inputs,
                           llvm::SetVector<Operation *> &clones) {
  Operation *def = operand.getDefiningOp();
  if (def && members.contains(def))
    return;
  bool userIsPointwise = isPointwiseMember(user) &&
                         (user != group.anchor ||
                          group.kind == GraphOpRole::Elementwise);
  bool cloneable = def && (duplicated.contains(def) ||
                           classifyGraphOp(def) == GraphOpRole::Generator);
  if (!userIsPointwise || !cloneable) {
    inputs.insert(operand);
    return;
  }
  if (clones.contains(def))
    return;
  for (Value nested : def->getOperands())
    collect(def, nested, group, members, inputs, clones);
  clones.insert(def);
}

/// The kernel op for a group of `kind`.
static Operation *createKernel(OpBuilder &builder, Location loc,
                               GraphOpRole kind, TypeRange results,
                               ValueRange inputs, StringAttr target,
                               ArrayAttr loops, DenseI64ArrayAttr blocks,
                               IntegerAttr threads, IntegerAttr smem) {
  auto make = [&](auto tag) -> Operation * {
    using OpTy = decltype(tag);
    return OpTy::create(builder, loc, results, inputs, target, loops, blocks,
                        threads, smem);
  };
  switch (kind) {
  case GraphOpRole::Gemm:
    return make(GemmOp());
  case GraphOpRole::Attention:
    return make(AttentionOp());
  case GraphOpRole::Row:
    return make(RowOp());
  case GraphOpRole::Recurrence:
    return make(RecurrenceOp());
  case GraphOpRole::Scan:
    return make(ScanOp());
  default:
    return make(PointwiseOp());
  }
}

LogicalResult KernelFormer::outline(Group &group) {
  DenseSet<Operation *> members(group.ops.begin(), group.ops.end());
  Operation *last = group.ops.back();
  bool pointwise = group.kind == GraphOpRole::Elementwise;

  // Inputs: values from outside, the anchor's operands first (a GEMM's
  // body multiplies its first two block arguments). Generators and
  // duplicated data movement read by pointwise members are cloned instead.
  llvm::SetVector<Value> inputs;
  llvm::SetVector<Operation *> clones;
  if (!pointwise)
    for (Value operand : group.anchor->getOperands())
      collect(group.anchor, operand, group, members, inputs, clones);
  for (Operation *op : group.ops) {
    for (Value operand : op->getOperands())
      collect(op, operand, group, members, inputs, clones);
    // Values captured by nested regions (a scan body reading weights).
    op->walk([&](Operation *nested) {
      if (nested == op)
        return;
      for (Value operand : nested->getOperands())
        if (operand.getParentRegion() == &graph.getBody())
          inputs.insert(operand);
    });
  }

  SmallVector<Value> outputs;
  for (Operation *op : group.ops)
    for (Value result : op->getResults())
      if (llvm::any_of(result.getUsers(), [&](Operation *user) {
            return !members.contains(user);
          }))
        outputs.push_back(result);

  Operation *anchor = pointwise ? last : group.anchor;
  Schedule schedule = scheduleKernel(anchor, target);
  MLIRContext *ctx = graph.getContext();
  OpBuilder builder(last);
  SmallVector<Attribute> loops(schedule.loops.begin(), schedule.loops.end());
  SmallVector<Type> resultTypes;
  for (Value output : outputs)
    resultTypes.push_back(output.getType());
  Operation *kernel = createKernel(
      builder, anchor->getLoc(), group.kind, resultTypes,
      inputs.getArrayRef(), StringAttr::get(ctx, target.name),
      ArrayAttr::get(ctx, loops),
      DenseI64ArrayAttr::get(ctx, {schedule.blocks, 1, 1}),
      builder.getI64IntegerAttr(schedule.threads),
      builder.getI64IntegerAttr(schedule.smem));

  Block *body = builder.createBlock(&kernel->getRegion(0));
  IRMapping mapping;
  for (Value input : inputs)
    mapping.map(input, body->addArgument(input.getType(), input.getLoc()));
  for (Operation *clone : clones)
    builder.clone(*clone, mapping);
  for (Operation *op : group.ops)
    builder.clone(*op, mapping);
  SmallVector<Value> yielded;
  for (Value output : outputs)
    yielded.push_back(mapping.lookup(output));
  YieldOp::create(builder, last->getLoc(), yielded);

  for (auto [output, result] : llvm::zip(outputs, kernel->getResults()))
    output.replaceUsesWithIf(result, [&](OpOperand &use) {
      return !members.contains(use.getOwner());
    });
  for (Operation *op : llvm::reverse(group.ops))
    op->erase();
  return success();
}

static bool isEmptyTensor(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  return tensor && tensor.getNumElements() == 0;
}

/// What no kernel kind runs, refused with the reason before grouping:
/// tensors without elements (a grid needs at least one block) and scans
/// that carry no state. Hoisting turns a scan of independent steps into
/// whole-sequence ops wherever every op of its step has a whole-sequence
/// form; one that stays is not a recurrence.
static LogicalResult checkCompilable(graph::GraphOp graph) {
  for (BlockArgument arg : topBlock(graph).getArguments())
    if (isEmptyTensor(arg.getType()))
      return emitError(arg.getLoc())
             << "argument " << arg.getArgNumber() << " is an empty tensor ("
             << arg.getType()
             << "): attnc compiles graphs whose tensors all have elements "
                "(attnc run interprets this one)";
  WalkResult walk = graph.walk([](Operation *op) {
    for (Type type : op->getResultTypes())
      if (isEmptyTensor(type)) {
        op->emitOpError() << "makes an empty tensor (" << type
                          << "): attnc compiles graphs whose tensors all "
                             "have elements (attnc run interprets this one)";
        return WalkResult::interrupt();
      }
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  for (auto scan : topBlock(graph).getOps<graph::ScanOp>()) {
    if (!scan.getInits().empty())
      continue;
    // Name the first op left in the step (inside a fused cluster, its
    // first op); with none left, the step only yields outside values.
    Operation *left = &scan.getBody().front().front();
    if (auto fused = dyn_cast<graph::FusedOp>(left))
      left = &fused.getBody().front().front();
    if (isa<graph::YieldOp>(left))
      return scan.emitOpError()
             << "carries no state, and its step yields a value from "
                "outside it that has no repeated form: attnc compiles "
                "scans that carry a state";
    return scan.emitOpError()
           << "carries no state, and its step's '" << left->getName()
           << "' has no whole-sequence form: attnc compiles scans that "
              "carry a state";
  }
  return success();
}

LogicalResult KernelFormer::run() {
  inlineFusedOps();
  if (failed(checkCompilable(graph)))
    return failure();
  for (Operation &op : topBlock(graph).without_terminator())
    if (classifyGraphOp(&op) == GraphOpRole::Other)
      return op.emitOpError("cannot be placed in any kernel kind");
  assignGroups();
  absorbNeighbours();
  mergeSiblings();
  // Outline in program order of each group's last op, so every kernel's
  // inputs already exist where it is built.
  SmallVector<Group *> order;
  for (Group &group : groups)
    if (!group.ops.empty())
      order.push_back(&group);
  llvm::sort(order, [](Group *a, Group *b) {
    return a->ops.back()->isBeforeInBlock(b->ops.back());
  });
  for (Group *group : order)
    if (failed(outline(*group)))
      return failure();
  // Generators and duplicated data movement were cloned into their
  // readers; erase them last-first, so chains go too.
  SmallVector<Operation *> leftovers;
  for (Operation &op : topBlock(graph).without_terminator())
    leftovers.push_back(&op);
  for (Operation *op : llvm::reverse(leftovers))
    if (op->use_empty() && !isa<KernelDialect>(op->getDialect()))
      op->erase();
  for (Operation &op : topBlock(graph).without_terminator())
    if (!isa<KernelDialect>(op.getDialect()))
      return op.emitOpError("was left outside every kernel");
  return success();
}

namespace {
struct FormKernelsPass : attn::impl::FormKernelsBase<FormKernelsPass> {
  using Base::Base;
  void runOnOperation() override {
    llvm::Expected<analysis::TargetDescription> description =
        analysis::lookupTarget(target);
    if (!description) {
      getOperation().emitError() << toString(description.takeError());
      return signalPassFailure();
    }
    if (sms < 0 || sms > description->kernels.sms) {
      getOperation().emitError()
          << "--sms " << static_cast<int64_t>(sms) << ": a " << target
          << " GPU has 1 to " << description->kernels.sms << " SMs";
      return signalPassFailure();
    }
    if (sms > 0)
      description->kernels.sms = sms;
    SmallVector<graph::GraphOp> graphs(
        getOperation().getOps<graph::GraphOp>());
    for (graph::GraphOp graph : graphs)
      if (failed(KernelFormer(graph, *description).run()))
        return signalPassFailure();
  }
};
} // namespace
