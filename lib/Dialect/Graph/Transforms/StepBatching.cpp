//===- StepBatching.cpp - one op for many independent steps ---------------===//
//
// Copies an op so that it computes many independent steps at once along a
// new leading dim (see StepBatching.h). Most ops need only new result types
// and, for the ops that name dims, renumbered dims. A scan becomes a scan
// one dim further in, over the batched sequences, whose carried state is a
// batch of states: its body is batched op by op, ops that read nothing
// batched copied as they are. An attention's score modification is
// batched the same way, over scores with the new leading dim.
//
//===----------------------------------------------------------------------===//

#include "StepBatching.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Verifier.h"

#include "llvm/ADT/SetVector.h"

using namespace mlir;
using namespace attn;
using namespace attn::graph;

bool attn::graph::isRowOp(Operation *op) {
  return isa<SoftmaxOp, ReduceSumOp, ReduceMaxOp, ReduceMeanOp, LayerNormOp,
             RMSNormOp>(op);
}

bool attn::graph::movesData(Operation *op) {
  return isa<SplitOp, ConcatOp, SliceOp, TransposeOp, ReshapeOp>(op);
}

bool attn::graph::hasBody(Operation *op) {
  return llvm::any_of(op->getRegions(),
                      [](Region &region) { return !region.empty(); });
}

bool attn::graph::isBatchPolymorphic(Operation *op) {
  return (op->hasTrait<BatchPolymorphic>() || isa<AttentionOp>(op)) &&
         !hasBody(op);
}

RankedTensorType attn::graph::withLeadingDim(Type type, int64_t extent) {
  auto tensor = cast<RankedTensorType>(type);
  SmallVector<int64_t> shape{extent};
  llvm::append_range(shape, tensor.getShape());
  return RankedTensorType::get(shape, tensor.getElementType());
}

Value attn::graph::repeatOver(OpBuilder &builder, Value value,
                              int64_t extent) {
  auto repeatedType = withLeadingDim(value.getType(), extent);
  Location loc = value.getLoc();
  if (auto splat = value.getDefiningOp<SplatOp>())
    return SplatOp::create(builder, loc, repeatedType, splat.getValueAttr());
  if (!isa<FloatType>(repeatedType.getElementType()))
    return nullptr;
  return MulOp::create(builder, loc, repeatedType, value,
                       SplatOp::create(builder, loc, repeatedType,
                                       builder.getF64FloatAttr(1.0)));
}

SmallVector<Value> attn::graph::valuesReadBy(Operation *op) {
  llvm::SetVector<Value> reads;
  op->walk<WalkOrder::PreOrder>([&](Operation *nested) {
    for (Value operand : nested->getOperands())
      if (nested == op ||
          !op->isAncestor(operand.getParentBlock()->getParentOp()))
        reads.insert(operand);
  });
  return reads.takeVector();
}

/// Whether the verifier accepts `op`: it has the final word on the new
/// shapes, and its complaints are not the user's business.
static bool verifiesQuietly(Operation *op) {
  ScopedDiagnosticHandler silence(op->getContext(),
                                  [](Diagnostic &) { return success(); });
  return succeeded(verify(op));
}

/// Renumbers the dims `copy` (of a row op or data movement) names, for
/// operands that gained a leading dim.
static void shiftNamedDims(Operation *copy) {
  Builder builder(copy->getContext());
  auto shifted = [](ArrayRef<int64_t> dims, int64_t lead, int64_t by) {
    SmallVector<int64_t> result{lead};
    for (int64_t d : dims)
      result.push_back(d + by);
    return result;
  };
  if (auto dim = copy->getAttrOfType<IntegerAttr>("dim"))
    copy->setAttr("dim", builder.getI64IntegerAttr(dim.getInt() + 1));
  if (auto dims = copy->getAttrOfType<DenseI64ArrayAttr>("dims")) {
    SmallVector<int64_t> moved;
    for (int64_t d : dims.asArrayRef())
      moved.push_back(d + 1);
    copy->setAttr("dims", builder.getDenseI64ArrayAttr(moved));
  }
  // A transpose keeps the new dim first; a slice takes all of it.
  if (auto perm = copy->getAttrOfType<DenseI64ArrayAttr>("perm"))
    copy->setAttr("perm", builder.getDenseI64ArrayAttr(
                              shifted(perm.asArrayRef(), 0, 1)));
  if (auto offsets = copy->getAttrOfType<DenseI64ArrayAttr>("offsets"))
    copy->setAttr("offsets", builder.getDenseI64ArrayAttr(
                                 shifted(offsets.asArrayRef(), 0, 0)));
  if (auto strides = copy->getAttrOfType<DenseI64ArrayAttr>("strides"))
    copy->setAttr("strides", builder.getDenseI64ArrayAttr(
                                 shifted(strides.asArrayRef(), 1, 0)));
}

static bool batchBlockInto(Block &from, Block *to,
                           DenseMap<Value, BatchedValue> &seen,
                           int64_t extent);

/// `batched`, the batched version of a value of type `stepType`, as an
/// operand of a broadcasting op whose result has rank `resultRank`: the new
/// leading dim lines up across operands only if every batched operand has
/// the result's full rank, so a batched bias [C] of a step [B, C] is read
/// as [N, 1, C], not [N, C] (a reshape built at `builder` unless it
/// already has that shape).
static Value lineUpSteps(OpBuilder &builder, Value batched, Type stepType,
                         int64_t resultRank, int64_t extent) {
  auto type = cast<RankedTensorType>(stepType);
  if (type.getRank() >= resultRank)
    return batched;
  SmallVector<int64_t> shape{extent};
  shape.append(resultRank - type.getRank(), 1);
  llvm::append_range(shape, type.getShape());
  auto lined = RankedTensorType::get(shape, type.getElementType());
  if (batched.getType() == lined)
    return batched;
  return ReshapeOp::create(builder, batched.getLoc(), lined, batched);
}

/// Which of a norm's gamma and beta (`parameters`) normaliseThenScale
/// applies after the norm: gamma if it is batched, beta if it or gamma is.
static std::pair<bool, bool>
parametersAfter(ArrayRef<BatchedValue> parameters) {
  bool gammaAfter = parameters[0].batched;
  return {gammaAfter,
          parameters.size() > 1 && (gammaAfter || parameters[1].batched)};
}

/// The norm operands standing for gamma and beta (`parameters`) where
/// normaliseThenScale applies them after the norm: a row of ones for
/// gamma, of zeros for beta.
static void neutralParameters(OpBuilder &builder, Location loc,
                              ArrayRef<BatchedValue> parameters,
                              MutableArrayRef<Value> operands) {
  auto [gammaAfter, betaAfter] = parametersAfter(parameters);
  auto neutral = [&](Value parameter, double value) -> Value {
    auto type = cast<RankedTensorType>(parameter.getType());
    // One row's shape, whether the parameter is batched or not.
    auto row = RankedTensorType::get(type.getShape().take_back(),
                                     type.getElementType());
    return SplatOp::create(builder, loc, row, builder.getF64FloatAttr(value));
  };
  if (gammaAfter)
    operands[1] = neutral(parameters[0].value, 1.0);
  if (betaAfter)
    operands[2] = neutral(parameters[1].value, 0.0);
}

/// A batched norm `copy` whose gamma or beta (`parameters`) differs from
/// step to step: a norm takes one row's gamma and beta, so the copy
/// normalises with ones and zeros instead, and the steps' gamma and beta
/// are applied after it, lined up with the rows (a beta alone where only
/// beta is batched). Returns the last op, or null (the ops erased) if
/// the element types do not allow it.
static Operation *normaliseThenScale(OpBuilder &builder, Operation *copy,
                                     ArrayRef<BatchedValue> parameters,
                                     int64_t stepRank, int64_t extent) {
  Location loc = copy->getLoc();
  auto [gammaAfter, betaAfter] = parametersAfter(parameters);
  auto applied = [&](const BatchedValue &parameter) {
    return parameter.batched
               ? lineUpSteps(builder, parameter.value,
                             RankedTensorType::get(
                                 cast<RankedTensorType>(
                                     parameter.value.getType())
                                     .getShape()
                                     .drop_front(),
                                 getElementTypeOrSelf(parameter.value)),
                             stepRank, extent)
               : parameter.value;
  };
  SmallVector<Operation *> made{copy};
  Type type = copy->getResult(0).getType();
  Value result = copy->getResult(0);
  if (gammaAfter) {
    made.push_back(
        MulOp::create(builder, loc, type, result, applied(parameters[0])));
    result = made.back()->getResult(0);
  }
  if (betaAfter) {
    made.push_back(
        AddOp::create(builder, loc, type, result, applied(parameters[1])));
    result = made.back()->getResult(0);
  }
  if (!llvm::all_of(made, verifiesQuietly)) {
    for (Operation *dead : llvm::reverse(made))
      dead->erase();
    return nullptr;
  }
  return made.back();
}

/// batchOverSteps for an op without a body, or an attention with a score
/// modification (whose body is batched like a scan's step).
static Operation *batchPlainOp(OpBuilder &builder, Operation *op,
                               int64_t extent, BatchLookup lookup) {
  bool attention = isa<AttentionOp>(op);
  bool polymorphic = isBatchPolymorphic(op) || attention;
  if ((!polymorphic && !isRowOp(op) && !movesData(op)) ||
      (hasBody(op) && !attention))
    return nullptr;
  int64_t resultRank =
      cast<RankedTensorType>(op->getResult(0).getType()).getRank();
  bool norm = isa<LayerNormOp, RMSNormOp>(op);
  SmallVector<Value> operands;
  SmallVector<BatchedValue> normParameters;
  for (OpOperand &use : op->getOpOperands()) {
    std::optional<BatchedValue> seen = lookup(use.get());
    if (!seen)
      return nullptr;
    // A norm's gamma and beta (operands 1 and 2) are one row's size: kept
    // for normaliseThenScale, which decides.
    if (norm && use.getOperandNumber() > 0) {
      normParameters.push_back(*seen);
      operands.push_back(seen->value);
      continue;
    }
    if (!seen->batched) {
      // Broadcasting reads an unchanged operand at every step. Ops that
      // name dims read it repeated (a concat's constant part), as each
      // step would.
      if (polymorphic) {
        operands.push_back(seen->value);
        continue;
      }
      Value repeated = repeatOver(builder, seen->value, extent);
      if (!repeated)
        return nullptr;
      operands.push_back(repeated);
      continue;
    }
    operands.push_back(polymorphic ? lineUpSteps(builder, seen->value,
                                                 use.get().getType(),
                                                 resultRank, extent)
                                   : seen->value);
  }
  bool scaleAfter = llvm::any_of(
      normParameters, [](const BatchedValue &p) { return p.batched; });
  if (scaleAfter)
    neutralParameters(builder, op->getLoc(), normParameters, operands);
  // What the score modification reads from above, looked up before the
  // copy exists, so that whatever the lookup builds comes before it; the
  // batched ones lined up with the scores there too, so that the score
  // modification stays elementwise.
  DenseMap<Value, BatchedValue> seen;
  for (Value value : valuesReadBy(op)) {
    if (llvm::is_contained(op->getOperands(), value))
      continue;
    std::optional<BatchedValue> outside = lookup(value);
    if (!outside)
      return nullptr;
    if (outside->batched)
      outside->value = lineUpSteps(builder, outside->value, value.getType(),
                                   resultRank, extent);
    seen[value] = *outside;
  }
  Operation *copy = builder.clone(*op);
  copy->setOperands(operands);
  for (Value result : copy->getResults())
    result.setType(withLeadingDim(result.getType(), extent));
  if (!polymorphic)
    shiftNamedDims(copy);
  bool batchedBody = true;
  if (hasBody(op)) {
    // The scores gain the leading dim like the result; the score
    // modification is rebuilt over them op by op.
    Region &region = copy->getRegion(0);
    region.dropAllReferences();
    region.getBlocks().clear();
    Block &scoreMod = op->getRegion(0).front();
    Block *body = new Block();
    region.push_back(body);
    for (BlockArgument arg : scoreMod.getArguments())
      seen[arg] = {body->addArgument(withLeadingDim(arg.getType(), extent),
                                     arg.getLoc()),
                   true};
    // A reshape left in it (of a value computed in it) would not be
    // elementwise.
    batchedBody = batchBlockInto(scoreMod, body, seen, extent) &&
                  llvm::none_of(*body, [](Operation &inner) {
                    return isa<ReshapeOp>(inner);
                  });
  }
  if (!batchedBody || !verifiesQuietly(copy)) {
    copy->erase();
    return nullptr;
  }
  if (scaleAfter)
    return normaliseThenScale(builder, copy, normParameters,
                              cast<RankedTensorType>(op->getResult(0).getType())
                                  .getRank(),
                              extent);
  return copy;
}

/// batchOverSteps for a scan: every sequence and carried value batched
/// (an unchanged one repeated), the walk one dim further in.
static Operation *batchScan(OpBuilder &builder, ScanOp scan, int64_t extent,
                            BatchLookup lookup) {
  // Everything the scan reads from outside is looked up before the new
  // scan exists, so that whatever the lookup builds comes before it.
  DenseMap<Value, BatchedValue> seen;
  for (Value value : valuesReadBy(scan)) {
    std::optional<BatchedValue> outside = lookup(value);
    if (!outside)
      return nullptr;
    seen[value] = *outside;
  }
  auto batched = [&](Value value) -> Value {
    BatchedValue outside = seen.lookup(value);
    return outside.batched ? outside.value
                           : repeatOver(builder, outside.value, extent);
  };
  SmallVector<Value> sequences, inits;
  for (Value sequence : scan.getSequences())
    sequences.push_back(batched(sequence));
  for (Value init : scan.getInits())
    inits.push_back(batched(init));
  if (llvm::is_contained(sequences, Value()) ||
      llvm::is_contained(inits, Value()))
    return nullptr;

  SmallVector<Type> resultTypes;
  for (Type type : scan.getResultTypes())
    resultTypes.push_back(withLeadingDim(type, extent));
  int64_t dim = scan.getDim() + 1;
  auto copy = ScanOp::create(builder, scan.getLoc(), resultTypes, sequences,
                             inits, builder.getI64IntegerAttr(dim),
                             scan.getReverseAttr());
  Block *body = new Block();
  copy.getBody().push_back(body);
  for (auto [arg, sequence] : llvm::zip(scan.getSequenceArgs(), sequences))
    seen[arg] = {body->addArgument(
                     ScanOp::getStepType(sequence.getType(), dim),
                     arg.getLoc()),
                 true};
  for (auto [arg, init] : llvm::zip(scan.getCarriedArgs(), inits))
    seen[arg] = {body->addArgument(init.getType(), arg.getLoc()), true};

  bool failed = !batchBlockInto(scan.getBody().front(), body, seen, extent) ||
                !verifiesQuietly(copy);
  if (failed) {
    copy->erase();
    return nullptr;
  }
  return copy;
}

/// Batches the ops of `from` (a scan's step, a score modification) into
/// `to`, whose arguments `seen` already maps `from`'s to, as do the values
/// `from` reads from above; ends `to` with the yield of the batched (or
/// repeated) values `from` yields. False when an op has no batched form.
static bool batchBlockInto(Block &from, Block *to,
                           DenseMap<Value, BatchedValue> &seen,
                           int64_t extent) {
  auto inBody = [&](Value value) -> std::optional<BatchedValue> {
    auto found = seen.find(value);
    if (found == seen.end())
      return std::nullopt;
    return found->second;
  };
  OpBuilder builder = OpBuilder::atBlockEnd(to);
  for (Operation &op : from.without_terminator()) {
    // An op that reads nothing batched is the same at every step.
    IRMapping unchanged;
    bool readsBatched = false;
    for (Value value : valuesReadBy(&op)) {
      std::optional<BatchedValue> read = inBody(value);
      readsBatched |= !read || read->batched;
      if (read)
        unchanged.map(value, read->value);
    }
    Operation *copy = readsBatched
                          ? batchOverSteps(builder, &op, extent, inBody)
                          : builder.clone(op, unchanged);
    if (!copy)
      return false;
    for (auto [result, copied] : llvm::zip(op.getResults(), copy->getResults()))
      seen[result] = {copied, readsBatched};
  }
  SmallVector<Value> yielded;
  for (Value value : from.getTerminator()->getOperands()) {
    std::optional<BatchedValue> read = inBody(value);
    Value whole = !read          ? Value()
                  : read->batched ? read->value
                                  : repeatOver(builder, read->value, extent);
    if (!whole)
      return false;
    yielded.push_back(whole);
  }
  YieldOp::create(builder, from.getTerminator()->getLoc(), yielded);
  return true;
}

Operation *attn::graph::batchOverSteps(OpBuilder &builder, Operation *op,
                                       int64_t extent, BatchLookup lookup) {
  if (auto scan = dyn_cast<ScanOp>(op))
    return batchScan(builder, scan, extent, lookup);
  return batchPlainOp(builder, op, extent, lookup);
}
