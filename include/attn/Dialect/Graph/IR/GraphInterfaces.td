//===- GraphInterfaces.td - iteration-space interface ------*- tablegen -*-===//
//
// Every computational op states its iteration space through one interface:
// the extent and kind (parallel, reduction, carried) of each loop dimension,
// and for every operand and result an affine map from loop dimensions to
// tensor dimensions. Dependence and cost analyses are written against this
// interface only, never against a list of op names.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_GRAPH_IR_GRAPHINTERFACES_TD
#define ATTN_DIALECT_GRAPH_IR_GRAPHINTERFACES_TD

include "mlir/IR/OpBase.td"

def IterationSpaceOpInterface : OpInterface<"IterationSpaceOpInterface"> {
  let cppNamespace = "::attn::graph";
  let description = [{
    States the loop nest an op denotes. `getIterationSpace()` returns:

    - `bounds`: the extent of each loop dimension d0..dN-1;
    - `kinds`: per loop dimension, `parallel` (iterations are independent),
      `reduction` (iterations combine into one value with an associative
      operator) or `carried` (iteration i needs the result of i-1, as the
      walked dimension of a scan);
    - `operandMaps` and `resultMaps`: one affine map per operand and
      result, from loop dimensions to the dimensions of that tensor. A
      constant 0 marks a broadcast dimension of extent 1. A symbol marks a
      tensor dimension that one loop point touches in full, or in a way
      the map does not resolve (the slice a scan body sees, the source of a
      reshape).
  }];
  let methods = [
    InterfaceMethod<
      "Returns the loop nest this op denotes.",
      "::attn::graph::IterationSpace", "getIterationSpace">,
    InterfaceMethod<[{
        Returns the floating-point operations one execution of the op
        performs, by the conventional counts: 2 per multiply-add, 1 per
        add, compare or elementwise function (transcendentals included), 0
        for data movement. The default is one per result element; ops that
        compute more or less override it. A scan reports 0 for itself:
        its body's ops are counted by the cost analysis, once per step.
      }],
      "int64_t", "getFlopCount", (ins), [{}], [{
        int64_t count = 0;
        for (::mlir::Value result : $_op->getResults())
          count += ::llvm::cast<::mlir::RankedTensorType>(result.getType())
                       .getNumElements();
        return count;
      }]>,
    InterfaceMethod<[{
        Returns the dependent steps one execution of the op takes with
        unbounded parallelism: 1 for ops whose result elements are
        independent of each other (reductions included, as one step of the
        machine), more for ops whose elements depend on each other, such as
        an associative scan (2 log2 T combine rounds). Generators without
        operands fold at compile time and take 0; a scan's span is its
        length times its body's, computed by the cost analysis.
      }],
      "int64_t", "getSpan", (ins), [{}], [{
        return $_op->getNumOperands() == 0 ? 0 : 1;
      }]>,
    InterfaceMethod<[{
        States how the results depend on operand `index`, for the linearity
        analysis: `Additive` (linear in it, jointly with the other Additive
        operands: add, sub, neg, scale, data movement, sums), `Factor`
        (linear in it when every other operand is held fixed: mul, matmul,
        the numerator of div) or `Nonlinear` (anything else, the safe
        default).
      }],
      "::attn::graph::OperandLinearity", "getOperandLinearity",
      (ins "unsigned":$index), [{}], [{
        return ::attn::graph::OperandLinearity::Nonlinear;
      }]>,
  ];
}

#endif // ATTN_DIALECT_GRAPH_IR_GRAPHINTERFACES_TD
