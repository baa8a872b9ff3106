//===- ElementwiseKernels.cpp - pointwise ops and generators --------------===//
//
// Kernels of the ops that compute each result element from the elements at
// the same (broadcast) position: unary and binary math, scale, cast,
// select; and of the generators that need no operands: constant, splat,
// iota and causal_mask. Math runs in float or double as the precision
// says, then rounds to the result's element type.
//
//===----------------------------------------------------------------------===//

#include "attn/Interpreter/Kernels.h"

#include "attn/Dialect/Graph/IR/GraphOps.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;
using namespace attn;
using namespace attn::interp;
using namespace attn::graph;

/// Evaluates `fn` on `args` in the run's arithmetic.
template <typename Fn, typename... Args>
static double compute(Precision precision, Fn fn, Args... args) {
  if (precision == Precision::F32)
    return static_cast<double>(fn(static_cast<float>(args)...));
  return fn(static_cast<double>(args)...);
}

/// Applies `fn` to every element of the single operand.
template <typename Fn>
static Tensor mapUnary(Operation *op, Operands operands, Precision precision,
                       Fn fn) {
  Tensor out = emptyResult(op);
  for (int64_t i = 0; i < out.size(); ++i)
    out.data[i] = storeAs(compute(precision, fn, operands[0]->data[i]),
                          out.dtype, precision);
  return out;
}

/// Applies `fn` to every pair of elements of the numpy-broadcast operands.
template <typename Fn>
static Tensor mapBinary(Operation *op, Operands operands, Precision precision,
                        Fn fn) {
  Tensor out = emptyResult(op);
  const std::vector<int64_t> strides[] = {
      broadcastStrides(operands[0]->shape, out.shape),
      broadcastStrides(operands[1]->shape, out.shape)};
  int64_t i = 0;
  forEachIndex(out.shape, strides, [&](const int64_t *at) {
    out.data[i++] = storeAs(compute(precision, fn, operands[0]->data[at[0]],
                                    operands[1]->data[at[1]]),
                            out.dtype, precision);
  });
  return out;
}

static Tensor evaluateSelect(Operation *op, Operands operands,
                             Precision precision) {
  Tensor out = emptyResult(op);
  const std::vector<int64_t> strides[] = {
      broadcastStrides(operands[0]->shape, out.shape),
      broadcastStrides(operands[1]->shape, out.shape),
      broadcastStrides(operands[2]->shape, out.shape)};
  int64_t i = 0;
  forEachIndex(out.shape, strides, [&](const int64_t *at) {
    double chosen = operands[0]->data[at[0]] != 0.0 ? operands[1]->data[at[1]]
                                                    : operands[2]->data[at[2]];
    out.data[i++] = storeAs(chosen, out.dtype, precision);
  });
  return out;
}

static FailureOr<Tensor> evaluateConstant(ConstantOp op) {
  auto dense = dyn_cast<DenseElementsAttr>(op.getValue());
  if (!dense)
    return op.emitOpError("only dense elements constants can be "
                          "interpreted");
  Tensor out = emptyResult(op);
  if (out.dtype == DType::I1) {
    int64_t i = 0;
    for (bool value : dense.getValues<bool>())
      out.data[i++] = value;
    return out;
  }
  int64_t i = 0;
  for (APFloat value : dense.getValues<APFloat>())
    out.data[i++] = value.convertToDouble();
  return out;
}

/// Fills `out` with `fn(multi-index)` for every element.
template <typename Fn>
static void generate(Tensor &out, Precision precision, Fn fn) {
  std::vector<int64_t> index(out.shape.size(), 0);
  for (int64_t i = 0; i < out.size(); ++i) {
    out.data[i] = storeAs(fn(index), out.dtype, precision);
    for (int64_t d = out.rank() - 1; d >= 0; --d) {
      if (++index[d] < out.shape[d])
        break;
      index[d] = 0;
    }
  }
}

bool attn::interp::tryEvaluateElementwise(Operation *op, Operands operands,
                                          Precision precision,
                                          Results &results) {
  auto unary = [&](auto fn) {
    results.push_back(mapUnary(op, operands, precision, fn));
    return true;
  };
  auto binary = [&](auto fn) {
    results.push_back(mapBinary(op, operands, precision, fn));
    return true;
  };
  return llvm::TypeSwitch<Operation *, bool>(op)
      .Case([&](AddOp) { return binary([](auto a, auto b) { return a + b; }); })
      .Case([&](SubOp) { return binary([](auto a, auto b) { return a - b; }); })
      .Case([&](MulOp) { return binary([](auto a, auto b) { return a * b; }); })
      .Case([&](DivOp) { return binary([](auto a, auto b) { return a / b; }); })
      .Case([&](MaxOp) {
        return binary([](auto a, auto b) { return std::fmax(a, b); });
      })
      .Case([&](MinOp) {
        return binary([](auto a, auto b) { return std::fmin(a, b); });
      })
      .Case([&](TanhOp) { return unary([](auto x) { return std::tanh(x); }); })
      .Case([&](SigmoidOp) {
        return unary([](auto x) { return decltype(x)(1) / (1 + std::exp(-x)); });
      })
      .Case([&](ExpOp) { return unary([](auto x) { return std::exp(x); }); })
      .Case([&](LogOp) { return unary([](auto x) { return std::log(x); }); })
      .Case([&](NegOp) { return unary([](auto x) { return -x; }); })
      .Case([&](ReluOp) {
        return unary([](auto x) { return x > 0 ? x : decltype(x)(0); });
      })
      .Case([&](GeluOp) {
        return unary([](auto x) {
          using T = decltype(x);
          return T(0.5) * x * (T(1) + std::erf(x / std::sqrt(T(2))));
        });
      })
      .Case([&](SiluOp) {
        return unary([](auto x) { return x / (1 + std::exp(-x)); });
      })
      .Case([&](RsqrtOp) {
        return unary([](auto x) { return decltype(x)(1) / std::sqrt(x); });
      })
      .Case([&](SqrtOp) { return unary([](auto x) { return std::sqrt(x); }); })
      .Case([&](SinOp) { return unary([](auto x) { return std::sin(x); }); })
      .Case([&](CosOp) { return unary([](auto x) { return std::cos(x); }); })
      .Case([&](ScaleOp scale) {
        double factor = scale.getFactor().convertToDouble();
        return unary([factor](auto x) { return x * decltype(x)(factor); });
      })
      .Case([&](CastOp) {
        // A cast is part of the model's meaning, so it rounds to its
        // target type even in f64 runs, where nothing else rounds.
        Tensor out = emptyResult(op);
        for (int64_t i = 0; i < out.size(); ++i)
          out.data[i] =
              storeAs(operands[0]->data[i], out.dtype, Precision::F32);
        results.push_back(std::move(out));
        return true;
      })
      .Case([&](SelectOp) {
        results.push_back(evaluateSelect(op, operands, precision));
        return true;
      })
      .Case([&](ConstantOp constant) {
        // On failure the error is already emitted; the missing result tells
        // the interpreter to stop.
        FailureOr<Tensor> value = evaluateConstant(constant);
        if (succeeded(value))
          results.push_back(std::move(*value));
        return true;
      })
      .Case([&](SplatOp splat) {
        Tensor out = emptyResult(op);
        // A literal of the element type: rounded to it in every mode, as
        // the splat's fold does.
        double value = storeAs(splat.getValue().convertToDouble(), out.dtype,
                               Precision::F32);
        generate(out, precision, [&](const auto &) { return value; });
        results.push_back(std::move(out));
        return true;
      })
      .Case([&](IotaOp iota) {
        Tensor out = emptyResult(op);
        int64_t dim = iota.getDim();
        generate(out, precision,
                 [&](const auto &index) { return double(index[dim]); });
        results.push_back(std::move(out));
        return true;
      })
      .Case([&](CausalMaskOp mask) {
        Tensor out = emptyResult(op);
        int64_t offset = mask.getOffset(), rank = out.rank();
        generate(out, precision, [&](const auto &index) {
          // j <= i + offset, written so a huge offset cannot overflow.
          return double(index[rank - 1] - index[rank - 2] <= offset);
        });
        results.push_back(std::move(out));
        return true;
      })
      .Default([](Operation *) { return false; });
}
