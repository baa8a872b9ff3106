//===- KernelSharing.cpp - kernel ops that can be one CUDA kernel ---------===//
//
// A pattern may write a kernel's body as a part that depends on its op
// only through named scalars, then the op's own part (KernelPatterns.h).
// Ops whose shared parts are the same text, read with the same scalars,
// launched alike, over parameters of compatible types, become one group
// here; ModuleEmitter.cpp emits each group as one kernel. Equal text is
// what makes this safe: besides the scalars, the shared part reads
// nothing the ops differ in.
//
//===----------------------------------------------------------------------===//

#include "KernelSharing.h"

using namespace mlir;
using namespace attn;
using namespace attn::cuda;

/// Parameter types of `k`'s results and inputs, in order.
static llvm::SmallVector<std::string> resultTypes(KernelEmission &k) {
  llvm::SmallVector<std::string> types;
  for (Value result : k.kernel->getResults())
    types.push_back(storageType(result));
  return types;
}
static llvm::SmallVector<std::string> inputTypes(KernelEmission &k) {
  llvm::SmallVector<std::string> types;
  for (Value input : k.kernel->getOperands())
    types.push_back("const " + storageType(input));
  return types;
}

/// Whether `a` and `b` can be one kernel: the same shared code text, read
/// with the same scalars, launched alike, over parameters of the same
/// types wherever both have one. The shared text is all that differs
/// between two ops' code besides the scalars and their own parts, so
/// equal text means equal behaviour.
static bool canShare(KernelEmission &a, KernelEmission &b) {
  if (!a.sharedEnd || !b.sharedEnd || !a.temps.empty() || !b.temps.empty() ||
      a.cooperative || b.cooperative ||
      a.kernel->getName() != b.kernel->getName() || a.threads != b.threads ||
      a.scalars.size() != b.scalars.size() ||
      a.tensorMaps.size() != b.tensorMaps.size() ||
      llvm::StringRef(a.body).take_front(*a.sharedEnd) !=
          llvm::StringRef(b.body).take_front(*b.sharedEnd) ||
      resultTypes(a) != resultTypes(b))
    return false;
  for (size_t i = 0; i < a.scalars.size(); ++i)
    if (a.scalars[i].name != b.scalars[i].name)
      return false;
  for (size_t i = 0; i < a.tensorMaps.size(); ++i)
    if (a.tensorMaps[i].boxRows != b.tensorMaps[i].boxRows ||
        a.tensorMaps[i].boxCols != b.tensorMaps[i].boxCols)
      return false;
  llvm::SmallVector<std::string> inA = inputTypes(a), inB = inputTypes(b);
  for (size_t i = 0; i < std::min(inA.size(), inB.size()); ++i)
    if (inA[i] != inB[i])
      return false;
  return true;
}

/// Groups the emitted kernels that can share one: each joins the first
/// group whose first member it can share with. Compiling the shared part
/// once instead of per op is what it saves (a GEMM main loop is most of
/// a GEMM kernel's NVRTC time); the cost at run time is a few integer
/// divisions by parameters instead of constants, once per block.
std::vector<SharedKernel> attn::cuda::findSharedKernels(
    llvm::ArrayRef<std::unique_ptr<KernelEmission>> kernels,
    std::vector<int> &sharedOf) {
  sharedOf.assign(kernels.size(), -1);
  std::vector<SharedKernel> shared;
  std::vector<SharedKernel> groups;
  for (unsigned i = 0; i < kernels.size(); ++i) {
    KernelEmission &k = *kernels[i];
    if (!k.sharedEnd)
      continue;
    // Besides the first member, the inputs every member has so far (the
    // longest list): each position is one parameter of one type.
    llvm::SmallVector<std::string> inputs = inputTypes(k);
    auto inputsFit = [&](const SharedKernel &g) {
      for (size_t p = 0; p < std::min(inputs.size(), g.inputTypes.size()); ++p)
        if (inputs[p] != g.inputTypes[p])
          return false;
      return true;
    };
    SharedKernel *group = nullptr;
    for (SharedKernel &g : groups)
      if (canShare(*kernels[g.members.front()], k) && inputsFit(g)) {
        group = &g;
        break;
      }
    if (!group) {
      groups.push_back({k.name, {}, resultTypes(k), {}});
      group = &groups.back();
    }
    group->members.push_back(i);
    if (inputs.size() > group->inputTypes.size())
      group->inputTypes = inputs;
  }
  for (SharedKernel &g : groups) {
    if (g.members.size() < 2)
      continue;
    for (unsigned member : g.members)
      sharedOf[member] = int(shared.size());
    shared.push_back(std::move(g));
  }
  return shared;
}

