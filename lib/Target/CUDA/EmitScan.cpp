//===- EmitScan.cpp - kernel.scan: a chunked parallel linear scan ---------===//
//
// h_t = a_t * h_{t-1} + b_t for every channel (state element). Threads own
// channels, consecutive threads consecutive channels, so every load and
// store of a step is coalesced; blocks own (channel group, time chunk)
// pairs, so the walked dim is parallel too. One cooperative launch, three
// steps:
//
//  1. each thread composes its chunk of steps into one affine map (A, B)
//     with (a1, b1) o (a2, b2) = (a1 a2, a2 b1 + b2) and stores it;
//  2. a grid-wide barrier;
//  3. each thread folds the maps of the chunks before its own, starting
//     from the initial state, and replays its chunk from that incoming
//     state, storing every state.
//
// Traffic is a and b read twice and h written once (5/3 of the minimum;
// elementwise producers of a and b are computed as they are read, so
// their own inputs are what is read twice). Each
// stored state is rounded as the interpreter rounds it (product in the
// state's type, then the sum), so f32 results differ from the sequential
// order only through the chunk maps' reassociation. Chunks are capped so
// that every block is resident (one per SM), which the barrier needs.
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

  // Launch shape: channel groups of `threads`, times chunks, at most one
  // block per SM in all.
  int64_t sms = k.target.kernels.sms;
  k.threads = std::min<int64_t>(k.scheduledThreads(), 1024);
  int64_t groups = (channels + k.threads - 1) / k.threads;
  if (groups > sms)
    return scan.emitOpError("CUDA emission: ")
           << channels << " channels need " << groups
           << " resident blocks, more than the " << sms << " SMs";
  int64_t chunks = std::max<int64_t>(1, std::min(length, sms / groups));
  int64_t perChunk = (length + chunks - 1) / chunks;
  k.blocks = groups * chunks;
  k.cooperative = true;
  std::string barrier = k.addTemp("unsigned int", 1, /*zeroed=*/true);
  std::string mapA = k.addTemp("float", chunks * channels);
  std::string mapB = k.addTemp("float", chunks * channels);

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
  w.line("const attnc_index channel = (blockIdx.x % " + num(groups) +
         ") * blockDim.x + threadIdx.x;");
  w.line("const attnc_index chunk = blockIdx.x / " + num(groups) + ";");
  w.line("const attnc_index lo = chunk * " + num(perChunk) + ";");
  w.line("const attnc_index hi = lo + " + num(perChunk) + " < " + num(length) +
         " ? lo + " + num(perChunk) + " : " + num(length) + ";");
  w.line("const bool active = channel < " + num(channels) + ";");
  Index stepIndex = delinearize("channel", step);
  auto withTime = [&](const Index &index, const std::string &t) {
    Index full(index);
    full.insert(full.begin() + dim, t);
    return full;
  };
  std::string walk = scan.getReverse() ? num(length - 1) + " - w" : "w";
  auto leaf = [&](Value v, const Index &i) { return k.loadInput(v, i); };
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

  // 1. This chunk as one affine map.
  w.open("if (active)");
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
  w.line(mapA + "[chunk * " + num(channels) + " + channel] = A;");
  w.line(mapB + "[chunk * " + num(channels) + " + channel] = B;");
  w.close();
  // 2. Every chunk's map is known.
  w.line("attnc_grid_sync(" + barrier + ");");
  // 3. The incoming state, then the replay.
  w.open("if (active)");
  {
    ScalarEmitter scalar(w, leaf);
    FailureOr<std::string> init = scalar.emit(scan.getInit(), stepIndex);
    if (failed(init))
      return failure();
    w.line("float h = " + *init + ";");
  }
  w.line("for (attnc_index c = 0; c < chunk; ++c) h = " + mapA + "[c * " +
         num(channels) + " + channel] * h + " + mapB + "[c * " +
         num(channels) + " + channel];");
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
  w.close();
  return success();
}
