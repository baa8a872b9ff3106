//===- EmitWarpgroupGemm.cpp - kernel.gemm on sm_90a: wgmma, warp-specialised ===//
//
// The Hopper GEMM. A block of 128 x (1 + C) threads computes a
// (64 C) x tn output tile (C = 1 or 2 consumer warpgroups, tn = 64, 128
// or 256):
//
//  - Warpgroup 0 is the producer: one of its threads streams 64-wide K
//    tiles of A and B into a ring of shared-memory stages with TMA
//    (cp.async.bulk.tensor, from tensor maps the runtime encodes for the
//    operand buffers), which writes the 128-byte swizzle that wgmma reads
//    and zero-fills past the matrices. Each copy completes its bytes on the
//    stage's "full" mbarrier, which the thread primed with the stage's byte
//    count (arrive.expect_tx). It waits on the stage's "empty" mbarrier
//    before refilling it.
//  - Each consumer warpgroup owns 64 rows. Per stage it waits for "full",
//    issues four wgmma.mma_async m64n{tn}k16 (A K-major, B MN-major, both
//    by descriptor, no register staging), commits them, and once the
//    previous stage's group has completed (wait_group 1) releases that
//    stage's "empty" barrier. The tensor cores thus always have the next
//    stage's operands while the producer fills the one after.
//  - The epilogue is the tensor-core GEMM's: the f32 accumulators (the
//    m64nNk16 D fragment) go through a row-major shared tile, then every
//    thread runs the fused epilogue once per element with coalesced stores.
//
// Everything here runs under the CPU emulation (attnc/warpgroup.h) in CI,
// TMA included (the emulation's own tensor maps, same box and swizzle).
//
//===----------------------------------------------------------------------===//

#include "KernelPatterns.h"

#include "attn/Dialect/Kernel/IR/KernelOps.h"

using namespace mlir;
using namespace attn;
using namespace attn::cuda;

LogicalResult attn::cuda::emitWarpgroupGemm(KernelEmission &k,
                                            graph::MatmulOp matmul,
                                            const WarpgroupGemmShape &shape,
                                            OutputIndexFn outputIndex) {
  CodeWriter &w = k.out;
  const int64_t tm = shape.tm, tn = shape.tn, tk = 64;
  const int64_t consumers = tm / 64;
  // The K tile count is a scalar (as the tile counts): GEMMs that differ
  // only in their extents share one kernel; TMA bounds the copies.
  const std::string tilesK = k.scalar("tilesK", (shape.depth + tk - 1) / tk);
  // A consumer releases a stage only once the next one is full, so a ring
  // of one stage would deadlock with several K tiles: at least two then.
  const int64_t stages = kernel::warpgroupGemmStages(shape.depth, shape.stages);
  // Bytes of one stage: A is tm rows of 128 bytes; B is tn / 64 column
  // blocks, each 64 K rows of 128 bytes (8 KiB). Both multiples of 1 KiB,
  // so every stage keeps the swizzle's alignment.
  const int64_t bytesA = tm * 128, bytesB = (tn / 64) * 8192;
  const int64_t stageBytes = bytesA + bytesB;
  const bool bf16 = cast<RankedTensorType>(matmul.getLhs().getType())
                        .getElementType()
                        .isBF16();
  const std::string mma = "attnc_wgmma_m64n" + num(tn) + "k16_" +
                          (bf16 ? "bf16" : "f16");
  const int64_t accumulators = tn / 2;

  k.threads = 128 * (1 + consumers);
  // The ring, or the f32 output tile that replaces it (rows padded by 4
  // floats against bank conflicts), then the barriers, which the output
  // tile must not overwrite while they are live; plus the 1 KiB the
  // alignment may skip.
  const int64_t outStride = tn + 4;
  const int64_t barriers =
      std::max(stages * stageBytes, tm * outStride * int64_t(4));
  k.dynamicShared = kernel::warpgroupGemmSharedBytes(tm, tn, stages);

  w.line("unsigned char *tiles = attnc_align_shared_1024(smemTiles);");
  w.line("unsigned long long *full = reinterpret_cast<unsigned long long *>("
         "tiles + " + num(barriers) + ");");
  w.line("unsigned long long *empty = full + " + num(stages) + ";");
  w.line("const int warpgroup = threadIdx.x >> 7, wgThread = threadIdx.x & 127;");
  // "full" completes when the producer thread has arrived and its copies'
  // bytes have landed; "empty" when every consumer thread has seen its
  // warpgroup's MMAs on the stage complete.
  std::string mapA = k.addTensorMap(*k.inputNumber(matmul.getLhs()), 1,
                                    shape.totalRows, shape.depth, tm, 64);
  std::string mapB = k.addTensorMap(*k.inputNumber(matmul.getRhs()), 1,
                                    shape.depth, shape.cols, 64, 64);
  w.open("if (threadIdx.x == 0)");
  w.line("for (int s = 0; s < " + num(stages) +
         "; ++s) { attnc_mbarrier_init(&full[s], 1); "
         "attnc_mbarrier_init(&empty[s], " + num(consumers * 128) + "); }");
  w.line("attnc_fence_barrier_init();");
  w.close();
  w.line("__syncthreads();");
  w.line("float acc[" + num(accumulators) + "];");

  // Producer. Stage s is free on the first pass (an empty-barrier wait
  // with parity 1 returns at once on a fresh barrier), then after each
  // consumer pass. A's box is tm rows of 64 K; B's boxes are 64 K rows of
  // 64 columns, one per 64-column block of the stage. A 128 x 256 tile's
  // consumers hold 128 accumulators per thread and fit the 168 registers
  // that 384 threads leave each (154 measured, no spills). Moving
  // registers from the producer with setmaxnreg made ptxas spill and
  // serialise the wgmmas instead (warning C7512), so it is not used.
  w.open("if (warpgroup == 0)");
  w.open("if (wgThread == 0)");
  // A 64-column block of B wholly past N (the last column tile's, where N
  // leaves one) is not loaded, and the stage expects its bytes less: the
  // PTX ISA describes the zero fill of a box that crosses the tensor's
  // edge, not of one wholly outside it, and bytes the hardware did not
  // count would leave the stage never full. The block's columns of shared
  // memory keep what they held; they feed only outputs past N, which the
  // epilogue does not store. N is a scalar, as the tile counts are, so
  // GEMMs that differ in it still share the kernel.
  const std::string colsN = k.scalar("colsN", shape.cols);
  w.line("const int blocksB = min(" + num(tn / 64) + ", int((" + colsN +
         " - tileN * " + num(tn) + " + 63) / 64));");
  w.open("for (attnc_index kt = 0; kt < " + tilesK + "; ++kt)");
  w.line("const int s = kt % " + num(stages) + ";");
  w.line("attnc_mbarrier_wait(&empty[s], ((kt / " + num(stages) +
         ") & 1) ^ 1);");
  w.line("unsigned char *stageA = tiles + s * " + num(stageBytes) +
         ", *stageB = stageA + " + num(bytesA) + ";");
  w.line("attnc_mbarrier_arrive_expect_tx(&full[s], " + num(bytesA) +
         " + blocksB * 8192);");
  w.line("attnc_tma_load(stageA, &" + mapA + ", int(kt * 64), int(tileM * " +
         num(tm) + "), 0, &full[s]);");
  w.line("for (int block = 0; block < blocksB; ++block) "
         "attnc_tma_load(stageB + block * 8192, &" + mapB + ", int(tileN * " +
         num(tn) + " + block * 64), int(kt * 64), 0, &full[s]);");
  w.close();
  w.close();
  w.close();

  // Consumers. A's descriptor steps 32 bytes (16 elements) along the
  // swizzled row per k16 step; B's steps 16 rows (2 KiB). Leading byte
  // offsets: unused for the swizzled K-major A (16 by convention), 8 KiB
  // between B's 64-column blocks; stride byte offsets: 1 KiB between
  // 8-row groups.
  w.open("else");
  w.line("const int consumer = warpgroup - 1;");
  w.line("for (int i = 0; i < " + num(accumulators) + "; ++i) acc[i] = 0.0f;");
  w.open("for (attnc_index kt = 0; kt < " + tilesK + "; ++kt)");
  w.line("const int s = kt % " + num(stages) + ";");
  w.line("attnc_mbarrier_wait(&full[s], (kt / " + num(stages) + ") & 1);");
  // The lanes leave the wait's spin loop on different trips; the .aligned
  // wgmma instructions need the whole warp converged.
  w.line("__syncwarp();");
  w.line("const unsigned stageA = attnc_shared_address(tiles + s * " +
         num(stageBytes) + ") + consumer * 8192;");
  w.line("const unsigned stageB = stageA - consumer * 8192 + " + num(bytesA) +
         ";");
  w.line("attnc_wgmma_fence_operands(acc, " + num(accumulators) + ");");
  w.line("attnc_wgmma_fence();");
  // Each K step's descriptors are the stage's moved on (one add each).
  w.line("const unsigned long long descA = attnc_wgmma_descriptor(stageA, "
         "16, 1024), descB = attnc_wgmma_descriptor(stageB, 8192, 1024);");
  w.line("#pragma unroll");
  w.line("for (int kk = 0; kk < 4; ++kk) " + mma +
         "(acc, attnc_wgmma_descriptor_add(descA, kk * 32), "
         "attnc_wgmma_descriptor_add(descB, kk * 2048));");
  w.line("attnc_wgmma_commit();");
  w.line("attnc_wgmma_wait<1>();");
  w.line("attnc_wgmma_fence_operands(acc, " + num(accumulators) + ");");
  w.line("if (kt > 0) attnc_mbarrier_arrive(&empty[(kt - 1) % " +
         num(stages) + "]);");
  w.close();
  w.line("attnc_wgmma_wait<0>();");
  w.line("attnc_wgmma_fence_operands(acc, " + num(accumulators) + ");");
  w.close();

  // Epilogue. D register 4j + i of thread (warp, lane) of a consumer is
  // row 16 warp + lane / 4 + 8 (i / 2), column 8j + 2 (lane % 4) + i % 2 of
  // that consumer's 64 rows.
  w.line("__syncthreads(); // every stage is consumed: the ring becomes the output tile");
  w.line("float *outTile = reinterpret_cast<float *>(tiles);");
  w.open("if (warpgroup > 0)");
  w.line("const int rowBase = (warpgroup - 1) * 64 + ((threadIdx.x >> 5) & 3) * 16 "
         "+ ((threadIdx.x & 31) >> 2), colBase = 2 * (threadIdx.x & 3);");
  // Registers 4j, 4j + 1 (and 4j + 2, 4j + 3) are adjacent columns: one
  // 8-byte store each (the padded stride is even). Besides being fewer
  // stores, ptxas compiles this form markedly faster than 4 scalar ones.
  w.line("float2 *row0 = reinterpret_cast<float2 *>(outTile + rowBase * " +
         num(outStride) + " + colBase), *row8 = row0 + " +
         num(4 * outStride) + ";");
  w.line("#pragma unroll");
  w.line("for (int j = 0; j < " + num(tn / 8) +
         "; ++j) { row0[4 * j] = make_float2(acc[4 * j], acc[4 * j + 1]); "
         "row8[4 * j] = make_float2(acc[4 * j + 2], acc[4 * j + 3]); }");
  w.close();
  w.line("__syncthreads();");
  k.endSharedPart();
  return emitTileEpilogue(k, matmul, tm, tn, outStride, shape.totalRows,
                          shape.cols, outputIndex);
}
