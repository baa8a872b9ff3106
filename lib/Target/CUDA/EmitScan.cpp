//===- EmitScan.cpp - kernel.scan: a two-pass parallel linear scan --------===//
//
// h_t = a_t * h_{t-1} + b_t for every channel (state element). Blocks take
// channels (grid-stride); within a block each thread owns a contiguous
// segment of the steps. Pass 1 composes its segment into one affine map
// (A, B) with (a1, b1) o (a2, b2) = (a1 a2, a2 b1 + b2); one thread then
// runs the short chain of segment maps from the initial state, giving each
// segment its incoming state; pass 2 replays each segment from there and
// stores every state. Work is 2T combines per channel, depth T/threads +
// threads. Each stored state is rounded as the interpreter rounds it
// (product in the state's type, then the sum), so f32 results differ from
// the sequential order only by reassociation inside pass 1's maps, which
// pass 2 does not reuse except for the segment's starting state.
//
//===----------------------------------------------------------------------===//

#include "KernelPatterns.h"

#include "attn/Dialect/Graph/IR/GraphOps.h"

using namespace mlir;
using namespace attn;
using namespace attn::cuda;

LogicalResult attn::cuda::emitScan(KernelEmission &k) {
  graph::AssocScanOp scan;
  for (Operation &op : k.block())
    if (auto s = dyn_cast<graph::AssocScanOp>(op))
      scan = s;
  Value statesValue = scan.getStates();
  ArrayRef<int64_t> states = shapeOf(statesValue);
  int64_t dim = scan.getDim(), length = states[dim];
  llvm::SmallVector<int64_t> step(states);
  step.erase(step.begin() + dim);
  int64_t channels = 1;
  for (int64_t d : step)
    channels *= d;
  k.threads = std::min<int64_t>(k.scheduledThreads(), 1024);
  k.blocks = std::min<int64_t>(channels, 65535);
  auto num = [](int64_t v) { return std::to_string(v); };

  // Which kernel results are the states and the final state.
  llvm::SmallVector<std::pair<unsigned, bool>> stores; // (result, isStates)
  for (auto [r, value] : llvm::enumerate(k.results())) {
    if (value == scan.getStates())
      stores.push_back({unsigned(r), true});
    else if (value == scan.getFinal())
      stores.push_back({unsigned(r), false});
    else
      return scan.emitOpError(
          "CUDA emission: a scan kernel yields only the scan's results");
  }

  CodeWriter &w = k.out;
  w.line("ATTNC_SHARED(float, segmentA, 1024);");
  w.line("ATTNC_SHARED(float, segmentB, 1024);");
  w.line("ATTNC_SHARED(float, incoming, 1024);");
  w.open("for (attnc_index channel = blockIdx.x; channel < " + num(channels) +
         "; channel += gridDim.x)");
  Index stepIndex = delinearize("channel", step);
  auto withTime = [&](const Index &index, const std::string &t) {
    Index full(index);
    full.insert(full.begin() + dim, t);
    return full;
  };
  w.line("const attnc_index per = (" + num(length) +
         " + blockDim.x - 1) / blockDim.x;");
  w.line("const attnc_index lo = threadIdx.x * per;");
  w.line("const attnc_index hi = lo + per < " + num(length) + " ? lo + per : " +
         num(length) + ";");
  std::string walk = scan.getReverse() ? num(length - 1) + " - w" : "w";

  // Coefficient and offset of step t, broadcast to this channel.
  auto coefficients = [&](ScalarEmitter &scalar)
      -> FailureOr<std::pair<std::string, std::string>> {
    w.line("const attnc_index t = " + walk + ";");
    Index full = withTime(stepIndex, "t");
    Value a = scan.getCoefficients(), b = scan.getOffsets();
    FailureOr<std::string> av =
        scalar.emit(a, broadcastIndex(full, states, shapeOf(a)));
    if (failed(av))
      return failure();
    FailureOr<std::string> bv =
        scalar.emit(b, broadcastIndex(full, states, shapeOf(b)));
    if (failed(bv))
      return failure();
    return std::make_pair(*av, *bv);
  };
  auto leaf = [&](Value v, const Index &i) { return k.loadInput(v, i); };

  // Pass 1: each segment as one affine map.
  w.line("float A = 1.0f, B = 0.0f;");
  w.open("for (attnc_index w = lo; w < hi; ++w)");
  {
    ScalarEmitter scalar(w, leaf);
    auto ab = coefficients(scalar);
    if (failed(ab))
      return failure();
    w.line("A = " + ab->first + " * A;");
    w.line("B = " + ab->first + " * B + " + ab->second + ";");
  }
  w.close();
  w.line("segmentA[threadIdx.x] = A;");
  w.line("segmentB[threadIdx.x] = B;");
  w.line("__syncthreads();");
  // The chain of segment maps, from the initial state.
  w.open("if (threadIdx.x == 0)");
  {
    ScalarEmitter scalar(w, leaf);
    FailureOr<std::string> init = scalar.emit(scan.getInit(), stepIndex);
    if (failed(init))
      return failure();
    w.line("float h = " + *init + ";");
    w.open("for (unsigned s = 0; s < blockDim.x; ++s)");
    w.line("incoming[s] = h;");
    w.line("h = segmentA[s] * h + segmentB[s];");
    w.close();
  }
  w.close();
  w.line("__syncthreads();");
  // Pass 2: replay each segment from its incoming state and store.
  w.line("float h = incoming[threadIdx.x];");
  w.open("for (attnc_index w = lo; w < hi; ++w)");
  {
    ScalarEmitter scalar(w, leaf);
    auto ab = coefficients(scalar);
    if (failed(ab))
      return failure();
    w.line("h = " + roundTo(statesValue, roundTo(statesValue, ab->first + " * h") +
                                             " + " + ab->second) +
           ";");
    for (auto [r, isStates] : stores)
      if (isStates)
        w.line(storeResult(k, r, withTime(stepIndex, "t"), "h"));
  }
  w.close();
  for (auto [r, isStates] : stores)
    if (!isStates) {
      w.open("if (lo < hi && hi == " + num(length) + ")");
      w.line(storeResult(k, r, stepIndex, "h"));
      w.close();
    }
  // The shared arrays are reused by the next channel.
  w.line("__syncthreads();");
  w.close();
  return success();
}
