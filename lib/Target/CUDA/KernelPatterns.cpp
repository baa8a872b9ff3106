//===- KernelPatterns.cpp - shared parts of the kernel patterns -----------===//
//
// Parameter naming, loads of kernel inputs and stores of results, and the
// pointwise pattern, the simplest of them: a grid-stride loop over the
// flat index of the largest result, each output element computed from its
// index by the scalar emitter.
//
//===----------------------------------------------------------------------===//

#include "KernelPatterns.h"

#include "mlir/IR/Builders.h"

#include <cassert>

using namespace mlir;
using namespace attn;
using namespace attn::cuda;

std::optional<unsigned> KernelEmission::inputNumber(Value value) {
  auto arg = dyn_cast<BlockArgument>(value);
  if (!arg || arg.getOwner() != &block())
    return std::nullopt;
  return arg.getArgNumber();
}

std::optional<std::string> KernelEmission::loadInput(Value value,
                                                     const Index &index,
                                                     bool early) {
  std::optional<unsigned> number = inputNumber(value);
  if (!number)
    return std::nullopt;
  return std::string(early ? "attnc_load_early(in" : "attnc_load(in") +
         std::to_string(*number) + ", " + linearize(index, shapeOf(value)) +
         ")";
}

std::string KernelEmission::addTemp(std::string type, int64_t elements,
                                    bool zeroed) {
  temps.push_back({std::move(type), elements, zeroed});
  return "tmp" + std::to_string(temps.size() - 1);
}

std::string KernelEmission::addTensorMap(unsigned input, int64_t outer,
                                         int64_t rows, int64_t cols,
                                         int64_t boxRows, int64_t boxCols) {
  tensorMaps.push_back({input, outer, rows, cols, boxRows, boxCols});
  return "map" + std::to_string(tensorMaps.size() - 1);
}

std::string KernelEmission::scalar(const std::string &name, int64_t value) {
  for (const Scalar &s : scalars)
    if (s.name == name) {
      assert(s.value == value && "one scalar name, two values");
      return name;
    }
  scalars.push_back({name, value});
  return name;
}

int64_t KernelEmission::scheduledThreads() {
  return kernel->getAttrOfType<IntegerAttr>("threads").getInt();
}

int64_t KernelEmission::scheduledBlocks() {
  return kernel->getAttrOfType<DenseI64ArrayAttr>("blocks")[0];
}

std::string attn::cuda::storeResult(KernelEmission &k, unsigned r,
                                    const Index &index,
                                    const std::string &value) {
  return "attnc_store(out" + std::to_string(r) + ", " +
         linearize(index, shapeOf(k.kernel->getResult(r))) + ", " + value +
         ");";
}

LogicalResult attn::cuda::storeEpilogue(KernelEmission &k, Value producer,
                                        const std::string &value,
                                        const Index &index) {
  ScalarEmitter scalar(k.out, [&](Value v, const Index &i)
                                  -> std::optional<std::string> {
    if (v == producer)
      return roundTo(producer, value);
    return k.loadInput(v, i);
  });
  for (auto [r, result] : llvm::enumerate(k.results())) {
    FailureOr<std::string> element = scalar.emit(result, index);
    if (failed(element))
      return failure();
    k.out.line(storeResult(k, r, index, *element));
  }
  return success();
}

LogicalResult attn::cuda::applyScoreMod(CodeWriter &w, graph::AttentionOp op,
                                        const Index &batch,
                                        const std::string &score,
                                        const ScalarEmitter::Leaf &load) {
  if (op.getScoreMod().empty())
    return success();
  Block &body = op.getScoreMod().front();
  Value scores = body.getArgument(0);
  ScalarEmitter scalar(w, [&](Value v, const Index &index)
                              -> std::optional<std::string> {
    if (v == scores)
      return score;
    return load(v, index);
  });
  Index scoreIndex = batch;
  scoreIndex.append({"i", "j"});
  FailureOr<std::string> modified =
      scalar.emit(body.getTerminator()->getOperand(0), scoreIndex);
  if (failed(modified))
    return failure();
  w.line(score + " = " + *modified + ";");
  return success();
}

LogicalResult attn::cuda::applyScoreMod(KernelEmission &k,
                                        graph::AttentionOp op,
                                        const Index &batch,
                                        const std::string &score) {
  return applyScoreMod(k.out, op, batch, score,
                       [&](Value v, const Index &index) {
                         return k.loadInput(v, index);
                       });
}

void attn::cuda::emitOnlineSoftmaxStep(CodeWriter &w) {
  w.line("const float mNew = fmaxf(m, s);");
  // Equal maxima (both -inf before any finite score) need no rescaling,
  // and exp(-inf - -inf) would be NaN.
  w.line("const float correction = m == mNew ? 1.0f : expf(m - mNew);");
  w.line("const float p = expf(s - mNew);");
  w.line("l = l * correction + p;");
}

LogicalResult attn::cuda::emitPointwise(KernelEmission &k) {
  k.threads = k.scheduledThreads();
  k.blocks = k.scheduledBlocks();
  int64_t total = 0;
  for (Value result : k.kernel->getResults())
    total = std::max(total, numElements(result));
  ScalarEmitter scalar(k.out, [&](Value v, const Index &i) {
    return k.loadInput(v, i);
  });
  k.out.open("for (attnc_index flat = (attnc_index)blockIdx.x * blockDim.x + "
             "threadIdx.x; flat < " +
             std::to_string(total) +
             "; flat += (attnc_index)gridDim.x * blockDim.x)");
  for (auto [r, value] : llvm::enumerate(k.results())) {
    int64_t count = numElements(k.kernel->getResult(r));
    bool guarded = count < total;
    if (guarded)
      k.out.open("if (flat < " + std::to_string(count) + ")");
    Index index = delinearize("flat", shapeOf(value));
    FailureOr<std::string> element = scalar.emit(value, index);
    if (failed(element))
      return failure();
    k.out.line(storeResult(k, r, index, *element));
    if (guarded) {
      k.out.close();
      scalar.clearCache();
    }
  }
  k.out.close();
  return success();
}
