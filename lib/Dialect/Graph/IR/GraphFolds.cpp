//===- GraphFolds.cpp - folds of the graph ops ----------------------------===//
//
// The few algebraic identities worth folding in model graphs: adding zero,
// multiplying by one or zero, dividing by one. They clean up what passes
// build mechanically (the linear-recurrence conversion writes a * 1 + 0
// where the model had h). Splats fold to their dense value, so the
// identities see through them, and the dialect materializes folded
// constants as attn.constant.
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

OpFoldResult attn::graph::foldBinaryIdentity(Operation *op, Attribute lhs,
                                             Attribute rhs) {
  Type resultType = op->getResult(0).getType();
  Value lhsValue = op->getOperand(0), rhsValue = op->getOperand(1);
  auto keep = [&](Value value) -> OpFoldResult {
    return value.getType() == resultType ? OpFoldResult(value)
                                         : OpFoldResult();
  };
  StringRef name = op->getName().stripDialect();
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
