//===- GraphFolds.cpp - folds of the graph ops ----------------------------===//
//
// The few algebraic identities worth folding in model graphs: adding zero,
// multiplying by one or zero, dividing by one, an operation on two splats,
// a transpose of a splat or of a transpose. They clean up what passes build
// mechanically (the linear-recurrence conversion writes a * 1 + 0 where
// the model had h; hoisting a scan over dim 1 transposes there and back).
// Splats fold to their dense value, so the identities see through them,
// and the dialect materializes folded constants as attn.constant.
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Graph/IR/GraphOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"

using namespace mlir;
using namespace attn;
using namespace attn::graph;

/// Whether `attr` is a float splat equal to `value`.
static bool isSplatOf(Attribute attr, double value) {
  auto dense = dyn_cast_or_null<DenseElementsAttr>(attr);
  if (!dense || !dense.isSplat() ||
      !isa<FloatType>(dense.getElementType()))
    return false;
  return dense.getSplatValue<APFloat>().convertToDouble() == value;
}

/// `lhs name rhs` for two float splats: a splat of the result type with
/// the value the elementwise op computes (in f32 for f32 and narrower
/// element types, then rounded to the element type).
static OpFoldResult foldSplats(StringRef name, Attribute lhs, Attribute rhs,
                               Type resultType) {
  auto l = dyn_cast_or_null<DenseElementsAttr>(lhs);
  auto r = dyn_cast_or_null<DenseElementsAttr>(rhs);
  auto type = cast<RankedTensorType>(resultType);
  auto floatType = dyn_cast<FloatType>(type.getElementType());
  if (!l || !r || !l.isSplat() || !r.isSplat() || !floatType ||
      !isa<FloatType>(l.getElementType()) ||
      !isa<FloatType>(r.getElementType()))
    return {};
  // In f32, as the kernels compute (f16 and bf16 values are exact in f32),
  // then rounded to the element type.
  bool lost = false;
  auto inF32 = [&](APFloat value) {
    value.convert(APFloat::IEEEsingle(), APFloat::rmNearestTiesToEven, &lost);
    return value;
  };
  APFloat folded = inF32(l.getSplatValue<APFloat>());
  APFloat rhsValue = inF32(r.getSplatValue<APFloat>());
  const auto rounding = APFloat::rmNearestTiesToEven;
  if (name == "add")
    folded.add(rhsValue, rounding);
  else if (name == "sub")
    folded.subtract(rhsValue, rounding);
  else if (name == "mul")
    folded.multiply(rhsValue, rounding);
  else
    return {};
  folded.convert(floatType.getFloatSemantics(), APFloat::rmNearestTiesToEven,
                 &lost);
  return DenseElementsAttr::get(type, folded);
}

OpFoldResult attn::graph::foldBinaryIdentity(Operation *op, Attribute lhs,
                                             Attribute rhs) {
  Type resultType = op->getResult(0).getType();
  Value lhsValue = op->getOperand(0), rhsValue = op->getOperand(1);
  auto keep = [&](Value value) -> OpFoldResult {
    return value.getType() == resultType ? OpFoldResult(value)
                                         : OpFoldResult();
  };
  StringRef name = op->getName().stripDialect();
  if (OpFoldResult both = foldSplats(name, lhs, rhs, resultType))
    return both;
  if (name == "add") {
    if (isSplatOf(rhs, 0.0))
      return keep(lhsValue);
    if (isSplatOf(lhs, 0.0))
      return keep(rhsValue);
  } else if (name == "sub" || name == "div") {
    if (isSplatOf(rhs, name == "sub" ? 0.0 : 1.0))
      return keep(lhsValue);
  } else if (name == "mul") {
    if (isSplatOf(rhs, 1.0))
      return keep(lhsValue);
    if (isSplatOf(lhs, 1.0))
      return keep(rhsValue);
    if (isSplatOf(lhs, 0.0) || isSplatOf(rhs, 0.0)) {
      auto type = cast<RankedTensorType>(resultType);
      return DenseElementsAttr::get(
          type, APFloat::getZero(
                    cast<FloatType>(type.getElementType()).getFloatSemantics()));
    }
  }
  return {};
}

OpFoldResult SplatOp::fold(FoldAdaptor) {
  auto type = cast<RankedTensorType>(getType());
  if (type.getElementType().isInteger(1))
    return DenseElementsAttr::get(type, getValue().convertToDouble() != 0.0);
  APFloat value(getValue().convertToDouble());
  bool lost = false;
  value.convert(cast<FloatType>(type.getElementType()).getFloatSemantics(),
                APFloat::rmNearestTiesToEven, &lost);
  return DenseElementsAttr::get(type, value);
}

Operation *GraphDialect::materializeConstant(OpBuilder &builder,
                                             Attribute value, Type type,
                                             Location loc) {
  auto dense = dyn_cast<DenseElementsAttr>(value);
  if (!dense || dense.getType() != type)
    return nullptr;
  return ConstantOp::create(builder, loc, type, dense);
}

/// A transpose of a splat is a splat; a transpose of a transpose is one
/// transpose with the composed permutation, or, when that is the
/// identity, the inner input.
OpFoldResult TransposeOp::fold(FoldAdaptor adaptor) {
  if (auto dense = dyn_cast_or_null<DenseElementsAttr>(adaptor.getInput()))
    if (dense.isSplat())
      return DenseElementsAttr::get(cast<ShapedType>(getType()),
                                    dense.getSplatValue<Attribute>());
  auto inner = getInput().getDefiningOp<TransposeOp>();
  if (!inner)
    return {};
  ArrayRef<int64_t> outer = getPerm(), first = inner.getPerm();
  SmallVector<int64_t> composed;
  bool identity = true;
  for (auto [k, p] : llvm::enumerate(outer)) {
    composed.push_back(first[p]);
    identity &= composed.back() == static_cast<int64_t>(k);
  }
  if (identity)
    return inner.getInput();
  setPerm(composed);
  getInputMutable().assign(inner.getInput());
  return getResult();
}
