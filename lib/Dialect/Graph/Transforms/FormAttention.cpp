//===- FormAttention.cpp - decomposed attention becomes attn.attention ----===//
//
// Implements --attn-form-attention (see Passes.td). Each softmax is a
// candidate; the match walks from it back to the scores matmul through
// single-use elementwise ops, and forward to the matmul with V. Every
// condition that fails is a reason, reported as a remark under `explain`,
// because a matcher nobody can question is a matcher nobody can trust.
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Graph/Transforms/Passes.h"

#include "attn/Dialect/Graph/IR/GraphOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

namespace attn::graph {
#define GEN_PASS_DEF_FORMATTENTION
#include "attn/Dialect/Graph/Transforms/Passes.h.inc"
} // namespace attn::graph

using namespace mlir;
using namespace attn;
using namespace attn::graph;

namespace {

/// What a match found.
struct AttentionMatch {
  MatmulOp scoresMatmul, valuesMatmul;
  SoftmaxOp softmax;
  /// Elementwise ops between the two, in program order.
  SmallVector<Operation *> chain;
  /// The operand of each chain op that carries the scores.
  SmallVector<unsigned> chainOperand;
};

} // namespace

/// The match for `softmax`, or the reason there is none.
static FailureOr<AttentionMatch> match(SoftmaxOp softmax, std::string &why) {
  auto fail = [&](const Twine &reason) {
    why = reason.str();
    return failure();
  };
  AttentionMatch m;
  m.softmax = softmax;
  auto scoresType = cast<RankedTensorType>(softmax.getType());
  if (softmax.getDim() != scoresType.getRank() - 1)
    return fail("the softmax is over dim " + Twine(softmax.getDim()) +
                ", not the last dim of the scores (the keys)");
  if (!softmax->hasOneUse())
    return fail("the softmax result has more than one use");
  auto values = dyn_cast<MatmulOp>(*softmax->getUsers().begin());
  if (!values || values.getLhs() != softmax.getResult() ||
      values.getTransposeLhs() || values.getTransposeRhs())
    return fail("the softmax result is not the lhs of a matmul with V "
                "(without transposes)");
  m.valuesMatmul = values;

  Value scores = softmax.getInput();
  while (true) {
    Operation *def = scores.getDefiningOp();
    if (!def)
      return fail("the scores are a graph or block argument, not a matmul");
    if (!scores.hasOneUse())
      return fail(def->getName().getStringRef() +
                  " feeds the softmax but its result has other uses too");
    if (auto matmul = dyn_cast<MatmulOp>(def)) {
      m.scoresMatmul = matmul;
      break;
    }
    if (!hasNoReductionOrRegion(def))
      return fail(def->getName().getStringRef() +
                  " between the scores and the softmax is not elementwise");
    // The chain continues through the one operand shaped like the scores.
    std::optional<unsigned> next;
    for (auto [i, operand] : llvm::enumerate(def->getOperands()))
      if (cast<RankedTensorType>(operand.getType()).getShape() ==
          scoresType.getShape()) {
        if (next)
          return fail(def->getName().getStringRef() +
                      " reads two score-shaped values; which is the scores "
                      "is ambiguous");
        next = i;
      }
    if (!next)
      return fail(def->getName().getStringRef() +
                  " has no operand shaped like the scores");
    m.chain.insert(m.chain.begin(), def);
    m.chainOperand.insert(m.chainOperand.begin(), *next);
    scores = def->getOperand(*next);
  }
  if (!m.scoresMatmul.getTransposeRhs() || m.scoresMatmul.getTransposeLhs())
    return fail("the scores matmul is not Q.K^T written with transpose_rhs");
  return m;
}

/// Whether `op` is select(causal_mask offset k >= 0, scores, very negative
/// splat) over the scores' last two dims; returns k.
static std::optional<int64_t> causalOffset(Operation *op, unsigned operand,
                                           RankedTensorType scoresType) {
  auto select = dyn_cast<SelectOp>(op);
  if (!select || operand != 1)
    return std::nullopt;
  auto mask = select.getCond().getDefiningOp<CausalMaskOp>();
  auto fill = select.getOnFalse().getDefiningOp<SplatOp>();
  if (!mask || !fill || mask.getOffset() < 0 ||
      fill.getValue().convertToDouble() > -1e9)
    return std::nullopt;
  ArrayRef<int64_t> maskShape = mask.getType().getShape();
  ArrayRef<int64_t> scores = scoresType.getShape();
  // The mask must index (query, key) directly: leading dims of extent 1.
  if (maskShape.take_back(2) != scores.take_back(2) ||
      llvm::any_of(maskShape.drop_back(2), [](int64_t e) { return e != 1; }))
    return std::nullopt;
  return mask.getOffset();
}

static void rewrite(AttentionMatch &m) {
  MLIRContext *ctx = m.softmax.getContext();
  auto scoresType = cast<RankedTensorType>(m.softmax.getType());
  double scale = 1.0;
  std::optional<int64_t> causal;
  SmallVector<Operation *> region(m.chain);
  SmallVector<unsigned> regionOperand(m.chainOperand);
  if (!region.empty())
    if (auto first = dyn_cast<ScaleOp>(region.front())) {
      scale = first.getFactor().convertToDouble();
      region.erase(region.begin());
      regionOperand.erase(regionOperand.begin());
    }
  if (!region.empty())
    if ((causal = causalOffset(region.back(), regionOperand.back(),
                               scoresType))) {
      region.pop_back();
      regionOperand.pop_back();
    }

  OpBuilder builder(m.valuesMatmul);
  IntegerAttr causalAttr =
      causal ? builder.getI64IntegerAttr(*causal) : IntegerAttr();
  auto attention = AttentionOp::create(
      builder, m.valuesMatmul.getLoc(), m.valuesMatmul.getType(),
      m.scoresMatmul.getLhs(), m.scoresMatmul.getRhs(),
      m.valuesMatmul.getRhs(), builder.getF64FloatAttr(scale), causalAttr);

  if (!region.empty()) {
    // The score modification runs in f32: the chain's ops are copied with
    // f32 results, and outside float operands of another type are cast.
    RankedTensorType f32Scores = attention.getScoresType();
    Block *block = builder.createBlock(&attention.getScoreMod());
    block->addArgument(f32Scores, m.softmax.getLoc());
    IRMapping mapping;
    mapping.map(region.front()->getOperand(regionOperand.front()),
                block->getArgument(0));
    for (Operation *op : region) {
      for (Value operand : op->getOperands()) {
        if (mapping.contains(operand))
          continue;
        auto type = cast<RankedTensorType>(operand.getType());
        if (isa<FloatType>(type.getElementType()) &&
            !type.getElementType().isF32())
          mapping.map(operand,
                      CastOp::create(builder, op->getLoc(),
                                     type.clone(Float32Type::get(ctx)),
                                     operand));
      }
      Operation *copy = builder.clone(*op, mapping);
      for (Value result : copy->getResults()) {
        auto type = cast<RankedTensorType>(result.getType());
        if (isa<FloatType>(type.getElementType()))
          result.setType(type.clone(Float32Type::get(ctx)));
      }
    }
    YieldOp::create(builder, m.softmax.getLoc(),
                    mapping.lookup(region.back()->getResult(0)));
  }

  m.valuesMatmul.replaceAllUsesWith(attention.getResult());
  m.valuesMatmul.erase();
  m.softmax.erase();
  for (Operation *op : llvm::reverse(m.chain))
    op->erase();
  m.scoresMatmul.erase();
}

namespace {
struct FormAttentionPass
    : attn::graph::impl::FormAttentionBase<FormAttentionPass> {
  using FormAttentionBase::FormAttentionBase;

  void runOnOperation() override {
    SmallVector<SoftmaxOp> candidates;
    getOperation().walk([&](SoftmaxOp op) { candidates.push_back(op); });
    for (SoftmaxOp softmax : candidates) {
      std::string why;
      FailureOr<AttentionMatch> m = match(softmax, why);
      if (succeeded(m)) {
        rewrite(*m);
        continue;
      }
      if (explain)
        softmax.emitRemark() << "not rewritten to attn.attention: " << why;
    }
  }
};
} // namespace
