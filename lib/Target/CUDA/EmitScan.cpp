//===- EmitScan.cpp - kernel.scan: a single-pass parallel linear scan -----===//
//
// h_t = a_t * h_{t-1} + b_t for every channel (state element), in one pass
// over a and b (decoupled look-back, after Merrill and Garland's
// single-pass prefix scan). Threads own channels, consecutive threads
// consecutive channels, so every load and store of a step is coalesced.
// Each block takes the next tile (channel group, chunk of scan_chunk steps)
// from a launch-wide ticket counter, so tiles start in order and a block
// only ever waits for tiles that started before it. Per tile:
//
//  1. each thread copies its chunk's inputs into shared memory (f32, by
//     cp.async; other types into registers), all before the elementwise
//     producers use any, computes the coefficients and offsets and
//     composes them into one affine map (A, B), with
//     (a1, b1) o (a2, b2) = (a1 a2, a2 b1 + b2);
//  2. it publishes that map for its channel, then looks back: walking the
//     earlier chunks, it composes their published maps until it finds one
//     that has published its final state (or reaches the initial state),
//     which gives its incoming state;
//  3. it replays the chunk (computing the coefficients again from shared
//     memory, or from registers), storing every state, and
//     publishes its final state for the chunks after it.
//
// Traffic is a and b read once and h written once, plus 12 bytes of map,
// state and flag per channel and chunk. Each stored state is rounded as
// the interpreter rounds it (product in the state's type, then the sum),
// so f32 results differ from the sequential order only through the
// composed maps' reassociation. No block waits for a later one, so the
// launch needs neither co-residency nor a cooperative launch.
//
//===----------------------------------------------------------------------===//

#include "KernelPatterns.h"

#include "attn/Dialect/Graph/IR/GraphOps.h"
#include "attn/Dialect/Kernel/IR/KernelOps.h"

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

  // Launch shape: a block per (channel group, chunk), the chunk length
  // the schedule's time tile (scan_chunk in targets.json). A chunk's a and
  // b stay in registers, two floats per step and thread, so chunks are
  // capped at 64 steps.
  int64_t chunkLength = length;
  for (Attribute attr : k.kernel->getAttrOfType<ArrayAttr>("loops"))
    if (cast<kernel::LoopAttr>(attr).getName() == "t")
      chunkLength = cast<kernel::LoopAttr>(attr).getTile();
  chunkLength = std::max<int64_t>(1, std::min<int64_t>({chunkLength, length, 64}));
  k.threads = std::min<int64_t>(k.scheduledThreads(), 1024);
  int64_t groups = (channels + k.threads - 1) / k.threads;
  int64_t chunks = (length + chunkLength - 1) / chunkLength;
  k.blocks = groups * chunks;
  std::string ticket = k.addTemp("unsigned int", 1, /*zeroed=*/true);
  std::string mapA = k.addTemp("float", chunks * channels);
  std::string mapB = k.addTemp("float", chunks * channels);
  std::string finals = k.addTemp("float", chunks * channels);
  // 0: nothing yet; 1: the chunk's map; 2: its final state.
  std::string status = k.addTemp("unsigned int", chunks * channels,
                                 /*zeroed=*/true);

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
  w.line("ATTNC_SHARED(unsigned int, tileSlot, 1);");
  w.line("if (threadIdx.x == 0) *tileSlot = atomicAdd(" + ticket + ", 1u);");
  w.line("__syncthreads();");
  w.line("const attnc_index tile = *tileSlot;");
  w.line("const attnc_index channel = (tile % " + num(groups) +
         ") * blockDim.x + threadIdx.x;");
  w.line("const attnc_index chunk = tile / " + num(groups) + ";");
  w.line("const attnc_index lo = chunk * " + num(chunkLength) + ";");
  w.line("const attnc_index hi = lo + " + num(chunkLength) + " < " +
         num(length) + " ? lo + " + num(chunkLength) + " : " + num(length) +
         ";");
  w.line("if (channel >= " + num(channels) + ") return;");
  w.line("const attnc_index slot = chunk * " + num(channels) + " + channel;");
  Index stepIndex = delinearize("channel", step);
  auto withTime = [&](const Index &index, const std::string &t) {
    Index full(index);
    full.insert(full.begin() + dim, t);
    return full;
  };
  std::string walk = scan.getReverse() ? num(length - 1) + " - w" : "w";
  auto leaf = [&](Value v, const Index &i) { return k.loadInput(v, i); };

  // 1. The chunk into registers, composed into one map. The chunk's loads
  // (the leaves of a's and b's expressions) are all in flight before any
  // is used: a GPU issues in order, so a load followed by its use stalls
  // its warp for the whole memory latency, and with each step's loads next
  // to their uses a chunk of 32 steps waited on 64 loads in a row (the
  // copy rate's tenth). Loads issued first are not enough: ptxas moves
  // them down between the steps' arithmetic, to a few steps ahead of
  // their uses, wherever no branch stops it (an IEEE division's slow path
  // did). So f32 inputs are copied into shared memory by cp.async, which
  // the arithmetic cannot overtake: every copy of the group is issued,
  // then one wait, then the steps read their values from shared memory
  // (each thread its own: no barrier). Other types are loaded into
  // registers first (attnc_load_early), as close as ptxas allows. At most
  // 64 values a thread per group (all 32 steps of the minGRU's two
  // inputs, 64 KiB of shared memory at 256 threads); in the last chunk,
  // copies for steps past the end write zeros without reading, and
  // register loads read its last step again (neither value is used).
  Value a = scan.getCoefficients(), b = scan.getOffsets();
  Index full = withTime(stepIndex, "t");
  Index aIndex = broadcastIndex(full, states, shapeOf(a));
  Index bIndex = broadcastIndex(full, states, shapeOf(b));
  // The loads of one step, in the order the scalar emitter asks for them:
  // the early register load, and the input and offset for a copy.
  struct Load {
    std::string early, address;
    bool f32;
  };
  std::vector<Load> loads;
  {
    std::string discarded;
    CodeWriter scratch(discarded);
    ScalarEmitter recorder(scratch, [&](Value v, const Index &i) {
      std::optional<std::string> load = k.loadInput(v, i, /*early=*/true);
      if (load)
        loads.push_back({*load,
                         "in" + std::to_string(*k.inputNumber(v)) + " + (" +
                             linearize(i, shapeOf(v)) + ")",
                         elementOf(v).isF32()});
      return load;
    });
    if (failed(recorder.emit(a, aIndex)) || failed(recorder.emit(b, bIndex)))
      return failure();
    // A load's index may name only what exists before the step's code:
    // a scan's prologue holds elementwise ops and generators
    // (FormKernels.cpp), whose operands share the step's index; data
    // movement would index through variables of its own (the writer's
    // attnc_index temporaries), and its loads stay where they are used.
    if (discarded.find("attnc_index") != std::string::npos)
      loads.clear();
  }
  const bool early = !loads.empty();
  const int64_t perStep = std::max<size_t>(loads.size(), 1);
  int64_t group =
      std::max<int64_t>(1, std::min<int64_t>(chunkLength, 64 / perStep));
  // The copies also fit 64 KiB of shared memory a block (at most 1024
  // threads: 16 values a thread).
  constexpr int64_t kStageBytes = 64 * 1024;
  const bool copied = early &&
                      llvm::all_of(loads, [](const Load &l) { return l.f32; });
  if (copied) {
    group = std::max<int64_t>(
        1, std::min(group, kStageBytes / (perStep * k.threads * 4)));
    k.dynamicShared = int64_t(loads.size()) * group * k.threads * 4;
    w.line("ATTNC_DYNAMIC_SHARED(attnc_b128, stagedRaw);");
    w.line("float *staged = reinterpret_cast<float *>(stagedRaw);");
  }
  // Where value n of step i of the group lies: this thread's column of
  // [load][step][thread], so a warp's reads are consecutive words.
  auto stagedAt = [&](size_t n, int64_t first) {
    return "staged[(" + num(n * group) + " + i - " + num(first) + ") * " +
           num(k.threads) + " + threadIdx.x]";
  };
  const std::string clamped = "const attnc_index w = lo + i < hi ? lo + i : hi - 1;";
  // When the whole chunk stays in shared memory (one group of copies), the
  // coefficients are computed twice from it, for the map and for the
  // replay, instead of held in 2 x chunk registers a thread: the same
  // code on the same values, so the same results. Held, the minGRU's scan
  // took 127 registers, or 254 where the model's kernels are split into
  // relocatable programs (-j), one block an SM; recomputed, far fewer.
  const bool recompute = copied && group >= chunkLength;
  // Then the staging bounds the blocks an SM holds (three for the
  // minGRU's 64 KiB), and the launch bound says so: ptxas compiling a
  // relocatable program otherwise spends registers freely (254 for the
  // minGRU's scan where a whole program takes 32), to the point of
  // allowing one block an SM. Given a bound, ptxas schedules up to it and
  // may spill a few bytes at its edge, so the bound leaves a thread at
  // least 64 registers (the minGRU's scan takes 76 of 80), and 128 where a
  // partial last chunk gives every copy a predicate (scan_chunks.ir and
  // the tiny minGRU spilled at 80 and 96). Not when the coefficients are
  // held: their registers are the kernel's need.
  if (recompute) {
    const analysis::KernelDefaults &sm = k.target.kernels;
    const int64_t floorRegisters = length % chunkLength == 0 ? 64 : 128;
    // The system reserves 1 KiB of shared memory a block (sm_80 on); the
    // ticket slot is the kernel's static shared memory.
    int64_t blocks = std::max<int64_t>(
        1, std::min({sm.smemPerSMBytes / (k.dynamicShared + 1024 + 16),
                     sm.maxThreadsPerSM / k.threads, sm.maxBlocksPerSM}));
    // What ptxas may give a thread at that many blocks: an SM's registers
    // are four quarters, one per scheduler, each holding a quarter of the
    // warps, in units of 8 registers a thread.
    auto registersAt = [&](int64_t b) {
      int64_t warpsPerQuarter = (b * ((k.threads + 31) / 32) + 3) / 4;
      return sm.registersPerSM / 4 / warpsPerQuarter / 32 / 8 * 8;
    };
    while (blocks > 1 && registersAt(blocks) < floorRegisters)
      --blocks;
    k.minBlocksPerSM = blocks;
  }
  // Emits step i's a and b (of the group from `first`) from the copied or
  // loaded values; returns their names.
  auto coefficients =
      [&](int64_t first) -> FailureOr<std::pair<std::string, std::string>> {
    size_t next = 0;
    ScalarEmitter scalar(w, [&](Value v, const Index &i)
                                -> std::optional<std::string> {
      std::optional<std::string> load = k.loadInput(v, i);
      if (!load || !early)
        return load;
      size_t n = next++ % loads.size();
      return copied ? stagedAt(n, first)
                    : "loaded[" + num(n) + "][i - " + num(first) + "]";
    });
    FailureOr<std::string> av = scalar.emit(a, aIndex);
    if (failed(av))
      return failure();
    FailureOr<std::string> bv = scalar.emit(b, bIndex);
    if (failed(bv))
      return failure();
    if (next != loads.size())
      return scan.emitOpError("CUDA emission: the scan's loads changed "
                              "between their two walks (internal error)");
    return std::make_pair(*av, *bv);
  };
  if (!recompute)
    w.line("float as[" + num(chunkLength) + "], bs[" + num(chunkLength) +
           "];");
  w.line("float A = 1.0f, B = 0.0f;");
  for (int64_t first = 0; first < chunkLength; first += group) {
    const int64_t last = std::min(chunkLength, first + group);
    const std::string range = "for (int i = " + num(first) + "; i < " +
                              num(last) + "; ++i)";
    w.open("");
    if (early) {
      if (!copied)
        w.line("float loaded[" + num(loads.size()) + "][" + num(group) + "];");
      w.line("#pragma unroll");
      w.open(range);
      // Copies past the end write zeros and read nothing, rather than
      // read the last step again as the loads do: with a clamped step
      // every copy's address was its own select, and ptxas, compiling a
      // relocatable program (-j), computed all 64 of them (and their
      // shared-memory addresses) before the first copy, 254 registers.
      w.line(copied ? "const attnc_index w = lo + i;" : clamped);
      w.line("const attnc_index t = " + walk + ";");
      const std::string inRange =
          length % chunkLength == 0 ? "true" : "lo + i < hi";
      for (auto [n, load] : llvm::enumerate(loads))
        w.line(copied ? "attnc_cp_async_4(&" + stagedAt(n, first) + ", " +
                            load.address + ", " + inRange + ");"
                      : "loaded[" + num(n) + "][i - " + num(first) +
                            "] = " + load.early + ";");
      w.close();
      if (copied) {
        w.line("attnc_cp_async_commit();");
        w.line("attnc_cp_async_wait<0>(); // this thread's own copies");
      }
    }
    w.line("#pragma unroll");
    w.open(range);
    w.line(clamped);
    w.line("const attnc_index t = " + walk + ";");
    FailureOr<std::pair<std::string, std::string>> ab = coefficients(first);
    if (failed(ab))
      return failure();
    if (recompute) {
      w.line("if (lo + i < hi) { A = " + ab->first + " * A; B = " +
             ab->first + " * B + " + ab->second + "; }");
    } else {
      w.line("as[i] = " + ab->first + ";");
      w.line("bs[i] = " + ab->second + ";");
    }
    w.close();
    w.close();
  }
  if (!recompute) {
    w.line("#pragma unroll");
    w.line("for (int i = 0; i < " + num(chunkLength) +
           "; ++i) if (lo + i < hi) { A = as[i] * A; B = as[i] * B + bs[i]; }");
  }

  // 2. Publish the map, then look back for the incoming state.
  w.line("float h;");
  {
    ScalarEmitter scalar(w, leaf);
    FailureOr<std::string> init = scalar.emit(scan.getInit(), stepIndex);
    if (failed(init))
      return failure();
    w.line("const float initial = " + *init + ";");
  }
  w.open("if (chunk == 0)");
  w.line("h = initial;");
  w.close();
  w.open("else");
  w.line(mapA + "[slot] = A;");
  w.line(mapB + "[slot] = B;");
  w.line("attnc_publish_flag(&" + status + "[slot], 1u);");
  // Composite of the maps walked so far (the latest first). The walk looks
  // at eight earlier chunks a round: their flags peeked at once, then one
  // fence, then their maps read at once, two round trips to L2 for eight
  // chunks where one at a time took two each. A walk ends at the newest
  // chunk that has published its final state; every chunk still in flight
  // has not, so a walk is about as long as the chunks in flight in its
  // channel group (some 200 for the minGRU: three blocks an SM, two
  // groups), and the scan is bound by the walks' round trips, not by
  // bytes, unless a round covers many chunks: eight keep the minGRU's
  // scan at 76 of the 80 registers its three blocks an SM leave (sixteen
  // took 80 there and spilled in smaller blocks). A chunk not yet
  // published is waited for, then read again (what was read before its
  // flag could be older than what it publishes).
  constexpr int lookahead = 8;
  w.line("float walkedA = 1.0f, walkedB = 0.0f;");
  w.line("bool found = false;");
  w.open("for (attnc_index c = chunk - 1; !found; c -= " + num(lookahead) +
         ")");
  w.line("unsigned int seen[" + num(lookahead) + "];");
  w.line("float seenA[" + num(lookahead) + "], seenB[" + num(lookahead) +
         "];");
  w.line("#pragma unroll");
  w.line("for (int j = 0; j < " + num(lookahead) + "; ++j) seen[j] = c - j >= "
         "0 ? attnc_peek_flag(&" + status + "[(c - j) * " + num(channels) +
         " + channel]) : 0u;");
  w.line("attnc_flag_fence();");
  w.line("#pragma unroll");
  w.open("for (int j = 0; j < " + num(lookahead) + "; ++j)");
  w.line("const attnc_index earlier = (c - j >= 0 ? c - j : 0) * " +
         num(channels) + " + channel;");
  w.line("seenA[j] = " + mapA + "[earlier];");
  w.line("seenB[j] = " + mapB + "[earlier];");
  w.close();
  w.line("#pragma unroll");
  w.open("for (int j = 0; j < " + num(lookahead) + " && !found; ++j)");
  w.open("if (c - j < 0)");
  w.line("h = walkedA * initial + walkedB;");
  w.line("found = true;");
  w.line("break;");
  w.close();
  w.line("const attnc_index earlier = (c - j) * " + num(channels) +
         " + channel;");
  w.open("if (seen[j] == 0u)");
  w.line("seen[j] = attnc_wait_flag(&" + status + "[earlier]);");
  w.line("seenA[j] = " + mapA + "[earlier];");
  w.line("seenB[j] = " + mapB + "[earlier];");
  w.close();
  w.open("if (seen[j] == 2u)");
  w.line("h = walkedA * " + finals + "[earlier] + walkedB;");
  w.line("found = true;");
  w.line("break;");
  w.close();
  w.line("walkedB = walkedA * seenB[j] + walkedB;");
  w.line("walkedA = walkedA * seenA[j];");
  w.close();
  w.close();
  w.close();

  // 3. Replay from the registers (or shared memory); publish the final
  // state.
  w.line("#pragma unroll");
  w.open("for (int i = 0; i < " + num(chunkLength) + "; ++i)");
  w.line("const attnc_index w = lo + i;");
  w.line("if (w >= hi) break;");
  w.line("const attnc_index t = " + walk + ";");
  std::string as = "as[i]", bs = "bs[i]";
  if (recompute) {
    FailureOr<std::pair<std::string, std::string>> ab = coefficients(0);
    if (failed(ab))
      return failure();
    std::tie(as, bs) = *ab;
  }
  w.line("h = " + roundTo(statesValue, roundTo(statesValue, as + " * h") +
                                           " + " + bs) +
         ";");
  for (auto [r, isStates] : stores)
    if (isStates)
      w.line(storeResult(k, r, withTime(stepIndex, "t"), "h"));
  w.close();
  w.line(finals + "[slot] = h;");
  w.line("attnc_publish_flag(&" + status + "[slot], 2u);");
  for (auto [r, isStates] : stores)
    if (!isStates) {
      w.open("if (hi == " + num(length) + ")");
      w.line(storeResult(k, r, stepIndex, "h"));
      w.close();
    }
  return success();
}
