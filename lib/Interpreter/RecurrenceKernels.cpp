//===- RecurrenceKernels.cpp - linear recurrences -------------------------===//
//
// The kernel of attn.assoc_scan. It combines the steps sequentially, in the
// order of the attn.scan it replaces, so that rewriting a scan into an
// associative scan leaves the interpreter's results unchanged; a parallel
// GPU scan only changes the order of rounding.
//
//===----------------------------------------------------------------------===//

#include "attn/Interpreter/Kernels.h"

#include "attn/Dialect/Graph/IR/GraphOps.h"

using namespace mlir;
using namespace attn;
using namespace attn::interp;
using namespace attn::graph;

template <typename T>
static void assocScan(AssocScanOp op, Operands in, Precision precision,
                      Results &results) {
  const Tensor &a = *in[0], &b = *in[1], &init = *in[2];
  Tensor states = emptyResult(op, 0), final = emptyResult(op, 1);
  int64_t dim = op.getDim(), length = states.shape[dim];
  // Per step, a and b are read broadcast to the state's shape.
  std::vector<int64_t> aStep(a.shape), bStep(b.shape);
  aStep.erase(aStep.begin() + dim);
  bStep.erase(bStep.begin() + dim);
  const std::vector<int64_t> strides[] = {broadcastStrides(aStep, init.shape),
                                          broadcastStrides(bStep, init.shape)};
  std::vector<double> h = init.data;
  for (int64_t step = 0; step < length; ++step) {
    int64_t t = op.getReverse() ? length - 1 - step : step;
    Tensor aSlice = sliceAlong(a, dim, t), bSlice = sliceAlong(b, dim, t);
    int64_t i = 0;
    forEachIndex(init.shape, strides, [&](const int64_t *at) {
      // Rounded as the scan it replaces computed a * h + b: the product
      // is stored in the state's type before the add.
      T product = static_cast<T>(storeAs(static_cast<T>(aSlice.data[at[0]]) *
                                             static_cast<T>(h[i]),
                                         states.dtype, precision));
      T next = product + static_cast<T>(bSlice.data[at[1]]);
      h[i] = storeAs(next, states.dtype, precision);
      ++i;
    });
    Tensor state(init.dtype, init.shape);
    state.data = h;
    insertAlong(states, dim, t, state);
  }
  final.data = std::move(h);
  results.push_back(std::move(states));
  results.push_back(std::move(final));
}

bool attn::interp::tryEvaluateRecurrence(Operation *op, Operands operands,
                                         Precision precision,
                                         Results &results) {
  auto scan = dyn_cast<AssocScanOp>(op);
  if (!scan)
    return false;
  if (precision == Precision::F32)
    assocScan<float>(scan, operands, precision, results);
  else
    assocScan<double>(scan, operands, precision, results);
  return true;
}
