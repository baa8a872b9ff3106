//===- Plan.h - the launch plan embedded in model.cubin ----------*- C++ -*-===//
//
// Everything the runtime needs to run a compiled model besides the kernels
// themselves: the buffers (inputs, outputs, temporaries) with their types
// and shapes, and the steps in order (kernel launches with their grid,
// block, shared memory and buffer arguments; zero fills; copies). The
// compiler prints it as text into the cubin; the runtime parses it back.
// Plain C++ (no MLIR), shared by both.
//
//===----------------------------------------------------------------------===//

#ifndef ATTNC_RUNTIME_PLAN_H
#define ATTNC_RUNTIME_PLAN_H

#include <cstdint>
#include <string>
#include <vector>

namespace attnc::rt {

enum class ElementType { F32, F16, BF16, I1 };

const char *elementTypeName(ElementType type);
bool parseElementType(const std::string &name, ElementType *type);
/// Bytes per element in device memory (i1 is one byte).
size_t elementBytes(ElementType type);

struct BufferDesc {
  enum class Role { Input, Output, Temp };
  int id = 0;
  Role role = Role::Temp;
  int index = -1; // argument or result position for inputs and outputs
  ElementType type = ElementType::F32;
  std::vector<int64_t> shape;
  std::string name; // inputs and outputs; "-" for temporaries

  int64_t numElements() const;
  size_t byteSize() const { return size_t(numElements()) * elementBytes(type); }
};

/// A TMA tensor map a launch passes after its buffers (sm_90a): a
/// row-major view of the buffer that is argument `arg` of the launch as
/// `outer` slices of `rows` x `cols` elements (f16 or bf16), copied in
/// boxes of `boxRows` x `boxCols` of one slice with the 128-byte swizzle
/// (zeros past a slice's rows, never the next slice's).
struct TensorMapDesc {
  int arg = 0;
  int64_t outer = 1, rows = 0, cols = 0, boxRows = 0, boxCols = 0;
  ElementType type = ElementType::BF16; // the buffer's, set by parsePlan
};

struct PlanStep {
  enum class Op { Launch, Zero, Copy };
  Op op = Op::Launch;
  // Launch.
  std::string kernel; // function name in the module
  std::string kind;   // gemm, attention, pointwise, row, recurrence, scan
  unsigned grid[3] = {1, 1, 1};
  unsigned block[3] = {1, 1, 1};
  size_t dynamicShared = 0;
  bool cooperative = false;
  std::vector<int> args; // buffer ids, in parameter order
  /// Arguments (indices into args) the kernel reads with 16-byte copies
  /// (cp.async), which need 16-byte aligned addresses.
  std::vector<int> aligned;
  std::vector<TensorMapDesc> maps; // parameters after the buffers
  /// 64-bit integers after the maps: the shape of a launch of a kernel
  /// that several kernel ops share (ModuleEmitter.cpp), last its variant.
  std::vector<int64_t> scalars;
  // Zero: args[0]. Copy: args[0] to args[1].
};

struct Plan {
  /// 2: launches may carry scalars, and several may launch one kernel.
  /// 3: launches may list the arguments they read with 16-byte copies.
  /// 4: temporaries must be zero when the session is created (a scan's
  /// ticket counter, never reset by a run); a runtime that reads version
  /// 4 zeroes them. Older plans (none of these) still read.
  static constexpr int kVersion = 4;
  std::string arch;  // sm_80, sm_90, sm_90a
  std::string entry; // graph name
  std::vector<BufferDesc> buffers; // buffers[i].id == i
  std::vector<PlanStep> steps;

  const BufferDesc *buffer(int id) const;
  /// Inputs (or outputs) in argument order.
  std::vector<const BufferDesc *> inputs() const;
  std::vector<const BufferDesc *> outputs() const;
};

/// The text form (one line per buffer and step; see Plan.cpp).
std::string printPlan(const Plan &plan);
/// Parses and checks the text form: every buffer id a step names exists,
/// inputs and outputs are numbered 0..n-1, launch shapes are positive.
bool parsePlan(const std::string &text, Plan *plan, std::string *error);

} // namespace attnc::rt

#endif // ATTNC_RUNTIME_PLAN_H
