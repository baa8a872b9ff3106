//===- GraphOps.cpp - attn graph ops: structure and syntax ----------------===//
//
// The hand-written parts of the structural ops: the signatures of
// `attn.graph` and `attn.scan`, whose custom syntax names block arguments
// where they are bound, plus the verifiers that tie regions, terminators
// and results together. The verifiers of the computational ops live in
// GraphVerify.cpp and their iteration spaces in GraphIterationSpace.cpp.
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Graph/IR/GraphOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/FunctionImplementation.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace attn::graph;

std::string attn::graph::formatShape(ArrayRef<int64_t> shape) {
  if (shape.empty())
    return "scalar";
  std::string text;
  llvm::raw_string_ostream os(text);
  llvm::interleave(shape, os, "x");
  return text;
}

//===----------------------------------------------------------------------===//
// GraphOp
//===----------------------------------------------------------------------===//

ParseResult GraphOp::parse(OpAsmParser &parser, OperationState &result) {
  auto buildType = [](Builder &builder, ArrayRef<Type> argTypes,
                      ArrayRef<Type> results,
                      function_interface_impl::VariadicFlag, std::string &) {
    return builder.getFunctionType(argTypes, results);
  };
  return function_interface_impl::parseFunctionOp(
      parser, result, /*allowVariadic=*/false,
      getFunctionTypeAttrName(result.name), buildType,
      getArgAttrsAttrName(result.name), getResAttrsAttrName(result.name));
}

void GraphOp::print(OpAsmPrinter &p) {
  function_interface_impl::printFunctionOp(
      p, *this, /*isVariadic=*/false, getFunctionTypeAttrName(),
      getArgAttrsAttrName(), getResAttrsAttrName());
}

std::optional<int64_t> attn::graph::checkedNumElements(ArrayRef<int64_t> shape) {
  int64_t count = 1;
  for (int64_t extent : shape)
    if (extent < 0 || llvm::MulOverflow(count, extent, count))
      return std::nullopt;
  return count;
}

/// Whether `type` is a tensor a model may pass around: ranked, static, no
/// encoding, an element count that fits in 64 bits, and an element type
/// attnc supports.
static bool isGraphTensor(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor || !tensor.hasStaticShape() || tensor.getEncoding() ||
      !checkedNumElements(tensor.getShape()))
    return false;
  Type element = tensor.getElementType();
  return element.isF32() || element.isF16() || element.isBF16() ||
         element.isInteger(1);
}

static constexpr const char *kTensorRule =
    "statically shaped tensors of f32, f16, bf16 or i1, without encoding "
    "and with fewer than 2^63 elements";

LogicalResult GraphOp::verifyRegions() {
  // FunctionOpInterface and SizedRegion<1> already tie the entry block to
  // the signature. What is left are the dialect's rules: only attn ops,
  // and every value a tensor the rest of attnc can handle. The op
  // constraints check most types, but not element-count overflow or
  // encodings, and no op checks an argument nobody uses. This runs after
  // the body is verified, so a bad value's uses are reported at the using
  // op first, which is the more precise place.
  for (auto [i, input] : llvm::enumerate(getFunctionType().getInputs()))
    if (!isGraphTensor(input))
      return emitOpError() << "argument " << i << " has type " << input
                           << "; graph values must be " << kTensorRule;
  WalkResult walk = getBody().walk([&](Operation *op) -> WalkResult {
    Dialect *dialect = op->getDialect();
    if (dialect != getOperation()->getDialect() &&
        !(dialect &&
          dialect->getRegisteredInterface<GraphMemberDialectInterface>()))
      return op->emitOpError()
             << "is not an attn op; graphs hold attn ops only";
    for (Value result : op->getResults())
      if (!isGraphTensor(result.getType()))
        return op->emitOpError() << "result has type " << result.getType()
                                 << "; graph values must be " << kTensorRule;
    for (Region &region : op->getRegions())
      for (BlockArgument arg : region.getArguments())
        if (!isGraphTensor(arg.getType()))
          return op->emitOpError()
                 << "block argument has type " << arg.getType()
                 << "; graph values must be " << kTensorRule;
    return WalkResult::advance();
  });
  return failure(walk.wasInterrupted());
}

LogicalResult ReturnOp::verify() {
  auto graph = (*this)->getParentOfType<GraphOp>();
  ArrayRef<Type> expected = graph.getFunctionType().getResults();
  if (getNumOperands() != expected.size())
    return emitOpError() << "returns " << getNumOperands()
                         << " values but graph @" << graph.getSymName()
                         << " declares " << expected.size() << " results";
  for (auto [i, value] : llvm::enumerate(getOperands()))
    if (value.getType() != expected[i])
      return emitOpError() << "operand " << i << " has type "
                           << value.getType() << " but graph @"
                           << graph.getSymName() << " declares result " << i
                           << " as " << expected[i];
  return success();
}

//===----------------------------------------------------------------------===//
// ScanOp
//===----------------------------------------------------------------------===//

RankedTensorType ScanOp::getStepType(Type sequenceType, int64_t dim) {
  auto type = dyn_cast<RankedTensorType>(sequenceType);
  if (!type || dim < 0 || dim >= type.getRank())
    return {};
  SmallVector<int64_t> shape(type.getShape());
  shape.erase(shape.begin() + dim);
  return RankedTensorType::get(shape, type.getElementType());
}

int64_t ScanOp::getLength() {
  return cast<RankedTensorType>(getSequences().front().getType())
      .getDimSize(getDim());
}

ValueRange ScanOp::getStackedOutputs() {
  return getOutputs().drop_back(getInits().size());
}

ValueRange ScanOp::getFinalCarries() {
  return getOutputs().take_back(getInits().size());
}

Block::BlockArgListType ScanOp::getSequenceArgs() {
  return getBody().getArguments().take_front(getSequences().size());
}

Block::BlockArgListType ScanOp::getCarriedArgs() {
  return getBody().getArguments().drop_front(getSequences().size());
}

/// Parses `keyword(%arg = %operand : type, ...)`, the block argument getting
/// `argType(type)`; failure to derive one is reported at the type.
static ParseResult
parseBindings(OpAsmParser &parser, StringRef keyword,
              SmallVectorImpl<OpAsmParser::Argument> &args,
              SmallVectorImpl<OpAsmParser::UnresolvedOperand> &operands,
              SmallVectorImpl<Type> &types,
              function_ref<Type(Type)> argType, StringRef what,
              int64_t dim) {
  if (parser.parseKeyword(keyword))
    return failure();
  return parser.parseCommaSeparatedList(
      OpAsmParser::Delimiter::Paren, [&]() -> ParseResult {
        OpAsmParser::Argument arg;
        OpAsmParser::UnresolvedOperand operand;
        Type type;
        if (parser.parseArgument(arg) || parser.parseEqual() ||
            parser.parseOperand(operand) || parser.parseColon())
          return failure();
        SMLoc typeLoc = parser.getCurrentLocation();
        if (parser.parseType(type))
          return failure();
        arg.type = argType(type);
        if (!arg.type)
          return parser.emitError(typeLoc)
                 << what << " type " << type << " has no dim " << dim
                 << " for the scan to walk";
        args.push_back(arg);
        operands.push_back(operand);
        types.push_back(type);
        return success();
      });
}

ParseResult ScanOp::parse(OpAsmParser &parser, OperationState &result) {
  Builder &builder = parser.getBuilder();
  Properties &props = result.getOrAddProperties<Properties>();
  if (succeeded(parser.parseOptionalKeyword("reverse")))
    props.reverse = builder.getUnitAttr();
  int64_t dim = 0;
  if (parser.parseKeyword("dim") || parser.parseInteger(dim))
    return failure();
  props.dim = builder.getI64IntegerAttr(dim);

  SmallVector<OpAsmParser::Argument> args;
  SmallVector<OpAsmParser::UnresolvedOperand> sequences, inits;
  SmallVector<Type> sequenceTypes, initTypes;
  if (parseBindings(
          parser, "ins", args, sequences, sequenceTypes,
          [&](Type type) { return Type(getStepType(type, dim)); },
          "sequence", dim))
    return failure();
  if (succeeded(parser.parseOptionalKeyword("carry")) &&
      (parser.parseCommaSeparatedList(
          OpAsmParser::Delimiter::Paren, [&]() -> ParseResult {
            OpAsmParser::Argument arg;
            OpAsmParser::UnresolvedOperand operand;
            if (parser.parseArgument(arg) || parser.parseEqual() ||
                parser.parseOperand(operand) ||
                parser.parseColonType(arg.type))
              return failure();
            args.push_back(arg);
            inits.push_back(operand);
            initTypes.push_back(arg.type);
            return success();
          })))
    return failure();
  props.operandSegmentSizes = {static_cast<int32_t>(sequences.size()),
                               static_cast<int32_t>(inits.size())};

  SMLoc attrLoc = parser.getCurrentLocation();
  if (parser.parseArrowTypeList(result.types) ||
      parser.parseOptionalAttrDictWithKeyword(result.attributes))
    return failure();
  // The syntax owns these; a copy in the dictionary would silently win.
  for (StringRef name : {"dim", "reverse", "operandSegmentSizes"})
    if (result.attributes.get(name))
      return parser.emitError(attrLoc)
             << "'" << name
             << "' is set by the scan's syntax and may not appear in its "
                "attribute dictionary";
  Region *body = result.addRegion();
  if (parser.parseRegion(*body, args))
    return failure();
  SMLoc loc = parser.getCurrentLocation();
  if (parser.resolveOperands(sequences, sequenceTypes, loc, result.operands) ||
      parser.resolveOperands(inits, initTypes, loc, result.operands))
    return failure();
  return success();
}

void ScanOp::print(OpAsmPrinter &p) {
  if (getReverse())
    p << " reverse";
  p << " dim " << getDim() << " ins(";
  llvm::interleaveComma(llvm::zip(getSequenceArgs(), getSequences()), p,
                        [&](auto pair) {
                          auto [arg, operand] = pair;
                          p << arg << " = " << operand << " : "
                            << operand.getType();
                        });
  p << ")";
  if (!getInits().empty()) {
    p << " carry(";
    llvm::interleaveComma(llvm::zip(getCarriedArgs(), getInits()), p,
                          [&](auto pair) {
                            auto [arg, operand] = pair;
                            p << arg << " = " << operand << " : "
                              << operand.getType();
                          });
    p << ")";
  }
  p.printArrowTypeList(getResultTypes());
  p.printOptionalAttrDictWithKeyword(
      (*this)->getAttrs(),
      {getDimAttrName(), getReverseAttrName(), "operandSegmentSizes"});
  p << " ";
  p.printRegion(getBody(), /*printEntryBlockArgs=*/false);
}

LogicalResult ScanOp::verify() {
  if (getSequences().empty())
    return emitOpError("needs at least one sequence operand to walk");
  int64_t dim = getDim();
  int64_t length = -1;
  for (auto [i, value] : llvm::enumerate(getSequences())) {
    auto type = cast<RankedTensorType>(value.getType());
    if (dim < 0 || dim >= type.getRank())
      return emitOpError() << "walks dim " << dim << " but sequence operand "
                           << i << " has rank " << type.getRank();
    if (length < 0)
      length = type.getDimSize(dim);
    else if (type.getDimSize(dim) != length)
      return emitOpError() << "sequence operand " << i << " has extent "
                           << type.getDimSize(dim) << " along dim " << dim
                           << " but sequence operand 0 has " << length;
  }
  if (getNumResults() < getInits().size())
    return emitOpError() << "has " << getNumResults() << " results but "
                         << getInits().size()
                         << " carried values, each of which needs a final "
                            "result";
  for (auto [i, pair] :
       llvm::enumerate(llvm::zip(getInits(), getFinalCarries()))) {
    auto [init, final] = pair;
    if (init.getType() != final.getType())
      return emitOpError() << "carried value " << i << " starts as "
                           << init.getType() << " but its final result is "
                           << final.getType();
  }
  return success();
}

LogicalResult ScanOp::verifyRegions() {
  Block &body = getBody().front();
  size_t numSequences = getSequences().size();
  if (body.getNumArguments() != numSequences + getInits().size())
    return emitOpError() << "body has " << body.getNumArguments()
                         << " arguments but the scan binds "
                         << numSequences + getInits().size();
  for (auto [i, value] : llvm::enumerate(getSequences()))
    if (body.getArgument(i).getType() !=
        getStepType(value.getType(), getDim()))
      return emitOpError() << "body argument " << i << " has type "
                           << body.getArgument(i).getType()
                           << " but a step of sequence operand " << i
                           << " is " << getStepType(value.getType(), getDim());
  for (auto [i, value] : llvm::enumerate(getInits()))
    if (body.getArgument(numSequences + i).getType() != value.getType())
      return emitOpError() << "body argument " << numSequences + i
                           << " has type "
                           << body.getArgument(numSequences + i).getType()
                           << " but carried value " << i << " is "
                           << value.getType();

  auto yield = dyn_cast<YieldOp>(body.getTerminator());
  if (!yield)
    return emitOpError("body must end in attn.yield");
  if (yield.getNumOperands() != getNumResults())
    return yield.emitOpError()
           << "yields " << yield.getNumOperands() << " values but the scan has "
           << getNumResults() << " results (step outputs, then carries)";
  size_t numStacked = getNumResults() - getInits().size();
  for (auto [i, value] : llvm::enumerate(yield.getOperands())) {
    Type expected = i < numStacked
                        ? Type(getStepType(getResult(i).getType(), getDim()))
                        : getInits()[i - numStacked].getType();
    if (i < numStacked &&
        cast<RankedTensorType>(getResult(i).getType()).getRank() <= getDim())
      return emitOpError() << "result " << i << " has type "
                           << getResult(i).getType()
                           << " with no dim " << getDim()
                           << " to stack step outputs along";
    if (i < numStacked &&
        cast<RankedTensorType>(getResult(i).getType()).getDimSize(getDim()) !=
            getLength())
      return emitOpError() << "result " << i << " has extent "
                           << cast<RankedTensorType>(getResult(i).getType())
                                  .getDimSize(getDim())
                           << " along dim " << getDim() << " but the scan has "
                           << getLength() << " steps";
    if (value.getType() != expected)
      return yield.emitOpError()
             << "operand " << i << " has type " << value.getType() << " but "
             << (i < numStacked ? "the stacked result needs "
                                : "the carried value is ")
             << expected;
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Small helpers of individual ops
//===----------------------------------------------------------------------===//

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValue(); }

SmallVector<int64_t> SliceOp::getStridesOrOnes() {
  if (std::optional<ArrayRef<int64_t>> strides = getStrides())
    return SmallVector<int64_t>(*strides);
  return SmallVector<int64_t>(getInput().getType().getRank(), 1);
}

#define GET_OP_CLASSES
#include "attn/Dialect/Graph/IR/GraphOps.cpp.inc"
