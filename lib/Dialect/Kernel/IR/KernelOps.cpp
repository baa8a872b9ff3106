//===- KernelOps.cpp - body rules of the kernel kinds ---------------------===//
//
// Each kernel kind promises its code generation pattern a body of a known
// shape; the verifiers here keep that promise for hand-written IR and for
// every pass that builds or rewrites kernels.
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Kernel/IR/KernelOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace attn;
using namespace attn::kernel;

#define GET_OP_CLASSES
#include "attn/Dialect/Kernel/IR/KernelOps.cpp.inc"

//===----------------------------------------------------------------------===//
// Roles of graph ops
//===----------------------------------------------------------------------===//

GraphOpRole attn::kernel::classifyGraphOp(Operation *op) {
  // Qualified names: kernel:: has its own AttentionOp and ScanOp.
  using namespace attn::graph;
  if (isa<MatmulOp>(op))
    return GraphOpRole::Gemm;
  if (isa<graph::AttentionOp>(op))
    return GraphOpRole::Attention;
  if (isa<SoftmaxOp, LayerNormOp, RMSNormOp, ReduceSumOp, ReduceMaxOp,
          ReduceMeanOp>(op))
    return GraphOpRole::Row;
  if (isa<graph::ScanOp>(op))
    return GraphOpRole::Recurrence;
  if (isa<AssocScanOp>(op))
    return GraphOpRole::Scan;
  if (isa<FusedOp>(op))
    return GraphOpRole::Fused;
  if (isa<ConstantOp, SplatOp, IotaOp, CausalMaskOp>(op))
    return GraphOpRole::Generator;
  if (isa<TransposeOp, ReshapeOp, SliceOp, ConcatOp, SplitOp>(op))
    return GraphOpRole::DataMovement;
  // Batch-polymorphic without reductions: each element from the same
  // (broadcast) position of each operand.
  if (op->hasTrait<BatchPolymorphic>() && op->getNumResults() == 1 &&
      hasNoReductionOrRegion(op))
    return GraphOpRole::Elementwise;
  return GraphOpRole::Other;
}

bool attn::kernel::isPointwiseMember(Operation *op) {
  GraphOpRole role = classifyGraphOp(op);
  return role == GraphOpRole::Elementwise ||
         role == GraphOpRole::DataMovement || role == GraphOpRole::Generator;
}

//===----------------------------------------------------------------------===//
// Verifiers
//===----------------------------------------------------------------------===//

bool attn::kernel::isWarpgroupGemm(graph::MatmulOp matmul) {
  auto lhs = cast<RankedTensorType>(matmul.getLhs().getType());
  auto rhs = cast<RankedTensorType>(matmul.getRhs().getType());
  Type element = lhs.getElementType();
  if (element != rhs.getElementType() || !(element.isF16() || element.isBF16()))
    return false;
  if (matmul.getTransposeLhs() || matmul.getTransposeRhs() || rhs.getRank() != 2)
    return false;
  return lhs.getShape().back() % 8 == 0 && rhs.getShape().back() % 8 == 0;
}

int64_t attn::kernel::warpgroupGemmStages(int64_t k, int64_t maxStages) {
  int64_t tiles = (k + 63) / 64;
  return tiles == 1 ? 1 : std::max<int64_t>(2, std::min(maxStages, tiles));
}

int64_t attn::kernel::warpgroupGemmSharedBytes(int64_t tm, int64_t tn,
                                               int64_t stages) {
  int64_t stageBytes = (tm + tn) * 128; // 64 K of 2 bytes per row
  int64_t outTile = tm * (tn + 4) * 4;
  return 1024 + std::max(stages * stageBytes, outTile) + stages * 16;
}

bool attn::kernel::isWarpgroupAttention(graph::AttentionOp attention) {
  auto type = [](Value v) {
    return cast<RankedTensorType>(v.getType()).getElementType();
  };
  Type element = type(attention.getQuery());
  if (!(element.isF16() || element.isBF16()) ||
      type(attention.getKey()) != element || type(attention.getValue()) != element)
    return false;
  int64_t depth = cast<RankedTensorType>(attention.getQuery().getType())
                      .getShape()
                      .back();
  int64_t width = cast<RankedTensorType>(attention.getValue().getType())
                      .getShape()
                      .back();
  return (depth == 64 || depth == 128) && (width == 64 || width == 128);
}

int64_t attn::kernel::warpgroupAttentionSharedBytes(int64_t depth,
                                                    int64_t width) {
  // 128 queries and three stages of a key tile, 2-byte elements; seven
  // mbarriers and an 8-byte sink (EmitWarpgroupAttention.cpp); 1 KiB for
  // the alignment.
  return 1024 + 128 * 2 * depth +
         3 * warpgroupAttentionKeyTile(depth) * 2 * (depth + width) + 8 * 8;
}

int64_t attn::kernel::warpgroupAttentionKeyTile(int64_t depth) {
  return depth >= 128 ? 128 : 64;
}

LogicalResult attn::kernel::verifyKernelCommon(Operation *op) {
  Block &body = op->getRegion(0).front();
  if (body.getNumArguments() != op->getNumOperands())
    return op->emitOpError() << "body has " << body.getNumArguments()
                             << " arguments for " << op->getNumOperands()
                             << " inputs";
  for (auto [i, pair] :
       llvm::enumerate(llvm::zip(body.getArgumentTypes(),
                                 op->getOperandTypes()))) {
    auto [argType, inputType] = pair;
    if (argType != inputType)
      return op->emitOpError() << "body argument " << i << " has type "
                               << argType << " but input " << i << " is "
                               << inputType;
  }
  auto yield = dyn_cast<YieldOp>(body.getTerminator());
  if (!yield)
    return op->emitOpError("body must end with kernel.yield");
  if (yield.getOperandTypes() != op->getResultTypes())
    return op->emitOpError("yields types that differ from its results");
  for (Operation &nested : body.without_terminator())
    if (!isa<graph::GraphDialect>(nested.getDialect()))
      return nested.emitOpError("is not an attn op; kernel bodies hold attn "
                                "ops only");
  auto loops = op->getAttrOfType<ArrayAttr>("loops");
  auto blocks = op->getAttrOfType<DenseI64ArrayAttr>("blocks");
  if (blocks.size() != 3 || llvm::any_of(blocks.asArrayRef(),
                                         [](int64_t b) { return b < 1; }))
    return op->emitOpError("needs three positive block counts (x, y, z)");
  if (loops.empty())
    return op->emitOpError("needs at least one loop");
  return success();
}

/// The body's ops of role `role`; fails unless there is exactly one.
static FailureOr<Operation *> theOnly(Operation *kernel, GraphOpRole role,
                                      StringRef what) {
  Operation *found = nullptr;
  for (Operation &op : kernel->getRegion(0).front().without_terminator()) {
    if (classifyGraphOp(&op) != role)
      continue;
    if (found)
      return kernel->emitOpError() << "body holds more than one " << what;
    found = &op;
  }
  if (!found)
    return kernel->emitOpError() << "body holds no " << what;
  return found;
}

/// Every body op other than `anchor` must have one of `allowed` roles.
static LogicalResult othersAre(Operation *kernel, Operation *anchor,
                               ArrayRef<GraphOpRole> allowed,
                               StringRef what) {
  for (Operation &op : kernel->getRegion(0).front().without_terminator())
    if (&op != anchor && !llvm::is_contained(allowed, classifyGraphOp(&op)))
      return op.emitOpError() << "cannot be part of " << what;
  return success();
}

static constexpr GraphOpRole kElementwise[] = {GraphOpRole::Elementwise,
                                               GraphOpRole::Generator};

LogicalResult GemmOp::verifyRegions() {
  if (failed(verifyKernelCommon(*this)))
    return failure();
  FailureOr<Operation *> matmul =
      theOnly(*this, GraphOpRole::Gemm, "attn.matmul");
  if (failed(matmul))
    return failure();
  // The tiles are loaded straight from the operands' buffers (one buffer
  // when both operands are the same tensor).
  Block &body = getBody().front();
  for (Value operand : (*matmul)->getOperands())
    if (auto arg = dyn_cast<BlockArgument>(operand);
        !arg || arg.getOwner() != &body)
      return emitOpError("the matmul must multiply kernel inputs");
  // The epilogue runs on output tiles: every op keeps the product's shape.
  Type productType = (*matmul)->getResult(0).getType();
  for (Operation &op : body.without_terminator())
    if (&op != *matmul && classifyGraphOp(&op) == GraphOpRole::Elementwise &&
        cast<ShapedType>(op.getResult(0).getType()).getShape() !=
            cast<ShapedType>(productType).getShape())
      return op.emitOpError("epilogue op must keep the product's shape");
  return othersAre(*this, *matmul, kElementwise, "a GEMM epilogue");
}

LogicalResult AttentionOp::verifyRegions() {
  if (failed(verifyKernelCommon(*this)))
    return failure();
  FailureOr<Operation *> attention =
      theOnly(*this, GraphOpRole::Attention, "attn.attention");
  if (failed(attention))
    return failure();
  return othersAre(*this, *attention, {}, "an attention kernel");
}

LogicalResult PointwiseOp::verifyRegions() {
  if (failed(verifyKernelCommon(*this)))
    return failure();
  for (Operation &op : getBody().front().without_terminator())
    if (!isPointwiseMember(&op))
      return op.emitOpError("cannot be part of a pointwise kernel");
  return success();
}

LogicalResult RowOp::verifyRegions() {
  if (failed(verifyKernelCommon(*this)))
    return failure();
  FailureOr<Operation *> row = theOnly(*this, GraphOpRole::Row, "row op");
  if (failed(row))
    return failure();
  return othersAre(*this, *row, kElementwise, "a row kernel");
}

LogicalResult RecurrenceOp::verifyRegions() {
  if (failed(verifyKernelCommon(*this)))
    return failure();
  FailureOr<Operation *> scan =
      theOnly(*this, GraphOpRole::Recurrence, "attn.scan");
  if (failed(scan))
    return failure();
  if (cast<graph::ScanOp>(*scan).getInits().empty())
    return emitOpError("the scan carries no state; it is not a recurrence");
  return othersAre(*this, *scan, {GraphOpRole::Generator},
                   "a recurrence kernel");
}

LogicalResult ScanOp::verifyRegions() {
  if (failed(verifyKernelCommon(*this)))
    return failure();
  FailureOr<Operation *> scan =
      theOnly(*this, GraphOpRole::Scan, "attn.assoc_scan");
  if (failed(scan))
    return failure();
  return othersAre(*this, *scan, kElementwise, "a scan kernel");
}
