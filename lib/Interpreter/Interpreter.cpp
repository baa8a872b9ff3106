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

#include "llvm/ADT/DenseMap.h"

using namespace mlir;
using namespace attn;
using namespace attn::interp;
using namespace attn::graph;

namespace {

class GraphRunner {
public:
  explicit GraphRunner(const InterpreterOptions &options) : options(options) {}

  void bind(Value value, Tensor tensor) { values[value] = std::move(tensor); }

  /// Runs the ops of `block` and returns its terminator's operand values.
  FailureOr<SmallVector<Tensor>> runBlock(Block &block);

private:
  LogicalResult runOp(Operation *op);
  LogicalResult runScan(ScanOp scan);
  LogicalResult checkResultSizes(Operation *op);

  const InterpreterOptions &options;
  llvm::DenseMap<Value, Tensor> values;
};

} // namespace

FailureOr<SmallVector<Tensor>> GraphRunner::runBlock(Block &block) {
  for (Operation &op : block.without_terminator())
    if (failed(runOp(&op)))
      return failure();
  SmallVector<Tensor> yielded;
  for (Value operand : block.getTerminator()->getOperands())
    yielded.push_back(values.find(operand)->second);
  return yielded;
}

LogicalResult GraphRunner::checkResultSizes(Operation *op) {
  for (Value result : op->getResults()) {
    auto type = cast<RankedTensorType>(result.getType());
    if (type.getNumElements() > options.maxTensorElements)
      return op->emitOpError()
             << "result " << type << " has " << type.getNumElements()
             << " elements, more than the interpreter's limit of "
             << options.maxTensorElements;
  }
  return success();
}

LogicalResult GraphRunner::runOp(Operation *op) {
  if (failed(checkResultSizes(op)))
    return failure();
  if (auto scan = dyn_cast<ScanOp>(op))
    return runScan(scan);

  SmallVector<const Tensor *> operands;
  for (Value operand : op->getOperands())
    operands.push_back(&values.find(operand)->second);
  SmallVector<Tensor> results;
  bool handled =
      tryEvaluateElementwise(op, operands, options.precision, results) ||
      tryEvaluateContraction(op, operands, options.precision, results) ||
      tryEvaluateShape(op, operands, options.precision, results);
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
