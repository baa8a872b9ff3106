//===- Passes.td - conversions between attnc levels --------*- tablegen -*-===//
//
// Passes that take a graph from one level to the next.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_CONVERSION_PASSES_TD
#define ATTN_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def FormKernels : Pass<"attn-form-kernels", "::mlir::ModuleOp"> {
  let summary = "Group graph ops into kernel ops, each one future GPU kernel";
  let description = [{
    Rewrites the top level of every attn.graph into kernel ops (the kernel
    dialect), each holding the graph ops it computes and a schedule chosen
    from the target description (targets/targets.json):

    - an `attn.matmul` becomes a `kernel.gemm`, and the elementwise ops that
      consume only its product (and keep its shape) become its epilogue;
    - an `attn.attention` becomes a `kernel.attention`;
    - softmax, layer_norm, rms_norm and reductions become `kernel.row`, with
      an elementwise producer cluster read only by them (prologue) and an
      elementwise consumer cluster of their shape (epilogue);
    - an `attn.scan` becomes a persistent `kernel.recurrence`, an
      `attn.assoc_scan` a `kernel.scan`, with the elementwise producers of
      its coefficients and offsets that only it reads;
    - what is left (elementwise ops, data movement, `attn.fused` bodies)
      forms `kernel.pointwise` clusters under the same no-recompute rule as
      --attn-fuse-elementwise; constant generators are cloned into each
      kernel that reads them.

    ```mlir
    %p = attn.matmul %x, %w : ...
    %y = attn.fused %p, %b { add, gelu }
    =>
    %y = kernel.gemm %x, %w, %b target "sm_90" blocks [...] threads 256 ... {
      %p = attn.matmul ... ; %s = attn.add ... ; %g = attn.gelu ...
      kernel.yield %g
    }
    ```

    Afterwards the graph's top level holds kernel ops and attn.return only;
    an op no kernel kind can hold is an error.
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"sm_90\"",
           "Target whose kernel defaults choose tiles and launch shapes "
           "(sm_80, sm_90, sm_90a)">,
    Option<"sms", "sms", "int64_t", /*default=*/"0",
           "SMs of the GPU the model will run on, where it has fewer than "
           "the target's (0: the target's count); a persistent "
           "recurrence's blocks must all be resident at once">,
  ];
  let dependentDialects = ["::attn::kernel::KernelDialect"];
}

#endif // ATTN_CONVERSION_PASSES_TD
