//===- KernelDialect.td - the kernel-level dialect ---------*- tablegen -*-===//
//
// The `kernel` dialect is the last level before CUDA: each op is one future
// GPU kernel. Its body is the graph-level computation the kernel performs
// (so the interpreter runs it unchanged and passes stay testable), and its
// attributes are the schedule: which loops go on the grid, which are looped
// inside the kernel, tile sizes, launch shape and target. Code generation
// reads both; where a pattern launches differently from the schedule (see
// docs/passes/kernels.md), the launch plan records what actually runs. This file declares the dialect, the
// loop attribute and the base op class shared by the six kernel kinds.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_KERNEL_IR_KERNELDIALECT_TD
#define ATTN_DIALECT_KERNEL_IR_KERNELDIALECT_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Kernel_Dialect : Dialect {
  let name = "kernel";
  let cppNamespace = "::attn::kernel";
  let summary = "One op per GPU kernel, with its schedule";
  let description = [{
    Produced from an `attn.graph` by `--attn-form-kernels`. The graph keeps
    its signature; its top-level body holds only kernel ops and the final
    `attn.return`. Every kernel op is isolated from above: its inputs are
    buffers, its body computes its results from them with `attn` ops, and
    `kernel.yield` ends the body. The kinds are GEMM with epilogue, fused
    attention, pointwise (elementwise and data movement), row (a reduction
    along one dim with its elementwise neighbours), persistent recurrence
    and parallel scan.
  }];
  let useDefaultAttributePrinterParser = 1;
  let dependentDialects = ["::attn::graph::GraphDialect"];
}

//===----------------------------------------------------------------------===//
// Attributes
//===----------------------------------------------------------------------===//

class Kernel_Attr<string name, string attrMnemonic>
    : AttrDef<Kernel_Dialect, name> {
  let mnemonic = attrMnemonic;
}

def Kernel_LoopAttr : Kernel_Attr<"Loop", "loop"> {
  let summary = "One loop of a kernel's iteration space and where it runs";
  let description = [{
    `name` names the loop (`b0`..., `m`, `n`, `k` for a GEMM; `b0`..., `i`,
    `e`, `j`, `d` for attention; `i` for the flat pointwise index; `r` and
    `x` for rows and their reduced elements; `t` for time, `s0`... and `h`
    for a recurrence's state; `c` for scan channels), `extent` is its
    trip count and `role` says where it runs:

    - `grid`: independent iterations, spread over thread blocks; `tile` is
      how many iterations one block covers, so the grid has
      ceil(extent / tile) blocks along it.
    - `looped`: iterated inside each block (a reduction, or carried state);
      `tile` is the step of that loop (a K tile, a key tile, a scan chunk).

    Example: `#kernel.loop<"k", 512, "looped", 64>`
  }];
  let parameters = (ins StringRefParameter<"loop name">:$name,
                        "int64_t":$extent,
                        StringRefParameter<"grid or looped">:$role,
                        "int64_t":$tile);
  let assemblyFormat = "`<` $name `,` $extent `,` $role `,` $tile `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    bool isGrid() const { return getRole() == "grid"; }
    /// Blocks along this loop when it is a grid loop, otherwise 1.
    int64_t getNumBlocks() const {
      return isGrid() ? (getExtent() + getTile() - 1) / getTile() : 1;
    }
  }];
}

def Kernel_LoopArray : TypedArrayAttrBase<Kernel_LoopAttr, "kernel loops">;

//===----------------------------------------------------------------------===//
// Base op class
//===----------------------------------------------------------------------===//

// Every kernel op has the same shape: buffers in, an isolated body that
// computes the results with attn ops, and the schedule. The kind (the op
// name) says which code generation pattern applies; the verifier of each
// kind checks that its body is one that pattern handles.
class Kernel_Op<string mnemonic, list<Trait> traits = []>
    : Op<Kernel_Dialect, mnemonic,
         !listconcat(traits, [Pure, IsolatedFromAbove])> {
  let arguments = (ins Variadic<AnyRankedTensor>:$inputs,
                       StrAttr:$target,
                       Kernel_LoopArray:$loops,
                       DenseI64ArrayAttr:$blocks,
                       I64Attr:$threads,
                       I64Attr:$smem);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let regions = (region SizedRegion<1>:$body);
  // The schedule is printed before the types so a reader sees the launch
  // shape next to the kind; the body comes last as in attn.fused.
  let assemblyFormat = [{
    $inputs `target` $target `blocks` $blocks `threads` $threads
    `smem` $smem `loops` $loops attr-dict `:`
    functional-type($inputs, $results) $body
  }];
  let hasRegionVerifier = 1;
  // Each kind's verifyRegions checks the shared rules (body arguments and
  // yield match the signature, attn ops only), then the body shape its
  // code generation pattern expects.
}

#endif // ATTN_DIALECT_KERNEL_IR_KERNELDIALECT_TD
