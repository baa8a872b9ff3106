//===- ScalarEmitter.cpp - one element of a graph value as CUDA -----------===//
//
// See ScalarEmitter.h. Values are computed once per (value, index) within a
// scope and bound to `const float` variables, so a value read twice at the
// same index (x * sigmoid(x)) is not recomputed, while a value read at two
// indices (a table under concat) is computed at each: index arithmetic and
// cheap math, never a reduction. Each op's result is rounded to its element
// type, as the interpreter rounds every tensor it stores.
//
//===----------------------------------------------------------------------===//

#include "ScalarEmitter.h"

#include "attn/Dialect/Graph/IR/GraphOps.h"

#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/FormatVariadic.h"

#include <cstdio>

using namespace mlir;
using namespace attn;
using namespace attn::cuda;
using namespace attn::graph;

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

void CodeWriter::line(const std::string &code) {
  text.append(2 * indent, ' ');
  text += code;
  text += '\n';
}

void CodeWriter::open(const std::string &header) {
  line(header + " {");
  ++indent;
}

void CodeWriter::close(const std::string &trailer) {
  --indent;
  line(trailer);
}

std::string CodeWriter::fresh(const char *prefix) {
  return std::string(prefix) + std::to_string(counter++);
}

ArrayRef<int64_t> attn::cuda::shapeOf(Value value) {
  return cast<RankedTensorType>(value.getType()).getShape();
}

Type attn::cuda::elementOf(Value value) {
  return cast<RankedTensorType>(value.getType()).getElementType();
}

int64_t attn::cuda::numElements(Value value) {
  return cast<RankedTensorType>(value.getType()).getNumElements();
}

std::string attn::cuda::linearize(const Index &index, ArrayRef<int64_t> shape) {
  if (shape.empty())
    return "0";
  std::string expr = "(" + index[0] + ")";
  for (size_t d = 1; d < shape.size(); ++d)
    expr = "(" + expr + " * " + std::to_string(shape[d]) + " + (" + index[d] +
           "))";
  return expr;
}

Index attn::cuda::delinearize(const std::string &flat, ArrayRef<int64_t> shape) {
  // For a flat offset inside the shape: an extent-1 dim is 0, and a dim
  // with only extent-1 dims outside it needs no modulo (batch 1 is common,
  // and the GPU has no integer divider).
  Index index;
  int64_t stride = 1, outer = 1;
  for (int64_t d : shape)
    stride *= d;
  for (size_t d = 0; d < shape.size(); ++d) {
    stride /= shape[d];
    if (shape[d] == 1) {
      index.push_back("0");
      continue;
    }
    std::string part = "(" + flat + ")";
    if (stride != 1)
      part = "(" + part + " / " + std::to_string(stride) + ")";
    if (outer != 1)
      part = "(" + part + " % " + std::to_string(shape[d]) + ")";
    index.push_back(part);
    outer *= shape[d];
  }
  return index;
}

Index attn::cuda::broadcastIndex(const Index &index, ArrayRef<int64_t> result,
                                 ArrayRef<int64_t> operand) {
  Index out;
  size_t offset = result.size() - operand.size();
  for (size_t d = 0; d < operand.size(); ++d)
    out.push_back(operand[d] == 1 && result[d + offset] != 1
                      ? std::string("0")
                      : index[d + offset]);
  return out;
}

Index attn::cuda::matrixBatchIndex(const Index &batch,
                                   ArrayRef<int64_t> result,
                                   ArrayRef<int64_t> operand) {
  Index full = batch;
  full.append({"0", "0"});
  Index index = broadcastIndex(full, result, operand);
  index.resize(index.size() - 2);
  return index;
}

std::string attn::cuda::floatLiteral(double value) {
  float f = float(value);
  if (std::isinf(f))
    return f > 0 ? "__int_as_float(0x7f800000)" : "__int_as_float(0xff800000)";
  if (std::isnan(f))
    return "__int_as_float(0x7fc00000)";
  char buffer[64];
  // Nine significant digits read back as the same f32.
  std::snprintf(buffer, sizeof buffer, "%.9ef", double(f));
  return buffer;
}

std::string attn::cuda::storageType(Value value) {
  Type type = elementOf(value);
  if (type.isF16())
    return "attnc_f16";
  if (type.isBF16())
    return "attnc_bf16";
  if (type.isInteger(1))
    return "attnc_i1";
  return "float";
}

std::string attn::cuda::roundTo(Value value, const std::string &expr) {
  Type type = elementOf(value);
  if (type.isF16())
    return "attnc_round_f16(" + expr + ")";
  if (type.isBF16())
    return "attnc_round_bf16(" + expr + ")";
  if (type.isInteger(1))
    return "attnc_round_i1(" + expr + ")";
  return expr;
}

static std::string cacheKey(Value value, const Index &index) {
  std::string key = std::to_string(
      reinterpret_cast<uintptr_t>(value.getAsOpaquePointer()));
  for (const std::string &part : index)
    key += "|" + part;
  return key;
}

std::string ScalarEmitter::bind(const std::string &expression) {
  std::string name = out.fresh("v");
  out.line("const float " + name + " = " + expression + ";");
  return name;
}

//===----------------------------------------------------------------------===//
// Emission
//===----------------------------------------------------------------------===//

FailureOr<std::string> ScalarEmitter::emit(Value value, const Index &index) {
  auto alias = aliases.find(value);
  if (alias != aliases.end())
    return emit(alias->second, index);
  std::string key = cacheKey(value, index);
  auto cached = cache.find(key);
  if (cached != cache.end())
    return cached->second;
  std::optional<std::string> provided = leaf(value, index);
  FailureOr<std::string> result =
      provided ? FailureOr<std::string>(bind(*provided)) : compute(value, index);
  if (succeeded(result))
    cache[key] = *result;
  return result;
}

static std::optional<std::string> unaryFormula(Operation *op,
                                               const std::string &x) {
  return llvm::TypeSwitch<Operation *, std::optional<std::string>>(op)
      .Case([&](TanhOp) { return "tanhf(" + x + ")"; })
      .Case([&](SigmoidOp) { return "attnc_sigmoid(" + x + ")"; })
      .Case([&](ExpOp) { return "expf(" + x + ")"; })
      .Case([&](LogOp) { return "logf(" + x + ")"; })
      .Case([&](NegOp) { return "(-" + x + ")"; })
      .Case([&](ReluOp) { return "attnc_relu(" + x + ")"; })
      .Case([&](GeluOp) { return "attnc_gelu(" + x + ")"; })
      .Case([&](SiluOp) { return "attnc_silu(" + x + ")"; })
      .Case([&](RsqrtOp) { return "attnc_rsqrt(" + x + ")"; })
      .Case([&](SqrtOp) { return "sqrtf(" + x + ")"; })
      .Default([](Operation *) { return std::nullopt; });
}

static std::optional<std::string> binaryFormula(Operation *op,
                                                const std::string &a,
                                                const std::string &b) {
  return llvm::TypeSwitch<Operation *, std::optional<std::string>>(op)
      .Case([&](AddOp) { return "(" + a + " + " + b + ")"; })
      .Case([&](SubOp) { return "(" + a + " - " + b + ")"; })
      .Case([&](MulOp) { return "(" + a + " * " + b + ")"; })
      .Case([&](DivOp) { return "(" + a + " / " + b + ")"; })
      // IEEE maxNum/minNum, as the interpreter documents.
      .Case([&](MaxOp) { return "fmaxf(" + a + ", " + b + ")"; })
      .Case([&](MinOp) { return "fminf(" + a + ", " + b + ")"; })
      .Default([](Operation *) { return std::nullopt; });
}

FailureOr<std::string> ScalarEmitter::compute(Value value, const Index &index) {
  Operation *op = value.getDefiningOp();
  if (!op)
    return emitError(value.getLoc())
           << "CUDA emission: a block argument has no value here";
  ArrayRef<int64_t> resultShape = shapeOf(value);
  auto operandAt = [&](unsigned i) -> FailureOr<std::string> {
    Value operand = op->getOperand(i);
    return emit(operand, broadcastIndex(index, resultShape, shapeOf(operand)));
  };

  // sin and cos of one argument (RoPE's tables) share one range
  // reduction: both come from one attnc_sincos, remembered like any value
  // (in the cache, so a branch forgets it with the rest).
  if (isa<SinOp, CosOp>(op)) {
    FailureOr<std::string> x = operandAt(0);
    if (failed(x))
      return failure();
    std::string key = "sincos|" + *x;
    auto pair = cache.find(key);
    if (pair == cache.end()) {
      std::string sine = out.fresh("s"), cosine = out.fresh("c");
      out.line("float " + sine + ", " + cosine + ";");
      out.line("attnc_sincos(" + *x + ", &" + sine + ", &" + cosine + ");");
      pair = cache.insert({key, sine + "," + cosine}).first;
    }
    auto [sine, cosine] = llvm::StringRef(pair->second).split(',');
    return bind(roundTo(value, (isa<SinOp>(op) ? sine : cosine).str()));
  }
  // Elementwise arithmetic.
  if (unaryFormula(op, "x")) {
    FailureOr<std::string> x = operandAt(0);
    if (failed(x))
      return failure();
    return bind(roundTo(value, *unaryFormula(op, *x)));
  }
  if (op->getNumOperands() == 2 && isa<AddOp, SubOp, MulOp, DivOp, MaxOp,
                                       MinOp>(op)) {
    FailureOr<std::string> a = operandAt(0);
    if (failed(a))
      return failure();
    FailureOr<std::string> b = operandAt(1);
    if (failed(b))
      return failure();
    return bind(roundTo(value, *binaryFormula(op, *a, *b)));
  }
  if (auto scale = dyn_cast<ScaleOp>(op)) {
    FailureOr<std::string> x = operandAt(0);
    if (failed(x))
      return failure();
    return bind(roundTo(value, "(" + *x + " * " +
                                   floatLiteral(scale.getFactor().convertToDouble()) +
                                   ")"));
  }
  if (isa<CastOp>(op)) {
    FailureOr<std::string> x = operandAt(0);
    if (failed(x))
      return failure();
    return bind(roundTo(value, *x));
  }
  if (isa<SelectOp>(op)) {
    FailureOr<std::string> c = operandAt(0);
    if (failed(c))
      return failure();
    FailureOr<std::string> a = operandAt(1);
    if (failed(a))
      return failure();
    FailureOr<std::string> b = operandAt(2);
    if (failed(b))
      return failure();
    return bind(roundTo(value, "(" + *c + " != 0.0f ? " + *a + " : " + *b + ")"));
  }

  // Fused bodies are inlined: their arguments stand for the operands.
  if (auto fused = dyn_cast<FusedOp>(op)) {
    Block &body = fused.getBody().front();
    for (auto [arg, input] : llvm::zip(body.getArguments(), fused.getInputs()))
      aliases[arg] = input;
    return emit(body.getTerminator()->getOperand(0), index);
  }

  // Data movement: the same element, found at another index.
  if (auto transpose = dyn_cast<TransposeOp>(op)) {
    ArrayRef<int64_t> perm = transpose.getPerm();
    Index source(perm.size());
    for (size_t k = 0; k < perm.size(); ++k)
      source[perm[k]] = index[k];
    return emit(transpose.getInput(), source);
  }
  if (auto reshape = dyn_cast<ReshapeOp>(op)) {
    std::string flat = out.fresh("f");
    out.line("const attnc_index " + flat + " = " +
             linearize(index, resultShape) + ";");
    return emit(reshape.getInput(),
                delinearize(flat, shapeOf(reshape.getInput())));
  }
  if (auto slice = dyn_cast<SliceOp>(op)) {
    ArrayRef<int64_t> offsets = slice.getOffsets();
    std::optional<ArrayRef<int64_t>> strides = slice.getStrides();
    Index source;
    for (size_t d = 0; d < index.size(); ++d) {
      int64_t stride = strides ? (*strides)[d] : 1;
      source.push_back(std::to_string(offsets[d]) + " + (" + index[d] + ") * " +
                       std::to_string(stride));
    }
    return emit(slice.getInput(), source);
  }
  if (auto split = dyn_cast<SplitOp>(op)) {
    int64_t dim = split.getDim(), start = 0;
    unsigned which = cast<OpResult>(value).getResultNumber();
    for (unsigned r = 0; r < which; ++r)
      start += shapeOf(split.getResult(r))[dim];
    Index source(index);
    source[dim] = "(" + index[dim] + ") + " + std::to_string(start);
    return emit(split.getInput(), source);
  }
  if (auto concat = dyn_cast<ConcatOp>(op)) {
    int64_t dim = concat.getDim(), start = 0;
    // A value repeated along the dim (RoPE's [cos t, cos t]): one copy of
    // its code, read at the index modulo its extent. Branches would hold
    // one copy each, doubling the code NVRTC compiles (a cosf is large).
    Value first = concat.getInputs().front();
    if (llvm::all_equal(concat.getInputs())) {
      Index source(index);
      source[dim] = "(" + index[dim] + ") % " + std::to_string(shapeOf(first)[dim]);
      return emit(first, source);
    }
    // Otherwise one branch per input; the result variable is assigned in
    // each, and values computed inside a branch are forgotten when it
    // closes.
    std::string result = out.fresh("c");
    out.line("float " + result + ";");
    size_t count = concat.getInputs().size();
    for (auto [i, input] : llvm::enumerate(concat.getInputs())) {
      int64_t extent = shapeOf(input)[dim];
      std::string condition = "(" + index[dim] + ") < " +
                              std::to_string(start + extent);
      if (i == 0)
        out.open("if (" + condition + ")");
      else if (i + 1 < count)
        out.open("else if (" + condition + ")");
      else
        out.open("else");
      Index source(index);
      source[dim] = "(" + index[dim] + ") - " + std::to_string(start);
      llvm::StringMap<std::string> saved = cache;
      FailureOr<std::string> piece = emit(input, source);
      cache = std::move(saved);
      if (failed(piece))
        return failure();
      out.line(result + " = " + *piece + ";");
      out.close();
      start += extent;
    }
    return result;
  }

  // Generators.
  if (auto splat = dyn_cast<SplatOp>(op))
    return bind(roundTo(value, floatLiteral(splat.getValue().convertToDouble())));
  if (auto iota = dyn_cast<IotaOp>(op))
    return bind(roundTo(value, "(float)(" + index[iota.getDim()] + ")"));
  if (auto mask = dyn_cast<CausalMaskOp>(op)) {
    size_t rank = index.size();
    return bind("((" + index[rank - 1] + ") <= (" + index[rank - 2] + ") + " +
                std::to_string(mask.getOffset()) + " ? 1.0f : 0.0f)");
  }
  if (auto constant = dyn_cast<ConstantOp>(op)) {
    auto dense = dyn_cast<DenseElementsAttr>(constant.getValue());
    if (dense && dense.isSplat()) {
      Type type = dense.getElementType();
      double v = type.isInteger(1)
                     ? double(dense.getSplatValue<bool>())
                     : dense.getSplatValue<APFloat>().convertToDouble();
      return bind(roundTo(value, floatLiteral(v)));
    }
    if (dense && !dense.getElementType().isInteger(1)) {
      // A table in the kernel's text: constants in models are small.
      std::string table = out.fresh("table");
      std::string init;
      for (APFloat element : dense.getValues<APFloat>())
        init += floatLiteral(element.convertToDouble()) + ", ";
      out.line("const float " + table + "[] = {" + init + "};");
      return bind(table + "[" + linearize(index, resultShape) + "]");
    }
    return op->emitOpError("CUDA emission: unsupported constant");
  }

  return op->emitOpError(
      "CUDA emission: cannot compute this op element by element here");
}
