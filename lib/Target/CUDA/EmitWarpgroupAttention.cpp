//===- EmitWarpgroupAttention.cpp - attention on sm_90a: wgmma, warp-specialised ===//
//
// kernel.attention for sm_90a with f16 or bf16 Q, K, V and head dims of 64
// or 128, in the producer/consumer structure of FlashAttention-3. A block
// of 384 threads owns 128 queries:
//
//  - Warpgroup 0 is the producer: one thread copies the Q tile once, then
//    streams key tiles (64 keys, 128 at head dim 128) of K and V through
//    a three-stage ring, all with
//    TMA into 128-byte swizzled tiles. Each operand's tensor map views it
//    as slices of [sequence, head dim] (one per batch and head, grouped
//    heads sharing theirs), so a partial tile reads zeros, never the next
//    head. Each stage's mbarrier is primed with its byte count; the thread
//    waits for the consumers to release a stage before refilling it. Key
//    tiles wholly after a causal block's last query are never loaded.
//  - Warpgroups 1 and 2 each own 64 queries. Per key tile: S = Q K^T with
//    wgmma (Q and K by descriptor, K K-major), then scale, masks and score
//    modification per element of the accumulator fragment, the online
//    softmax (row maxima and sums over the four lanes sharing a row), and
//    O += P V with wgmma taking P straight from registers (the m64nNk16
//    accumulator layout of S is the register-A layout of P) and V by
//    descriptor (MN-major). The loop is pipelined within the warpgroup
//    (FlashAttention-3's intra-warpgroup overlap, below): a tile's
//    softmax runs while the tensor cores compute the previous tile's P V.
//
// The two consumer warpgroups take turns issuing their MMAs
// (FlashAttention-3's ping-pong, below). Leaving a tile's P V in flight
// across the loop's back edge was tried first: ptxas then serialises
// every wgmma of the kernel ("non wgmma instructions reading accumulator
// registers"); the loop below completes both of its wgmma groups inside
// each iteration instead.
// Emulated in CI (attnc/warpgroup.h); EmitFlashAttention.cpp keeps the
// mma.sync kernel.
//
//===----------------------------------------------------------------------===//

#include "KernelPatterns.h"

#include "attn/Dialect/Graph/IR/GraphOps.h"
#include "attn/Dialect/Kernel/IR/KernelOps.h"

using namespace mlir;
using namespace attn;
using namespace attn::cuda;


LogicalResult attn::cuda::emitWarpgroupAttention(KernelEmission &k,
                                                 graph::AttentionOp op) {
  ArrayRef<int64_t> out = shapeOf(op.getResult());
  size_t batchRank = out.size() - 2;
  const int64_t queries = out[batchRank], width = out[batchRank + 1];
  const int64_t keys = shapeOf(op.getKey())[shapeOf(op.getKey()).size() - 2];
  const int64_t depth = shapeOf(op.getQuery()).back();
  const bool bf16 = cast<RankedTensorType>(op.getQuery().getType())
                        .getElementType()
                        .isBF16();
  const std::string type = bf16 ? "bf16" : "f16";
  const std::string pack = "attnc_pack_" + type;
  // Three stages: the pipelined loop below reads a tile's K one iteration
  // before its V, so with two the producer could not run ahead at all.
  const int64_t blockQ = 128, stages = 3;
  const int64_t blockKV = kernel::warpgroupAttentionKeyTile(depth);
  // 128-key tiles hold S (64 floats per thread), P (32 registers) and O
  // (up to 64 floats) at once: more than the 168 registers a thread of a
  // 384-thread block gets. The producer gives most of its registers back
  // (setmaxnreg.dec) and the consumers take them (setmaxnreg.inc). The
  // block's pool is what the launch allocated, 168 per thread (ptxas gives
  // a kernel that uses setmaxnreg its launch bound's limit), so the two
  // limits must fit it, or the consumers' inc would wait forever.
  const bool moveRegisters = blockKV == 128;
  const int64_t producerRegisters = 24, consumerRegisters = 240;
  const int64_t boundRegisters = (65536 / 384) / 8 * 8; // 168
  static_assert(producerRegisters * 128 + consumerRegisters * 256 <=
                    boundRegisters * 384,
                "setmaxnreg limits exceed the block's register pool");
  const int64_t queryTiles = (queries + blockQ - 1) / blockQ;
  // Swizzled column blocks of 64 elements: Q is blockQ rows of each, K
  // and V blockKV rows.
  const int64_t bytesQ = blockQ * 2 * depth;
  const int64_t bytesK = blockKV * 2 * depth, bytesV = blockKV * 2 * width;
  const int64_t stageBytes = bytesK + bytesV;
  const int64_t sTiles = blockKV / 8, oTiles = width / 8;

  k.threads = 384;
  if (moveRegisters)
    k.minRegisters = boundRegisters;
  k.blocks = queryTiles;
  for (size_t d = 0; d < batchRank; ++d)
    k.blocks *= out[d];
  k.dynamicShared = kernel::warpgroupAttentionSharedBytes(depth, width);

  CodeWriter &w = k.out;
  w.line("ATTNC_DYNAMIC_SHARED(attnc_b128, smemTiles);");
  w.line("unsigned char *tileQ = attnc_align_shared_1024(smemTiles);");
  w.line("unsigned char *ring = tileQ + " + num(bytesQ) + ";");
  w.line("unsigned long long *full = reinterpret_cast<unsigned long long *>("
         "ring + " + num(stages * stageBytes) + ");");
  w.line("unsigned long long *empty = full + " + num(stages) +
         ", *qFull = empty + " + num(stages) + ";");
  // Eight bytes after the barriers that the consumers store to and nobody
  // reads (attnc_wgmma_hold_wait, below).
  w.line("float *waitSink = reinterpret_cast<float *>(qFull + 1);");
  Index batch = emitAttentionBlock(k, op, out, queryTiles);
  w.line("const int warpgroup = threadIdx.x >> 7, wgThread = threadIdx.x & 127;");
  w.line("const attnc_index q0 = tileI * " + num(blockQ) + ";");
  w.line("const attnc_index kvEnd = " + attentionKeyEnd(op, keys, blockQ) +
         ";");
  w.open("if (threadIdx.x == 0)");
  w.line("for (int stage = 0; stage < " + num(stages) +
         "; ++stage) { attnc_mbarrier_init(&full[stage], 1); "
         "attnc_mbarrier_init(&empty[stage], 256); }");
  w.line("attnc_mbarrier_init(qFull, 1);");
  w.line("attnc_fence_barrier_init();");
  w.close();
  w.line("__syncthreads();");

  // Each operand as slices of [rows, head dim]: its tensor map, and the
  // slice this block reads (batch broadcasting: grouped-query K and V).
  struct Operand {
    std::string map, slice;
  };
  auto operand = [&](Value value, int64_t boxRows) {
    ArrayRef<int64_t> shape = shapeOf(value);
    llvm::SmallVector<int64_t> outerShape(shape.begin(), shape.end() - 2);
    int64_t outer = 1;
    for (int64_t d : outerShape)
      outer *= d;
    Index index = matrixBatchIndex(batch, out, shape);
    Operand result;
    result.map = k.addTensorMap(*k.inputNumber(value), outer,
                                shape[shape.size() - 2], shape.back(), boxRows,
                                64);
    result.slice = outerShape.empty() ? "0" : linearize(index, outerShape);
    return result;
  };
  Operand q = operand(op.getQuery(), blockQ);
  Operand kOp = operand(op.getKey(), blockKV);
  Operand v = operand(op.getValue(), blockKV);
  // One TMA per 64-column block of the tile.
  auto load = [&](const std::string &tile, const Operand &from, int64_t rows,
                  int64_t cols, const std::string &row,
                  const std::string &bar) {
    w.line("for (int block = 0; block < " + num(cols / 64) +
           "; ++block) attnc_tma_load(" + tile + " + block * " +
           num(rows * 128) + ", &" + from.map + ", block * 64, int(" + row +
           "), int(" + from.slice + "), " + bar + ");");
  };

  // Producer.
  w.open("if (warpgroup == 0)");
  if (moveRegisters)
    w.line("attnc_setmaxnreg_dec<" + num(producerRegisters) + ">();");
  w.open("if (wgThread == 0)");
  w.line("attnc_mbarrier_arrive_expect_tx(qFull, " + num(bytesQ) + ");");
  load("tileQ", q, blockQ, depth, "q0", "qFull");
  w.open("for (attnc_index kv0 = 0, it = 0; kv0 < kvEnd; kv0 += " +
         num(blockKV) + ", ++it)");
  w.line("const int stage = it % " + num(stages) + ";");
  w.line("attnc_mbarrier_wait(&empty[stage], ((it / " + num(stages) +
         ") & 1) ^ 1);");
  w.line("unsigned char *stageK = ring + stage * " + num(stageBytes) +
         ", *stageV = stageK + " + num(bytesK) + ";");
  w.line("attnc_mbarrier_arrive_expect_tx(&full[stage], " + num(stageBytes) +
         ");");
  load("stageK", kOp, blockKV, depth, "kv0", "&full[stage]");
  load("stageV", v, blockKV, width, "kv0", "&full[stage]");
  w.close();
  w.close();
  w.close();

  // Consumers.
  w.open("else");
  if (moveRegisters)
    w.line("attnc_setmaxnreg_inc<" + num(consumerRegisters) + ">();");
  w.line("const int consumer = warpgroup - 1, warp = (threadIdx.x >> 5) & 3;");
  w.line("const int lane = threadIdx.x & 31, group = lane >> 2, inGroup = lane & 3;");
  w.line("const attnc_index rowBase = q0 + consumer * 64 + warp * 16 + group;");
  w.line("float rowMax[2] = {__int_as_float(0xff800000), "
         "__int_as_float(0xff800000)};");
  w.line("float rowSum[2] = {0.0f, 0.0f};");
  w.line("float o[" + num(oTiles) + "][4];");
  w.line("#pragma unroll");
  w.line("for (int t = 0; t < " + num(oTiles) +
         "; ++t) o[t][0] = o[t][1] = o[t][2] = o[t][3] = 0.0f;");
  // After each wait: the lanes leave its spin loop on different trips,
  // and the .aligned wgmma instructions need the whole warp converged.
  w.line("attnc_mbarrier_wait(qFull, 0);");
  w.line("__syncwarp();");
  // Descriptors are built once per tile and moved on per K step
  // (attnc_wgmma_descriptor_add: one add, where building one is about
  // seven instructions).
  w.line("const unsigned long long descQ = attnc_wgmma_descriptor("
         "attnc_shared_address(tileQ) + consumer * 8192, 16, 1024);");
  w.line("float s[" + num(sTiles) + "][4], rescale[2];");
  w.line("unsigned fragP[" + num(blockKV / 16) + "][4];");

  // The steps of the key-tile loop, each for the tile numbered `tile`
  // (held in ring stage tile % stages).
  auto stageAddress = [&](const std::string &tile) {
    return "attnc_shared_address(ring + ((" + tile + ") % " + num(stages) +
           ") * " + num(stageBytes) + ")";
  };
  auto waitFull = [&](const std::string &tile) {
    w.line("attnc_mbarrier_wait(&full[(" + tile + ") % " + num(stages) +
           "], ((" + tile + ") / " + num(stages) + ") & 1);");
    w.line("__syncwarp();");
  };
  // Issues S = Q K^T: K step kk reads Q's and K's column block kk / 4 at
  // byte 32 (kk % 4) of each swizzled row.
  auto issueScores = [&](const std::string &tile) {
    w.open("");
    w.line("const unsigned long long descK = attnc_wgmma_descriptor(" +
           stageAddress(tile) + ", 16, 1024);");
    w.line("#pragma unroll");
    w.line("for (int t = 0; t < " + num(sTiles) +
           "; ++t) s[t][0] = s[t][1] = s[t][2] = s[t][3] = 0.0f;");
    // The register writes before the fence stay there (as in the GEMM).
    w.line("attnc_wgmma_fence_operands(&s[0][0], " + num(sTiles * 4) + ");");
    w.line("attnc_wgmma_fence();");
    w.line("#pragma unroll");
    w.line("for (int kk = 0; kk < " + num(depth / 16) +
           "; ++kk) attnc_wgmma_m64n" + num(blockKV) + "k16_" + type +
           "_bk(&s[0][0], attnc_wgmma_descriptor_add(descQ, (kk >> 2) * " +
           num(blockQ * 128) + " + (kk & 3) * 32), "
           "attnc_wgmma_descriptor_add(descK, (kk >> 2) * " +
           num(blockKV * 128) + " + (kk & 3) * 32));");
    w.line("attnc_wgmma_commit();");
    w.close();
  };
  // Issues O += P V, P from registers (four k16 steps of 16 keys).
  auto issueValues = [&](const std::string &tile) {
    w.open("");
    w.line("const unsigned long long descV = attnc_wgmma_descriptor(" +
           stageAddress(tile) + " + " + num(bytesK) + ", " +
           num(blockKV * 128) + ", 1024);");
    w.line("attnc_wgmma_fence_operands(&o[0][0], " + num(oTiles * 4) + ");");
    w.line("attnc_wgmma_fence_operands(&fragP[0][0], " + num(blockKV / 4) +
           ");");
    w.line("attnc_wgmma_fence();");
    w.line("#pragma unroll");
    w.line("for (int kk = 0; kk < " + num(blockKV / 16) +
           "; ++kk) attnc_wgmma_m64n" + num(width) + "k16_" + type +
           "_rs(&o[0][0], fragP[kk], attnc_wgmma_descriptor_add(descV, kk * "
           "2048));");
    w.line("attnc_wgmma_commit();");
    w.close();
  };
  // Scale, masks, score modification and the online softmax of the S at
  // kv0 (shared with the FA2 kernel: AttentionFragments.cpp), the rescale
  // of O left in `rescale`; then P packed into fragP.
  auto softmax = [&]() -> LogicalResult {
    w.line("attnc_wgmma_fence_operands(&s[0][0], " + num(sTiles * 4) + ");");
    FailureOr<ExponentForm> exponents =
        emitScoreTile(k, op, batch, sTiles, queries, keys);
    if (failed(exponents))
      return failure();
    emitOnlineSoftmax(w, sTiles, oTiles, *exponents, "rescale");
    return success();
  };
  auto packP = [&] {
    w.line("#pragma unroll");
    w.open("for (int kk = 0; kk < " + num(blockKV / 16) + "; ++kk)");
    w.line("fragP[kk][0] = " + pack + "(s[2 * kk][0], s[2 * kk][1]);");
    w.line("fragP[kk][1] = " + pack + "(s[2 * kk][2], s[2 * kk][3]);");
    w.line("fragP[kk][2] = " + pack + "(s[2 * kk + 1][0], s[2 * kk + 1][1]);");
    w.line("fragP[kk][3] = " + pack + "(s[2 * kk + 1][2], s[2 * kk + 1][3]);");
    w.close();
  };
  // After the wait, o is read and written again and fragP rewritten: the
  // fences keep the compiler from moving either above it, while P V's
  // wgmma may still read fragP (packing is a plain asm, free to move).
  auto waitValues = [&] {
    w.line("attnc_wgmma_wait<0>();");
    w.line("attnc_wgmma_fence_operands(&o[0][0], " + num(oTiles * 4) + ");");
    w.line("attnc_wgmma_fence_operands(&fragP[0][0], " +
           num(blockKV / 16 * 4) + ");");
  };

  // Software-pipelined as FlashAttention-3 does within a warpgroup: tile
  // it's S is issued, then the previous tile's P V, and the warpgroup runs
  // tile it's softmax while the tensor cores compute that P V. Both groups
  // complete inside the iteration (O's rescale waits for P V): an
  // accumulator in flight across the loop's back edge makes ptxas
  // serialise every wgmma of the kernel. Iteration 0 has no previous tile:
  // its P V multiplies a zero P with tile 0's V (finite: loaded, or zeros
  // past the keys), which adds exact zeros, and keeps the loop free of
  // branches around wgmma (and the softmax emitted once). The last tile's
  // P V follows the loop.
  w.line("attnc_index kv0 = 0, it = 0;");
  w.line("#pragma unroll");
  w.line("for (int kk = 0; kk < " + num(blockKV / 16) +
         "; ++kk) fragP[kk][0] = fragP[kk][1] = fragP[kk][2] = fragP[kk][3] = 0u;");
  //
  // The two consumer warpgroups also take turns (FlashAttention-3's
  // ping-pong): each issues an iteration's MMAs only in its turn, then
  // hands the turn over, so one warpgroup's softmax runs while the other's
  // MMAs keep the tensor cores busy, instead of both computing softmax at
  // once. Named barrier 1 + c is consumer c's turn, 256 threads: its own
  // 128 wait (bar.sync) for the other's 128 (bar.arrive). Consumer 1
  // hands consumer 0 the first turn and does not hand over after its last
  // iteration, so every turn either consumer waits for is given exactly
  // once (both run the block's same key tiles) and none is left over.
  w.open("if (kvEnd > 0)");
  w.line("if (consumer == 1) attnc_named_barrier_arrive(1, 256);");
  w.open("for (; kv0 < kvEnd; kv0 += " + num(blockKV) + ", ++it)");
  waitFull("it");
  w.line("attnc_named_barrier_sync(1 + consumer, 256);");
  issueScores("it");
  issueValues("it > 0 ? it - 1 : 0");
  w.line("if (consumer == 0 || kv0 + " + num(blockKV) +
         " < kvEnd) attnc_named_barrier_arrive(2 - consumer, 256);");
  w.line("attnc_wgmma_wait<1>();");
  if (failed(softmax()))
    return failure();
  // Without this store of the row sums (they depend on every exponential
  // of the tile) ptxas hoists the wait below to just after the one above,
  // and the softmax runs with no MMA of this warpgroup in flight
  // (bench/sass_loops.py counts the MUFUs between the two waits).
  w.line("attnc_wgmma_hold_wait(waitSink, rowSum[0], rowSum[1]);");
  waitValues();
  // Every consumer thread releases a stage after its own wait, as the
  // ring expects 256 arrivals.
  w.line("if (it > 0) attnc_mbarrier_arrive(&empty[(it - 1) % " +
         num(stages) + "]);");
  w.line("#pragma unroll");
  w.line("for (int t = 0; t < " + num(oTiles) +
         "; ++t) { o[t][0] *= rescale[0]; o[t][1] *= rescale[0]; "
         "o[t][2] *= rescale[1]; o[t][3] *= rescale[1]; }");
  packP();
  w.close(); // key tiles
  issueValues("it - 1");
  waitValues();
  w.close(); // kvEnd > 0

  emitAttentionStore(k, batch, oTiles, queries);
  w.close(); // consumers
  return success();
}
