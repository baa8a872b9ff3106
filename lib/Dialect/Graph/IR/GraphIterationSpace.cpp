//===- GraphIterationSpace.cpp - loop nests of the graph ops --------------===//
//
// Implements IterationSpaceOpInterface for every computational op. Ops of
// one family share a builder (elementwise with broadcasting, reduction,
// row-wise normalisation); the rest state their loop nest directly. The
// maps follow the conventions documented on the interface: constant 0 for a
// broadcast dim, a symbol for a dim read in full or opaquely.
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Graph/IR/GraphOps.h"

#include "mlir/IR/AffineExpr.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace attn::graph;

static ArrayRef<int64_t> shapeOf(Value value) {
  return cast<RankedTensorType>(value.getType()).getShape();
}

/// A loop nest over `bounds`, every loop parallel and no maps yet.
static IterationSpace parallelSpace(ArrayRef<int64_t> bounds) {
  IterationSpace space;
  space.bounds.assign(bounds.begin(), bounds.end());
  space.kinds.assign(bounds.size(), IterKind::Parallel);
  return space;
}

/// The map that reads a tensor of shape `shape` broadcast (numpy-style) to
/// the leading `loops.size()` loops, aligned from the right.
static AffineMap broadcastMap(MLIRContext *ctx, unsigned numLoops,
                              ArrayRef<int64_t> loops,
                              ArrayRef<int64_t> shape) {
  SmallVector<AffineExpr> exprs;
  size_t offset = loops.size() - shape.size();
  for (auto [i, extent] : llvm::enumerate(shape)) {
    if (extent == 1 && loops[i + offset] != 1)
      exprs.push_back(getAffineConstantExpr(0, ctx));
    else
      exprs.push_back(getAffineDimExpr(i + offset, ctx));
  }
  return AffineMap::get(numLoops, 0, exprs, ctx);
}

/// A map reading every dim of a rank-`rank` tensor in full (all symbols).
static AffineMap wholeTensorMap(MLIRContext *ctx, unsigned numLoops,
                                unsigned rank) {
  SmallVector<AffineExpr> exprs;
  for (unsigned i = 0; i < rank; ++i)
    exprs.push_back(getAffineSymbolExpr(i, ctx));
  return AffineMap::get(numLoops, rank, exprs, ctx);
}

IterationSpace attn::graph::identityIterationSpace(Operation *op) {
  ArrayRef<int64_t> shape = shapeOf(op->getResult(0));
  IterationSpace space = parallelSpace(shape);
  AffineMap id = AffineMap::getMultiDimIdentityMap(shape.size(),
                                                   op->getContext());
  space.operandMaps.assign(op->getNumOperands(), id);
  space.resultMaps.assign(op->getNumResults(), id);
  return space;
}

IterationSpace attn::graph::broadcastIterationSpace(Operation *op) {
  ArrayRef<int64_t> shape = shapeOf(op->getResult(0));
  IterationSpace space = parallelSpace(shape);
  for (Value operand : op->getOperands())
    space.operandMaps.push_back(broadcastMap(op->getContext(), shape.size(),
                                             shape, shapeOf(operand)));
  space.resultMaps.push_back(
      AffineMap::getMultiDimIdentityMap(shape.size(), op->getContext()));
  return space;
}

IterationSpace attn::graph::reductionIterationSpace(Operation *op,
                                                    ArrayRef<int64_t> dims,
                                                    bool keepDims) {
  MLIRContext *ctx = op->getContext();
  ArrayRef<int64_t> in = shapeOf(op->getOperand(0));
  IterationSpace space = parallelSpace(in);
  SmallVector<AffineExpr> resultExprs;
  for (unsigned i = 0; i < in.size(); ++i) {
    bool reduced = llvm::is_contained(dims, i);
    if (reduced)
      space.kinds[i] = IterKind::Reduction;
    if (!reduced)
      resultExprs.push_back(getAffineDimExpr(i, ctx));
    else if (keepDims)
      resultExprs.push_back(getAffineConstantExpr(0, ctx));
  }
  space.operandMaps.push_back(AffineMap::getMultiDimIdentityMap(in.size(), ctx));
  space.resultMaps.push_back(AffineMap::get(in.size(), 0, resultExprs, ctx));
  return space;
}

/// Row-wise ops (softmax, norms): the result's loops plus one reduction loop
/// that stands for `dim` while the statistics of a row are gathered. The
/// input is read along that reduction loop; per-dim parameters (gamma,
/// beta) are read at the output position.
static IterationSpace rowIterationSpace(Operation *op, int64_t dim) {
  MLIRContext *ctx = op->getContext();
  ArrayRef<int64_t> shape = shapeOf(op->getResult(0));
  unsigned rank = shape.size();
  IterationSpace space = parallelSpace(shape);
  space.bounds.push_back(shape[dim]);
  space.kinds.push_back(IterKind::Reduction);
  space.tiedLoops.push_back({static_cast<unsigned>(dim), rank});
  SmallVector<AffineExpr> inputExprs;
  for (unsigned i = 0; i < rank; ++i)
    inputExprs.push_back(getAffineDimExpr(i == dim ? rank : i, ctx));
  space.operandMaps.push_back(AffineMap::get(rank + 1, 0, inputExprs, ctx));
  for (unsigned i = 1; i < op->getNumOperands(); ++i)
    space.operandMaps.push_back(
        AffineMap::get(rank + 1, 0, getAffineDimExpr(dim, ctx)));
  space.resultMaps.push_back(
      AffineMap::getMultiDimIdentityMap(rank + 1, ctx).getMajorSubMap(rank));
  return space;
}

/// Ops without operands whose loops are simply the result's elements.
static IterationSpace generatorIterationSpace(Operation *op) {
  return identityIterationSpace(op);
}

//===----------------------------------------------------------------------===//
// Per-op implementations
//===----------------------------------------------------------------------===//

IterationSpace MatmulOp::getIterationSpace() {
  MLIRContext *ctx = getContext();
  ArrayRef<int64_t> out = shapeOf(getResult());
  ArrayRef<int64_t> lhs = shapeOf(getLhs()), rhs = shapeOf(getRhs());
  unsigned batch = out.size() - 2;
  int64_t k = getTransposeLhs() ? lhs[lhs.size() - 2] : lhs.back();
  // Loops: batch..., m, n (parallel), k (reduction).
  IterationSpace space = parallelSpace(out);
  space.bounds.push_back(k);
  space.kinds.push_back(IterKind::Reduction);
  unsigned numLoops = space.bounds.size();
  AffineExpr m = getAffineDimExpr(batch, ctx);
  AffineExpr n = getAffineDimExpr(batch + 1, ctx);
  AffineExpr kk = getAffineDimExpr(batch + 2, ctx);

  auto operandMap = [&](ArrayRef<int64_t> shape, AffineExpr row,
                        AffineExpr col, bool transposed) {
    AffineMap batchMap = broadcastMap(ctx, numLoops, out.take_front(batch),
                                      shape.drop_back(2));
    SmallVector<AffineExpr> exprs(batchMap.getResults());
    exprs.push_back(transposed ? col : row);
    exprs.push_back(transposed ? row : col);
    return AffineMap::get(numLoops, 0, exprs, ctx);
  };
  space.operandMaps.push_back(operandMap(lhs, m, kk, getTransposeLhs()));
  space.operandMaps.push_back(operandMap(rhs, kk, n, getTransposeRhs()));
  space.resultMaps.push_back(
      AffineMap::getMultiDimIdentityMap(numLoops, ctx).getMajorSubMap(
          out.size()));
  return space;
}

IterationSpace ScaleOp::getIterationSpace() {
  return identityIterationSpace(*this);
}

IterationSpace CastOp::getIterationSpace() {
  return identityIterationSpace(*this);
}

IterationSpace SelectOp::getIterationSpace() {
  return broadcastIterationSpace(*this);
}

IterationSpace SoftmaxOp::getIterationSpace() {
  return rowIterationSpace(*this, getDim());
}

IterationSpace LayerNormOp::getIterationSpace() {
  return rowIterationSpace(*this, shapeOf(getInput()).size() - 1);
}

IterationSpace RMSNormOp::getIterationSpace() {
  return rowIterationSpace(*this, shapeOf(getInput()).size() - 1);
}

IterationSpace TransposeOp::getIterationSpace() {
  MLIRContext *ctx = getContext();
  ArrayRef<int64_t> out = shapeOf(getResult());
  IterationSpace space = parallelSpace(out);
  // Result dim k is input dim perm[k], so input dim perm[k] is loop k.
  SmallVector<AffineExpr> exprs(out.size());
  for (auto [k, p] : llvm::enumerate(getPerm()))
    exprs[p] = getAffineDimExpr(k, ctx);
  space.operandMaps.push_back(AffineMap::get(out.size(), 0, exprs, ctx));
  space.resultMaps.push_back(AffineMap::getMultiDimIdentityMap(out.size(), ctx));
  return space;
}

IterationSpace ReshapeOp::getIterationSpace() {
  MLIRContext *ctx = getContext();
  ArrayRef<int64_t> in = shapeOf(getInput()), out = shapeOf(getResult());
  IterationSpace space = parallelSpace(out);
  // Row-major re-indexing keeps a common leading run of extents and a
  // common trailing run as they are; only the dims in between, which are
  // merged or split, are read in a way no affine map states (symbols).
  size_t prefix = 0;
  while (prefix < in.size() && prefix < out.size() &&
         in[prefix] == out[prefix])
    ++prefix;
  size_t suffix = 0;
  while (suffix < in.size() - prefix && suffix < out.size() - prefix &&
         in[in.size() - 1 - suffix] == out[out.size() - 1 - suffix])
    ++suffix;
  SmallVector<AffineExpr> exprs;
  unsigned symbols = 0;
  for (size_t d = 0; d < in.size(); ++d) {
    if (d < prefix)
      exprs.push_back(getAffineDimExpr(d, ctx));
    else if (d >= in.size() - suffix)
      exprs.push_back(getAffineDimExpr(out.size() - (in.size() - d), ctx));
    else
      exprs.push_back(getAffineSymbolExpr(symbols++, ctx));
  }
  space.operandMaps.push_back(AffineMap::get(out.size(), symbols, exprs, ctx));
  space.resultMaps.push_back(AffineMap::getMultiDimIdentityMap(out.size(), ctx));
  return space;
}

IterationSpace SliceOp::getIterationSpace() {
  MLIRContext *ctx = getContext();
  ArrayRef<int64_t> out = shapeOf(getResult());
  IterationSpace space = parallelSpace(out);
  SmallVector<int64_t> strides = getStridesOrOnes();
  SmallVector<AffineExpr> exprs;
  for (unsigned i = 0; i < out.size(); ++i)
    exprs.push_back(getAffineDimExpr(i, ctx) * strides[i] + getOffsets()[i]);
  space.operandMaps.push_back(AffineMap::get(out.size(), 0, exprs, ctx));
  space.resultMaps.push_back(AffineMap::getMultiDimIdentityMap(out.size(), ctx));
  return space;
}

/// The map of a piece of a concat or split: the loop along `dim` shifted by
/// the piece's start, so each piece is indexed from 0 on its own range.
static AffineMap pieceMap(MLIRContext *ctx, unsigned rank, int64_t dim,
                          int64_t start) {
  SmallVector<AffineExpr> exprs;
  for (unsigned i = 0; i < rank; ++i)
    exprs.push_back(i == dim ? getAffineDimExpr(i, ctx) - start
                             : getAffineDimExpr(i, ctx));
  return AffineMap::get(rank, 0, exprs, ctx);
}

IterationSpace ConcatOp::getIterationSpace() {
  ArrayRef<int64_t> out = shapeOf(getResult());
  IterationSpace space = parallelSpace(out);
  int64_t start = 0;
  for (Value input : getInputs()) {
    space.operandMaps.push_back(
        pieceMap(getContext(), out.size(), getDim(), start));
    start += shapeOf(input)[getDim()];
  }
  space.resultMaps.push_back(
      AffineMap::getMultiDimIdentityMap(out.size(), getContext()));
  return space;
}

IterationSpace SplitOp::getIterationSpace() {
  ArrayRef<int64_t> in = shapeOf(getInput());
  IterationSpace space = parallelSpace(in);
  space.operandMaps.push_back(
      AffineMap::getMultiDimIdentityMap(in.size(), getContext()));
  int64_t start = 0;
  for (Value result : getResults()) {
    space.resultMaps.push_back(
        pieceMap(getContext(), in.size(), getDim(), start));
    start += shapeOf(result)[getDim()];
  }
  return space;
}

IterationSpace ConstantOp::getIterationSpace() {
  return generatorIterationSpace(*this);
}
IterationSpace SplatOp::getIterationSpace() {
  return generatorIterationSpace(*this);
}
IterationSpace CausalMaskOp::getIterationSpace() {
  return generatorIterationSpace(*this);
}
IterationSpace IotaOp::getIterationSpace() {
  return generatorIterationSpace(*this);
}

IterationSpace ScanOp::getIterationSpace() {
  // One loop over the steps. A step reads and writes whole slices,
  // so every dim but the walked one is a symbol.
  MLIRContext *ctx = getContext();
  IterationSpace space;
  space.bounds.push_back(getLength());
  // Without carried values the steps are independent: a map, not a chain.
  space.kinds.push_back(getInits().empty() ? IterKind::Parallel
                                           : IterKind::Carried);
  auto steppedMap = [&](Value value) {
    unsigned rank = shapeOf(value).size();
    SmallVector<AffineExpr> exprs;
    unsigned symbol = 0;
    for (unsigned i = 0; i < rank; ++i)
      exprs.push_back(i == getDim() ? getAffineDimExpr(0, ctx)
                                    : getAffineSymbolExpr(symbol++, ctx));
    return AffineMap::get(1, symbol, exprs, ctx);
  };
  for (Value sequence : getSequences())
    space.operandMaps.push_back(steppedMap(sequence));
  for (Value init : getInits())
    space.operandMaps.push_back(
        wholeTensorMap(ctx, 1, shapeOf(init).size()));
  for (Value output : getStackedOutputs())
    space.resultMaps.push_back(steppedMap(output));
  for (Value final : getFinalCarries())
    space.resultMaps.push_back(
        wholeTensorMap(ctx, 1, shapeOf(final).size()));
  return space;
}

//===----------------------------------------------------------------------===//
// Flop counts that differ from one per result element
//===----------------------------------------------------------------------===//

static int64_t numElements(Value value) {
  return cast<RankedTensorType>(value.getType()).getNumElements();
}

/// One multiply-add (2 flops) per point of the loop nest.
int64_t MatmulOp::getFlopCount() {
  int64_t points = 1;
  for (int64_t bound : getIterationSpace().bounds)
    points *= bound;
  return 2 * points;
}

/// Per element: max, subtract, exp, sum, divide.
int64_t SoftmaxOp::getFlopCount() { return 5 * numElements(getInput()); }
/// Per element: mean, centre, square and accumulate, scale, gamma, beta.
int64_t LayerNormOp::getFlopCount() { return 7 * numElements(getInput()); }
/// Per element: square and accumulate, scale, gamma.
int64_t RMSNormOp::getFlopCount() { return 4 * numElements(getInput()); }

// Data movement and generators compute nothing; casts only convert.
int64_t TransposeOp::getFlopCount() { return 0; }
int64_t ReshapeOp::getFlopCount() { return 0; }
int64_t SliceOp::getFlopCount() { return 0; }
int64_t ConcatOp::getFlopCount() { return 0; }
int64_t SplitOp::getFlopCount() { return 0; }
int64_t ConstantOp::getFlopCount() { return 0; }
int64_t SplatOp::getFlopCount() { return 0; }
int64_t CausalMaskOp::getFlopCount() { return 0; }
int64_t IotaOp::getFlopCount() { return 0; }
int64_t CastOp::getFlopCount() { return 0; }
/// The body is counted by the cost analysis, once per step.
int64_t ScanOp::getFlopCount() { return 0; }

//===----------------------------------------------------------------------===//
// Operand linearity of the ops that are not Nonlinear
//===----------------------------------------------------------------------===//

OperandLinearity MatmulOp::getOperandLinearity(unsigned) {
  return OperandLinearity::Factor;
}
OperandLinearity ScaleOp::getOperandLinearity(unsigned) {
  return OperandLinearity::Additive;
}
/// A cast that changes the element type rounds (or, to and from i1,
/// thresholds) every step; only a cast to the same type is linear.
OperandLinearity CastOp::getOperandLinearity(unsigned) {
  return getInput().getType() == getResult().getType()
             ? OperandLinearity::Additive
             : OperandLinearity::Nonlinear;
}
/// Linear in the two choices; the condition only selects.
OperandLinearity SelectOp::getOperandLinearity(unsigned index) {
  return index == 0 ? OperandLinearity::Nonlinear : OperandLinearity::Additive;
}
// Data movement is linear in everything it moves.
OperandLinearity TransposeOp::getOperandLinearity(unsigned) {
  return OperandLinearity::Additive;
}
OperandLinearity ReshapeOp::getOperandLinearity(unsigned) {
  return OperandLinearity::Additive;
}
OperandLinearity SliceOp::getOperandLinearity(unsigned) {
  return OperandLinearity::Additive;
}
OperandLinearity ConcatOp::getOperandLinearity(unsigned) {
  return OperandLinearity::Additive;
}
OperandLinearity SplitOp::getOperandLinearity(unsigned) {
  return OperandLinearity::Additive;
}

//===----------------------------------------------------------------------===//
// AssocScanOp
//===----------------------------------------------------------------------===//

IterationSpace AssocScanOp::getIterationSpace() {
  // Loops are the stacked states' dims; the walked one is carried (state t
  // needs state t-1), the others parallel. Coefficients and offsets are
  // read like broadcast operands of the step, plus the walked loop.
  MLIRContext *ctx = getContext();
  ArrayRef<int64_t> states = shapeOf(getStates());
  unsigned dim = getDim(), numLoops = states.size();
  IterationSpace space = parallelSpace(states);
  space.kinds[dim] = IterKind::Carried;
  SmallVector<int64_t> stepLoops(states);
  stepLoops.erase(stepLoops.begin() + dim);
  auto loopOfStateDim = [&](unsigned d) { return d < dim ? d : d + 1; };
  SmallVector<Value> walked = {getCoefficients(), getOffsets()};
  for (Value operand : walked) {
    SmallVector<int64_t> step(shapeOf(operand));
    step.erase(step.begin() + dim);
    AffineMap stepMap =
        broadcastMap(ctx, stepLoops.size(), stepLoops, step);
    SmallVector<AffineExpr> exprs;
    for (AffineExpr expr : stepMap.getResults()) {
      if (auto d = dyn_cast<AffineDimExpr>(expr))
        exprs.push_back(getAffineDimExpr(loopOfStateDim(d.getPosition()), ctx));
      else
        exprs.push_back(expr);
    }
    exprs.insert(exprs.begin() + dim, getAffineDimExpr(dim, ctx));
    space.operandMaps.push_back(AffineMap::get(numLoops, 0, exprs, ctx));
  }
  SmallVector<AffineExpr> initExprs;
  for (unsigned d = 0; d + 1 < numLoops; ++d)
    initExprs.push_back(getAffineDimExpr(loopOfStateDim(d), ctx));
  AffineMap initMap = AffineMap::get(numLoops, 0, initExprs, ctx);
  space.operandMaps.push_back(initMap);
  space.resultMaps.push_back(AffineMap::getMultiDimIdentityMap(numLoops, ctx));
  space.resultMaps.push_back(initMap);
  return space;
}

/// One multiply and one add per state element per step.
int64_t AssocScanOp::getFlopCount() {
  return 2 * cast<RankedTensorType>(getStates().getType()).getNumElements();
}

/// A parallel scan's up-sweep and down-sweep: 2 ceil(log2 T) rounds.
int64_t AssocScanOp::getSpan() {
  int64_t length =
      cast<RankedTensorType>(getStates().getType()).getDimSize(getDim());
  return length <= 1 ? 1 : 2 * llvm::Log2_64_Ceil(length);
}

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

IterationSpace AttentionOp::getIterationSpace() {
  // Loops: batch..., i (queries) and e (value dim), parallel; j (keys) and
  // d (head dim), reductions: j by the softmax and the weighted sum, d by
  // the dot products.
  MLIRContext *ctx = getContext();
  ArrayRef<int64_t> out = shapeOf(getResult());
  ArrayRef<int64_t> q = shapeOf(getQuery()), k = shapeOf(getKey()),
                    v = shapeOf(getValue());
  unsigned batch = out.size() - 2;
  IterationSpace space = parallelSpace(out);
  space.bounds.append({k[k.size() - 2], q.back()});
  space.kinds.append({IterKind::Reduction, IterKind::Reduction});
  unsigned numLoops = space.bounds.size();
  AffineExpr i = getAffineDimExpr(batch, ctx), e = getAffineDimExpr(batch + 1, ctx),
             j = getAffineDimExpr(batch + 2, ctx), d = getAffineDimExpr(batch + 3, ctx);
  auto map = [&](ArrayRef<int64_t> shape, AffineExpr row, AffineExpr col) {
    AffineMap batchMap =
        broadcastMap(ctx, numLoops, out.take_front(batch), shape.drop_back(2));
    SmallVector<AffineExpr> exprs(batchMap.getResults());
    exprs.append({row, col});
    return AffineMap::get(numLoops, 0, exprs, ctx);
  };
  space.operandMaps.push_back(map(q, i, d));
  space.operandMaps.push_back(map(k, j, d));
  space.operandMaps.push_back(map(v, j, e));
  space.resultMaps.push_back(
      AffineMap::getMultiDimIdentityMap(numLoops, ctx).getMajorSubMap(out.size()));
  return space;
}

/// Two matrix products (2 flops per multiply-add) plus the softmax's five
/// flops per score.
int64_t AttentionOp::getFlopCount() {
  ArrayRef<int64_t> out = shapeOf(getResult());
  int64_t rows = 1;
  for (int64_t extent : out.drop_back())
    rows *= extent;
  int64_t keys = getScoresType().getShape().back();
  int64_t headDim = shapeOf(getQuery()).back(), valueDim = out.back();
  return rows * keys * (2 * headDim + 2 * valueDim + 5);
}

/// Linear in the values; the softmax makes it nonlinear in queries and
/// keys.
OperandLinearity AttentionOp::getOperandLinearity(unsigned index) {
  return index == 2 ? OperandLinearity::Factor : OperandLinearity::Nonlinear;
}

//===----------------------------------------------------------------------===//
// FusedOp
//===----------------------------------------------------------------------===//

/// Elementwise over the result, inputs read broadcast: like one binary op.
IterationSpace FusedOp::getIterationSpace() {
  return broadcastIterationSpace(*this);
}

/// The work of the ops it fused.
int64_t FusedOp::getFlopCount() {
  int64_t flops = 0;
  for (Operation &op : getBody().front().without_terminator())
    if (auto iface = dyn_cast<IterationSpaceOpInterface>(&op))
      flops += iface.getFlopCount();
  return flops;
}
