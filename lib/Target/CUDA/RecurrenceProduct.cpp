//===- RecurrenceProduct.cpp - a recurrence's products from on-chip weights ===//
//
// The recurrent product of a persistent recurrence (h U) whose
// step-invariant weights stay in shared memory for all steps: which
// products get that (planResidentWeights), how the weights are laid out
// (float4 slots of 4 k, swizzled against bank conflicts: residentSlot),
// and each step's product: h staged or streamed into shared memory, a
// register tile of rows x columns per thread, lanes sharing a tile's k
// (tileSplit, emitResidentMatmul).
//
//===----------------------------------------------------------------------===//

#include "RecurrenceEmitter.h"

using namespace mlir;
using namespace attn;
using namespace attn::cuda;

/// Plans which recurrent matmuls keep their weights on chip: those of the
/// outermost scan whose right operand is a kernel input (step-invariant,
/// so the same matrix every step) of rank 2, as many as fit in `budget`
/// bytes of shared memory. Block b owns columns [b * cols, (b + 1) * cols)
/// of each such matrix, loads them once before the first step, and
/// computes exactly those columns of the product every step: the weights
/// cross HBM once instead of once per step (Persistent RNNs, Diamos et
/// al. 2016). Behind the weights come, under a unit split, the block's
/// tile of the product, which its gates then read without leaving the SM,
/// and the staging area for the products' left operands: all of them, or
/// at least 16 k of every row, which each placed matrix leaves room for.
void RecurrenceEmitter::planResidentWeights(int64_t blocks, int64_t budget) {
  llvm::SmallVector<graph::MatmulOp> candidates;
  for (Operation &op : scan.getBody().front().without_terminator()) {
    auto matmul = dyn_cast<graph::MatmulOp>(op);
    if (!matmul || !k.inputNumber(matmul.getRhs()) ||
        shapeOf(matmul.getRhs()).size() != 2 ||
        shapeOf(matmul.getResult()).size() != 2)
      continue;
    candidates.push_back(matmul);
  }
  int64_t productBytes = 0;
  if (units)
    productBytes =
        llvm::alignTo(units->rows * units->groups * units->perBlock * 4, 16);
  int64_t offset = 0, stagingNeed = 0, reserve = 0;
  bool productPlaced = false;
  for (graph::MatmulOp matmul : candidates) {
    int64_t rows = shapeOf(matmul.getResult())[0];
    ArrayRef<int64_t> rhs = shapeOf(matmul.getRhs());
    int64_t depth = matmul.getTransposeRhs() ? rhs[1] : rhs[0];
    int64_t cols = matmul.getTransposeRhs() ? rhs[0] : rhs[1];
    int64_t perBlock = units ? units->groups * units->perBlock
                             : (cols + blocks - 1) / blocks;
    // Rows of 4 k (float4 reads), the last one zero-padded.
    int64_t paddedDepth = llvm::alignTo(depth, 4);
    int64_t bytes = paddedDepth * perBlock * 4;
    int64_t withReserve = std::max(reserve, rows * 16 * 4);
    bool product = units && units->matmul == matmul.getOperation();
    int64_t tile = productPlaced || product ? productBytes : 0;
    if (offset + bytes + withReserve + tile > budget)
      continue;
    resident[matmul] = {offset / 4, perBlock, depth, cols};
    offset += bytes;
    reserve = withReserve;
    productPlaced |= product;
    stagingNeed = std::max(stagingNeed, rows * paddedDepth * 4);
  }
  if (resident.empty())
    return;
  if (productPlaced) {
    productOffset = offset / 4;
    offset += productBytes;
  }
  stagingOffset = offset / 4;
  stagingFloats = (std::min(stagingNeed, budget - offset) & ~int64_t(15)) / 4;
  k.dynamicShared = offset + stagingFloats * 4;
}

std::string RecurrenceEmitter::ownedColumn(const ResidentPlan &plan,
                                           const std::string &c) {
  if (!units)
    return "blockIdx.x * " + num(plan.perBlock) + " + " + c;
  return "(" + c + ") / " + num(units->perBlock) + " * " + num(units->units) +
         " + blockIdx.x * " + num(units->perBlock) + " + (" + c + ") % " +
         num(units->perBlock);
}

std::string RecurrenceEmitter::ownedColumnValid(const ResidentPlan &plan,
                                                const std::string &c,
                                                const std::string &col) {
  if (!units)
    return col + " < " + num(plan.cols);
  return "blockIdx.x * " + num(units->perBlock) + " + (" + c + ") % " +
         num(units->perBlock) + " < " + num(units->units);
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
  int64_t products = (rows + split.rows - 1) / split.rows *
                     (plan.perBlock / split.cols);
  while (split.lanes < 32 && products * split.lanes * 2 <= k.threads)
    split.lanes *= 2;
  int64_t warpColumns = 32 / split.lanes;
  if (plan.perBlock % 8 == 0 && warpColumns < 8)
    split.swizzle = warpColumns;
  return split;
}

/// The float4 slot of the resident weights that holds k = 4 k4 .. 4 k4 + 3
/// of the block's column c: row k4 of perBlock slots. A warp reads
/// 32 / lanes adjacent columns at each of `lanes` consecutive k4; eight
/// slots fill the 32 banks, so with fewer than eight columns the slot
/// index is XORed with (k4 % lanes) * columns (mod 8), which gives each
/// k4 of the warp its own banks: 4 wavefronts for 512 bytes, the minimum.
/// The XOR stays within an aligned group of 8 columns (perBlock % 8 == 0).
std::string RecurrenceEmitter::residentSlot(const ResidentPlan &plan,
                                            const TileSplit &split,
                                            const std::string &k4,
                                            const std::string &c) const {
  std::string column = "(" + c + ")";
  if (split.swizzle)
    column = "(" + column + " ^ (" + k4 + ") % " + num(split.lanes) + " * " +
             num(split.swizzle) + " % 8)";
  return "(" + k4 + ") * " + num(plan.perBlock) + " + " + column;
}

/// Loads each resident block's columns into shared memory (as f32), in
/// the float4 slots of residentSlot, zeros past the last k and column.
void RecurrenceEmitter::loadResidentWeights() {
  if (resident.empty())
    return;
  CodeWriter &w = k.out;
  // Declared as 16-byte elements, so the float4 reads and cp.async
  // destinations are aligned whatever the compiler would give floats.
  w.line("ATTNC_DYNAMIC_SHARED(attnc_b128, residentRaw);");
  w.line("float *residentWeights = reinterpret_cast<float *>(residentRaw);");
  for (auto &[op, plan] : resident) {
    auto matmul = cast<graph::MatmulOp>(op);
    Value rhs = matmul.getRhs();
    TileSplit split = tileSplit(plan, shapeOf(matmul.getResult())[0]);
    w.open("for (int e = threadIdx.x; e < " +
           num(llvm::alignTo(plan.depth, 4) * plan.perBlock) +
           "; e += blockDim.x)");
    w.line("const attnc_index kk = e / " + num(plan.perBlock) + ", c = e % " +
           num(plan.perBlock) + ";");
    w.line("const attnc_index col = " + ownedColumn(plan, "c") + ";");
    Index at = matmul.getTransposeRhs() ? Index{"col", "kk"} : Index{"kk", "col"};
    w.line("residentWeights[" + num(plan.offset) + " + (" +
           residentSlot(plan, split, "kk / 4", "c") + ") * 4 + kk % 4] = kk < " +
           num(plan.depth) + " && " + ownedColumnValid(plan, "c", "col") +
           " ? " + *k.loadInput(rhs, at) + " : 0.0f;");
    w.close();
  }
  w.line("__syncthreads();");
}

/// The left operand of a product at (row, kk) in scope, through a fresh
/// scalar emitter (nothing computed for another element is reused).
FailureOr<std::string>
RecurrenceEmitter::leftOperandAt(graph::MatmulOp matmul) {
  ScalarEmitter scalar(k.out, [&](Value v, const Index &i) {
    return load(v, i, nullptr);
  });
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

/// The block's columns of a product whose weights are resident, every
/// row, as tileSplit shares them out. The left operand is staged in
/// shared memory (in chunks of k when it does not fit), so the dot
/// products read float4s of it next to float4s of the weights; rows past
/// the last are computed on the last row's operands and not stored. The
/// trip counts are the same for every lane of a warp's tiles, so whole
/// warps reach the shuffles.
///
/// When the left operand is a plain buffer (the recurrent state, as a
/// rule), it streams in through cp.async, at least four chunks into two
/// buffers: the block computes on one chunk while the next arrives. Every
/// block reads all of it each step (B x H: 64 KiB per block at batch 16
/// and H = 1024, f32), so without the overlap the step would wait for L2
/// as long as it computes. Otherwise the threads stage it through the
/// scalar emitter, then compute.
LogicalResult RecurrenceEmitter::emitResidentMatmul(graph::MatmulOp matmul,
                                                    const ResidentPlan &plan,
                                                    const std::string &target) {
  CodeWriter &w = k.out;
  Value result = matmul.getResult();
  const int64_t rows = shapeOf(result)[0], perBlock = plan.perBlock;
  const int64_t depth4 = (plan.depth + 3) / 4;
  std::optional<std::string> buffer = plainBuffer(matmul.getLhs());
  const bool async =
      buffer && !matmul.getTransposeLhs() && plan.depth % 4 == 0;
  const TileSplit split = tileSplit(plan, rows);
  // Float4s of a row per chunk; streamed chunks are whole multiples of the
  // lanes (so no lane idles) when the buffers allow it.
  int64_t chunk4 = std::min(depth4, stagingFloats / rows / 4);
  if (async) {
    int64_t room = stagingFloats / 2 / rows / 4;
    if (room > split.lanes)
      room = llvm::alignDown(room, split.lanes);
    // At least one float4 per row: a buffer that holds the whole of a
    // shallow h (depth 4) leaves no room for a second.
    chunk4 = std::max<int64_t>(
        1, std::min<int64_t>(room, llvm::alignTo((depth4 + 3) / 4, split.lanes)));
  }
  const int64_t chunks = (depth4 + chunk4 - 1) / chunk4;
  const bool oneChunk = !async && chunks == 1;
  // Streamed chunks: as many buffers as fit, all chunks in flight at once
  // when h fits (a chunk's FMAs at batch 1 take less than an L2 round
  // trip, so a two-buffer ring would wait once per chunk).
  const int64_t slots =
      std::min(chunks, stagingFloats / std::max<int64_t>(1, rows * chunk4 * 4));
  const int64_t colGroups = perBlock / split.cols;
  const int64_t products = (rows + split.rows - 1) / split.rows * colGroups;
  const int64_t bases = (products * split.lanes + k.threads - 1) / k.threads;
  const std::string lanes = num(split.lanes), r = num(split.rows),
                    c = num(split.cols);
  const std::string weights4 = "reinterpret_cast<const float4 *>("
                               "residentWeights + " + num(plan.offset) + ")";
  std::string staged4 = "reinterpret_cast<const float4 *>(residentWeights + " +
                        num(stagingOffset) + ")";
  if (async)
    staged4 = "reinterpret_cast<const float4 *>(residentWeights + " +
              num(stagingOffset) + " + chunk % " + num(slots) + " * " +
              num(rows * chunk4 * 4) +
              ")";

  // Rows x 4 chunk4 k of the left operand (from k = 4 first4 when
  // chunked), zeros past the end.
  auto stage = [&]() -> LogicalResult {
    w.open("for (int i = threadIdx.x; i < " + num(rows * chunk4 * 4) +
           "; i += blockDim.x)");
    w.line("const attnc_index row = i / " + num(chunk4 * 4) + ", kk = " +
           (oneChunk ? "" : "first4 * 4 + ") + "i % " + num(chunk4 * 4) +
           ";");
    w.line("float value = 0.0f;");
    w.open("if (kk < " + num(plan.depth) + ")");
    FailureOr<std::string> a = leftOperandAt(matmul);
    if (failed(a))
      return failure();
    w.line("value = " + *a + ";");
    w.close();
    w.line("residentWeights[" + num(stagingOffset) + " + i] = value;");
    w.close();
    return success();
  };
  // Starts copying chunk `which` into its buffer, zeros past the end.
  auto issue = [&](const std::string &which) {
    w.open("for (int i = threadIdx.x; i < " + num(rows * chunk4) +
           "; i += blockDim.x)");
    w.line("const attnc_index row = i / " + num(chunk4) + ", k4 = (" + which +
           ") * " + num(chunk4) + " + i % " + num(chunk4) + ";");
    w.line("attnc_cp_async_16(residentWeights + " + num(stagingOffset) +
           " + (" + which + ") % " + num(slots) + " * " +
           num(rows * chunk4 * 4) +
           " + i * 4, " + *buffer + " + row * " + num(plan.depth) +
           " + (k4 < " + num(depth4) + " ? k4 : 0) * 4, k4 < " + num(depth4) +
           ");");
    w.close();
  };

  if (oneChunk) {
    if (failed(stage()))
      return failure();
    w.line("__syncthreads();");
  }
  w.open("for (attnc_index base = 0; base < " + num(products) +
         "; base += blockDim.x / " + lanes + ")");
  w.line("const attnc_index e = base + threadIdx.x / " + lanes +
         ", lane = threadIdx.x % " + lanes + ";");
  w.line("const attnc_index rowBase = e / " + num(colGroups) + " * " + r +
         ", group = e % " + num(colGroups) + ";");
  w.line("float acc[" + r + "][" + c + "] = {};");
  std::string global4 = "k4";
  if (async) {
    global4 = "chunk * " + num(chunk4) + " + k4";
    const std::string ahead = num(slots - 1);
    w.open("for (attnc_index chunk = 0; chunk < " + ahead + "; ++chunk)");
    issue("chunk");
    w.line("attnc_cp_async_commit();");
    w.close();
    w.open("for (attnc_index chunk = 0; chunk < " + num(chunks) + "; ++chunk)");
    w.open("if (chunk + " + ahead + " < " + num(chunks) + ")");
    issue("chunk + " + ahead);
    w.close();
    w.line("attnc_cp_async_commit();");
    w.line("attnc_cp_async_wait<" + ahead +
           ">(); // this chunk's copies, not the later ones'");
    w.line("__syncthreads();");
  } else if (!oneChunk) {
    global4 = "first4 + k4";
    w.open("for (attnc_index first4 = 0; first4 < " + num(depth4) +
           "; first4 += " + num(chunk4) + ")");
    w.line("__syncthreads(); // every thread is done with the last chunk");
    if (failed(stage()))
      return failure();
    w.line("__syncthreads();");
  }
  // Unrolled twice, so one iteration's shared loads issue under the
  // other's FMAs (a block has only two warps per scheduler to hide them).
  w.line("#pragma unroll 2");
  w.open("for (attnc_index k4 = lane; k4 < " + num(chunk4) +
         (oneChunk ? "" : " && " + global4 + " < " + num(depth4)) +
         "; k4 += " + lanes + ")");
  w.line("float4 b[" + c + "];");
  w.line("#pragma unroll");
  w.line("for (int j = 0; j < " + c + "; ++j) b[j] = " + weights4 + "[" +
         residentSlot(plan, split, global4, "group + j * " + num(colGroups)) +
         "];");
  w.line("#pragma unroll");
  w.open("for (int r = 0; r < " + r + "; ++r)");
  w.line("const attnc_index row = rowBase + r < " + num(rows) +
         " ? rowBase + r : " + num(rows - 1) + ";");
  w.line("const float4 a = " + staged4 + "[row * " + num(chunk4) + " + k4];");
  w.line("#pragma unroll");
  w.line("for (int j = 0; j < " + c + "; ++j) acc[r][j] = fmaf(a.w, b[j].w, "
         "fmaf(a.z, b[j].z, fmaf(a.y, b[j].y, fmaf(a.x, b[j].x, acc[r][j]))));");
  w.close();
  w.close();
  if (async && slots < chunks)
    w.line("__syncthreads(); // a later chunk's copies refill this buffer");
  if (!oneChunk)
    w.close();
  if (async && slots == chunks && bases > 1)
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
  std::string stores = "lane == 0 && e < " + num(products) +
                       " && rowBase + r < " + num(rows);
  if (productOffset >= 0 && units && units->matmul == matmul.getOperation()) {
    w.line("if (" + stores + ") residentWeights[" + num(productOffset) +
           " + (rowBase + r) * " + num(perBlock) + " + c] = " +
           roundTo(result, "acc[r][j]") + ";");
  } else {
    w.line("const attnc_index col = " + ownedColumn(plan, "c") + ";");
    w.line("if (" + stores + " && " + ownedColumnValid(plan, "c", "col") +
           ") " + target + "[(rowBase + r) * " + num(plan.cols) + " + col] = " +
           roundTo(result, "acc[r][j]") + ";");
  }
  w.close();
  w.close();
  w.close();
  return success();
}
