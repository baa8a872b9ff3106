//===- Interpreter.cpp - the reference interpreter ------------------------===//
//
// Walks a graph's ops in order, keeping one tensor per SSA value. Scans run
// exactly as written: for every step (backwards under `reverse`) the body
// sees that step's slices and the current carries, its yielded outputs are
// stacked at the step's index, and its yielded carries feed the next step.
// Nested scans simply recurse. Before any result is allocated its size is
// checked against the options' limit, so a model too big for the CPU is an
// error at the op, not an out-of-memory crash.
//
//===----------------------------------------------------------------------===//

#include "attn/Interpreter/Interpreter.h"

#include "attn/Interpreter/Kernels.h"

#include "attn/Dialect/Kernel/IR/KernelDialect.h"

#include "llvm/ADT/DenseMap.h"

using namespace mlir;
using namespace attn;
using namespace attn::interp;
using namespace attn::graph;

namespace {

class GraphRunner {
public:
  explicit GraphRunner(const InterpreterOptions &options) : options(options) {}

  void bind(Value value, Tensor tensor) {
    live += tensor.size();
    auto [it, inserted] = values.try_emplace(value);
    if (!inserted)
      live -= it->second.size();
    it->second = std::move(tensor);
  }
  void unbind(Value value) {
    auto it = values.find(value);
    if (it == values.end())
      return;
    live -= it->second.size();
    values.erase(it);
  }

  /// Runs the ops of `block` and returns its terminator's operand values.
  FailureOr<SmallVector<Tensor>> runBlock(Block &block);

private:
  LogicalResult runOp(Operation *op);
  LogicalResult runScan(ScanOp scan);
  LogicalResult runAttention(AttentionOp attention);
  LogicalResult runIsolatedBody(Operation *op);
  LogicalResult checkResultSizes(Operation *op);

  const InterpreterOptions &options;
  llvm::DenseMap<Value, Tensor> values;
  /// Elements held by `values`.
  int64_t live = 0;
};

} // namespace

/// For each op of `block`, the values defined in the block whose last use
/// (by the op or anything nested in it) it is. The terminator's operands
/// are never freed: the block's caller reads them.
static DenseMap<Operation *, SmallVector<Value>> lastUses(Block &block) {
  DenseMap<Value, Operation *> lastUser;
  for (Operation &op : block.without_terminator())
    op.walk([&](Operation *nested) {
      for (Value operand : nested->getOperands())
        if (operand.getParentBlock() == &block)
          lastUser[operand] = &op;
    });
  for (Value operand : block.getTerminator()->getOperands())
    lastUser.erase(operand);
  DenseMap<Operation *, SmallVector<Value>> dying;
  for (auto [value, op] : lastUser)
    dying[op].push_back(value);
  return dying;
}

FailureOr<SmallVector<Tensor>> GraphRunner::runBlock(Block &block) {
  // Dead values are dropped as soon as possible, so memory follows the
  // live set rather than the whole graph.
  DenseMap<Operation *, SmallVector<Value>> dying = lastUses(block);
  for (Operation &op : block.without_terminator()) {
    if (failed(runOp(&op)))
      return failure();
    for (Value value : dying.lookup(&op))
      unbind(value);
  }
  SmallVector<Tensor> yielded;
  for (Value operand : block.getTerminator()->getOperands())
    yielded.push_back(values.find(operand)->second);
  return yielded;
}

LogicalResult GraphRunner::checkResultSizes(Operation *op) {
  int64_t total = 0;
  for (Value result : op->getResults()) {
    auto type = dyn_cast<RankedTensorType>(result.getType());
    std::optional<int64_t> count =
        type ? graph::checkedNumElements(type.getShape()) : std::nullopt;
    if (!count || *count > options.maxTensorElements)
      return op->emitOpError()
             << "result " << result.getType() << " has "
             << (count ? std::to_string(*count) : std::string("too many"))
             << " elements, more than the interpreter's limit of "
             << options.maxTensorElements;
    total += *count;
  }
  if (live + total > options.maxLiveElements)
    return op->emitOpError()
           << "would bring the values the interpreter holds at once to "
           << live + total << " elements, more than its limit of "
           << options.maxLiveElements;
  return success();
}

LogicalResult GraphRunner::runOp(Operation *op) {
  if (failed(checkResultSizes(op)))
    return failure();
  if (auto scan = dyn_cast<ScanOp>(op))
    return runScan(scan);
  if (auto attention = dyn_cast<AttentionOp>(op))
    return runAttention(attention);
  // attn.fused and every kernel op mean exactly their body.
  if (isa<FusedOp>(op) || isa<kernel::KernelDialect>(op->getDialect()))
    return runIsolatedBody(op);

  SmallVector<const Tensor *> operands;
  for (Value operand : op->getOperands())
    operands.push_back(&values.find(operand)->second);
  SmallVector<Tensor> results;
  bool handled =
      tryEvaluateElementwise(op, operands, options.precision, results) ||
      tryEvaluateContraction(op, operands, options.precision, results) ||
      tryEvaluateShape(op, operands, options.precision, results) ||
      tryEvaluateRecurrence(op, operands, options.precision, results);
  if (!handled)
    return op->emitOpError("has no interpreter kernel");
  // A kernel that handled the op but produced no results has already
  // reported why.
  if (results.size() != op->getNumResults())
    return failure();
  for (auto [value, tensor] : llvm::zip(op->getResults(), results))
    bind(value, std::move(tensor));
  return success();
}

LogicalResult GraphRunner::runScan(ScanOp scan) {
  int64_t length = scan.getLength(), dim = scan.getDim();
  Block &body = scan.getBody().front();

  SmallVector<Tensor> carries;
  for (Value init : scan.getInits())
    carries.push_back(values.find(init)->second);
  SmallVector<Tensor> stacked;
  for (Value output : scan.getStackedOutputs()) {
    auto type = cast<RankedTensorType>(output.getType());
    stacked.emplace_back(*dtypeOf(type), type.getShape());
  }

  for (int64_t step = 0; step < length; ++step) {
    int64_t t = scan.getReverse() ? length - 1 - step : step;
    for (auto [arg, sequence] :
         llvm::zip(scan.getSequenceArgs(), scan.getSequences())) {
      Tensor slice = sliceAlong(values.find(sequence)->second, dim, t);
      bind(arg, std::move(slice));
    }
    for (auto [arg, carry] : llvm::zip(scan.getCarriedArgs(), carries))
      bind(arg, std::move(carry));

    FailureOr<SmallVector<Tensor>> yielded = runBlock(body);
    if (failed(yielded))
      return failure();
    for (auto [i, output] : llvm::enumerate(stacked))
      insertAlong(output, dim, t, (*yielded)[i]);
    for (auto [i, carry] : llvm::enumerate(carries))
      carry = std::move((*yielded)[stacked.size() + i]);
  }

  for (auto [value, tensor] : llvm::zip(scan.getStackedOutputs(), stacked))
    bind(value, std::move(tensor));
  for (auto [value, tensor] : llvm::zip(scan.getFinalCarries(), carries))
    bind(value, std::move(tensor));
  return success();
}

LogicalResult GraphRunner::runAttention(AttentionOp op) {
  const Tensor &q = values.find(op.getQuery())->second;
  const Tensor &k = values.find(op.getKey())->second;
  const Tensor &v = values.find(op.getValue())->second;
  // The scores are an intermediate of the op: check their size too.
  if (op.getScoresType().getNumElements() > options.maxTensorElements)
    return op.emitOpError() << "scores " << op.getScoresType()
                            << " exceed the interpreter's limit of "
                            << options.maxTensorElements << " elements";
  Tensor scores = attentionScores(op, q, k, options.precision);
  if (!op.getScoreMod().empty()) {
    Block &body = op.getScoreMod().front();
    bind(body.getArgument(0), std::move(scores));
    FailureOr<SmallVector<Tensor>> modified = runBlock(body);
    if (failed(modified))
      return failure();
    scores = std::move((*modified)[0]);
  }
  Tensor result = attentionOutput(op, scores, values.find(op.getQuery())->second,
                                  values.find(op.getKey())->second,
                                  values.find(op.getValue())->second,
                                  options.precision);
  bind(op.getResult(), std::move(result));
  return success();
}

/// An op isolated from above whose body receives its operands as block
/// arguments and yields its results: attn.fused, and every kernel op (the
/// schedule says how a GPU runs the body, not what it computes).
LogicalResult GraphRunner::runIsolatedBody(Operation *op) {
  Block &body = op->getRegion(0).front();
  for (auto [arg, input] : llvm::zip(body.getArguments(), op->getOperands())) {
    Tensor copy = values.find(input)->second;
    bind(arg, std::move(copy));
  }
  FailureOr<SmallVector<Tensor>> results = runBlock(body);
  if (failed(results))
    return failure();
  for (auto [value, tensor] : llvm::zip(op->getResults(), *results))
    bind(value, std::move(tensor));
  return success();
}

FailureOr<SmallVector<Tensor>>
attn::interp::runGraph(GraphOp graph, ArrayRef<Tensor> arguments,
                       const InterpreterOptions &options) {
  ArrayRef<Type> inputs = graph.getFunctionType().getInputs();
  if (arguments.size() != inputs.size())
    return graph.emitError() << "graph @" << graph.getSymName() << " takes "
                             << inputs.size() << " arguments but "
                             << arguments.size() << " were given";
  GraphRunner runner(options);
  for (auto [i, pair] : llvm::enumerate(llvm::zip(arguments, inputs))) {
    auto [tensor, type] = pair;
    auto tensorType = cast<RankedTensorType>(type);
    if (tensor.dtype != dtypeOf(tensorType) ||
        ArrayRef<int64_t>(tensor.shape) != tensorType.getShape())
      return graph.emitError()
             << "argument " << i << " is " << shapeString(tensor.shape) << " "
             << dtypeName(tensor.dtype) << " but graph @"
             << graph.getSymName() << " expects " << type;
    runner.bind(graph.getBody().getArgument(i), tensor);
  }
  return runner.runBlock(graph.getBody().front());
}
