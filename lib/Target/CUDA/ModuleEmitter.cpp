//===- ModuleEmitter.cpp - a kernel-level graph as one CUDA module --------===//
//
// Dispatches each kernel op to its pattern (KernelPatterns.h); lets ops
// whose code differs only in scalars and their own tail (GEMMs of other
// extents and epilogues) share one kernel, which NVRTC then compiles once;
// writes each function around its body with its emulation thunk; assigns
// a buffer to every tensor of the graph (its arguments, each kernel's
// results, each kernel's temporaries); and records the plan: launches in
// program order, zero fills for barrier counters, and copies where a
// result is an argument or is returned twice.
//
//===----------------------------------------------------------------------===//

#include "attn/Target/CUDA/CUDAEmitter.h"

#include "KernelPatterns.h"
#include "KernelSharing.h"

#include "attn/Dialect/Kernel/IR/KernelOps.h"

#include "Plan.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace attn;
using namespace attn::cuda;
using attnc::rt::BufferDesc;
using attnc::rt::Plan;
using attnc::rt::PlanStep;

static attnc::rt::ElementType elementTypeOf(Value value) {
  Type type = cast<RankedTensorType>(value.getType()).getElementType();
  if (type.isF16())
    return attnc::rt::ElementType::F16;
  if (type.isBF16())
    return attnc::rt::ElementType::BF16;
  if (type.isInteger(1))
    return attnc::rt::ElementType::I1;
  return attnc::rt::ElementType::F32;
}

static LogicalResult dispatch(KernelEmission &k) {
  return llvm::TypeSwitch<Operation *, LogicalResult>(k.kernel)
      .Case([&](kernel::GemmOp) { return emitGemm(k); })
      .Case([&](kernel::AttentionOp) { return emitAttention(k); })
      .Case([&](kernel::PointwiseOp) { return emitPointwise(k); })
      .Case([&](kernel::RowOp) { return emitRow(k); })
      .Case([&](kernel::RecurrenceOp) { return emitRecurrence(k); })
      .Case([&](kernel::ScanOp) { return emitScan(k); })
      .Default([](Operation *op) {
        return op->emitOpError("is not a kernel op; run kernel formation "
                               "(--attn-form-kernels) first");
      });
}

static unsigned countLines(const std::string &text) {
  return unsigned(std::count(text.begin(), text.end(), '\n'));
}

namespace {
class ModuleBuilder {
public:
  ModuleBuilder(graph::GraphOp graph, const analysis::TargetDescription &target,
                const EmitOptions &options)
      : graph(graph), target(target), options(options) {
    plan.arch = target.name;
    plan.entry = graph.getSymName().str();
  }
  FailureOr<EmittedModule> run();

private:
  int newBuffer(BufferDesc::Role role, int index, Value value,
                std::string name = "");
  void writeKernel(unsigned number);
  void writeSource(KernelEmission &k, const std::string &params,
                   const std::string &thunkArgs, const std::string &body);
  void recordLaunch(unsigned number);

  graph::GraphOp graph;
  const analysis::TargetDescription &target;
  EmitOptions options;
  Plan plan;
  EmittedModule module;
  llvm::DenseMap<Value, int> bufferOf;
  std::vector<std::unique_ptr<KernelEmission>> kernels;
  std::vector<SharedKernel> shared;
  /// Per emission: its shared kernel (index into `shared`), or -1.
  std::vector<int> sharedOf;
};
} // namespace

int ModuleBuilder::newBuffer(BufferDesc::Role role, int index, Value value,
                             std::string name) {
  BufferDesc buffer;
  buffer.id = int(plan.buffers.size());
  buffer.role = role;
  buffer.index = index;
  buffer.type = elementTypeOf(value);
  auto shape = cast<RankedTensorType>(value.getType()).getShape();
  buffer.shape.assign(shape.begin(), shape.end());
  buffer.name = std::move(name);
  plan.buffers.push_back(buffer);
  return buffer.id;
}

/// Appends kernel `k` (its parameters and body given) with its emulation
/// thunk to the module source, and records its span and instructions.
void ModuleBuilder::writeSource(KernelEmission &k, const std::string &params,
                                const std::string &thunkArgs,
                                const std::string &body) {
  Operation *op = k.kernel;
  std::string &src = module.source;
  SourceSpan span{k.name, countLines(src) + 1, 0, op->getLoc()};
  std::string where;
  llvm::raw_string_ostream whereStream(where);
  op->getLoc().print(whereStream);
  src += "// " + op->getName().getStringRef().str() + " " + where + "\n";
  // Tiled and persistent kernels run one block per SM (their shared memory
  // or the grid barrier says so): telling ptxas lets it use the registers
  // it needs instead of spilling to fit blocks that will never be there.
  int64_t minBlocks =
      isa<kernel::GemmOp, kernel::AttentionOp, kernel::RecurrenceOp>(op)
          ? 1
          : k.minBlocksPerSM;
  src += "extern \"C\" __global__ void __launch_bounds__(" +
         std::to_string(k.threads) +
         (minBlocks ? ", " + std::to_string(minBlocks) : "") + ") " +
         k.name + "(\n    " + params + ") {\n";
  src += body;
  src += "}\n";
  src += "#if defined(ATTNC_EMU)\nextern \"C\" void " + k.name +
         "_emu(void **args) { " + k.name + "(" + thunkArgs + "); }\n#endif\n\n";
  span.lastLine = countLines(src);
  module.spans.push_back(span);
  module.kernelNames.push_back(k.name);
  module.minRegisters.push_back(k.minRegisters);
  // The device library wrappers each compile to one instruction on sm_80
  // and later (wgmma and its fences on sm_90a); their names in the body
  // say which the kernel uses.
  std::string instructions;
  for (auto [wrapper, instruction] :
       {std::pair{"attnc_mma_m16n8k16", "mma.sync.m16n8k16"},
        std::pair{"attnc_mma_m16n8k8_tf32", "mma.sync.m16n8k8.tf32"},
        std::pair{"attnc_wgmma_m64n", "wgmma.mma_async"},
        std::pair{"attnc_ldmatrix", "ldmatrix"},
        std::pair{"attnc_cp_async_16", "cp.async"},
        std::pair{"attnc_tma_load", "tma"},
        std::pair{"attnc_mbarrier_wait", "mbarrier"},
        std::pair{"attnc_grid_sync", "grid-barrier"},
        std::pair{"attnc_wait_tagged_16", "tagged-exchange"}})
    if (body.find(wrapper) != std::string::npos)
      instructions += (instructions.empty() ? "" : ",") + std::string(instruction);
  module.instructions.push_back(instructions);
}

/// Writes emission `number`'s kernel: on its own, or, for the first member
/// of a shared kernel, the shared kernel (later members write nothing).
void ModuleBuilder::writeKernel(unsigned number) {
  KernelEmission &k = *kernels[number];
  std::string params, thunkArgs;
  unsigned argIndex = 0;
  auto param = [&](const std::string &declaration, const std::string &cast) {
    if (!params.empty()) {
      params += ",\n    ";
      thunkArgs += ", ";
    }
    params += declaration;
    thunkArgs += cast + "args[" + std::to_string(argIndex++) + "]";
  };
  auto pointer = [&](const std::string &type, const std::string &name) {
    param(type + " *__restrict__ " + name, "(" + type + " *)");
  };
  auto maps = [&]() {
    for (size_t i = 0; i < k.tensorMaps.size(); ++i)
      param("ATTNC_GRID_CONSTANT const attnc_tensor_map map" +
                std::to_string(i),
            "*(const attnc_tensor_map *)");
  };
  int group = sharedOf[number];
  if (group < 0) {
    // Results, inputs, temporaries, tensor maps; scalars are constants.
    for (auto [i, result] : llvm::enumerate(k.kernel->getResults()))
      pointer(storageType(result), "out" + std::to_string(i));
    for (auto [i, input] : llvm::enumerate(k.kernel->getOperands()))
      pointer("const " + storageType(input), "in" + std::to_string(i));
    // Temporaries are how a kernel's blocks talk to each other during the
    // launch (the scan's maps and flags, a recurrence's state): other
    // blocks write them between this block's reads, so they are not
    // __restrict__, which would let the compilers assume that a fence or
    // barrier (a call or asm not passed the pointer) leaves them as they
    // were, and reuse a value read before it.
    for (auto [i, temp] : llvm::enumerate(k.temps))
      param(temp.type + " *tmp" + std::to_string(i), "(" + temp.type + " *)");
    maps();
    std::string body;
    for (const KernelEmission::Scalar &s : k.scalars)
      body += "  const attnc_index " + s.name + " = " + num(s.value) + ";\n";
    writeSource(k, params, thunkArgs, body + k.body);
    return;
  }
  SharedKernel &g = shared[group];
  if (g.members.front() != number)
    return;
  for (auto [i, type] : llvm::enumerate(g.resultTypes))
    pointer(type, "out" + std::to_string(i));
  for (auto [i, type] : llvm::enumerate(g.inputTypes))
    pointer(type, "in" + std::to_string(i));
  maps();
  std::string body;
  for (const KernelEmission::Scalar &s : k.scalars) {
    param("const long long " + s.name + "Value", "*(const long long *)");
    body += "  const attnc_index " + s.name + " = attnc_index(" + s.name +
            "Value);\n";
  }
  param("const long long variant", "*(const long long *)");
  body += k.body.substr(0, *k.sharedEnd);
  body += "  // The part of each kernel op that shares this kernel.\n";
  body += "  switch (variant) {\n";
  std::vector<unsigned> caseLines; // each case's line within the body
  for (auto [v, member] : llvm::enumerate(g.members)) {
    caseLines.push_back(unsigned(std::count(body.begin(), body.end(), '\n')));
    KernelEmission &m = *kernels[member];
    std::string where;
    llvm::raw_string_ostream whereStream(where);
    m.kernel->getLoc().print(whereStream);
    body += "  case " + std::to_string(v) + ": { // " + where + "\n";
    body += m.body.substr(*m.sharedEnd);
    body += "  } break;\n";
  }
  body += "  }\n";
  writeSource(k, params, thunkArgs, body);
  // Each case's lines, for diagnostics at its own op: counted from the
  // body, which follows the kernel's comment line, the line that opens its
  // signature and the parameters' lines.
  const SourceSpan &kernelSpan = module.spans.back();
  unsigned bodyLine = kernelSpan.firstLine + 3 +
                      unsigned(std::count(params.begin(), params.end(), '\n'));
  for (size_t v = 0; v < caseLines.size(); ++v) {
    unsigned first = bodyLine + caseLines[v];
    unsigned last = v + 1 < caseLines.size() ? bodyLine + caseLines[v + 1] - 1
                                             : kernelSpan.lastLine;
    module.opSpans.push_back(
        {k.name, first, last, kernels[g.members[v]]->kernel->getLoc()});
  }
}

/// The plan's steps for emission `number`: buffers for its results and
/// temporaries, zero fills, the launch.
void ModuleBuilder::recordLaunch(unsigned number) {
  KernelEmission &k = *kernels[number];
  Operation *op = k.kernel;
  int group = sharedOf[number];
  PlanStep launch;
  launch.kernel = group < 0 ? k.name : shared[group].name;
  launch.kind = op->getName().stripDialect().str();
  for (Value result : op->getResults()) {
    int id = newBuffer(BufferDesc::Role::Temp, -1, result);
    bufferOf[result] = id;
    launch.args.push_back(id);
  }
  for (Value input : op->getOperands())
    launch.args.push_back(bufferOf.lookup(input));
  if (group >= 0) {
    // Inputs the shared kernel has and this op lacks: any buffer will do
    // (this op's part never reads them); its first input's.
    size_t inputs = shared[group].inputTypes.size();
    for (size_t i = op->getNumOperands(); i < inputs; ++i)
      launch.args.push_back(bufferOf.lookup(op->getOperand(0)));
  }
  for (const TempBuffer &temp : k.temps) {
    BufferDesc buffer;
    buffer.id = int(plan.buffers.size());
    buffer.role = BufferDesc::Role::Temp;
    // Temporaries are f32 words (a barrier counter is one 4-byte word).
    buffer.type = attnc::rt::ElementType::F32;
    buffer.shape = {temp.elements};
    plan.buffers.push_back(buffer);
    launch.args.push_back(buffer.id);
    if (temp.zeroed) {
      PlanStep zero;
      zero.op = PlanStep::Op::Zero;
      zero.args = {buffer.id};
      plan.steps.push_back(zero);
    }
  }
  for (unsigned input : k.copiedInputs)
    if (!llvm::is_contained(launch.aligned, int(op->getNumResults() + input)))
      launch.aligned.push_back(int(op->getNumResults() + input));
  // Tensor maps after the buffers, by value (the runtime encodes each for
  // its buffer).
  for (const KernelEmission::TensorMapUse &map : k.tensorMaps) {
    attnc::rt::TensorMapDesc desc;
    desc.arg = int(op->getNumResults() + map.input);
    desc.outer = map.outer;
    desc.rows = map.rows;
    desc.cols = map.cols;
    desc.boxRows = map.boxRows;
    desc.boxCols = map.boxCols;
    launch.maps.push_back(desc);
  }
  if (group >= 0) {
    for (const KernelEmission::Scalar &s : k.scalars)
      launch.scalars.push_back(s.value);
    const auto &members = shared[group].members;
    launch.scalars.push_back(
        int64_t(llvm::find(members, number) - members.begin()));
  }
  launch.grid[0] = unsigned(k.blocks);
  launch.block[0] = unsigned(k.threads);
  launch.dynamicShared = size_t(k.dynamicShared);
  launch.cooperative = k.cooperative;
  plan.steps.push_back(launch);
}

FailureOr<EmittedModule> ModuleBuilder::run() {
  Block &body = graph.getBody().front();
  module.source = "// Generated by attnc from @" + plan.entry + " for " +
                  plan.arch + ". One kernel per kernel op, in launch order.\n"
                  "#include \"attnc/device.h\"\n\n";
  ArrayAttr argAttrs = graph.getArgAttrsAttr();
  for (auto [i, arg] : llvm::enumerate(body.getArguments())) {
    std::string name = "arg" + std::to_string(i);
    if (argAttrs)
      if (auto dict = dyn_cast<DictionaryAttr>(argAttrs[i]))
        if (auto attr = dict.getAs<StringAttr>("attn.name"))
          name = attr.str();
    bufferOf[arg] = newBuffer(BufferDesc::Role::Input, int(i), arg, name);
  }
  // Every kernel op's code first, so that ops can share kernels; then the
  // source in launch order and the plan.
  for (Operation &op : body.without_terminator()) {
    auto k = std::make_unique<KernelEmission>(
        &op, "attnc_k" + std::to_string(kernels.size()), target);
    k->f32Matmul = options.f32Matmul;
    k->recurrenceExchange = options.recurrenceExchange;
    k->scanLookahead = options.scanLookahead;
    if (failed(dispatch(*k)))
      return failure();
    if (k->dynamicShared > target.kernels.smemPerBlockBytes)
      return op.emitOpError("CUDA emission: needs ")
             << k->dynamicShared
             << " bytes of shared memory per block, more than " << target.name
             << "'s " << target.kernels.smemPerBlockBytes;
    kernels.push_back(std::move(k));
  }
  shared = findSharedKernels(kernels, sharedOf);
  for (unsigned i = 0; i < kernels.size(); ++i) {
    writeKernel(i);
    recordLaunch(i);
  }
  // Results: a kernel's buffer becomes the output; an argument or a value
  // returned twice is copied into an output buffer of its own.
  for (auto [i, value] : llvm::enumerate(body.getTerminator()->getOperands())) {
    std::string name = "out" + std::to_string(i);
    BufferDesc &buffer = plan.buffers[bufferOf.lookup(value)];
    if (buffer.role == BufferDesc::Role::Temp) {
      buffer.role = BufferDesc::Role::Output;
      buffer.index = int(i);
      buffer.name = name;
      continue;
    }
    int copy = newBuffer(BufferDesc::Role::Output, int(i), value, name);
    PlanStep step;
    step.op = PlanStep::Op::Copy;
    step.args = {bufferOf.lookup(value), copy};
    plan.steps.push_back(step);
  }
  // 32-bit index arithmetic when every buffer fits (device.h).
  bool small = llvm::all_of(plan.buffers, [](const BufferDesc &buffer) {
    // 2^30, not 2^31: a grid-stride index may step past its bound by a
    // whole grid before the loop test stops it.
    return buffer.numElements() < (int64_t(1) << 30);
  });
  if (small)
    module.source.insert(module.source.find("#include \"attnc/device.h\""),
                         "#define ATTNC_INDEX_32 1\n");
  module.plan = attnc::rt::printPlan(plan);
  return module;
}

FailureOr<EmittedModule> attn::cuda::emitModule(graph::GraphOp graph,
                                                const EmitOptions &options) {
  llvm::Expected<analysis::TargetDescription> target =
      analysis::lookupTarget(options.arch);
  if (!target)
    return graph.emitError() << toString(target.takeError());
  return ModuleBuilder(graph, *target, options).run();
}
