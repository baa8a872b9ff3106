//===- ShapeKernels.cpp - ops that only move elements ---------------------===//
//
// Kernels of transpose, reshape, slice, concat and split, plus the slicing
// along one dimension that scans use to hand each step its inputs and to
// stack its outputs. None of them computes: values are copied unchanged.
//
//===----------------------------------------------------------------------===//

#include "attn/Interpreter/Kernels.h"

#include "attn/Dialect/Graph/IR/GraphOps.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace attn;
using namespace attn::interp;
using namespace attn::graph;

/// Copies `from` into `out`, reading `from` at the offsets the strides
/// produce while walking `out` in row-major order.
static void gather(Tensor &out, const Tensor &from,
                   const std::vector<int64_t> &fromStrides, int64_t base) {
  const std::vector<int64_t> strides[] = {fromStrides};
  int64_t i = 0;
  forEachIndex(out.shape, strides, [&](const int64_t *at) {
    out.data[i++] = from.data[base + at[0]];
  });
}

/// Calls `fn(i, j)` for every element i of a window with the shape
/// `windowShape` placed at `start` along `dim` of a tensor of shape `shape`,
/// j being that element's offset in the tensor.
template <typename Fn>
static void forEachInWindow(llvm::ArrayRef<int64_t> shape,
                            llvm::ArrayRef<int64_t> windowShape, int64_t dim,
                            int64_t start, Fn fn) {
  std::vector<int64_t> tensorStrides = stridesOf(shape);
  const std::vector<int64_t> strides[] = {tensorStrides};
  int64_t base = start * tensorStrides[dim];
  int64_t i = 0;
  forEachIndex(windowShape, strides,
               [&](const int64_t *at) { fn(i++, base + at[0]); });
}

/// The window of `from` at `start` along `dim` with the shape of `piece`.
static void extractWindow(const Tensor &from, Tensor &piece, int64_t dim,
                          int64_t start) {
  forEachInWindow(from.shape, piece.shape, dim, start,
                  [&](int64_t i, int64_t j) { piece.data[i] = from.data[j]; });
}

/// Writes `piece` into `into` at `start` along `dim`.
static void insertWindow(Tensor &into, const Tensor &piece, int64_t dim,
                         int64_t start) {
  forEachInWindow(into.shape, piece.shape, dim, start,
                  [&](int64_t i, int64_t j) { into.data[j] = piece.data[i]; });
}

Tensor attn::interp::emptyResult(Operation *op, unsigned index) {
  auto type = cast<RankedTensorType>(op->getResult(index).getType());
  return Tensor(*dtypeOf(type), type.getShape());
}

Tensor attn::interp::sliceAlong(const Tensor &tensor, int64_t dim,
                                int64_t index) {
  std::vector<int64_t> shape = tensor.shape;
  shape[dim] = 1;
  Tensor slice(tensor.dtype, shape);
  extractWindow(tensor, slice, dim, index);
  slice.shape.erase(slice.shape.begin() + dim);
  return slice;
}

void attn::interp::insertAlong(Tensor &into, int64_t dim, int64_t index,
                               const Tensor &slice) {
  Tensor piece = slice;
  piece.shape.insert(piece.shape.begin() + dim, 1);
  insertWindow(into, piece, dim, index);
}

bool attn::interp::tryEvaluateShape(Operation *op, Operands in, Precision,
                                    Results &results) {
  return llvm::TypeSwitch<Operation *, bool>(op)
      .Case([&](TransposeOp transpose) {
        Tensor out = emptyResult(op);
        std::vector<int64_t> inStrides = stridesOf(in[0]->shape);
        std::vector<int64_t> strides;
        for (int64_t p : transpose.getPerm())
          strides.push_back(inStrides[p]);
        gather(out, *in[0], strides, 0);
        results.push_back(std::move(out));
        return true;
      })
      .Case([&](ReshapeOp) {
        Tensor out = emptyResult(op);
        out.data = in[0]->data;
        results.push_back(std::move(out));
        return true;
      })
      .Case([&](SliceOp slice) {
        Tensor out = emptyResult(op);
        std::vector<int64_t> inStrides = stridesOf(in[0]->shape);
        SmallVector<int64_t> steps = slice.getStridesOrOnes();
        int64_t base = 0;
        std::vector<int64_t> strides;
        for (size_t d = 0; d < inStrides.size(); ++d) {
          base += slice.getOffsets()[d] * inStrides[d];
          strides.push_back(steps[d] * inStrides[d]);
        }
        gather(out, *in[0], strides, base);
        results.push_back(std::move(out));
        return true;
      })
      .Case([&](ConcatOp concat) {
        Tensor out = emptyResult(op);
        int64_t start = 0;
        for (const Tensor *piece : in) {
          insertWindow(out, *piece, concat.getDim(), start);
          start += piece->shape[concat.getDim()];
        }
        results.push_back(std::move(out));
        return true;
      })
      .Case([&](SplitOp split) {
        int64_t start = 0;
        for (unsigned r = 0; r < op->getNumResults(); ++r) {
          Tensor piece = emptyResult(op, r);
          extractWindow(*in[0], piece, split.getDim(), start);
          start += piece.shape[split.getDim()];
          results.push_back(std::move(piece));
        }
        return true;
      })
      .Default([](Operation *) { return false; });
}
