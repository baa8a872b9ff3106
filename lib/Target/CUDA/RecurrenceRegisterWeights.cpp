//===- RecurrenceRegisterWeights.cpp - the FMA product's weights in registers //
//
// At a small batch the FMA product (emitFmaProduct) reads each resident
// weight from shared memory once per step for a handful of FMAs: at batch
// 1, H = 1024, a block's 32 columns are 128 KiB a step, about 1000 clocks
// of an SM's 128 bytes a clock, most of what the step's product costs,
// while the FMAs take about 250. Each thread's share of the weights is
// fixed for the whole recurrence (one tile of `cols` columns over every
// lanes-th group of 4 k, tileSplit), so when that share (with the shares
// of the kernel's other such products) is at most kRegisterWeightFloats
// it is copied from shared memory into registers
// once, before the steps, and a step reads only the state from shared
// memory (a warp's float4 reads of it broadcast to the tiles that share
// them). The register file holds them where shared memory streamed them:
// 128 floats a thread are 32 K registers of a block of 256, half an SM's,
// and a persistent recurrence runs one block per SM.
//
// The share is indexed by slot m = global4 / lanes, the thread's m-th
// group of 4 k (k4 = lane + m lanes): which slot a chunk's k4 is must be
// known when the kernel is compiled, so the product unrolls its chunk
// loop and uses the registers only when a chunk holds whole rounds of the
// lanes (chunk4 % lanes == 0) or the operand is staged at once.
//
//===----------------------------------------------------------------------===//

#include "RecurrenceEmitter.h"

using namespace mlir;
using namespace attn;
using namespace attn::cuda;

std::optional<RecurrenceEmitter::RegisterWeights>
RecurrenceEmitter::planRegisterWeights(graph::MatmulOp matmul,
                                       const ResidentPlan &plan) const {
  const int64_t rows = shapeOf(matmul.getResult())[0];
  if (plan.halves || tensorWork(rows, plan.perBlock, false))
    return std::nullopt;
  const TileSplit split = tileSplit(plan, rows);
  const int64_t colGroups = plan.perBlock / split.cols;
  const int64_t products = (rows + split.rows - 1) / split.rows * colGroups;
  // One tile per thread for every step (no loop over bases).
  if (products * split.lanes > k.threads)
    return std::nullopt;
  const int64_t depth4 = (plan.depth + 3) / 4;
  RegisterWeights regs;
  regs.slots = (depth4 + split.lanes - 1) / split.lanes;
  if (regs.slots * split.cols * 4 > kRegisterWeightFloats)
    return std::nullopt;
  // Independent sums per output, so that the FMAs are not one chain of
  // every k: about 8 chains a thread in all (4 each at batch 1).
  regs.partials = std::max<int64_t>(1, 8 / (split.rows * split.cols));
  regs.partials = std::min(regs.partials, regs.slots);
  return regs;
}

void RecurrenceEmitter::loadRegisterWeights() {
  CodeWriter &w = k.out;
  // One budget for the thread, not one per product: two products of 128
  // floats each spill (255 registers and a stack frame).
  int64_t budget = kRegisterWeightFloats;
  for (auto &entry : resident) {
    auto matmul = cast<graph::MatmulOp>(entry.first);
    const ResidentPlan &plan = entry.second;
    std::optional<RegisterWeights> regs = planRegisterWeights(matmul, plan);
    if (!regs)
      continue;
    const TileSplit split = tileSplit(plan, shapeOf(matmul.getResult())[0]);
    const int64_t floats = regs->slots * split.cols * 4;
    if (floats > budget)
      continue;
    budget -= floats;
    regs->name = "registerWeights" + num(registerWeights.size());
    const int64_t colGroups = plan.perBlock / split.cols;
    const int64_t depth4 = (plan.depth + 3) / 4;
    w.line("// This thread's share of the FMA product's weights, for every "
           "step (RecurrenceRegisterWeights.cpp).");
    w.line("float4 " + regs->name + "[" + num(regs->slots) + "][" +
           num(split.cols) + "];");
    w.open("");
    w.line("const attnc_index lane = threadIdx.x % " + num(split.lanes) +
           ", group = threadIdx.x / " + num(split.lanes) + " % " +
           num(colGroups) + ";");
    w.line("#pragma unroll");
    w.open("for (int m = 0; m < " + num(regs->slots) + "; ++m)");
    w.line("const attnc_index k4 = lane + m * " + num(split.lanes) + ";");
    w.line("#pragma unroll");
    w.line("for (int j = 0; j < " + num(split.cols) + "; ++j) " + regs->name +
           "[m][j] = k4 < " + num(depth4) +
           " ? reinterpret_cast<const float4 *>(residentWeights + " +
           num(plan.offset) + ")[" +
           residentSlot(plan, split, "k4", "group + j * " + num(colGroups)) +
           "] : float4{0.0f, 0.0f, 0.0f, 0.0f};");
    w.close();
    w.close();
    registerWeights[matmul] = *regs;
  }
}

bool RecurrenceEmitter::usesRegisterWeights(graph::MatmulOp matmul,
                                            const StagedOperand &st,
                                            int64_t lanes) const {
  if (!registerWeights.count(matmul))
    return false;
  return st.oneChunk || (st.async && st.chunk4 % lanes == 0);
}

void RecurrenceEmitter::emitRegisterFmaLoop(graph::MatmulOp matmul,
                                            const ResidentPlan &plan,
                                            const StagedOperand &st,
                                            const std::string &staged4) {
  // Into acc[r][j], or with several partial sums into part[r][j][], which
  // emitFmaProduct declares and adds up.
  CodeWriter &w = k.out;
  const RegisterWeights &regs = registerWeights.find(matmul)->second;
  const int64_t rows = shapeOf(matmul.getResult())[0];
  const TileSplit split = tileSplit(plan, rows);
  const int64_t depth4 = (plan.depth + 3) / 4;
  const std::string r = num(split.rows), c = num(split.cols),
                    p = num(regs.partials);
  // Slots per chunk: whole rounds of the lanes, or all of them at once.
  const int64_t perChunk =
      st.oneChunk ? regs.slots : st.chunk4 / split.lanes;
  const std::string slot =
      st.oneChunk ? "m" : "chunk * " + num(perChunk) + " + m";
  w.line("#pragma unroll");
  w.open("for (int m = 0; m < " + num(perChunk) + "; ++m)");
  w.line("const attnc_index k4 = lane + m * " + num(split.lanes) + ";");
  w.open("if (" + slot + " < " + num(regs.slots) + " && " +
         (st.oneChunk ? std::string("k4") : "chunk * " + num(st.chunk4) +
                                                " + k4") +
         " < " + num(depth4) + ")");
  w.line("#pragma unroll");
  w.open("for (int r = 0; r < " + r + "; ++r)");
  emitStagedRow(rows, st, staged4);
  w.line("#pragma unroll");
  w.open("for (int j = 0; j < " + c + "; ++j)");
  w.line("const float4 b = " + regs.name + "[" + slot + "][j];");
  w.line(regs.partials > 1
             ? "float &sum = part[r][j][(" + slot + ") % " + p + "];"
             : std::string("float &sum = acc[r][j];"));
  w.line("sum = fmaf(a.w, b.w, fmaf(a.z, b.z, fmaf(a.y, b.y, fmaf(a.x, b.x, "
         "sum))));");
  w.close();
  w.close();
  w.close();
  w.close();
}
