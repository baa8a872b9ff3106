//===- StepBatching.cpp - one op for many independent steps ---------------===//
//
// Copies an op so that it computes many independent steps at once along a
// new leading dim (see StepBatching.h). Most ops need only new result types
// and, for the ops that name dims, renumbered dims. A scan becomes a scan
// one dim further in, over the batched sequences, whose carried state is a
// batch of states: its body is batched op by op, ops that read nothing
// batched copied as they are.
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

/// Whether `op` has a body (a scan's step, a fused cluster, an attention's
/// score modification).
static bool hasBody(Operation *op) {
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

/// batchOverSteps for an op without a body.
static Operation *batchPlainOp(OpBuilder &builder, Operation *op,
                               int64_t extent, BatchLookup lookup) {
  bool polymorphic = isBatchPolymorphic(op);
  if ((!polymorphic && !isRowOp(op) && !movesData(op)) || hasBody(op))
    return nullptr;
  int64_t resultRank =
      cast<RankedTensorType>(op->getResult(0).getType()).getRank();
  bool norm = isa<LayerNormOp, RMSNormOp>(op);
  SmallVector<Value> operands;
  for (OpOperand &use : op->getOpOperands()) {
    std::optional<BatchedValue> seen = lookup(use.get());
    if (!seen)
      return nullptr;
    // A norm's gamma and beta (operands 1 and 2) are one row's size.
    bool normParameter = norm && use.getOperandNumber() > 0;
    if (!seen->batched) {
      // Gamma and beta stay as they are, and broadcasting reads an
      // unchanged operand at every step. Other ops that name dims read it
      // repeated (a concat's constant part), as each step would.
      if (polymorphic || normParameter) {
        operands.push_back(seen->value);
        continue;
      }
      Value repeated = repeatOver(builder, seen->value, extent);
      if (!repeated)
        return nullptr;
      operands.push_back(repeated);
      continue;
    }
    // A norm's batched gamma would be a different op.
    if (normParameter)
      return nullptr;
    // Under broadcasting, the new leading dim lines up across operands
    // only if every batched operand has the result's full rank: a batched
    // bias [C] of a step [B, C] is read as [N, 1, C], not [N, C].
    Value whole = seen->value;
    auto type = cast<RankedTensorType>(use.get().getType());
    if (polymorphic && type.getRank() < resultRank) {
      SmallVector<int64_t> shape{extent};
      shape.append(resultRank - type.getRank(), 1);
      llvm::append_range(shape, type.getShape());
      whole = ReshapeOp::create(
          builder, use.get().getLoc(),
          RankedTensorType::get(shape, type.getElementType()), whole);
    }
    operands.push_back(whole);
  }
  Operation *copy = builder.clone(*op);
  copy->setOperands(operands);
  for (Value result : copy->getResults())
    result.setType(withLeadingDim(result.getType(), extent));
  if (!polymorphic)
    shiftNamedDims(copy);
  if (!verifiesQuietly(copy)) {
    copy->erase();
    return nullptr;
  }
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

  auto inBody = [&](Value value) -> std::optional<BatchedValue> {
    auto found = seen.find(value);
    if (found == seen.end())
      return std::nullopt;
    return found->second;
  };
  OpBuilder bodyBuilder = OpBuilder::atBlockEnd(body);
  Block &step = scan.getBody().front();
  bool failed = false;
  for (Operation &op : step.without_terminator()) {
    // An op that reads nothing batched is the same at every step.
    IRMapping unchanged;
    bool readsBatched = false;
    for (Value value : valuesReadBy(&op)) {
      std::optional<BatchedValue> read = inBody(value);
      readsBatched |= !read || read->batched;
      if (read)
        unchanged.map(value, read->value);
    }
    Operation *opCopy = readsBatched
                            ? batchOverSteps(bodyBuilder, &op, extent, inBody)
                            : bodyBuilder.clone(op, unchanged);
    if (!opCopy) {
      failed = true;
      break;
    }
    for (auto [result, copied] :
         llvm::zip(op.getResults(), opCopy->getResults()))
      seen[result] = {copied, readsBatched};
  }
  SmallVector<Value> yielded;
  for (Value value : step.getTerminator()->getOperands()) {
    if (failed)
      break;
    std::optional<BatchedValue> read = inBody(value);
    Value whole = !read ? Value()
                  : read->batched
                      ? read->value
                      : repeatOver(bodyBuilder, read->value, extent);
    failed = !whole;
    yielded.push_back(whole);
  }
  if (!failed) {
    YieldOp::create(bodyBuilder, scan.getLoc(), yielded);
    failed = !verifiesQuietly(copy);
  }
  if (failed) {
    copy->erase();
    return nullptr;
  }
  return copy;
}

Operation *attn::graph::batchOverSteps(OpBuilder &builder, Operation *op,
                                       int64_t extent, BatchLookup lookup) {
  if (auto scan = dyn_cast<ScanOp>(op))
    return batchScan(builder, scan, extent, lookup);
  return batchPlainOp(builder, op, extent, lookup);
}
