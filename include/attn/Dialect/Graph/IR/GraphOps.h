//===- GraphOps.h - attn graph ops ------------------------------*- C++ -*-===//
//
// Declares the ops of the `attn` dialect (generated from GraphOps.td) and
// the helpers their shared verifiers and iteration spaces are built from.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_GRAPH_IR_GRAPHOPS_H
#define ATTN_DIALECT_GRAPH_IR_GRAPHOPS_H

#include "attn/Dialect/Graph/IR/GraphDialect.h"
#include "attn/Dialect/Graph/IR/GraphInterfaces.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace attn::graph {

/// Verifies an elementwise op whose operands broadcast numpy-style to its
/// single result; every float operand shares the result's element type.
mlir::LogicalResult verifyBroadcastElementwise(mlir::Operation *op);

/// Verifies a reduction over `dims`, dropped or kept with extent 1.
mlir::LogicalResult verifyReduction(mlir::Operation *op,
                                    llvm::ArrayRef<int64_t> dims,
                                    bool keepDims);

/// The numpy broadcast of two shapes, or failure if they do not broadcast.
mlir::FailureOr<llvm::SmallVector<int64_t>>
broadcastShapes(llvm::ArrayRef<int64_t> a, llvm::ArrayRef<int64_t> b);

/// The product of the extents, or nullopt if one is negative or the
/// product overflows int64.
std::optional<int64_t> checkedNumElements(llvm::ArrayRef<int64_t> shape);

/// Formats a shape as `64x512` (or `scalar` for rank 0) for diagnostics.
std::string formatShape(llvm::ArrayRef<int64_t> shape);

/// Folds x + 0, 0 + x, x - 0, x * 1, 1 * x, x / 1 to x and x * 0 to zeros,
/// by the op's mnemonic, where the kept operand already has the result's
/// type. (x * 0 = 0 assumes x is finite, as ML models' values are.)
mlir::OpFoldResult foldBinaryIdentity(mlir::Operation *op,
                                      mlir::Attribute lhs, mlir::Attribute rhs);

/// Whether `op` states an iteration space without reduction loops and has
/// no region: the ops allowed in fused bodies and score modifications.
bool hasNoReductionOrRegion(mlir::Operation *op);

/// Iteration spaces shared by op families (GraphIterationSpace.cpp).
IterationSpace identityIterationSpace(mlir::Operation *op);
IterationSpace broadcastIterationSpace(mlir::Operation *op);
IterationSpace reductionIterationSpace(mlir::Operation *op,
                                       llvm::ArrayRef<int64_t> dims,
                                       bool keepDims);

} // namespace attn::graph

#define GET_OP_CLASSES
#include "attn/Dialect/Graph/IR/GraphOps.h.inc"

#endif // ATTN_DIALECT_GRAPH_IR_GRAPHOPS_H
