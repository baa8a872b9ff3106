//===- IterationSpaceTest.cpp - the iteration-space interface -------------===//
//
// Checks the loop nests ops state through IterationSpaceOpInterface: the
// kinds of their loops and the maps of their operands and results, for
// one op of each family. Later analyses trust these maps blindly, so they
// are pinned here.
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Graph/IR/GraphOps.h"
#include "attn/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/FileSystem.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace attn::graph;

namespace {

class IterationSpaceTest : public ::testing::Test {
protected:
  IterationSpaceTest() {
    DialectRegistry registry;
    attn::registerAllDialects(registry);
    context.appendDialectRegistry(registry);
  }

  /// Parses a graph body (without the graph header) and returns the
  /// iteration space of its first op.
  IterationSpace spaceOf(llvm::StringRef args, llvm::StringRef body) {
    std::string text = ("attn.graph @g(" + args + ") {\n" + body +
                        "\n  attn.return\n}")
                           .str();
    module = parseSourceString<ModuleOp>(text, &context);
    EXPECT_TRUE(module) << text;
    Operation *first = &module->getBody()
                            ->getOperations()
                            .front()
                            .getRegion(0)
                            .front()
                            .front();
    auto iface = dyn_cast<IterationSpaceOpInterface>(first);
    EXPECT_TRUE(iface) << "no interface on " << first->getName().getStringRef().str();
    return iface.getIterationSpace();
  }

  static std::string kinds(const IterationSpace &space) {
    std::string text;
    for (IterKind kind : space.kinds)
      text += (text.empty() ? "" : ",") + stringifyIterKind(kind).str();
    return text;
  }

  static std::string str(AffineMap map) {
    std::string text;
    llvm::raw_string_ostream os(text);
    map.print(os);
    return text;
  }

  MLIRContext context;
  OwningOpRef<ModuleOp> module;
};

TEST_F(IterationSpaceTest, BatchedMatmulBroadcastsAndReducesK) {
  IterationSpace space = spaceOf(
      "%a: tensor<2x5x7xf32>, %b: tensor<7x3xf32>",
      "%c = attn.matmul %a, %b : tensor<2x5x7xf32>, tensor<7x3xf32> -> "
      "tensor<2x5x3xf32>");
  EXPECT_EQ(space.bounds, (llvm::SmallVector<int64_t>{2, 5, 3, 7}));
  EXPECT_EQ(kinds(space), "parallel,parallel,parallel,reduction");
  EXPECT_EQ(str(space.operandMaps[0]),
            "(d0, d1, d2, d3) -> (d0, d1, d3)");
  EXPECT_EQ(str(space.operandMaps[1]), "(d0, d1, d2, d3) -> (d3, d2)");
  EXPECT_EQ(str(space.resultMaps[0]), "(d0, d1, d2, d3) -> (d0, d1, d2)");
}

TEST_F(IterationSpaceTest, TransposedOperandsSwapTheirMaps) {
  IterationSpace space = spaceOf(
      "%q: tensor<4x6xf32>, %k: tensor<9x6xf32>",
      "%s = attn.matmul %q, %k transpose_rhs : tensor<4x6xf32>, "
      "tensor<9x6xf32> -> tensor<4x9xf32>");
  EXPECT_EQ(str(space.operandMaps[1]), "(d0, d1, d2) -> (d1, d2)");
}

TEST_F(IterationSpaceTest, BroadcastDimsReadConstantZero) {
  IterationSpace space = spaceOf(
      "%a: tensor<4x1x8xf32>, %b: tensor<3x1xf32>",
      "%c = attn.add %a, %b : tensor<4x1x8xf32>, tensor<3x1xf32> -> "
      "tensor<4x3x8xf32>");
  EXPECT_EQ(kinds(space), "parallel,parallel,parallel");
  EXPECT_EQ(str(space.operandMaps[0]), "(d0, d1, d2) -> (d0, 0, d2)");
  EXPECT_EQ(str(space.operandMaps[1]), "(d0, d1, d2) -> (d1, 0)");
}

TEST_F(IterationSpaceTest, SoftmaxAddsAReductionLoopForItsRow) {
  IterationSpace space =
      spaceOf("%x: tensor<3x5xf32>",
              "%p = attn.softmax %x dim 1 : tensor<3x5xf32>");
  EXPECT_EQ(space.bounds, (llvm::SmallVector<int64_t>{3, 5, 5}));
  EXPECT_EQ(kinds(space), "parallel,parallel,reduction");
  EXPECT_EQ(str(space.operandMaps[0]), "(d0, d1, d2) -> (d0, d2)");
  EXPECT_EQ(str(space.resultMaps[0]), "(d0, d1, d2) -> (d0, d1)");
}

TEST_F(IterationSpaceTest, ReductionKeepsDimsAsZero) {
  IterationSpace space = spaceOf(
      "%x: tensor<3x5x7xf32>",
      "%r = attn.reduce_max %x dims [0, 2] keep_dims : tensor<3x5x7xf32> -> "
      "tensor<1x5x1xf32>");
  EXPECT_EQ(kinds(space), "reduction,parallel,reduction");
  EXPECT_EQ(str(space.resultMaps[0]), "(d0, d1, d2) -> (0, d1, 0)");
}

TEST_F(IterationSpaceTest, TransposeAndSliceIndexTheirSource) {
  IterationSpace transpose = spaceOf(
      "%x: tensor<2x3x4xf32>",
      "%t = attn.transpose %x perm [2, 0, 1] : tensor<2x3x4xf32> -> "
      "tensor<4x2x3xf32>");
  EXPECT_EQ(str(transpose.operandMaps[0]), "(d0, d1, d2) -> (d1, d2, d0)");
  IterationSpace slice = spaceOf(
      "%x: tensor<6x9xf32>",
      "%s = attn.slice %x offsets [1, 2] strides [1, 3] : tensor<6x9xf32> "
      "-> tensor<4x3xf32>");
  EXPECT_EQ(str(slice.operandMaps[0]), "(d0, d1) -> (d0 + 1, d1 * 3 + 2)");
}

TEST_F(IterationSpaceTest, ScanIsOneCarriedLoopOverWholeSlices) {
  IterationSpace space = spaceOf(
      "%xs: tensor<4x7x3xf32>, %h0: tensor<4x3xf32>",
      R"(%ys, %h = attn.scan dim 1 ins(%x = %xs : tensor<4x7x3xf32>)
          carry(%c = %h0 : tensor<4x3xf32>)
          -> (tensor<4x7x3xf32>, tensor<4x3xf32>) {
        %n = attn.add %x, %c : tensor<4x3xf32>, tensor<4x3xf32> -> tensor<4x3xf32>
        attn.yield %n, %n : tensor<4x3xf32>, tensor<4x3xf32>
      })");
  EXPECT_EQ(space.bounds, (llvm::SmallVector<int64_t>{7}));
  EXPECT_EQ(kinds(space), "carried");
  EXPECT_EQ(str(space.operandMaps[0]), "(d0)[s0, s1] -> (s0, d0, s1)");
  EXPECT_EQ(str(space.operandMaps[1]), "(d0)[s0, s1] -> (s0, s1)");
  EXPECT_EQ(str(space.resultMaps[0]), "(d0)[s0, s1] -> (s0, d0, s1)");
  EXPECT_EQ(str(space.resultMaps[1]), "(d0)[s0, s1] -> (s0, s1)");
}

/// Checks one op's space against its types: one map per value, each map
/// over all loops with one result per tensor dim, and a loop read directly
/// as a tensor dim must cover that dim's extent. (It may cover more: the
/// pieces of a concat or split are read on a sub-range of the loop, and the
/// first piece's map `d - 0` is plain `d`. Bounds of shifted and strided
/// windows are the verifier's job.)
static void checkConsistent(Operation *op, const IterationSpace &space) {
  std::string name = op->getName().getStringRef().str();
  ASSERT_EQ(space.kinds.size(), space.bounds.size()) << name;
  ASSERT_EQ(space.operandMaps.size(), op->getNumOperands()) << name;
  ASSERT_EQ(space.resultMaps.size(), op->getNumResults()) << name;
  auto check = [&](AffineMap map, Value value) {
    auto type = cast<RankedTensorType>(value.getType());
    ASSERT_EQ(map.getNumDims(), space.getNumLoops()) << name;
    ASSERT_EQ(map.getNumResults(), type.getRank()) << name;
    for (auto [i, expr] : llvm::enumerate(map.getResults()))
      if (auto dim = dyn_cast<AffineDimExpr>(expr))
        EXPECT_GE(space.bounds[dim.getPosition()], type.getDimSize(i))
            << name << " dim " << i;
  };
  for (auto [map, value] : llvm::zip(space.operandMaps, op->getOperands()))
    check(map, value);
  for (auto [map, value] : llvm::zip(space.resultMaps, op->getResults()))
    check(map, value);
}

TEST_F(IterationSpaceTest, EveryOpOfEveryExampleIsConsistent) {
  std::error_code error;
  unsigned checked = 0;
  for (llvm::sys::fs::directory_iterator it(ATTNC_EXAMPLES_DIR, error), end;
       it != end && !error; it.increment(error)) {
    if (!llvm::StringRef(it->path()).ends_with(".ir"))
      continue;
    OwningOpRef<ModuleOp> model =
        parseSourceFile<ModuleOp>(it->path(), &context);
    ASSERT_TRUE(model) << it->path();
    model->walk([&](IterationSpaceOpInterface iface) {
      checkConsistent(iface, iface.getIterationSpace());
      ++checked;
    });
  }
  EXPECT_GT(checked, 100u);
}

} // namespace
