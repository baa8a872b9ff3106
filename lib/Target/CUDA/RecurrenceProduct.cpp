//===- RecurrenceProduct.cpp - products from on-chip weights -------------===//
//
// Each step's product of a persistent recurrence whose weights stay in
// shared memory (RecurrenceWeights.cpp): the left operand (h, or a 16-bit
// copy of a 16-bit state) staged or streamed into shared memory
// (planStaging, openChunks), then either tensor cores
// (RecurrenceTensorProduct.cpp) or a register tile of rows x columns per
// thread, lanes sharing a tile's k (tileSplit, emitFmaProduct).
//
//===----------------------------------------------------------------------===//

#include "RecurrenceEmitter.h"

#include <cassert>
#include <functional>

using namespace mlir;
using namespace attn;
using namespace attn::cuda;

/// The left operand of a product at (row, kk) in scope, through a fresh
/// scalar emitter (nothing computed for another element is reused).
FailureOr<std::string>
RecurrenceEmitter::leftOperandAt(graph::MatmulOp matmul) {
  ScalarEmitter scalar(
      k.out, [&](Value v, const Index &i) { return load(v, i, nullptr); });
  Index at = matmul.getTransposeLhs() ? Index{"kk", "row"} : Index{"row", "kk"};
  return scalar.emit(matmul.getLhs(), at);
}

/// The left operand of a product as a plain row-major f32 buffer: a carry
/// of a scan being stepped, or an earlier phase's result.
std::optional<std::string> RecurrenceEmitter::plainBuffer(Value value) {
  auto it = scratch.find(value);
  if (it != scratch.end())
    return it->second;
  for (ActiveScan &level : active)
    for (auto [i, arg] : llvm::enumerate(level.op.getCarriedArgs()))
      if (arg == value)
        return level.carryNow[i];
  return std::nullopt;
}

bool RecurrenceEmitter::needsHalfShadow(Value arg) const {
  for (auto &entry : resident) {
    auto matmul = cast<graph::MatmulOp>(entry.first);
    if (entry.second.halves && matmul.getLhs() == arg &&
        !matmul.getTransposeLhs() && entry.second.depth % 8 == 0)
      return true;
  }
  return false;
}

std::optional<std::string> RecurrenceEmitter::halfShadow(Value value) const {
  for (const ActiveScan &level : active)
    for (auto [i, arg] : llvm::enumerate(
             graph::ScanOp(level.op).getCarriedArgs()))
      if (arg == value && !level.halfNow[i].empty())
        return level.halfNow[i];
  return std::nullopt;
}

Type RecurrenceEmitter::sixteenBitOperands(graph::MatmulOp matmul) {
  Type lhs = elementOf(matmul.getLhs()), rhs = elementOf(matmul.getRhs());
  return lhs == rhs && (lhs.isF16() || lhs.isBF16()) ? lhs : Type();
}

/// The block's columns of a product whose weights are resident, every
/// row. The left operand is staged in shared memory (in chunks of k when it
/// does not fit), so the dot products read it next to the weights. When it
/// is a plain buffer (the recurrent state, as a rule), it streams in
/// through cp.async, at least four chunks into as many buffers as fit: the
/// block computes on one chunk while the next arrive. Every block reads all
/// of it each step (B x H: 64 KiB per block at batch 16 and H = 1024, f32),
/// so without the overlap the step would wait for L2 as long as it
/// computes. Otherwise the threads stage it through the scalar emitter.
///
/// The arithmetic: on tensor cores where tensorWork allows
/// (emitTensorCoreProduct): 16-bit operands on m16n8k16, f32 ones on
/// TF32 as the f32 GEMMs (EmitGemmTf32.cpp), 3xTF32 or, under
/// --f32-matmul=tf32, one MMA; otherwise (or under --f32-matmul=simt) f32
/// FMAs, shared out as tileSplit says (emitFmaProduct).
LogicalResult RecurrenceEmitter::emitResidentMatmul(graph::MatmulOp matmul,
                                                    const ResidentPlan &plan,
                                                    const std::string &target) {
  const int64_t rows = shapeOf(matmul.getResult())[0];
  const int64_t warps = k.threads / 32;
  std::optional<TensorWork> work =
      tensorWork(rows, plan.perBlock, bool(plan.halves));
  if (work) {
    const int64_t step4 = work->kStep / 4;
    // Warps split the K steps while warps and K steps are left and their
    // partial products fit where the operand was staged; fewer of them,
    // and one K step per iteration, when the chunks of k cannot be whole
    // multiples (or there are fewer K steps than that).
    const int64_t kSteps = (plan.depth + work->kStep - 1) / work->kStep;
    int64_t kGroups = 1;
    while (work->units * kGroups * 2 <= warps && kGroups * 2 <= kSteps &&
           kGroups * 2 * work->paddedRows * plan.perBlock <= stagingFloats)
      kGroups *= 2;
    for (work->kGroups = kGroups; work->kGroups >= 1; work->kGroups /= 2)
      for (work->steps = 2; work->steps >= 1; work->steps /= 2) {
        if (work->kGroups * work->steps > std::max<int64_t>(kSteps, 1))
          continue;
        StagedOperand staged =
            planStaging(matmul, plan, true, step4 * work->kGroups * work->steps);
        if (staged.chunk4)
          return emitTensorCoreProduct(matmul, plan, staged, *work, target);
      }
    // 16-bit weights have no FMA product: the threads stage the operand,
    // one K step of every row at the least (planResidentWeights reserved
    // that).
    if (plan.halves) {
      work->kGroups = work->steps = 1;
      StagedOperand staged = planStaging(matmul, plan, true, step4, true);
      if (!staged.chunk4)
        return matmul.emitOpError(
            "CUDA emission: no room in shared memory to stage one K step of "
            "this recurrent product's left operand");
      return emitTensorCoreProduct(matmul, plan, staged, *work, target);
    }
  }
  StagedOperand staged = planStaging(matmul, plan, false, 1);
  if (taggedShadow(matmul.getLhs()) && !staged.tagged)
    return matmul.emitOpError("CUDA emission: the tagged exchange of this "
                              "recurrence's state needs its product to "
                              "stream the state");
  return emitFmaProduct(matmul, plan, staged, target);
}

/// How a product's left operand reaches shared memory: chunk4 float4s of
/// each row per chunk (a multiple of `align`; 0 when none fits), rows
/// rowFloats = 4 chunk4 + pad apart (2 chunk4 + pad words from a 16-bit
/// copy), `slots` buffers (streamed) or one. Tensor cores take chunks of
/// whole iterations of their K steps and rows padded so that a warp's
/// fragment loads hit 32 banks: TF32's 8 rows x 4 words with rows 4 mod 8
/// floats apart (pad 4, chunk4 even); a 16-bit product's half-warp float2
/// loads of 4 rows x 4 pairs of f32 rows 8 mod 16 apart (pad 8), or its 8
/// rows x 4 words of a 16-bit copy's rows 4 mod 8 words apart (pad 4;
/// chunk4 a multiple of 4 for both). `threadsOnly`
/// stages through the threads even a buffer cp.async could stream (one
/// buffer holds more of it).
RecurrenceEmitter::StagedOperand
RecurrenceEmitter::planStaging(graph::MatmulOp matmul, const ResidentPlan &plan,
                               bool tensorCores, int64_t align,
                               bool threadsOnly, bool assumeStreamable) {
  StagedOperand st;
  const int64_t rows = shapeOf(matmul.getResult())[0];
  const int64_t depth4 = (plan.depth + 3) / 4;
  st.buffer = plainBuffer(matmul.getLhs());
  st.async = !threadsOnly && (st.buffer || assumeStreamable) &&
             !matmul.getTransposeLhs() && plan.depth % 4 == 0;
  // A 16-bit state streams from its 16-bit copy: 4 k in 2 words.
  std::optional<std::string> shadow = halfShadow(matmul.getLhs());
  if (st.async && plan.halves && shadow) {
    st.buffer = shadow;
    st.halfRows = true;
  }
  // A state the blocks exchange without a barrier streams from its tagged
  // copy (RecurrenceExchange.cpp), in the same 16-byte pieces.
  if (st.async && !st.halfRows)
    st.tagged = taggedShadow(matmul.getLhs());
  const int64_t perK4 = st.halfRows ? 2 : 4;
  const int64_t pad = !tensorCores                  ? 0
                      : plan.halves && !st.halfRows ? 8
                                                    : 4;
  const TileSplit split = tileSplit(plan, rows);
  // Float4s of a row per chunk; streamed chunks are whole multiples of the
  // lanes (so no lane idles) when the buffers allow it.
  int64_t fit = (stagingFloats / rows - pad) / perK4;
  st.chunk4 = std::min<int64_t>(llvm::alignTo(depth4, align), fit);
  if (st.async) {
    int64_t room = (stagingFloats / 2 / rows - pad) / perK4;
    if (!tensorCores && room > split.lanes)
      room = llvm::alignDown(room, split.lanes);
    // At least one float4 per row: a buffer that holds the whole of a
    // shallow h (depth 4) leaves no room for a second.
    int64_t quarter = (int64_t)llvm::alignTo((depth4 + 3) / 4,
                                             tensorCores ? align : split.lanes);
    st.chunk4 = std::max<int64_t>(1, std::min<int64_t>(room, quarter));
  }
  if (st.chunk4 < align) {
    st.chunk4 = 0;
    return st;
  }
  st.chunk4 = llvm::alignDown(st.chunk4, align);
  st.rowFloats = st.chunk4 * perK4 + pad;
  st.chunks = (depth4 + st.chunk4 - 1) / st.chunk4;
  st.oneChunk = !st.async && st.chunks == 1;
  // Streamed chunks: as many buffers as fit, all chunks in flight at once
  // when h fits (a chunk's FMAs at batch 1 take less than an L2 round
  // trip, so a two-buffer ring would wait once per chunk).
  st.slots = std::min(st.chunks, stagingFloats /
                                     std::max<int64_t>(1, rows * st.rowFloats));
  return st;
}

/// Stages the left operand: the whole of it before the products (one
/// chunk), or opens the loop over its chunks, each streamed or staged,
/// visible to the block inside it; `global4` is set to the global float4
/// index of the chunk's float4 `k4`. closeChunks ends the loop.
LogicalResult RecurrenceEmitter::openChunks(graph::MatmulOp matmul,
                                            const ResidentPlan &plan,
                                            const StagedOperand &st,
                                            std::string &global4) {
  CodeWriter &w = k.out;
  const int64_t rows = shapeOf(matmul.getResult())[0];
  const int64_t depth4 = (plan.depth + 3) / 4;
  const int64_t slot = rows * st.rowFloats;
  // Rows x 4 chunk4 k of the left operand (from k = 4 first4 when
  // chunked), zeros past the end.
  auto stage = [&]() -> LogicalResult {
    w.open("for (int i = threadIdx.x; i < " + num(rows * st.chunk4 * 4) +
           "; i += blockDim.x)");
    w.line("const attnc_index row = i / " + num(st.chunk4 * 4) +
           ", kk = " + (st.oneChunk ? "" : "first4 * 4 + ") + "i % " +
           num(st.chunk4 * 4) + ";");
    w.line("float value = 0.0f;");
    w.open("if (kk < " + num(plan.depth) + ")");
    FailureOr<std::string> a = leftOperandAt(matmul);
    if (failed(a))
      return failure();
    w.line("value = " + *a + ";");
    w.close();
    if (st.rowFloats == st.chunk4 * 4)
      w.line("residentWeights[" + num(stagingOffset) + " + i] = value;");
    else
      w.line("residentWeights[" + num(stagingOffset) + " + row * " +
             num(st.rowFloats) + " + i % " + num(st.chunk4 * 4) + "] = value;");
    w.close();
    return success();
  };
  // Starts copying chunk `which` into its buffer, zeros past the end.
  // 16-byte pieces: a float4 (4 k), or 8 k of a 16-bit copy.
  const int64_t k4PerPiece = st.halfRows ? 2 : 1;
  const int64_t pieces = st.chunk4 / k4PerPiece;
  const std::string piece = st.halfRows ? "k8" : "k4",
                    bound = num(depth4 / k4PerPiece);
  // Where piece `index` of a chunk (row index / pieces) lies in its buffer.
  auto pieceOffset = [&](const std::string &index) {
    return st.rowFloats == pieces * 4
               ? index + " * 4"
               : "row * " + num(st.rowFloats) + " + " + index + " % " +
                     num(pieces) + " * 4";
  };
  auto issue = [&](const std::string &which) {
    w.open("for (int i = threadIdx.x; i < " + num(rows * pieces) +
           "; i += blockDim.x)");
    w.line("const attnc_index row = i / " + num(pieces) + ", " + piece +
           " = (" + which + ") * " + num(pieces) + " + i % " + num(pieces) +
           ";");
    std::string into = pieceOffset("i");
    w.line("attnc_cp_async_16(residentWeights + " + num(stagingOffset) +
           " + (" + which + ") % " + num(st.slots) + " * " + num(slot) + " + " +
           into + ", " + *st.buffer + " + row * " + num(plan.depth) + " + (" +
           piece + " < " + bound + " ? " + piece + " : 0) * " +
           num(4 * k4PerPiece) + ", " + piece + " < " + bound + ");");
    w.close();
  };

  global4 = "k4";
  if (st.oneChunk) {
    if (failed(stage()))
      return failure();
    w.line("__syncthreads();");
    return success();
  }
  if (st.async && st.tagged) {
    // The whole state from its tagged copy (RecurrenceExchange.cpp), every
    // chunk into its own buffer: each thread loads all its pieces first
    // and only then waits for their tags, so that the waits overlap (one
    // round trip to L2, as the cp.async ring's, not one per piece).
    global4 = "chunk * " + num(st.chunk4) + " + k4";
    const int64_t total = rows * st.chunks * pieces;
    const int64_t perThread = (total + k.threads - 1) / k.threads;
    auto pieceAt = [&](const std::string &j) {
      w.line("const int i = threadIdx.x + " + j + " * " + num(k.threads) +
             ", chunk = i / " + num(rows * pieces) + ", inChunk = i % " +
             num(rows * pieces) + ";");
      w.line("const attnc_index row = inChunk / " + num(pieces) +
             ", k4 = chunk * " + num(pieces) + " + inChunk % " + num(pieces) +
             ";");
      w.line("const bool valid = i < " + num(total) + " && k4 < " + bound +
             ";");
      w.line("const unsigned long long *words = " + st.tagged->first +
             " + row * " + num(plan.depth) + " + (valid ? k4 : 0) * 4;");
    };
    w.open("");
    w.line("unsigned long long tagged[" + num(perThread) + "][4];");
    w.line("#pragma unroll");
    w.open("for (int j = 0; j < " + num(perThread) + "; ++j)");
    pieceAt("j");
    w.line("attnc_load_tagged_16(tagged[j], words, valid);");
    w.close();
    w.line("#pragma unroll");
    w.open("for (int j = 0; j < " + num(perThread) + "; ++j)");
    pieceAt("j");
    std::string into = pieceOffset("inChunk");
    w.line("if (i < " + num(total) + ") attnc_wait_tagged_16(residentWeights + " +
           num(stagingOffset) + " + chunk * " + num(slot) + " + " + into +
           ", tagged[j], words, valid, " + st.tagged->second + ");");
    w.close();
    w.close();
    w.line("__syncthreads();");
    if (unrollChunkLoop)
      w.line("#pragma unroll");
    w.open("for (attnc_index chunk = 0; chunk < " + num(st.chunks) +
           "; ++chunk)");
    return success();
  }
  if (st.async) {
    global4 = "chunk * " + num(st.chunk4) + " + k4";
    const std::string ahead = num(st.slots - 1);
    w.open("for (attnc_index chunk = 0; chunk < " + ahead + "; ++chunk)");
    issue("chunk");
    w.line("attnc_cp_async_commit();");
    w.close();
    if (unrollChunkLoop)
      w.line("#pragma unroll");
    w.open("for (attnc_index chunk = 0; chunk < " + num(st.chunks) +
           "; ++chunk)");
    w.open("if (chunk + " + ahead + " < " + num(st.chunks) + ")");
    issue("chunk + " + ahead);
    w.close();
    w.line("attnc_cp_async_commit();");
    w.line("attnc_cp_async_wait<" + ahead +
           ">(); // this chunk's copies, not the later ones'");
    w.line("__syncthreads();");
    return success();
  }
  global4 = "first4 + k4";
  w.open("for (attnc_index first4 = 0; first4 < " + num(depth4) +
         "; first4 += " + num(st.chunk4) + ")");
  w.line("__syncthreads(); // every thread is done with the last chunk");
  if (failed(stage()))
    return failure();
  w.line("__syncthreads();");
  return success();
}

void RecurrenceEmitter::closeChunks(const StagedOperand &st) {
  if (st.async && st.slots < st.chunks)
    k.out.line("__syncthreads(); // a later chunk's copies refill this buffer");
  if (!st.oneChunk)
    k.out.close();
}

/// Stores the block's product element (row, c), c one of its own columns:
/// into its tile in shared memory under the unit split, else into `target`.
void RecurrenceEmitter::storeOwned(graph::MatmulOp matmul,
                                   const ResidentPlan &plan,
                                   const std::string &target,
                                   const std::string &condition,
                                   const std::string &row, const std::string &c,
                                   const std::string &value) {
  CodeWriter &w = k.out;
  Value result = matmul.getResult();
  if (productOffset >= 0 && units && units->matmul == matmul.getOperation()) {
    w.line("if (" + condition + ") residentWeights[" + num(productOffset) +
           " + (" + row + ") * " + num(plan.perBlock) + " + " + c +
           "] = " + roundTo(result, value) + ";");
    return;
  }
  w.line("const attnc_index col = " + ownedColumn(plan, c) + ";");
  w.line("if (" + condition + " && " + ownedColumnValid(plan, c, "col") + ") " +
         target + "[(" + row + ") * " + num(plan.cols) +
         " + col] = " + roundTo(result, value) + ";");
}

/// Row r of the thread's tile (rowBase + r, or the last row past the end)
/// and its float4 `a` of the staged operand at k4.
void RecurrenceEmitter::emitStagedRow(int64_t rows, const StagedOperand &st,
                                      const std::string &staged4) {
  k.out.line("const attnc_index row = rowBase + r < " + num(rows) +
             " ? rowBase + r : " + num(rows - 1) + ";");
  k.out.line("const float4 a = " + staged4 + "[row * " +
             num(st.rowFloats / 4) + " + k4];");
}

/// Up to 8 rows and 2 columns per thread. Per group of 4 k a thread then
/// reads 2 float4 of weights and 8 float4 of the left operand for 64
/// FMAs: the FMA pipe, not shared memory, bounds the step (one column per
/// thread would read as many bytes as it does FMAs). Lanes share tiles
/// while the block has threads to spare, so a small batch still keeps
/// every thread busy and a step's latency is a slice of the contraction.
RecurrenceEmitter::TileSplit
RecurrenceEmitter::tileSplit(const ResidentPlan &plan, int64_t rows,
                             int64_t cols) const {
  TileSplit split{1, cols ? cols : plan.perBlock % 2 == 0 ? 2 : 1, 1, 0};
  while (split.rows * 2 <= std::min<int64_t>(rows, 8))
    split.rows *= 2;
  int64_t products =
      (rows + split.rows - 1) / split.rows * (plan.perBlock / split.cols);
  while (split.lanes < 32 && products * split.lanes * 2 <= k.threads)
    split.lanes *= 2;
  int64_t warpColumns = 32 / split.lanes;
  if (plan.perBlock % 8 == 0 && warpColumns < 8)
    split.swizzle = warpColumns;
  return split;
}

/// The FMA product: each thread a register tile of rows x columns, lanes
/// sharing a tile's k (tileSplit); rows past the last are computed on the
/// last row's operands and not stored. The trip counts are the same for
/// every lane of a warp's tiles, so whole warps reach the shuffles. Where
/// a thread holds its share of the weights in registers
/// (RecurrenceRegisterWeights.cpp), the loop reads only the staged operand
/// from shared memory.
LogicalResult RecurrenceEmitter::emitFmaProduct(graph::MatmulOp matmul,
                                                const ResidentPlan &plan,
                                                const StagedOperand &st,
                                                const std::string &target) {
  CodeWriter &w = k.out;
  const int64_t rows = shapeOf(matmul.getResult())[0], perBlock = plan.perBlock;
  const int64_t depth4 = (plan.depth + 3) / 4;
  const TileSplit split = tileSplit(plan, rows);
  const int64_t colGroups = perBlock / split.cols;
  const int64_t products = (rows + split.rows - 1) / split.rows * colGroups;
  const int64_t bases = (products * split.lanes + k.threads - 1) / k.threads;
  const std::string lanes = num(split.lanes), r = num(split.rows),
                    c = num(split.cols);
  const std::string weights4 = "reinterpret_cast<const float4 *>("
                               "residentWeights + " +
                               num(plan.offset) + ")";
  std::string staged4 = "reinterpret_cast<const float4 *>(residentWeights + " +
                        num(stagingOffset) + ")";
  if (st.async)
    staged4 = "reinterpret_cast<const float4 *>(residentWeights + " +
              num(stagingOffset) + " + chunk % " + num(st.slots) + " * " +
              num(rows * st.rowFloats) + ")";

  const bool inRegisters = usesRegisterWeights(matmul, st, split.lanes);
  if (st.oneChunk) {
    std::string unused;
    if (failed(openChunks(matmul, plan, st, unused)))
      return failure();
  }
  w.open("for (attnc_index base = 0; base < " + num(products) +
         "; base += blockDim.x / " + lanes + ")");
  w.line("const attnc_index e = base + threadIdx.x / " + lanes +
         ", lane = threadIdx.x % " + lanes + ";");
  w.line("const attnc_index rowBase = e / " + num(colGroups) + " * " + r +
         ", group = e % " + num(colGroups) + ";");
  w.line("float acc[" + r + "][" + c + "] = {};");
  const int64_t partials =
      inRegisters ? registerWeights.find(matmul)->second.partials : 1;
  if (partials > 1)
    w.line("float part[" + r + "][" + c + "][" + num(partials) + "] = {};");
  std::string global4 = "k4";
  unrollChunkLoop = inRegisters;
  LogicalResult opened = st.oneChunk
                             ? success()
                             : openChunks(matmul, plan, st, global4);
  unrollChunkLoop = false;
  if (failed(opened))
    return failure();
  if (inRegisters) {
    emitRegisterFmaLoop(matmul, plan, st, staged4);
  } else {
    // Unrolled twice, so one iteration's shared loads issue under the
    // other's FMAs (a block has only two warps per scheduler to hide them).
    w.line("#pragma unroll 2");
    w.open("for (attnc_index k4 = lane; k4 < " + num(st.chunk4) +
           (st.oneChunk ? "" : " && " + global4 + " < " + num(depth4)) +
           "; k4 += " + lanes + ")");
    w.line("float4 b[" + c + "];");
    w.line("#pragma unroll");
    w.line("for (int j = 0; j < " + c + "; ++j) b[j] = " + weights4 + "[" +
           residentSlot(plan, split, global4, "group + j * " + num(colGroups)) +
           "];");
    w.line("#pragma unroll");
    w.open("for (int r = 0; r < " + r + "; ++r)");
    emitStagedRow(rows, st, staged4);
    w.line("#pragma unroll");
    w.line("for (int j = 0; j < " + c +
           "; ++j) acc[r][j] = fmaf(a.w, b[j].w, fmaf(a.z, b[j].z, "
           "fmaf(a.y, b[j].y, fmaf(a.x, b[j].x, acc[r][j]))));");
    w.close();
    w.close();
  }
  closeChunks(st);
  if (partials > 1) {
    w.line("#pragma unroll");
    w.line("for (int r = 0; r < " + r + "; ++r) for (int j = 0; j < " + c +
           "; ++j) for (int q = 0; q < " + num(partials) +
           "; ++q) acc[r][j] += part[r][j][q];");
  }
  if (st.async && st.slots == st.chunks && bases > 1)
    w.line("__syncthreads(); // the next tiles' copies refill the buffers");

  // Add up the lanes' sums; the first lane stores.
  w.line("#pragma unroll");
  w.open("for (int r = 0; r < " + r + "; ++r)");
  w.line("#pragma unroll");
  w.open("for (int j = 0; j < " + c + "; ++j)");
  for (int64_t offset = split.lanes / 2; offset >= 1; offset /= 2)
    w.line("acc[r][j] += __shfl_xor_sync(0xffffffffu, acc[r][j], " +
           num(offset) + ");");
  w.line("const attnc_index c = group + j * " + num(colGroups) + ";");
  storeOwned(matmul, plan, target,
             "lane == 0 && e < " + num(products) + " && rowBase + r < " +
                 num(rows),
             "rowBase + r", "c", "acc[r][j]");
  w.close();
  w.close();
  w.close();
  return success();
}
