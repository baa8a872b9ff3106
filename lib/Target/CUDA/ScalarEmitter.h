//===- ScalarEmitter.h - one element of a graph value as CUDA ---*- C++ -*-===//
//
// Every kernel pattern needs "the value of this graph value at this index"
// as CUDA C++: a pointwise kernel for each output element, a GEMM epilogue
// for each accumulator, a row kernel for each element of a row, a score
// modification for each score. This emitter produces it for elementwise
// ops, data movement and generators by index arithmetic: an elementwise op
// reads its operands at the broadcast index, a transpose at the permuted
// one, a reshape through the flat offset, and so on, down to leaves that
// the kernel pattern supplies (buffer loads, accumulators, statistics).
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_LIB_TARGET_CUDA_SCALAREMITTER_H
#define ATTN_LIB_TARGET_CUDA_SCALAREMITTER_H

#include "mlir/IR/Value.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"

#include <functional>
#include <string>

namespace attn::cuda {

/// C++ expressions (of type attnc_index), one per dim of a value.
using Index = llvm::SmallVector<std::string, 6>;

class CodeWriter;

class ScalarEmitter {
public:
  /// Returns the expression for `value` at `index` when the kernel pattern
  /// provides it (a buffer load, an accumulator), or nullopt to let the
  /// emitter compute it from the defining op.
  using Leaf =
      std::function<std::optional<std::string>(mlir::Value, const Index &)>;

  ScalarEmitter(CodeWriter &out, Leaf leaf) : out(out), leaf(std::move(leaf)) {}

  /// Emits statements computing `value` at `index` and returns the name of
  /// the float variable holding it. Fails (with a diagnostic at the op) for
  /// ops that are not elementwise, data movement or generators.
  mlir::FailureOr<std::string> emit(mlir::Value value, const Index &index);

  /// Forgets computed values (call when leaving the scope they live in).
  void clearCache() { cache.clear(); }

private:
  mlir::FailureOr<std::string> compute(mlir::Value value, const Index &index);
  std::string bind(const std::string &expression);

  CodeWriter &out;
  Leaf leaf;
  llvm::StringMap<std::string> cache;
  /// Block arguments of inlined attn.fused bodies, to their operands.
  llvm::DenseMap<mlir::Value, mlir::Value> aliases;
};

/// Writes indented lines and hands out fresh names.
class CodeWriter {
public:
  explicit CodeWriter(std::string &text) : text(text) {}
  void line(const std::string &code);
  void open(const std::string &header); // "header {" then indent
  void close(const std::string &trailer = "}");
  std::string fresh(const char *prefix);
  /// Nesting depth of the open blocks (1 at the kernel body's top level).
  int depth() const { return indent; }

private:
  std::string &text;
  int indent = 1;
  unsigned counter = 0;
};

/// Shape, element type and element count of a ranked tensor value.
llvm::ArrayRef<int64_t> shapeOf(mlir::Value value);
mlir::Type elementOf(mlir::Value value);
int64_t numElements(mlir::Value value);
/// `value` as C++ source text.
inline std::string num(int64_t value) { return std::to_string(value); }
/// The row-major linear offset of `index` in `shape`, as an expression.
std::string linearize(const Index &index, llvm::ArrayRef<int64_t> shape);
/// Index expressions of the flat offset `flat` in `shape`.
Index delinearize(const std::string &flat, llvm::ArrayRef<int64_t> shape);
/// The index of an operand of shape `operand` read at `index` of a result
/// of shape `result` under numpy broadcasting (aligned from the right,
/// extent-1 dims pinned to 0).
Index broadcastIndex(const Index &index, llvm::ArrayRef<int64_t> result,
                     llvm::ArrayRef<int64_t> operand);
/// The batch part (all but the last two dims) of the index of a matrix
/// operand (of a matmul or an attention) of shape `operand`, read for the
/// result of shape `result` at batch index `batch`, under broadcasting.
Index matrixBatchIndex(const Index &batch, llvm::ArrayRef<int64_t> result,
                       llvm::ArrayRef<int64_t> operand);
/// A float literal that reads back as exactly `value` in f32.
std::string floatLiteral(double value);
/// The device-library storage type of a tensor's element type.
std::string storageType(mlir::Value value);
/// The expression rounding float `expr` to `value`'s element type.
std::string roundTo(mlir::Value value, const std::string &expr);

} // namespace attn::cuda

#endif
