//===- GraphOps.td - attn graph ops -------------------------*- tablegen -*-===//
//
// The ops of the `attn` dialect: the graph container, dense algebra,
// elementwise math, normalisations, shape manipulation, constants and
// masks, and the `attn.scan` recurrence. Families of ops share a base
// class that carries their common verifier and iteration space, so each
// concrete op is a few lines.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_GRAPH_IR_GRAPHOPS_TD
#define ATTN_DIALECT_GRAPH_IR_GRAPHOPS_TD

include "attn/Dialect/Graph/IR/GraphDialect.td"
include "attn/Dialect/Graph/IR/GraphInterfaces.td"
include "mlir/Interfaces/FunctionInterfaces.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/IR/CommonAttrConstraints.td"

//===----------------------------------------------------------------------===//
// Graph container
//===----------------------------------------------------------------------===//

def Graph_GraphOp : Op<Graph_Dialect, "graph", [
    FunctionOpInterface, IsolatedFromAbove, Symbol]> {
  let summary = "A named model graph with tensor arguments and results";
  let description = [{
    A graph is the unit users compile and run: a named, function-like op
    whose single-block body is pure tensor dataflow ending in `attn.return`.
    A `.ir` model file is a module holding one or more graphs.

    Quirk of the format: like `func.func`, the signature is parsed by hand so
    that arguments are named inline; it is not a declarative format.

    Example:

    ```mlir
    attn.graph @mlp(%x: tensor<8x64xf32>, %w: tensor<64x32xf32>)
        -> tensor<8x32xf32> {
      %y = attn.matmul %x, %w : tensor<8x64xf32>, tensor<64x32xf32>
                                -> tensor<8x32xf32>
      %r = attn.relu %y : tensor<8x32xf32>
      attn.return %r : tensor<8x32xf32>
    }
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name,
                       TypeAttrOf<FunctionType>:$function_type,
                       OptionalAttr<DictArrayAttr>:$arg_attrs,
                       OptionalAttr<DictArrayAttr>:$res_attrs);
  let regions = (region SizedRegion<1>:$body);
  let extraClassDeclaration = [{
    ::mlir::Region *getCallableRegion() { return &getBody(); }
    ::llvm::ArrayRef<::mlir::Type> getArgumentTypes() {
      return getFunctionType().getInputs();
    }
    ::llvm::ArrayRef<::mlir::Type> getResultTypes() {
      return getFunctionType().getResults();
    }
    bool isDeclaration() { return false; }
  }];
  let hasCustomAssemblyFormat = 1;
  let hasRegionVerifier = 1;
}

def Graph_ReturnOp : Graph_Op<"return", [
    HasParent<"GraphOp">, ReturnLike, Terminator]> {
  let summary = "Returns the results of a graph";
  let description = [{
    Ends an `attn.graph`; its operands must match the graph's result types.

    Example: `attn.return %y, %h : tensor<4x8xf32>, tensor<8xf32>`
  }];
  let arguments = (ins Variadic<Graph_Tensor>:$operands);
  let assemblyFormat = "attr-dict ($operands^ `:` type($operands))?";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Dense algebra
//===----------------------------------------------------------------------===//

def Graph_MatmulOp : Graph_Op<"matmul", [Graph_BatchPolymorphic,
    DeclareOpInterfaceMethods<IterationSpaceOpInterface, ["getFlopCount", "getOperandLinearity"]>]> {
  let summary = "Matrix product, batched over leading dims with broadcasting";
  let description = [{
    `result[..., m, n] = sum_k lhs[..., m, k] * rhs[..., k, n]`, where
    `transpose_lhs` / `transpose_rhs` read the operand's last two dims
    swapped. Leading (batch) dims broadcast as in numpy: they align from the
    right, and an absent or extent-1 dim repeats. Operands may have rank 2
    or more; the element types of operands and result are all the same and
    accumulation is in f32.

    Example (an input projection applied at every step of a sequence):

    ```mlir
    %xw = attn.matmul %x, %w : tensor<16x4x32xf32>, tensor<32x64xf32>
                               -> tensor<16x4x64xf32>
    %s = attn.matmul %q, %k transpose_rhs
        : tensor<2x4x128x64xbf16>, tensor<2x4x128x64xbf16>
          -> tensor<2x4x128x128xbf16>
    ```
  }];
  let arguments = (ins Graph_FloatTensor:$lhs, Graph_FloatTensor:$rhs,
                       UnitAttr:$transpose_lhs, UnitAttr:$transpose_rhs);
  let results = (outs Graph_FloatTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs (`transpose_lhs` $transpose_lhs^)?
    (`transpose_rhs` $transpose_rhs^)? attr-dict
    `:` type($lhs) `,` type($rhs) `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Elementwise ops
//===----------------------------------------------------------------------===//

// Binary elementwise ops broadcast their operands as numpy does.
// `lhsLinearity` / `rhsLinearity` name an OperandLinearity enumerator.
class Graph_BinaryOp<string mnemonic, string formula,
                     string lhsLinearity = "Nonlinear",
                     string rhsLinearity = lhsLinearity>
    : Graph_Op<mnemonic, [Graph_BatchPolymorphic,
                          DeclareOpInterfaceMethods<IterationSpaceOpInterface,
                                                    ["getOperandLinearity"]>]> {
  let summary = "Elementwise " # formula # " with numpy broadcasting";
  let description = [{
    Computes `}] # formula # [{` elementwise. The operands have the same
    element type; their shapes broadcast as in numpy (align from the right,
    extent-1 dims repeat) to the result shape.

    Example:

    ```mlir
    %z = attn.}] # mnemonic # [{ %x, %bias : tensor<4x8xf32>, tensor<8xf32>
                                -> tensor<4x8xf32>
    ```
  }];
  let arguments = (ins Graph_FloatTensor:$lhs, Graph_FloatTensor:$rhs);
  let results = (outs Graph_FloatTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($result)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
  let extraClassDefinition = [{
    ::mlir::LogicalResult $cppClass::verify() {
      return verifyBroadcastElementwise(getOperation());
    }
    ::mlir::OpFoldResult $cppClass::fold(FoldAdaptor adaptor) {
      return foldBinaryIdentity(getOperation(), adaptor.getLhs(),
                                adaptor.getRhs());
    }
    ::attn::graph::IterationSpace $cppClass::getIterationSpace() {
      return broadcastIterationSpace(getOperation());
    }
    ::attn::graph::OperandLinearity
    $cppClass::getOperandLinearity(unsigned index) {
      return index == 0 ? ::attn::graph::OperandLinearity::}] # lhsLinearity # [{
                        : ::attn::graph::OperandLinearity::}] # rhsLinearity # [{;
    }
  }];
}

def Graph_AddOp : Graph_BinaryOp<"add", "lhs + rhs", "Additive">;
def Graph_SubOp : Graph_BinaryOp<"sub", "lhs - rhs", "Additive">;
def Graph_MulOp : Graph_BinaryOp<"mul", "lhs * rhs", "Factor">;
def Graph_DivOp : Graph_BinaryOp<"div", "lhs / rhs", "Factor", "Nonlinear">;
def Graph_MaxOp : Graph_BinaryOp<"max", "max(lhs, rhs)">;
def Graph_MinOp : Graph_BinaryOp<"min", "min(lhs, rhs)">;

// Unary elementwise ops keep shape and element type.
class Graph_UnaryOp<string mnemonic, string formula,
                    string linearity = "Nonlinear">
    : Graph_Op<mnemonic, [SameOperandsAndResultType, Graph_BatchPolymorphic,
        DeclareOpInterfaceMethods<IterationSpaceOpInterface,
                                  ["getOperandLinearity"]>]> {
  let summary = "Elementwise " # formula;
  let description = [{
    Computes `}] # formula # [{` for every element, in f32 for f16 and bf16
    inputs, rounding the result to the input's element type.

    Example: `%y = attn.}] # mnemonic # [{ %x : tensor<4x8xf32>`
  }];
  let arguments = (ins Graph_FloatTensor:$input);
  let results = (outs Graph_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
  let extraClassDefinition = [{
    ::attn::graph::IterationSpace $cppClass::getIterationSpace() {
      return identityIterationSpace(getOperation());
    }
    ::attn::graph::OperandLinearity $cppClass::getOperandLinearity(unsigned) {
      return ::attn::graph::OperandLinearity::}] # linearity # [{;
    }
  }];
}

def Graph_TanhOp : Graph_UnaryOp<"tanh", "tanh(x)">;
def Graph_SigmoidOp : Graph_UnaryOp<"sigmoid", "1 / (1 + exp(-x))">;
def Graph_ExpOp : Graph_UnaryOp<"exp", "exp(x)">;
def Graph_LogOp : Graph_UnaryOp<"log", "log(x)">;
def Graph_NegOp : Graph_UnaryOp<"neg", "-x", "Additive">;
def Graph_ReluOp : Graph_UnaryOp<"relu", "max(x, 0)">;
def Graph_GeluOp : Graph_UnaryOp<"gelu", "x * (1 + erf(x / sqrt(2))) / 2 (exact GELU)">;
def Graph_SiluOp : Graph_UnaryOp<"silu", "x * sigmoid(x)">;
def Graph_RsqrtOp : Graph_UnaryOp<"rsqrt", "1 / sqrt(x)">;
def Graph_SqrtOp : Graph_UnaryOp<"sqrt", "sqrt(x)">;
def Graph_SinOp : Graph_UnaryOp<"sin", "sin(x)">;
def Graph_CosOp : Graph_UnaryOp<"cos", "cos(x)">;

def Graph_ScaleOp : Graph_Op<"scale", [Graph_BatchPolymorphic, SameOperandsAndResultType,
    DeclareOpInterfaceMethods<IterationSpaceOpInterface,
        ["getOperandLinearity"]>]> {
  let summary = "Multiplies every element by a compile-time constant";
  let description = [{
    `result = input * factor`, with `factor` a literal; the usual way to
    write the `1/sqrt(d)` of attention.

    Example: `%s = attn.scale %scores by 0.125 : tensor<4x16x16xf32>`
  }];
  let arguments = (ins Graph_FloatTensor:$input, F64Attr:$factor);
  let results = (outs Graph_FloatTensor:$result);
  let assemblyFormat = "$input `by` $factor attr-dict `:` type($result)";
}

def Graph_CastOp : Graph_Op<"cast", [Graph_BatchPolymorphic, 
    DeclareOpInterfaceMethods<IterationSpaceOpInterface, ["getFlopCount", "getOperandLinearity"]>]> {
  let summary = "Converts between element types";
  let description = [{
    Converts every element to the result's element type with
    round-to-nearest-even. A cast to i1 yields `x != 0`; a cast from i1
    yields 0 or 1. Shapes must match.

    Example: `%h = attn.cast %x : tensor<4x8xf32> to tensor<4x8xbf16>`
  }];
  let arguments = (ins Graph_Tensor:$input);
  let results = (outs Graph_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `to` type($result)";
  let hasVerifier = 1;
}

def Graph_SelectOp : Graph_Op<"select", [Graph_BatchPolymorphic, 
    DeclareOpInterfaceMethods<IterationSpaceOpInterface,
        ["getOperandLinearity"]>]> {
  let summary = "Chooses between two tensors by an i1 mask";
  let description = [{
    `result = cond ? on_true : on_false` elementwise; all three operands
    broadcast as in numpy. Used to apply causal and padding masks.

    Example:

    ```mlir
    %m = attn.select %mask, %scores, %neg_inf
        : tensor<16x16xi1>, tensor<4x16x16xf32>, tensor<1xf32>
          -> tensor<4x16x16xf32>
    ```
  }];
  let arguments = (ins Graph_MaskTensor:$cond, Graph_FloatTensor:$on_true,
                       Graph_FloatTensor:$on_false);
  let results = (outs Graph_FloatTensor:$result);
  let assemblyFormat = [{
    $cond `,` $on_true `,` $on_false attr-dict `:` type($cond) `,`
    type($on_true) `,` type($on_false) `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Reductions and normalisations
//===----------------------------------------------------------------------===//

def Graph_SoftmaxOp : Graph_Op<"softmax", [SameOperandsAndResultType,
    DeclareOpInterfaceMethods<IterationSpaceOpInterface, ["getFlopCount"]>]> {
  let summary = "Softmax along one dimension";
  let description = [{
    `result = exp(x - max(x)) / sum(exp(x - max(x)))` along `dim`, with the
    statistics in f32 whatever the element type.

    Example: `%p = attn.softmax %s dim 2 : tensor<4x16x16xf32>`
  }];
  let arguments = (ins Graph_FloatTensor:$input, I64Attr:$dim);
  let results = (outs Graph_FloatTensor:$result);
  let assemblyFormat = "$input `dim` $dim attr-dict `:` type($result)";
  let hasVerifier = 1;
}

class Graph_ReduceOp<string mnemonic, string what,
                     string linearity = "Nonlinear">
    : Graph_Op<mnemonic, [DeclareOpInterfaceMethods<IterationSpaceOpInterface,
        ["getFlopCount", "getOperandLinearity"]>]> {
  let summary = "Reduces over dimensions by " # what;
  let description = [{
    Reduces `input` over the listed `dims` by }] # what # [{. The reduced
    dims are dropped from the result, or kept with extent 1 under
    `keep_dims`. Accumulation is in f32.

    Example:

    ```mlir
    %r = attn.}] # mnemonic # [{ %x dims [1] keep_dims
        : tensor<4x8xf32> -> tensor<4x1xf32>
    ```
  }];
  let arguments = (ins Graph_FloatTensor:$input, DenseI64ArrayAttr:$dims,
                       UnitAttr:$keep_dims);
  let results = (outs Graph_FloatTensor:$result);
  let assemblyFormat = [{
    $input `dims` $dims (`keep_dims` $keep_dims^)? attr-dict
    `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
  let extraClassDefinition = [{
    ::mlir::LogicalResult $cppClass::verify() {
      return verifyReduction(getOperation(), getDims(), getKeepDims());
    }
    ::attn::graph::IterationSpace $cppClass::getIterationSpace() {
      return reductionIterationSpace(getOperation(), getDims(), getKeepDims());
    }
    int64_t $cppClass::getFlopCount() {
      return getInput().getType().getNumElements();
    }
    ::attn::graph::OperandLinearity $cppClass::getOperandLinearity(unsigned) {
      return ::attn::graph::OperandLinearity::}] # linearity # [{;
    }
  }];
}

def Graph_ReduceSumOp : Graph_ReduceOp<"reduce_sum", "summation", "Additive">;
def Graph_ReduceMaxOp : Graph_ReduceOp<"reduce_max", "maximum">;
def Graph_ReduceMeanOp
    : Graph_ReduceOp<"reduce_mean", "the arithmetic mean", "Additive">;

def Graph_LayerNormOp : Graph_Op<"layer_norm", [
    AllTypesMatch<["input", "result"]>, AllTypesMatch<["gamma", "beta"]>,
    DeclareOpInterfaceMethods<IterationSpaceOpInterface, ["getFlopCount"]>]> {
  let summary = "Layer normalisation over the last dimension";
  let description = [{
    `result = (x - mean(x)) / sqrt(var(x) + epsilon) * gamma + beta`, with
    mean and (biased) variance over the last dimension, computed in f32.
    `gamma` and `beta` are 1-D with the extent of that dimension.

    Example:

    ```mlir
    %n = attn.layer_norm %x, %g, %b eps 1.0e-5
        : tensor<4x64xf32>, tensor<64xf32>
    ```
  }];
  let arguments = (ins Graph_FloatTensor:$input, Graph_FloatTensor:$gamma,
                       Graph_FloatTensor:$beta,
                       DefaultValuedAttr<F64Attr, "1.0e-5">:$epsilon);
  let results = (outs Graph_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $gamma `,` $beta (`eps` $epsilon^)? attr-dict
    `:` type($input) `,` type($gamma)
  }];
  let hasVerifier = 1;
}

def Graph_RMSNormOp : Graph_Op<"rms_norm", [
    AllTypesMatch<["input", "result"]>,
    DeclareOpInterfaceMethods<IterationSpaceOpInterface, ["getFlopCount"]>]> {
  let summary = "Root-mean-square normalisation over the last dimension";
  let description = [{
    `result = x / sqrt(mean(x^2) + epsilon) * gamma` over the last dimension,
    computed in f32. `gamma` is 1-D with the extent of that dimension.

    Example:

    ```mlir
    %n = attn.rms_norm %x, %g eps 1.0e-6 : tensor<4x64xbf16>, tensor<64xbf16>
    ```
  }];
  let arguments = (ins Graph_FloatTensor:$input, Graph_FloatTensor:$gamma,
                       DefaultValuedAttr<F64Attr, "1.0e-5">:$epsilon);
  let results = (outs Graph_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $gamma (`eps` $epsilon^)? attr-dict
    `:` type($input) `,` type($gamma)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Shape manipulation
//===----------------------------------------------------------------------===//

def Graph_TransposeOp : Graph_Op<"transpose", [
    DeclareOpInterfaceMethods<IterationSpaceOpInterface, ["getFlopCount", "getOperandLinearity"]>]> {
  let summary = "Permutes dimensions";
  let description = [{
    `result[i_0, ..., i_n] = input[j]` with `j[perm[k]] = i_k`: result dim
    `k` is input dim `perm[k]`.

    Example:

    ```mlir
    %t = attn.transpose %x perm [1, 0, 2]
        : tensor<16x4x8xf32> -> tensor<4x16x8xf32>
    ```
  }];
  let arguments = (ins Graph_Tensor:$input, DenseI64ArrayAttr:$perm);
  let results = (outs Graph_Tensor:$result);
  let assemblyFormat = [{
    $input `perm` $perm attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Graph_ReshapeOp : Graph_Op<"reshape", [
    DeclareOpInterfaceMethods<IterationSpaceOpInterface, ["getFlopCount", "getOperandLinearity"]>]> {
  let summary = "Reinterprets the row-major elements under a new shape";
  let description = [{
    Same elements in the same row-major order, new shape; the element count
    and element type are unchanged.

    Example: `%r = attn.reshape %x : tensor<4x16x8xf32> -> tensor<64x8xf32>`
  }];
  let arguments = (ins Graph_Tensor:$input);
  let results = (outs Graph_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def Graph_SliceOp : Graph_Op<"slice", [
    DeclareOpInterfaceMethods<IterationSpaceOpInterface, ["getFlopCount", "getOperandLinearity"]>]> {
  let summary = "A strided window of a tensor";
  let description = [{
    `result[i] = input[offsets + i * strides]` per dimension; the window's
    extents are the result's shape and `strides` default to 1.

    Example (the even and odd halves of the last dim, as rotary embeddings
    use):

    ```mlir
    %even = attn.slice %x offsets [0, 0] strides [1, 2]
        : tensor<16x64xf32> -> tensor<16x32xf32>
    ```
  }];
  let arguments = (ins Graph_Tensor:$input, DenseI64ArrayAttr:$offsets,
                       OptionalAttr<DenseI64ArrayAttr>:$strides);
  let results = (outs Graph_Tensor:$result);
  let assemblyFormat = [{
    $input `offsets` $offsets (`strides` $strides^)? attr-dict
    `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The stride of every dimension, 1 where no strides are given.
    ::llvm::SmallVector<int64_t> getStridesOrOnes();
  }];
}

def Graph_ConcatOp : Graph_Op<"concat", [
    DeclareOpInterfaceMethods<IterationSpaceOpInterface, ["getFlopCount", "getOperandLinearity"]>]> {
  let summary = "Joins tensors along one dimension";
  let description = [{
    The inputs agree on every dim but `dim`; the result's extent there is
    the sum of theirs.

    Example:

    ```mlir
    %c = attn.concat %a, %b dim 1
        : tensor<4x8xf32>, tensor<4x24xf32> -> tensor<4x32xf32>
    ```
  }];
  let arguments = (ins Variadic<Graph_Tensor>:$inputs, I64Attr:$dim);
  let results = (outs Graph_Tensor:$result);
  let assemblyFormat = [{
    $inputs `dim` $dim attr-dict `:` type($inputs) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Graph_SplitOp : Graph_Op<"split", [
    DeclareOpInterfaceMethods<IterationSpaceOpInterface, ["getFlopCount", "getOperandLinearity"]>]> {
  let summary = "Cuts a tensor into consecutive pieces along one dimension";
  let description = [{
    The inverse of concat: the pieces' extents along `dim` are given by the
    result types and add up to the input's.

    Example (the four LSTM gates out of one projection):

    ```mlir
    %i, %f, %g, %o = attn.split %z dim 1 : tensor<4x128xf32>
        -> tensor<4x32xf32>, tensor<4x32xf32>, tensor<4x32xf32>,
           tensor<4x32xf32>
    ```
  }];
  let arguments = (ins Graph_Tensor:$input, I64Attr:$dim);
  let results = (outs Variadic<Graph_Tensor>:$results);
  let assemblyFormat = [{
    $input `dim` $dim attr-dict `:` type($input) `->` type($results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Constants, masks and index tensors
//===----------------------------------------------------------------------===//

def Graph_ConstantOp : Graph_Op<"constant", [ConstantLike,
    AllTypesMatch<["value", "result"]>,
    DeclareOpInterfaceMethods<IterationSpaceOpInterface, ["getFlopCount"]>]> {
  let summary = "A tensor literal";
  let description = [{
    Materialises a dense elements attribute.

    Example: `%c = attn.constant dense<[1.0, 2.0]> : tensor<2xf32>`
  }];
  let arguments = (ins ElementsAttr:$value);
  let results = (outs Graph_Tensor:$result);
  let assemblyFormat = "$value attr-dict";
  let hasFolder = 1;
}

def Graph_SplatOp : Graph_Op<"splat", [ConstantLike,
    DeclareOpInterfaceMethods<IterationSpaceOpInterface, ["getFlopCount"]>]> {
  let summary = "A tensor with every element equal to one scalar";
  let description = [{
    Every element is `value`, rounded to the element type (for i1: true
    when `value` is non-zero).

    Example: `%ninf = attn.splat -1.0e+30 : tensor<1xf32>`
  }];
  let arguments = (ins F64Attr:$value);
  let results = (outs Graph_Tensor:$result);
  let assemblyFormat = "$value attr-dict `:` type($result)";
  let hasFolder = 1;
}

def Graph_CausalMaskOp : Graph_Op<"causal_mask", [
    DeclareOpInterfaceMethods<IterationSpaceOpInterface, ["getFlopCount"]>]> {
  let summary = "The lower-triangular mask of causal attention";
  let description = [{
    An i1 tensor whose last two dims index (query, key):
    `result[..., i, j] = j <= i + offset`. `offset` (default 0) lines up a
    block of queries that starts `offset` positions after the first key.

    Example: `%m = attn.causal_mask : tensor<16x16xi1>`
  }];
  let arguments = (ins DefaultValuedAttr<I64Attr, "0">:$offset);
  let results = (outs Graph_MaskTensor:$result);
  let assemblyFormat = "(`offset` $offset^)? attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Graph_IotaOp : Graph_Op<"iota", [
    DeclareOpInterfaceMethods<IterationSpaceOpInterface, ["getFlopCount"]>]> {
  let summary = "Each element's index along one dimension";
  let description = [{
    `result[i_0, ..., i_n] = i_dim` as a float; the building block of
    sinusoidal and rotary position encodings.

    Example: `%pos = attn.iota dim 0 : tensor<128x1xf32>`
  }];
  let arguments = (ins I64Attr:$dim);
  let results = (outs Graph_FloatTensor:$result);
  let assemblyFormat = "`dim` $dim attr-dict `:` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Recurrence
//===----------------------------------------------------------------------===//

def Graph_ScanOp : Graph_Op<"scan", [AttrSizedOperandSegments,
    DeclareOpInterfaceMethods<IterationSpaceOpInterface, ["getFlopCount"]>]> {
  let summary = "A recurrence: walks one dimension, threading carried state";
  let description = [{
    Walks dimension `dim` of every `sequences` operand (all have the same
    extent T there), from 0 to T-1, or from T-1 down to 0 under `reverse`.
    At each step the body receives the step's slice of every sequence (that
    dim removed) followed by the current carried values, which start as
    `inits`. The body ends in `attn.yield` with the step's outputs followed by
    the next carried values.

    Results: each step output stacked along `dim` (result extent T; the
    output of the step that read slice t lands at index t, in either
    direction), then the final carried values. The body may use values
    defined above it (weights, for instance), and scans may nest.

    Quirk of the format: it is parsed by hand so that the body's block
    arguments are named where they are bound, as `%name = %operand`.

    Example (a tanh RNN over a [T, B, I] input):

    ```mlir
    %hs, %hT = attn.scan dim 0 ins(%x = %xs : tensor<16x4x8xf32>)
        carry(%h = %h0 : tensor<4x32xf32>)
        -> (tensor<16x4x32xf32>, tensor<4x32xf32>) {
      %a = attn.matmul %x, %wx : tensor<4x8xf32>, tensor<8x32xf32>
                                 -> tensor<4x32xf32>
      %b = attn.matmul %h, %wh : tensor<4x32xf32>, tensor<32x32xf32>
                                 -> tensor<4x32xf32>
      %s = attn.add %a, %b : tensor<4x32xf32>, tensor<4x32xf32>
                             -> tensor<4x32xf32>
      %hn = attn.tanh %s : tensor<4x32xf32>
      attn.yield %hn, %hn : tensor<4x32xf32>, tensor<4x32xf32>
    }
    ```
  }];
  let arguments = (ins Variadic<Graph_Tensor>:$sequences,
                       Variadic<Graph_Tensor>:$inits,
                       I64Attr:$dim, UnitAttr:$reverse);
  let results = (outs Variadic<Graph_Tensor>:$outputs);
  let regions = (region SizedRegion<1>:$body);
  let hasCustomAssemblyFormat = 1;
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    /// The number of steps T.
    int64_t getLength();
    /// The per-step outputs (stacked along `dim`) and the final carries.
    ::mlir::ValueRange getStackedOutputs();
    ::mlir::ValueRange getFinalCarries();
    /// Body block arguments: one per sequence, then one per carried value.
    ::mlir::Block::BlockArgListType getSequenceArgs();
    ::mlir::Block::BlockArgListType getCarriedArgs();
    /// The type of one step's slice of a sequence (dimension `dim` removed).
    static ::mlir::RankedTensorType getStepType(::mlir::Type sequenceType,
                                                int64_t dim);
  }];
}

def Graph_AssocScanOp : Graph_Op<"assoc_scan", [
    DeclareOpInterfaceMethods<IterationSpaceOpInterface,
                              ["getFlopCount", "getSpan"]>]> {
  let summary = "A linear recurrence h_t = a_t * h_{t-1} + b_t, as a scan";
  let description = [{
    Computes every state of the elementwise linear recurrence

      h_t = coefficients_t * h_{t-1} + offsets_t,   h_{-1} = init,

    walking dim `dim` of `coefficients` and `offsets` (both of extent T
    there) forwards, or backwards under `reverse` (then h_{T} = init and
    h_t = a_t * h_{t+1} + b_t). A step's slice of `coefficients` and of
    `offsets` broadcasts numpy-style to the state's shape. Results: the
    states stacked along `dim` (state t at index t), then the final state.

    Because (a1, b1) o (a2, b2) = (a1 a2, a2 b1 + b2) is associative, the
    steps can be combined in any bracketing: a GPU runs this as a parallel
    (chunked) scan in O(log T) dependent rounds instead of T. The
    interpreter combines sequentially, the order of the scan it replaces;
    other orders change rounding only (docs/passes/recurrences.md).

    Example (minGRU after its gates were hoisted):

    ```mlir
    %hs, %hT = attn.assoc_scan dim 0 %a, %b, %h0
        : tensor<9x3x11xf32>, tensor<9x3x11xf32>, tensor<3x11xf32>
          -> tensor<9x3x11xf32>, tensor<3x11xf32>
    ```
  }];
  let arguments = (ins Graph_FloatTensor:$coefficients,
                       Graph_FloatTensor:$offsets, Graph_FloatTensor:$init,
                       I64Attr:$dim, UnitAttr:$reverse);
  let results = (outs Graph_FloatTensor:$states, Graph_FloatTensor:$final);
  let assemblyFormat = [{
    (`reverse` $reverse^)? `dim` $dim $coefficients `,` $offsets `,` $init
    attr-dict `:` type($coefficients) `,` type($offsets) `,` type($init)
    `->` type($states) `,` type($final)
  }];
  let hasVerifier = 1;
}

def Graph_AttentionOp : Graph_Op<"attention", [
    DeclareOpInterfaceMethods<IterationSpaceOpInterface,
                              ["getFlopCount", "getOperandLinearity"]>]> {
  let summary = "Scaled dot-product attention, with masks and score mods";
  let description = [{
    `result[..., i, :] = sum_j p[..., i, j] * value[..., j, :]` with
    `p = softmax_j(mod(scale * query[..., i, :] . key[..., j, :]))`, where
    the leading (batch) dims of query, key and value broadcast as matmul's
    do: heads are a batch dim, and grouped-query attention gives key and
    value an extent-1 group dim, e.g. query `[B, Hkv, G, Sq, D]` against key
    `[B, Hkv, 1, Sk, D]`.

    - `causal offset k`: key j is visible to query i only if j <= i + k
      (k >= 0, so no row is empty); hidden scores get weight exactly 0.
    - The optional region is the score modification: it receives the
      scaled scores as one f32 tensor `[batch..., Sq, Sk]` and yields the
      modified scores; only elementwise ops may appear in it (an additive
      bias, a softcap, ALiBi, a mask by select). The causal mask applies
      after it.

    Numerics contract: scores, the softmax statistics and the weighted sum
    are computed in f32 whatever the input type; the result is rounded to
    the input element type once, at the end.

    Example (causal grouped-query attention, 16 query and 4 kv heads):

    ```mlir
    %o = attn.attention %q, %k, %v scale 0.088388 causal offset 0
        : tensor<2x4x4x128x128xbf16>, tensor<2x4x1x128x128xbf16>,
          tensor<2x4x1x128x128xbf16> -> tensor<2x4x4x128x128xbf16>
    ```
  }];
  let arguments = (ins Graph_FloatTensor:$query, Graph_FloatTensor:$key,
                       Graph_FloatTensor:$value, F64Attr:$scale,
                       OptionalAttr<I64Attr>:$causal_offset);
  let results = (outs Graph_FloatTensor:$result);
  let regions = (region AnyRegion:$score_mod);
  let assemblyFormat = [{
    $query `,` $key `,` $value `scale` $scale
    (`causal` `offset` $causal_offset^)? attr-dict
    `:` type($query) `,` type($key) `,` type($value) `->` type($result)
    ($score_mod^)?
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    /// The type of the scores the region sees: [batch..., Sq, Sk] in f32.
    ::mlir::RankedTensorType getScoresType();
  }];
}

def Graph_FusedOp : Graph_Op<"fused", [IsolatedFromAbove,
    DeclareOpInterfaceMethods<IterationSpaceOpInterface, ["getFlopCount"]>]> {
  let summary = "Elementwise ops fused into one";
  let description = [{
    A chain of elementwise ops computed as one: the body receives the
    inputs as block arguments, applies elementwise ops to whole tensors
    and yields the result, which has the shape the inputs broadcast to.
    Produced by --attn-fuse-elementwise; every op of the body must be
    elementwise (no reduction loop, no region). It will become one kernel
    that reads each input once and writes the result once.

    Example (a GELU-free MLP epilogue: bias, then SiLU):

    ```mlir
    %y = attn.fused %x, %b : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32> {
    ^bb0(%xa: tensor<4x8xf32>, %ba: tensor<8xf32>):
      %s = attn.add %xa, %ba : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x8xf32>
      %t = attn.silu %s : tensor<4x8xf32>
      attn.yield %t : tensor<4x8xf32>
    }
    ```
  }];
  let arguments = (ins Variadic<Graph_Tensor>:$inputs);
  let results = (outs Graph_Tensor:$result);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    $inputs attr-dict `:` functional-type($inputs, $result) $body
  }];
  let hasRegionVerifier = 1;
}

def Graph_YieldOp : Graph_Op<"yield", [
    ParentOneOf<["ScanOp", "AttentionOp", "FusedOp"]>, ReturnLike,
    Terminator]> {
  let summary = "Ends a scan step or a score modification";
  let description = [{
    In a scan: yields the step's outputs, then the next value of each
    carried state. In attn.attention's region: yields the modified scores.

    Example: `attn.yield %y, %h : tensor<4x32xf32>, tensor<4x32xf32>`
  }];
  let arguments = (ins Variadic<Graph_Tensor>:$operands);
  let assemblyFormat = "attr-dict ($operands^ `:` type($operands))?";
}

#endif // ATTN_DIALECT_GRAPH_IR_GRAPHOPS_TD
