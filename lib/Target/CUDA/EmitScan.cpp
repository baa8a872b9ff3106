//===- EmitScan.cpp - kernel.scan: a single-pass parallel linear scan -----===//
//
// h_t = a_t * h_{t-1} + b_t for every channel (state element), in one pass
// over a and b (decoupled look-back, after Merrill and Garland's
// single-pass prefix scan). Threads own channels, consecutive threads
// consecutive channels, so every load and store of a step is coalesced.
// Each block takes the next tile (channel group, chunk of scan_chunk steps)
// from a ticket counter, so tiles start in order and a block only ever
// waits for tiles that started before it. Per tile:
//
//  1. each thread copies its chunk's inputs into shared memory (f32, by
//     cp.async; other types into registers), all before the elementwise
//     producers use any, computes the coefficients and offsets and
//     composes them into one affine map (A, B), with
//     (a1, b1) o (a2, b2) = (a1 a2, a2 b1 + b2);
//  2. it publishes that map for its channel, then looks back: walking the
//     earlier chunks, it composes their published maps until it finds one
//     that has published its final state (the first chunk's comes from
//     the initial state), which gives its incoming state, and publishes
//     its own final state (A h + B) for the chunks after it;
//  3. it replays the chunk from the coefficients and offsets the map's
//     pass left in shared memory (or in registers), storing every state.
//
// Maps and final states travel as 64-bit words of value and tag (device.h,
// "Tagged words between blocks"), so a look-back round is one L2 round
// trip and no fence. The tag is the run's number: the runtime zeroes the
// ticket counter when the session is created (and after a failed run),
// never between runs, so a launch's tickets follow the last launch's and
// ticket / tiles counts the runs; words an earlier run left carry an
// older tag, and nothing needs zeroing per run.
//
// Traffic is a and b read once and h written once, plus 24 bytes of tagged
// map and state per channel and chunk. Each stored state is rounded as
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

/// The registers a thread must have for a look-back round of sixteen
/// chunks (96 of them loads in flight).
static constexpr int64_t kWideLookaheadRegisters = 160;

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

  Index stepIndex = delinearize("channel", step);
  auto withTime = [&](const Index &index, const std::string &t) {
    Index full(index);
    full.insert(full.begin() + dim, t);
    return full;
  };
  std::string walk = scan.getReverse() ? num(length - 1) + " - w" : "w";
  auto leaf = [&](Value v, const Index &i) { return k.loadInput(v, i); };

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
  const bool copied = early &&
                      llvm::all_of(loads, [](const Load &l) { return l.f32; });

  // Launch shape: a block per (channel group, chunk), the chunk length
  // the schedule's time tile (scan_chunk in targets.json), at most 64
  // steps where the whole chunk's inputs are copied into 64 KiB of shared
  // memory (f32; a step stages its copies, and at least two values: the
  // places its coefficient and offset take once computed, below), at most
  // 32 where a chunk's coefficients and offsets are held in registers (two
  // a step: 64 steps took 207 registers, scan_chunks_bf16.ir, and 254 for
  // an f32 scan of three inputs a step).
  k.threads = std::min<int64_t>(k.scheduledThreads(), 1024);
  constexpr int64_t kStageBytes = 64 * 1024;
  const int64_t stagedPerStep = std::max<int64_t>(perStep, 2);
  const int64_t stageableSteps =
      copied ? kStageBytes / (stagedPerStep * k.threads * 4) : 0;
  int64_t chunkLength = length;
  for (Attribute attr : k.kernel->getAttrOfType<ArrayAttr>("loops"))
    if (cast<kernel::LoopAttr>(attr).getName() == "t")
      chunkLength = cast<kernel::LoopAttr>(attr).getTile();
  chunkLength = std::max<int64_t>(
      1, std::min<int64_t>(
             {chunkLength, length,
              stageableSteps >= 32 ? std::min<int64_t>(stageableSteps, 64)
                                   : 32}));
  int64_t groups = (channels + k.threads - 1) / k.threads;
  int64_t chunks = (length + chunkLength - 1) / chunkLength;
  const int64_t tiles = groups * chunks;
  k.blocks = tiles;
  // 64-bit words in 4-byte temporaries: the ticket counter (never reset
  // by a run), then per chunk and channel the map (A, B) and the final
  // state, each tagged.
  std::string ticket = k.addTemp("unsigned int", 2);
  std::string mapWords = k.addTemp("unsigned int", 4 * chunks * channels);
  std::string finalWords = k.addTemp("unsigned int", 2 * chunks * channels);

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
  w.line("ATTNC_SHARED(unsigned long long, tileSlot, 1);");
  w.line("if (threadIdx.x == 0) *tileSlot = atomicAdd(reinterpret_cast<"
         "unsigned long long *>(" + ticket + "), 1ull);");
  w.line("__syncthreads();");
  w.line("const unsigned long long ticket = *tileSlot;");
  w.line("const attnc_index tile = ticket % " + num(tiles) + "ull;");
  // Never 0, the tag of the words a session starts with.
  w.line("const unsigned tag = unsigned(ticket / " + num(tiles) +
         "ull % 4294967295ull) + 1u;");
  w.line("unsigned long long *maps = reinterpret_cast<unsigned long long *>(" +
         mapWords + ");");
  w.line("unsigned long long *finals = "
         "reinterpret_cast<unsigned long long *>(" + finalWords + ");");
  w.line("const attnc_index channel = (tile % " + num(groups) +
         ") * blockDim.x + threadIdx.x;");
  w.line("const attnc_index chunk = tile / " + num(groups) + ";");
  w.line("const attnc_index lo = chunk * " + num(chunkLength) + ";");
  w.line("const attnc_index hi = lo + " + num(chunkLength) + " < " +
         num(length) + " ? lo + " + num(chunkLength) + " : " + num(length) +
         ";");
  w.line("if (channel >= " + num(channels) + ") return;");
  w.line("const attnc_index slot = chunk * " + num(channels) + " + channel;");

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
  // registers first (attnc_load_early), as close as ptxas allows. A group
  // of loads is at most 64 values a thread in registers, and copies at
  // most 64 KiB of shared memory a block (16 values a thread at 1024
  // threads; 128 at 128, the sm_90 minGRU scan's 64 steps of two inputs);
  // in the last chunk, copies for steps past the end write zeros without
  // reading, and register loads read its last step again (neither value
  // is used).
  int64_t group =
      std::max<int64_t>(1, std::min<int64_t>(chunkLength, 64 / perStep));
  if (copied) {
    group = std::max<int64_t>(1, std::min(chunkLength, stageableSteps));
    k.dynamicShared = stagedPerStep * group * k.threads * 4;
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
  // When the whole chunk stays in shared memory (one group of copies),
  // each step's coefficient and offset, once computed for the map, take
  // the places of that step's first two staged values (only that step
  // reads them, and only this thread), and the replay reads them there:
  // neither held in 2 x chunk registers a thread (the minGRU's scan took
  // 127 registers, 254 in relocatable programs, one block an SM) nor
  // computed twice (session 10 did: about 55 instructions a step and
  // channel where the replay now takes a handful, which matters when a
  // block of four warps computes while the SM's other blocks wait on
  // their copies).
  const bool restaged = copied && group >= chunkLength;
  // Then the staging bounds the blocks an SM holds (three for the
  // minGRU's 64 KiB), and the launch bound says so: ptxas compiling a
  // relocatable program otherwise spends registers freely (254 for the
  // minGRU's scan where a whole program takes 32), to the point of
  // allowing one block an SM. Given a bound, ptxas schedules up to it and
  // may spill a few bytes at its edge, so the bound leaves a thread at
  // least 64 registers (sm_80's minGRU scan takes 78 of 80; sm_90's, at
  // 128 threads a block, is left 168), and 128 where a partial last chunk
  // gives every copy a predicate (scan_chunks.ir and the tiny minGRU
  // spilled at 80 and 96). Not when the coefficients are held: their
  // registers are the kernel's need.
  //
  // Chunks a look-back round looks at: each costs six registers of loads
  // in flight (its tagged final state and map), so sixteen where the
  // launch bound leaves a thread kWideLookaheadRegisters and no copy has
  // a predicate, eight otherwise, unless attnc --scan-lookahead says
  // (the benchmark times eight against sixteen: each round also reads
  // its chunks' 24 bytes a channel from L2, 48 KiB a block at sixteen).
  int64_t lookahead = 8;
  if (restaged) {
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
    if (length % chunkLength == 0 &&
        registersAt(blocks) >= kWideLookaheadRegisters)
      lookahead = 16;
  }
  if (k.scanLookahead > 0)
    lookahead = k.scanLookahead;
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
  // The steps' arithmetic, unrolled whole where it fills registers (as,
  // bs and loaded are indexed by the step), sixteen steps an iteration
  // where it reads and writes shared memory: 64 steps unrolled twice
  // took ptxas 0.2 s more of the minGRU's compile time (0.6 s for the
  // scan's program) for nothing a GPU would see, sixteen being ILP enough
  // between one step's sigmoid and the next.
  // Only a partial last chunk has steps past the end to leave out of the
  // map.
  const std::string stepGuard =
      length % chunkLength == 0 ? "" : "if (lo + i < hi) ";
  const std::string stepUnroll =
      restaged && chunkLength > 16 ? "#pragma unroll 16" : "#pragma unroll";
  if (!restaged)
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
      // Where the last chunk is partial, every copy has a predicate, and
      // ptxas, given 64 steps of them unrolled, computed them all first
      // and spilled (168 registers, scan_chunks.ir); sixteen steps at a
      // time keep the copies in flight together at 80.
      const bool partial = copied && length % chunkLength != 0;
      w.line(partial && group > 16 ? "#pragma unroll 16" : "#pragma unroll");
      w.open(range);
      // Copies past the end write zeros and read nothing, rather than
      // read the last step again as the loads do: with a clamped step
      // every copy's address was its own select, and ptxas, compiling a
      // relocatable program (-j), computed all 64 of them (and their
      // shared-memory addresses) before the first copy, 254 registers.
      w.line(copied ? "const attnc_index w = lo + i;" : clamped);
      w.line("const attnc_index t = " + walk + ";");
      const std::string inRange = partial ? "lo + i < hi" : "true";
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
    w.line(stepUnroll);
    w.open(range);
    w.line(clamped);
    w.line("const attnc_index t = " + walk + ";");
    w.line("(void)t; // staged leaves do not read it");
    FailureOr<std::pair<std::string, std::string>> ab = coefficients(first);
    if (failed(ab))
      return failure();
    if (restaged) {
      w.line(stagedAt(0, first) + " = " + ab->first + ";");
      w.line(stagedAt(1, first) + " = " + ab->second + ";");
      w.line(stepGuard + "{ A = " + ab->first + " * A; B = " +
             ab->first + " * B + " + ab->second + "; }");
    } else {
      w.line("as[i] = " + ab->first + ";");
      w.line("bs[i] = " + ab->second + ";");
    }
    w.close();
    w.close();
  }
  if (!restaged) {
    w.line("#pragma unroll");
    w.line("for (int i = 0; i < " + num(chunkLength) +
           "; ++i) " + stepGuard +
           "{ A = as[i] * A; B = as[i] * B + bs[i]; }");
  }

  // 2. Publish the map, look back for the incoming state, publish the
  // final state.
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
  w.line("attnc_store_tagged_pair(maps + 2 * slot, A, B, tag);");
  // Composite of the maps walked so far (the latest first). A walk looks
  // at `lookahead` earlier chunks a round, their final states and maps
  // loaded at once: one round trip to L2 for all of them. The walks bound
  // the scan unless they are short: a tile's final state comes one walk
  // after its map, and a walk of d chunks takes d / lookahead rounds, so
  // the chunks whose final states are not yet out (d) stay few only while
  // tiles start more slowly than lookahead a round trip in each channel
  // group; otherwise d grows to every chunk in flight (docs/performance.md).
  // A chunk whose words did not carry this run's tag is waited for.
  w.line("float walkedA = 1.0f, walkedB = 0.0f;");
  w.line("bool found = false;");
  w.open("for (attnc_index c = chunk - 1; !found; c -= " + num(lookahead) +
         ")");
  w.line("unsigned long long seenFinal[" + num(lookahead) + "], seenMap[" +
         num(lookahead) + "][2];");
  w.line("#pragma unroll");
  w.open("for (int j = 0; j < " + num(lookahead) + "; ++j)");
  w.line("seenFinal[j] = seenMap[j][0] = seenMap[j][1] = 0ull;");
  w.open("if (c - j >= 0)");
  w.line("const attnc_index earlier = (c - j) * " + num(channels) +
         " + channel;");
  w.line("seenFinal[j] = attnc_load_tagged(finals + earlier);");
  w.line("attnc_load_tagged_pair(seenMap[j], maps + 2 * earlier);");
  w.close();
  w.close();
  // A walk ends at the first chunk at the latest: it publishes its final
  // state and never a map, so it is waited for, and no walk goes past it.
  w.line("#pragma unroll");
  w.open("for (int j = 0; j < " + num(lookahead) + " && !found; ++j)");
  w.line("const attnc_index earlier = (c - j) * " + num(channels) +
         " + channel;");
  w.open("if (attnc_wait_chunk(&seenFinal[j], seenMap[j], finals + earlier, "
         "maps + 2 * earlier, tag))");
  w.line("h = walkedA * attnc_tagged_value(seenFinal[j]) + walkedB;");
  w.line("found = true;");
  w.line("break;");
  w.close();
  w.line("walkedB = walkedA * attnc_tagged_value(seenMap[j][1]) + walkedB;");
  w.line("walkedA = walkedA * attnc_tagged_value(seenMap[j][0]);");
  w.close();
  w.close();
  w.close();
  // The final state goes out before the replay, which takes as long as
  // the rest of the tile's arithmetic: the chunks after this one wait on
  // it. It is the composed map applied once, so it differs from the
  // replay's last state (rounded step by step) by reassociation, as the
  // maps the walks compose do; rounded to the states' type, as every
  // state the replay stores is.
  w.line("attnc_store_tagged(finals, slot, " +
         roundTo(statesValue, "A * h + B") + ", tag);");

  // 3. Replay from the registers or shared memory.
  w.line(stepUnroll);
  w.open("for (int i = 0; i < " + num(chunkLength) + "; ++i)");
  w.line("const attnc_index w = lo + i;");
  w.line("if (w >= hi) break;");
  w.line("const attnc_index t = " + walk + ";");
  std::string as = "as[i]", bs = "bs[i]";
  if (restaged) {
    as = stagedAt(0, 0);
    bs = stagedAt(1, 0);
  }
  w.line("h = " + roundTo(statesValue, roundTo(statesValue, as + " * h") +
                                           " + " + bs) +
         ";");
  for (auto [r, isStates] : stores)
    if (isStates)
      w.line(storeResult(k, r, withTime(stepIndex, "t"), "h"));
  w.close();
  for (auto [r, isStates] : stores)
    if (!isStates) {
      w.open("if (hi == " + num(length) + ")");
      w.line(storeResult(k, r, stepIndex, "h"));
      w.close();
    }
  return success();
}
