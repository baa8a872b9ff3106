//===- GraphVerify.cpp - verifiers of the computational ops ---------------===//
//
// Shape and type rules of the computational ops. Every message says which
// operand or attribute is wrong, what it is, and what the op needed, so a
// user can fix the model from the one line the tools print.
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Graph/IR/GraphOps.h"

#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace attn::graph;

static ArrayRef<int64_t> shapeOf(Value value) {
  return cast<RankedTensorType>(value.getType()).getShape();
}

static Type elementOf(Value value) {
  return cast<RankedTensorType>(value.getType()).getElementType();
}

/// Checks `0 <= dim < rank`, naming the attribute in the error.
static LogicalResult checkDim(Operation *op, StringRef name, int64_t dim,
                              int64_t rank) {
  if (dim >= 0 && dim < rank)
    return success();
  return op->emitOpError() << name << " " << dim
                           << " is out of range for rank " << rank;
}

FailureOr<SmallVector<int64_t>>
attn::graph::broadcastShapes(ArrayRef<int64_t> a, ArrayRef<int64_t> b) {
  size_t rank = std::max(a.size(), b.size());
  SmallVector<int64_t> shape(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t x = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t y = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (x != y && x != 1 && y != 1)
      return failure();
    shape[i] = x == 1 ? y : x;
  }
  return shape;
}

LogicalResult attn::graph::verifyBroadcastElementwise(Operation *op) {
  Value result = op->getResult(0);
  SmallVector<int64_t> shape;
  for (auto [i, operand] : llvm::enumerate(op->getOperands())) {
    if (!isa<FloatType>(elementOf(operand)))
      continue; // masks; their element type is fixed by ODS
    if (elementOf(operand) != elementOf(result))
      return op->emitOpError()
             << "operand " << i << " has element type " << elementOf(operand)
             << " but the result has " << elementOf(result);
  }
  for (auto [i, operand] : llvm::enumerate(op->getOperands())) {
    FailureOr<SmallVector<int64_t>> next =
        broadcastShapes(shape, shapeOf(operand));
    if (failed(next))
      return op->emitOpError()
             << "operand " << i << " has shape "
             << formatShape(shapeOf(operand))
             << " which does not broadcast with shape " << formatShape(shape)
             << " of the operands before it";
    shape = *next;
  }
  if (ArrayRef<int64_t>(shape) != shapeOf(result))
    return op->emitOpError() << "result has shape "
                             << formatShape(shapeOf(result))
                             << " but the operands broadcast to "
                             << formatShape(shape);
  return success();
}

LogicalResult MatmulOp::verify() {
  ArrayRef<int64_t> lhs = shapeOf(getLhs()), rhs = shapeOf(getRhs());
  if (lhs.size() < 2 || rhs.size() < 2)
    return emitOpError() << "operands need rank 2 or more but have shapes "
                         << formatShape(lhs) << " and " << formatShape(rhs);
  if (elementOf(getLhs()) != elementOf(getRhs()) ||
      elementOf(getLhs()) != elementOf(getResult()))
    return emitOpError() << "operand and result element types differ: "
                         << elementOf(getLhs()) << ", " << elementOf(getRhs())
                         << " -> " << elementOf(getResult());
  size_t l = lhs.size(), r = rhs.size();
  int64_t m = getTransposeLhs() ? lhs[l - 1] : lhs[l - 2];
  int64_t k = getTransposeLhs() ? lhs[l - 2] : lhs[l - 1];
  int64_t kRhs = getTransposeRhs() ? rhs[r - 1] : rhs[r - 2];
  int64_t n = getTransposeRhs() ? rhs[r - 2] : rhs[r - 1];
  if (k != kRhs)
    return emitOpError() << "operand 1 has shape " << formatShape(rhs)
                         << " but matmul needs " << k
                         << " rows (the contraction extent of lhs "
                         << formatShape(lhs) << ")"
                         << (getTransposeRhs() ? " in its transposed form"
                                               : "");
  FailureOr<SmallVector<int64_t>> batch =
      broadcastShapes(lhs.drop_back(2), rhs.drop_back(2));
  if (failed(batch))
    return emitOpError() << "batch dims of " << formatShape(lhs) << " and "
                         << formatShape(rhs) << " do not broadcast";
  SmallVector<int64_t> expected = *batch;
  expected.append({m, n});
  if (ArrayRef<int64_t>(expected) != shapeOf(getResult()))
    return emitOpError() << "result has shape "
                         << formatShape(shapeOf(getResult()))
                         << " but the product of " << formatShape(lhs)
                         << " and " << formatShape(rhs) << " is "
                         << formatShape(expected);
  return success();
}

LogicalResult CastOp::verify() {
  if (shapeOf(getInput()) != shapeOf(getResult()))
    return emitOpError() << "changes shape " << formatShape(shapeOf(getInput()))
                         << " to " << formatShape(shapeOf(getResult()))
                         << "; a cast only changes the element type";
  return success();
}

LogicalResult SelectOp::verify() {
  if (elementOf(getOnTrue()) != elementOf(getOnFalse()))
    return emitOpError() << "chooses between element types "
                         << elementOf(getOnTrue()) << " and "
                         << elementOf(getOnFalse()) << "; they must match";
  return verifyBroadcastElementwise(getOperation());
}

LogicalResult SoftmaxOp::verify() {
  return checkDim(*this, "dim", getDim(), shapeOf(getInput()).size());
}

LogicalResult attn::graph::verifyReduction(Operation *op,
                                           ArrayRef<int64_t> dims,
                                           bool keepDims) {
  ArrayRef<int64_t> in = shapeOf(op->getOperand(0));
  Value result = op->getResult(0);
  if (elementOf(op->getOperand(0)) != elementOf(result))
    return op->emitOpError() << "result element type " << elementOf(result)
                             << " differs from the input's "
                             << elementOf(op->getOperand(0));
  SmallVector<bool> reduced(in.size(), false);
  for (int64_t dim : dims) {
    if (failed(checkDim(op, "reduced dim", dim, in.size())))
      return failure();
    if (reduced[dim])
      return op->emitOpError() << "reduces dim " << dim << " twice";
    reduced[dim] = true;
  }
  SmallVector<int64_t> expected;
  for (auto [i, extent] : llvm::enumerate(in)) {
    if (!reduced[i])
      expected.push_back(extent);
    else if (keepDims)
      expected.push_back(1);
  }
  if (ArrayRef<int64_t>(expected) != shapeOf(result))
    return op->emitOpError() << "result has shape "
                             << formatShape(shapeOf(result))
                             << " but reducing " << formatShape(in)
                             << " gives " << formatShape(expected);
  return success();
}

/// layer_norm and rms_norm: 1-D scale (and shift) matching the last dim.
static LogicalResult verifyNorm(Operation *op, Value input,
                                ArrayRef<Value> params) {
  ArrayRef<int64_t> in = shapeOf(input);
  if (in.empty())
    return op->emitOpError("input needs rank 1 or more to normalise");
  for (auto [i, param] : llvm::enumerate(params)) {
    if (shapeOf(param).size() != 1 || shapeOf(param)[0] != in.back())
      return op->emitOpError()
             << "operand " << i + 1 << " has shape "
             << formatShape(shapeOf(param)) << " but the normalised dim of "
             << formatShape(in) << " needs shape " << in.back();
    if (elementOf(param) != elementOf(input))
      return op->emitOpError() << "operand " << i + 1 << " has element type "
                               << elementOf(param) << " but the input has "
                               << elementOf(input);
  }
  return success();
}

LogicalResult LayerNormOp::verify() {
  return verifyNorm(*this, getInput(), {getGamma(), getBeta()});
}

LogicalResult RMSNormOp::verify() {
  return verifyNorm(*this, getInput(), {getGamma()});
}

LogicalResult TransposeOp::verify() {
  ArrayRef<int64_t> in = shapeOf(getInput());
  ArrayRef<int64_t> perm = getPerm();
  if (perm.size() != in.size())
    return emitOpError() << "perm has " << perm.size()
                         << " entries but the input has rank " << in.size();
  SmallVector<bool> seen(in.size(), false);
  SmallVector<int64_t> expected;
  for (int64_t p : perm) {
    if (p < 0 || p >= static_cast<int64_t>(in.size()) || seen[p])
      return emitOpError() << "perm [" << llvm::make_range(perm.begin(),
                                                           perm.end())
                           << "] is not a permutation of 0.." << in.size() - 1;
    seen[p] = true;
    expected.push_back(in[p]);
  }
  if (elementOf(getInput()) != elementOf(getResult()))
    return emitOpError("changes the element type");
  if (ArrayRef<int64_t>(expected) != shapeOf(getResult()))
    return emitOpError() << "result has shape "
                         << formatShape(shapeOf(getResult()))
                         << " but permuting " << formatShape(in) << " gives "
                         << formatShape(expected);
  return success();
}

LogicalResult ReshapeOp::verify() {
  auto in = cast<RankedTensorType>(getInput().getType());
  auto out = cast<RankedTensorType>(getResult().getType());
  if (in.getElementType() != out.getElementType())
    return emitOpError("changes the element type; use attn.cast");
  // Counts are compared only when both fit in 64 bits; otherwise the graph
  // verifier reports the oversized type.
  std::optional<int64_t> inCount = checkedNumElements(in.getShape());
  std::optional<int64_t> outCount = checkedNumElements(out.getShape());
  if (inCount && outCount && *inCount != *outCount)
    return emitOpError() << "reshapes " << formatShape(in.getShape()) << " ("
                         << *inCount << " elements) to "
                         << formatShape(out.getShape()) << " ("
                         << *outCount << " elements)";
  return success();
}

LogicalResult SliceOp::verify() {
  ArrayRef<int64_t> in = shapeOf(getInput()), out = shapeOf(getResult());
  if (elementOf(getInput()) != elementOf(getResult()))
    return emitOpError("changes the element type");
  SmallVector<int64_t> strides = getStridesOrOnes();
  if (getOffsets().size() != in.size() || strides.size() != in.size() ||
      out.size() != in.size())
    return emitOpError() << "needs one offset and stride per dim of the rank-"
                         << in.size() << " input, and a rank-" << in.size()
                         << " result";
  for (size_t i = 0; i < in.size(); ++i) {
    int64_t offset = getOffsets()[i], stride = strides[i];
    if (stride < 1)
      return emitOpError() << "stride " << stride << " of dim " << i
                           << " must be positive";
    // Written as a division so that huge offsets or strides cannot
    // overflow into a window that looks valid.
    bool inside = out[i] == 0
                      ? offset >= 0 && offset <= in[i]
                      : offset >= 0 && offset < in[i] &&
                            (out[i] - 1) <= (in[i] - 1 - offset) / stride;
    if (!inside)
      return emitOpError() << "window of dim " << i << " (offset " << offset
                           << ", " << out[i] << " elements, stride " << stride
                           << ") runs outside the input extent " << in[i];
  }
  return success();
}

LogicalResult ConcatOp::verify() {
  if (getInputs().empty())
    return emitOpError("needs at least one input");
  ArrayRef<int64_t> out = shapeOf(getResult());
  int64_t dim = getDim();
  if (failed(checkDim(*this, "dim", dim, out.size())))
    return failure();
  int64_t total = 0;
  for (auto [i, input] : llvm::enumerate(getInputs())) {
    ArrayRef<int64_t> in = shapeOf(input);
    if (elementOf(input) != elementOf(getResult()))
      return emitOpError() << "input " << i << " has element type "
                           << elementOf(input) << " but the result has "
                           << elementOf(getResult());
    if (in.size() != out.size())
      return emitOpError() << "input " << i << " has rank " << in.size()
                           << " but the result has rank " << out.size();
    for (size_t d = 0; d < in.size(); ++d)
      if (static_cast<int64_t>(d) != dim && in[d] != out[d])
        return emitOpError() << "input " << i << " has shape "
                             << formatShape(in) << " but the result "
                             << formatShape(out) << " differs in dim " << d;
    if (llvm::AddOverflow(total, in[dim], total))
      return emitOpError() << "inputs' extents along dim " << dim
                           << " overflow 64 bits";
  }
  if (total != out[dim])
    return emitOpError() << "inputs add up to " << total << " along dim "
                         << dim << " but the result has " << out[dim];
  return success();
}

LogicalResult SplitOp::verify() {
  ArrayRef<int64_t> in = shapeOf(getInput());
  int64_t dim = getDim();
  if (failed(checkDim(*this, "dim", dim, in.size())))
    return failure();
  if (getResults().empty())
    return emitOpError("needs at least one result");
  int64_t total = 0;
  for (auto [i, result] : llvm::enumerate(getResults())) {
    ArrayRef<int64_t> out = shapeOf(result);
    if (elementOf(result) != elementOf(getInput()))
      return emitOpError() << "result " << i << " changes the element type";
    if (out.size() != in.size())
      return emitOpError() << "result " << i << " has rank " << out.size()
                           << " but the input has rank " << in.size();
    for (size_t d = 0; d < in.size(); ++d)
      if (static_cast<int64_t>(d) != dim && in[d] != out[d])
        return emitOpError() << "result " << i << " has shape "
                             << formatShape(out) << " but the input "
                             << formatShape(in) << " differs in dim " << d;
    if (llvm::AddOverflow(total, out[dim], total))
      return emitOpError() << "results' extents along dim " << dim
                           << " overflow 64 bits";
  }
  if (total != in[dim])
    return emitOpError() << "results add up to " << total << " along dim "
                         << dim << " but the input has " << in[dim];
  return success();
}

LogicalResult CausalMaskOp::verify() {
  if (shapeOf(getResult()).size() < 2)
    return emitOpError() << "result needs rank 2 or more (queries x keys) "
                            "but has shape "
                         << formatShape(shapeOf(getResult()));
  return success();
}

LogicalResult IotaOp::verify() {
  return checkDim(*this, "dim", getDim(), shapeOf(getResult()).size());
}

LogicalResult AssocScanOp::verify() {
  ArrayRef<int64_t> state = shapeOf(getInit());
  int64_t dim = getDim();
  if (dim < 0 || dim > static_cast<int64_t>(state.size()))
    return emitOpError() << "dim " << dim << " is out of range for a rank-"
                         << state.size() << " state";
  if (shapeOf(getFinal()) != state)
    return emitOpError() << "final state has shape "
                         << formatShape(shapeOf(getFinal()))
                         << " but the initial state has "
                         << formatShape(state);
  SmallVector<int64_t> stacked(state);
  int64_t length = -1;
  SmallVector<Value> walked = {getCoefficients(), getOffsets()};
  for (auto [i, operand] : llvm::enumerate(walked)) {
    ArrayRef<int64_t> shape = shapeOf(operand);
    if (dim >= static_cast<int64_t>(shape.size()))
      return emitOpError() << "operand " << i << " has shape "
                           << formatShape(shape) << " with no dim " << dim
                           << " to walk";
    if (length >= 0 && shape[dim] != length)
      return emitOpError() << "operand " << i << " has " << shape[dim]
                           << " steps but operand 0 has " << length;
    length = shape[dim];
    SmallVector<int64_t> step(shape);
    step.erase(step.begin() + dim);
    FailureOr<SmallVector<int64_t>> joined = broadcastShapes(step, state);
    if (failed(joined) || ArrayRef<int64_t>(*joined) != state)
      return emitOpError() << "operand " << i << " has steps of shape "
                           << formatShape(step)
                           << " which do not broadcast to the state shape "
                           << formatShape(state);
  }
  SmallVector<Value> all = {getCoefficients(), getOffsets(), getStates(),
                            getFinal()};
  for (Value value : all)
    if (elementOf(value) != elementOf(getInit()))
      return emitOpError() << "mixes element types " << elementOf(value)
                           << " and " << elementOf(getInit());
  stacked.insert(stacked.begin() + dim, length);
  if (ArrayRef<int64_t>(stacked) != shapeOf(getStates()))
    return emitOpError() << "states have shape "
                         << formatShape(shapeOf(getStates()))
                         << " but " << length << " states of shape "
                         << formatShape(state) << " stacked along dim " << dim
                         << " are " << formatShape(stacked);
  return success();
}

bool attn::graph::hasNoReductionOrRegion(Operation *op) {
  auto iface = dyn_cast<IterationSpaceOpInterface>(op);
  return iface && op->getNumRegions() == 0 &&
         !llvm::is_contained(iface.getIterationSpace().kinds,
                             IterKind::Reduction);
}

/// Every op of `block` but its terminator must be elementwise.
static LogicalResult verifyOnlyElementwise(Block &block, StringRef holder) {
  for (Operation &op : block.without_terminator())
    if (!hasNoReductionOrRegion(&op))
      return op.emitOpError() << "is not elementwise; " << holder
                              << " may only hold elementwise ops";
  return success();
}

RankedTensorType AttentionOp::getScoresType() {
  ArrayRef<int64_t> out = shapeOf(getResult());
  SmallVector<int64_t> shape(out.drop_back());
  shape.push_back(shapeOf(getKey())[shapeOf(getKey()).size() - 2]);
  return RankedTensorType::get(shape, Float32Type::get(getContext()));
}

LogicalResult AttentionOp::verify() {
  ArrayRef<int64_t> q = shapeOf(getQuery()), k = shapeOf(getKey()),
                    v = shapeOf(getValue());
  if (q.size() < 2 || k.size() < 2 || v.size() < 2)
    return emitOpError("query, key and value need rank 2 or more");
  Type element = elementOf(getQuery());
  if (elementOf(getKey()) != element || elementOf(getValue()) != element ||
      elementOf(getResult()) != element)
    return emitOpError("query, key, value and result must share one element "
                       "type");
  if (q.back() != k.back())
    return emitOpError() << "query has head dim " << q.back()
                         << " but key has " << k.back();
  if (k[k.size() - 2] != v[v.size() - 2])
    return emitOpError() << "key has " << k[k.size() - 2]
                         << " positions but value has " << v[v.size() - 2];
  FailureOr<SmallVector<int64_t>> batch =
      broadcastShapes(q.drop_back(2), k.drop_back(2));
  if (succeeded(batch))
    batch = broadcastShapes(*batch, v.drop_back(2));
  if (failed(batch))
    return emitOpError() << "batch dims of query " << formatShape(q)
                         << ", key " << formatShape(k) << " and value "
                         << formatShape(v) << " do not broadcast";
  SmallVector<int64_t> expected = *batch;
  expected.append({q[q.size() - 2], v.back()});
  if (ArrayRef<int64_t>(expected) != shapeOf(getResult()))
    return emitOpError() << "result has shape "
                         << formatShape(shapeOf(getResult())) << " but "
                         << formatShape(expected) << " is expected";
  if (std::optional<int64_t> offset = getCausalOffset(); offset && *offset < 0)
    return emitOpError() << "causal offset " << *offset
                         << " would leave queries with no visible key; it "
                            "must be 0 or more";
  return success();
}

LogicalResult AttentionOp::verifyRegions() {
  Region &region = getScoreMod();
  if (region.empty())
    return success();
  if (!region.hasOneBlock())
    return emitOpError("score modification must be a single block");
  Block &block = region.front();
  RankedTensorType scores = getScoresType();
  if (block.getNumArguments() != 1 || block.getArgument(0).getType() != scores)
    return emitOpError() << "score modification must take one argument of "
                         << "type " << scores;
  auto yield = dyn_cast<YieldOp>(block.getTerminator());
  if (!yield || yield.getNumOperands() != 1 ||
      yield.getOperand(0).getType() != scores)
    return emitOpError() << "score modification must yield one " << scores;
  return verifyOnlyElementwise(block, "a score modification");
}

LogicalResult FusedOp::verifyRegions() {
  Block &body = getBody().front();
  if (body.getNumArguments() != getInputs().size())
    return emitOpError() << "body takes " << body.getNumArguments()
                         << " arguments for " << getInputs().size()
                         << " inputs";
  for (auto [i, pair] :
       llvm::enumerate(llvm::zip(body.getArguments(), getInputs()))) {
    auto [arg, input] = pair;
    if (arg.getType() != input.getType())
      return emitOpError() << "body argument " << i << " has type "
                           << arg.getType() << " but input " << i << " is "
                           << input.getType();
  }
  auto yield = dyn_cast<YieldOp>(body.getTerminator());
  if (!yield || yield.getNumOperands() != 1 ||
      yield.getOperand(0).getType() != getResult().getType())
    return emitOpError() << "body must yield one " << getResult().getType();
  return verifyOnlyElementwise(body, "a fused op");
}
