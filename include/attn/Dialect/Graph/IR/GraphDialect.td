//===- GraphDialect.td - the attn graph dialect ------------*- tablegen -*-===//
//
// The `attn` dialect is the language users write models in: a dataflow
// graph over statically shaped tensors, with one structured recurrence
// construct (`attn.scan`). This file declares the dialect, the tensor type
// constraints shared by every op, and the base op class that gives all ops
// the dialect-wide traits.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_GRAPH_IR_GRAPHDIALECT_TD
#define ATTN_DIALECT_GRAPH_IR_GRAPHDIALECT_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Graph_Dialect : Dialect {
  let name = "attn";
  let cppNamespace = "::attn::graph";
  let summary = "Dataflow graphs of tensor ops with structured recurrences";
  let description = [{
    Models (RNNs, LSTMs, GRUs, linear recurrences, attention, transformer
    blocks) are written as `attn.graph` ops: named, function-like ops whose
    bodies are side-effect-free tensor dataflow. Recurrences are written
    with `attn.scan`, which walks one dimension of its sequence operands and
    threads carried state through a body region.

    All tensors are ranked with static shapes; element types are f32, f16 and
    bf16 for data and i1 for masks.
  }];
  let hasConstantMaterializer = 1;
  let useDefaultAttributePrinterParser = 0;
  let useDefaultTypePrinterParser = 0;
}

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

def Graph_FloatElement : AnyTypeOf<[F32, F16, BF16], "f32, f16 or bf16">;
def Graph_Element : AnyTypeOf<[F32, F16, BF16, I1], "f32, f16, bf16 or i1">;

// Static shapes everywhere: every later stage (cost model, tiling, code
// generation) relies on knowing every extent at compile time.
def Graph_FloatTensor
    : StaticShapeTensorOf<[F32, F16, BF16]>;
def Graph_MaskTensor : StaticShapeTensorOf<[I1]>;
def Graph_Tensor : StaticShapeTensorOf<[F32, F16, BF16, I1]>;

//===----------------------------------------------------------------------===//
// Traits
//===----------------------------------------------------------------------===//

// Extra leading operand dims become the same extra leading result dims,
// each index computed alike (see GraphInterfaces.h).
def Graph_BatchPolymorphic : NativeOpTrait<"BatchPolymorphic"> {
  let cppNamespace = "::attn::graph";
}

//===----------------------------------------------------------------------===//
// Base op class
//===----------------------------------------------------------------------===//

// Every graph op is free of side effects: the graph is pure dataflow, so
// passes may reorder, duplicate-check and erase ops freely.
class Graph_Op<string mnemonic, list<Trait> traits = []>
    : Op<Graph_Dialect, mnemonic, !listconcat(traits, [Pure])>;

#endif // ATTN_DIALECT_GRAPH_IR_GRAPHDIALECT_TD
