// RUN: attnc-opt %s -split-input-file -verify-diagnostics

// Verifier and parser errors of the `attn` dialect: one case per error path
// of GraphOps.cpp (graph, return, scan) and GraphVerify.cpp (computational
// ops), plus the ODS-generated errors users hit most (element types, dynamic
// shapes, type-matching traits, parents, unknown ops). The scan's
// "body must end in attn.yield" is in invalid-terminator.mlir, since it is
// only reachable with an unregistered terminator.

//===----------------------------------------------------------------------===//
// ODS constraints and generic errors
//===----------------------------------------------------------------------===//

attn.graph @f64_tensor(%x: tensor<4xf64>) {
  // expected-error @+1 {{'attn.tanh' op operand #0 must be statically shaped tensor of 32-bit float or 16-bit float or bfloat16 type values, but got 'tensor<4xf64>'}}
  %0 = attn.tanh %x : tensor<4xf64>
  attn.return
}

// -----

attn.graph @i32_tensor(%x: tensor<4xi32>) {
  // expected-error @+1 {{'attn.reshape' op operand #0 must be statically shaped tensor of 32-bit float or 16-bit float or bfloat16 type or 1-bit signless integer values, but got 'tensor<4xi32>'}}
  %0 = attn.reshape %x : tensor<4xi32> -> tensor<2x2xi32>
  attn.return
}

// -----

attn.graph @mask_to_float_op(%m: tensor<4xi1>) {
  // expected-error @+1 {{'attn.exp' op operand #0 must be statically shaped tensor of 32-bit float or 16-bit float or bfloat16 type values, but got 'tensor<4xi1>'}}
  %0 = attn.exp %m : tensor<4xi1>
  attn.return
}

// -----

attn.graph @dynamic_shape(%x: tensor<?x4xf32>) {
  // expected-error @+1 {{'attn.exp' op operand #0 must be statically shaped tensor of 32-bit float or 16-bit float or bfloat16 type values, but got 'tensor<?x4xf32>'}}
  %0 = attn.exp %x : tensor<?x4xf32>
  attn.return
}

// -----

attn.graph @dynamic_result(%x: tensor<4x4xf32>) {
  // expected-error @+1 {{'attn.reshape' op result #0 must be statically shaped tensor of 32-bit float or 16-bit float or bfloat16 type or 1-bit signless integer values, but got 'tensor<?xf32>'}}
  %0 = attn.reshape %x : tensor<4x4xf32> -> tensor<?xf32>
  attn.return
}

// -----

attn.graph @unranked(%x: tensor<*xf32>) {
  // expected-error @+1 {{invalid kind of type specified: expected builtin.tensor, but found 'tensor<*xf32>'}}
  %0 = attn.exp %x : tensor<*xf32>
  attn.return
}

// -----

attn.graph @unary_type_mismatch(%x: tensor<4xf32>) {
  // expected-error @+1 {{'attn.exp' op requires the same type for all operands and results}}
  %0 = "attn.exp"(%x) : (tensor<4xf32>) -> tensor<4xf16>
  attn.return
}

// -----

attn.graph @unary_shape_mismatch(%x: tensor<4xf32>) {
  // expected-error @+1 {{'attn.relu' op requires the same type for all operands and results}}
  %0 = "attn.relu"(%x) : (tensor<4xf32>) -> tensor<2x2xf32>
  attn.return
}

// -----

attn.graph @scale_type_mismatch(%x: tensor<4xbf16>) {
  // expected-error @+1 {{'attn.scale' op requires the same type for all operands and results}}
  %0 = "attn.scale"(%x) <{factor = 2.0 : f64}> : (tensor<4xbf16>) -> tensor<4xf32>
  attn.return
}

// -----

attn.graph @scale_integer_factor(%x: tensor<4xf32>) {
  // expected-error @+2 {{unexpected decimal integer literal for a floating point value}}
  // expected-note @+1 {{add a trailing dot to make the literal a float}}
  %0 = attn.scale %x by 2 : tensor<4xf32>
  attn.return
}

// -----

attn.graph @softmax_type_mismatch(%x: tensor<4xf32>) {
  // expected-error @+1 {{'attn.softmax' op requires the same type for all operands and results}}
  %0 = "attn.softmax"(%x) <{dim = 0 : i64}> : (tensor<4xf32>) -> tensor<4xf16>
  attn.return
}

// -----

attn.graph @layer_norm_result_mismatch(%x: tensor<4xf32>, %g: tensor<4xf32>) {
  // expected-error @+1 {{'attn.layer_norm' op failed to verify that all of {input, result} have same type}}
  %0 = "attn.layer_norm"(%x, %g, %g) <{epsilon = 1.0e-5 : f64}>
      : (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<4xf16>
  attn.return
}

// -----

attn.graph @layer_norm_gamma_beta_mismatch(%x: tensor<4xf32>, %g: tensor<4xf32>, %b: tensor<4xf16>) {
  // expected-error @+1 {{'attn.layer_norm' op failed to verify that all of {gamma, beta} have same type}}
  %0 = "attn.layer_norm"(%x, %g, %b) <{epsilon = 1.0e-5 : f64}>
      : (tensor<4xf32>, tensor<4xf32>, tensor<4xf16>) -> tensor<4xf32>
  attn.return
}

// -----

attn.graph @rms_norm_result_mismatch(%x: tensor<4xf32>, %g: tensor<4xf32>) {
  // expected-error @+1 {{'attn.rms_norm' op failed to verify that all of {input, result} have same type}}
  %0 = "attn.rms_norm"(%x, %g) <{epsilon = 1.0e-5 : f64}>
      : (tensor<4xf32>, tensor<4xf32>) -> tensor<8xf32>
  attn.return
}

// -----

attn.graph @select_float_condition(%c: tensor<4xf32>, %x: tensor<4xf32>) {
  // expected-error @+1 {{'attn.select' op operand #0 must be statically shaped tensor of 1-bit signless integer values, but got 'tensor<4xf32>'}}
  %0 = attn.select %c, %x, %x : tensor<4xf32>, tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
  attn.return
}

// -----

attn.graph @causal_mask_float() {
  // expected-error @+1 {{'attn.causal_mask' op result #0 must be statically shaped tensor of 1-bit signless integer values, but got 'tensor<4x4xf32>'}}
  %0 = attn.causal_mask : tensor<4x4xf32>
  attn.return
}

// -----

attn.graph @iota_mask() {
  // expected-error @+1 {{'attn.iota' op result #0 must be statically shaped tensor of 32-bit float or 16-bit float or bfloat16 type values, but got 'tensor<4xi1>'}}
  %0 = attn.iota dim 0 : tensor<4xi1>
  attn.return
}

// -----

attn.graph @constant_i32() {
  // expected-error @+1 {{'attn.constant' op result #0 must be statically shaped tensor of 32-bit float or 16-bit float or bfloat16 type or 1-bit signless integer values, but got 'tensor<4xi32>'}}
  %0 = attn.constant dense<1> : tensor<4xi32>
  attn.return
}

// -----

attn.graph @constant_type_mismatch() {
  // expected-error @+1 {{'attn.constant' op failed to verify that all of {value, result} have same type}}
  %0 = "attn.constant"() <{value = dense<1.0> : tensor<4xf32>}> : () -> tensor<4xf16>
  attn.return
}

// -----

attn.graph @splat_f64() {
  // expected-error @+1 {{'attn.splat' op result #0 must be statically shaped tensor of 32-bit float or 16-bit float or bfloat16 type or 1-bit signless integer values, but got 'tensor<4xf64>'}}
  %0 = attn.splat 1.0 : tensor<4xf64>
  attn.return
}

// -----

attn.graph @unknown_op(%x: tensor<4xf32>) {
  // expected-error @+1 {{custom op 'attn.frobnicate' is unknown}}
  %0 = attn.frobnicate %x : tensor<4xf32>
  attn.return
}

// -----

attn.graph @unknown_op_generic(%x: tensor<4xf32>) {
  // expected-error @+1 {{unregistered operation 'attn.frobnicate' found in dialect ('attn') that does not allow unknown operations}}
  %0 = "attn.frobnicate"(%x) : (tensor<4xf32>) -> tensor<4xf32>
  attn.return
}

// -----

attn.graph @yield_outside_scan() {
  // expected-error @+1 {{'attn.yield' op expects parent op to be one of 'attn.scan, attn.attention, attn.fused'}}
  attn.yield
}

// -----

attn.graph @return_inside_scan(%xs: tensor<4x2xf32>) {
  attn.scan dim 0 ins(%x = %xs : tensor<4x2xf32>) -> () {
    // expected-error @+1 {{'attn.return' op expects parent op 'attn.graph'}}
    attn.return
  }
  attn.return
}

// -----

//===----------------------------------------------------------------------===//
// attn.graph and attn.return
//===----------------------------------------------------------------------===//

// A declaration. GraphOp::verify's own "must have a body ending in
// attn.return" is never reached: the SizedRegion<1> constraint fires first.
// expected-error @+1 {{'attn.graph' op region #0 ('body') failed to verify constraint: region with 1 blocks}}
attn.graph @declaration(%x: tensor<4xf32>)

// -----

// expected-error @+1 {{expected non-empty function body}}
attn.graph @empty_body() {
}

// -----

// GraphOp::verify's own block-argument checks are never reached:
// FunctionOpInterface checks the entry block first.
// expected-error @+1 {{'attn.graph' op entry block must have 1 arguments to match function signature}}
"attn.graph"() <{function_type = (tensor<4xf32>) -> (), sym_name = "block_arg_count"}> ({
^bb0(%x: tensor<4xf32>, %y: tensor<4xf32>):
  "attn.return"() : () -> ()
}) : () -> ()

// -----

// expected-error @+1 {{'attn.graph' op type of entry block argument #0('tensor<4xf16>') must match the type of the corresponding argument in function signature('tensor<4xf32>')}}
"attn.graph"() <{function_type = (tensor<4xf32>) -> (), sym_name = "block_arg_type"}> ({
^bb0(%x: tensor<4xf16>):
  "attn.return"() : () -> ()
}) : () -> ()

// -----

// expected-error @+1 {{'attn.graph' op argument 0 has type 'tensor<?xf32>'; graph values must be statically shaped tensors of f32, f16, bf16 or i1, without encoding and with fewer than 2^63 elements}}
attn.graph @dynamic_graph_arg(%x: tensor<?xf32>) -> tensor<4xf32> {
  %y = attn.splat 1.0 : tensor<4xf32>
  attn.return %y : tensor<4xf32>
}

// -----

// An unused argument must obey the type rules too.
// expected-error @+1 {{'attn.graph' op argument 1 has type 'f64'; graph values must be}}
attn.graph @unused_bad_args(%x: tensor<4xf32>, %y: f64) {
  attn.return
}

// -----

// expected-error @+1 {{'attn.graph' op argument 0 has type 'tensor<4xi32>'}}
attn.graph @int_arg(%z: tensor<4xi32>) {
  attn.return
}

// -----

// No op can produce a dynamic tensor, so a dynamic result type is caught
// at the return.
attn.graph @dynamic_graph_result(%x: tensor<4xf32>) -> tensor<?xf32> {
  // expected-error @+1 {{'attn.return' op operand 0 has type 'tensor<4xf32>' but graph @dynamic_graph_result declares result 0 as 'tensor<?xf32>'}}
  attn.return %x : tensor<4xf32>
}

// -----

attn.graph @scalar_graph_result(%x: f32) -> f32 {
  // expected-error @+1 {{'attn.return' op operand #0 must be variadic of statically shaped tensor}}
  attn.return %x : f32
}

// -----

attn.graph @slice_huge_offset(%x: tensor<4xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{'attn.slice' op window of dim 0 (offset 9223372036854775807, 2 elements, stride 1) runs outside the input extent 4}}
  %y = attn.slice %x offsets [9223372036854775807] : tensor<4xf32> -> tensor<2xf32>
  attn.return %y : tensor<2xf32>
}

// -----

attn.graph @slice_huge_stride(%x: tensor<4xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{'attn.slice' op window of dim 0 (offset 1, 3 elements, stride 9223372036854775807) runs outside the input extent 4}}
  %y = attn.slice %x offsets [1] strides [9223372036854775807] : tensor<4xf32> -> tensor<3xf32>
  attn.return %y : tensor<3xf32>
}

// -----

attn.graph @outer() {
  // expected-error @+1 {{'attn.graph' op symbol's parent must have the SymbolTable trait}}
  attn.graph @inner() {
    attn.return
  }
  attn.return
}

// -----

attn.graph @return_count(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  // expected-error @+1 {{'attn.return' op returns 1 values but graph @return_count declares 2 results}}
  attn.return %x : tensor<4xf32>
}

// -----

attn.graph @return_type(%x: tensor<4xf16>) -> tensor<4xf32> {
  // expected-error @+1 {{'attn.return' op operand 0 has type 'tensor<4xf16>' but graph @return_type declares result 0 as 'tensor<4xf32>'}}
  attn.return %x : tensor<4xf16>
}

// -----

//===----------------------------------------------------------------------===//
// attn.matmul
//===----------------------------------------------------------------------===//

attn.graph @matmul_rank(%a: tensor<8xf32>, %b: tensor<8x16xf32>) {
  // expected-error @+1 {{'attn.matmul' op operands need rank 2 or more but have shapes 8 and 8x16}}
  %0 = attn.matmul %a, %b : tensor<8xf32>, tensor<8x16xf32> -> tensor<16xf32>
  attn.return
}

// -----

attn.graph @matmul_element_types(%a: tensor<4x8xf32>, %b: tensor<8x16xbf16>) {
  // expected-error @+1 {{'attn.matmul' op operand and result element types differ: 'f32', 'bf16' -> 'f32'}}
  %0 = attn.matmul %a, %b : tensor<4x8xf32>, tensor<8x16xbf16> -> tensor<4x16xf32>
  attn.return
}

// -----

attn.graph @matmul_result_element_type(%a: tensor<4x8xf16>, %b: tensor<8x16xf16>) {
  // expected-error @+1 {{'attn.matmul' op operand and result element types differ: 'f16', 'f16' -> 'f32'}}
  %0 = attn.matmul %a, %b : tensor<4x8xf16>, tensor<8x16xf16> -> tensor<4x16xf32>
  attn.return
}

// -----

attn.graph @matmul_contraction(%a: tensor<4x8xf32>, %b: tensor<16x8xf32>) {
  // expected-error @+1 {{'attn.matmul' op operand 1 has shape 16x8 but matmul needs 8 rows (the contraction extent of lhs 4x8)}}
  %0 = attn.matmul %a, %b : tensor<4x8xf32>, tensor<16x8xf32> -> tensor<4x8xf32>
  attn.return
}

// -----

attn.graph @matmul_contraction_transposed(%a: tensor<8x4xf32>, %b: tensor<8x16xf32>) {
  // expected-error @+1 {{'attn.matmul' op operand 1 has shape 8x16 but matmul needs 4 rows (the contraction extent of lhs 8x4) in its transposed form}}
  %0 = attn.matmul %a, %b transpose_rhs : tensor<8x4xf32>, tensor<8x16xf32> -> tensor<8x8xf32>
  attn.return
}

// -----

attn.graph @matmul_batch(%a: tensor<2x4x8xf32>, %b: tensor<3x8x16xf32>) {
  // expected-error @+1 {{'attn.matmul' op batch dims of 2x4x8 and 3x8x16 do not broadcast}}
  %0 = attn.matmul %a, %b : tensor<2x4x8xf32>, tensor<3x8x16xf32> -> tensor<2x4x16xf32>
  attn.return
}

// -----

attn.graph @matmul_result_shape(%a: tensor<2x1x4x8xf32>, %b: tensor<3x8x16xf32>) {
  // expected-error @+1 {{'attn.matmul' op result has shape 2x4x16 but the product of 2x1x4x8 and 3x8x16 is 2x3x4x16}}
  %0 = attn.matmul %a, %b : tensor<2x1x4x8xf32>, tensor<3x8x16xf32> -> tensor<2x4x16xf32>
  attn.return
}

// -----

//===----------------------------------------------------------------------===//
// Elementwise ops
//===----------------------------------------------------------------------===//

attn.graph @binary_element_type(%a: tensor<4xf32>, %b: tensor<4xf16>) {
  // expected-error @+1 {{'attn.add' op operand 1 has element type 'f16' but the result has 'f32'}}
  %0 = attn.add %a, %b : tensor<4xf32>, tensor<4xf16> -> tensor<4xf32>
  attn.return
}

// -----

attn.graph @binary_result_element_type(%a: tensor<4xbf16>, %b: tensor<4xbf16>) {
  // expected-error @+1 {{'attn.mul' op operand 0 has element type 'bf16' but the result has 'f32'}}
  %0 = attn.mul %a, %b : tensor<4xbf16>, tensor<4xbf16> -> tensor<4xf32>
  attn.return
}

// -----

attn.graph @binary_broadcast(%a: tensor<4x8xf32>, %b: tensor<3xf32>) {
  // expected-error @+1 {{'attn.sub' op operand 1 has shape 3 which does not broadcast with shape 4x8 of the operands before it}}
  %0 = attn.sub %a, %b : tensor<4x8xf32>, tensor<3xf32> -> tensor<4x8xf32>
  attn.return
}

// -----

attn.graph @binary_result_shape(%a: tensor<4x1xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{'attn.max' op result has shape 4x1 but the operands broadcast to 4x8}}
  %0 = attn.max %a, %b : tensor<4x1xf32>, tensor<8xf32> -> tensor<4x1xf32>
  attn.return
}

// -----

attn.graph @cast_shape(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'attn.cast' op changes shape 4x8 to 32; a cast only changes the element type}}
  %0 = attn.cast %x : tensor<4x8xf32> to tensor<32xbf16>
  attn.return
}

// -----

attn.graph @select_branch_types(%m: tensor<4xi1>, %a: tensor<4xf32>, %b: tensor<4xf16>) {
  // expected-error @+1 {{'attn.select' op chooses between element types 'f32' and 'f16'; they must match}}
  %0 = attn.select %m, %a, %b : tensor<4xi1>, tensor<4xf32>, tensor<4xf16> -> tensor<4xf32>
  attn.return
}

// -----

attn.graph @select_result_element_type(%m: tensor<4xi1>, %a: tensor<4xbf16>) {
  // expected-error @+1 {{'attn.select' op operand 1 has element type 'bf16' but the result has 'f32'}}
  %0 = attn.select %m, %a, %a : tensor<4xi1>, tensor<4xbf16>, tensor<4xbf16> -> tensor<4xf32>
  attn.return
}

// -----

attn.graph @select_mask_broadcast(%m: tensor<3xi1>, %a: tensor<4xf32>) {
  // expected-error @+1 {{'attn.select' op operand 1 has shape 4 which does not broadcast with shape 3 of the operands before it}}
  %0 = attn.select %m, %a, %a : tensor<3xi1>, tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
  attn.return
}

// -----

//===----------------------------------------------------------------------===//
// Reductions and normalisations
//===----------------------------------------------------------------------===//

attn.graph @softmax_dim(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'attn.softmax' op dim 2 is out of range for rank 2}}
  %0 = attn.softmax %x dim 2 : tensor<4x8xf32>
  attn.return
}

// -----

attn.graph @softmax_negative_dim(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'attn.softmax' op dim -1 is out of range for rank 2}}
  %0 = attn.softmax %x dim -1 : tensor<4x8xf32>
  attn.return
}

// -----

attn.graph @reduce_element_type(%x: tensor<4x8xbf16>) {
  // expected-error @+1 {{'attn.reduce_sum' op result element type 'f32' differs from the input's 'bf16'}}
  %0 = attn.reduce_sum %x dims [1] : tensor<4x8xbf16> -> tensor<4xf32>
  attn.return
}

// -----

attn.graph @reduce_dim_range(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'attn.reduce_max' op reduced dim 2 is out of range for rank 2}}
  %0 = attn.reduce_max %x dims [2] : tensor<4x8xf32> -> tensor<4x8xf32>
  attn.return
}

// -----

attn.graph @reduce_dim_twice(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'attn.reduce_mean' op reduces dim 1 twice}}
  %0 = attn.reduce_mean %x dims [1, 1] : tensor<4x8xf32> -> tensor<4xf32>
  attn.return
}

// -----

attn.graph @reduce_result_shape(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'attn.reduce_sum' op result has shape 4 but reducing 4x8 gives 4x1}}
  %0 = attn.reduce_sum %x dims [1] keep_dims : tensor<4x8xf32> -> tensor<4xf32>
  attn.return
}

// -----

attn.graph @norm_scalar_input(%x: tensor<f32>, %g: tensor<1xf32>) {
  // expected-error @+1 {{'attn.layer_norm' op input needs rank 1 or more to normalise}}
  %0 = attn.layer_norm %x, %g, %g : tensor<f32>, tensor<1xf32>
  attn.return
}

// -----

attn.graph @layer_norm_gamma_shape(%x: tensor<4x64xf32>, %g: tensor<32xf32>) {
  // expected-error @+1 {{'attn.layer_norm' op operand 1 has shape 32 but the normalised dim of 4x64 needs shape 64}}
  %0 = attn.layer_norm %x, %g, %g : tensor<4x64xf32>, tensor<32xf32>
  attn.return
}

// -----

attn.graph @rms_norm_gamma_rank(%x: tensor<4x64xf32>, %g: tensor<1x64xf32>) {
  // expected-error @+1 {{'attn.rms_norm' op operand 1 has shape 1x64 but the normalised dim of 4x64 needs shape 64}}
  %0 = attn.rms_norm %x, %g : tensor<4x64xf32>, tensor<1x64xf32>
  attn.return
}

// -----

attn.graph @rms_norm_gamma_element_type(%x: tensor<4x64xf32>, %g: tensor<64xbf16>) {
  // expected-error @+1 {{'attn.rms_norm' op operand 1 has element type 'bf16' but the input has 'f32'}}
  %0 = attn.rms_norm %x, %g eps 1.0e-6 : tensor<4x64xf32>, tensor<64xbf16>
  attn.return
}

// -----

//===----------------------------------------------------------------------===//
// Shape manipulation
//===----------------------------------------------------------------------===//

attn.graph @transpose_perm_size(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'attn.transpose' op perm has 3 entries but the input has rank 2}}
  %0 = attn.transpose %x perm [0, 1, 2] : tensor<4x8xf32> -> tensor<4x8xf32>
  attn.return
}

// -----

attn.graph @transpose_repeated(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'attn.transpose' op perm [1, 1] is not a permutation of 0..1}}
  %0 = attn.transpose %x perm [1, 1] : tensor<4x8xf32> -> tensor<8x8xf32>
  attn.return
}

// -----

attn.graph @transpose_out_of_range(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'attn.transpose' op perm [0, 2] is not a permutation of 0..1}}
  %0 = attn.transpose %x perm [0, 2] : tensor<4x8xf32> -> tensor<4x8xf32>
  attn.return
}

// -----

attn.graph @transpose_element_type(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'attn.transpose' op changes the element type}}
  %0 = attn.transpose %x perm [1, 0] : tensor<4x8xf32> -> tensor<8x4xf16>
  attn.return
}

// -----

attn.graph @transpose_result_shape(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'attn.transpose' op result has shape 4x8 but permuting 4x8 gives 8x4}}
  %0 = attn.transpose %x perm [1, 0] : tensor<4x8xf32> -> tensor<4x8xf32>
  attn.return
}

// -----

attn.graph @reshape_element_type(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'attn.reshape' op changes the element type; use attn.cast}}
  %0 = attn.reshape %x : tensor<4x8xf32> -> tensor<32xbf16>
  attn.return
}

// -----

attn.graph @reshape_count(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'attn.reshape' op reshapes 4x8 (32 elements) to 4x4 (16 elements)}}
  %0 = attn.reshape %x : tensor<4x8xf32> -> tensor<4x4xf32>
  attn.return
}

// -----

attn.graph @slice_element_type(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'attn.slice' op changes the element type}}
  %0 = attn.slice %x offsets [0, 0] : tensor<4x8xf32> -> tensor<2x2xf16>
  attn.return
}

// -----

attn.graph @slice_offsets_count(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'attn.slice' op needs one offset and stride per dim of the rank-2 input, and a rank-2 result}}
  %0 = attn.slice %x offsets [0] : tensor<4x8xf32> -> tensor<2x2xf32>
  attn.return
}

// -----

attn.graph @slice_strides_count(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'attn.slice' op needs one offset and stride per dim of the rank-2 input, and a rank-2 result}}
  %0 = attn.slice %x offsets [0, 0] strides [1, 1, 1] : tensor<4x8xf32> -> tensor<2x2xf32>
  attn.return
}

// -----

attn.graph @slice_result_rank(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'attn.slice' op needs one offset and stride per dim of the rank-2 input, and a rank-2 result}}
  %0 = attn.slice %x offsets [0, 0] : tensor<4x8xf32> -> tensor<8xf32>
  attn.return
}

// -----

attn.graph @slice_stride(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'attn.slice' op stride 0 of dim 1 must be positive}}
  %0 = attn.slice %x offsets [0, 0] strides [1, 0] : tensor<4x8xf32> -> tensor<4x2xf32>
  attn.return
}

// -----

attn.graph @slice_window(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'attn.slice' op window of dim 1 (offset 2, 4 elements, stride 2) runs outside the input extent 8}}
  %0 = attn.slice %x offsets [0, 2] strides [1, 2] : tensor<4x8xf32> -> tensor<4x4xf32>
  attn.return
}

// -----

attn.graph @slice_negative_offset(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'attn.slice' op window of dim 0 (offset -1, 2 elements, stride 1) runs outside the input extent 4}}
  %0 = attn.slice %x offsets [-1, 0] : tensor<4x8xf32> -> tensor<2x8xf32>
  attn.return
}

// -----

attn.graph @concat_no_inputs() {
  // expected-error @+1 {{'attn.concat' op needs at least one input}}
  %0 = "attn.concat"() <{dim = 0 : i64}> : () -> tensor<4xf32>
  attn.return
}

// -----

attn.graph @concat_dim(%a: tensor<4x8xf32>) {
  // expected-error @+1 {{'attn.concat' op dim 2 is out of range for rank 2}}
  %0 = attn.concat %a, %a dim 2 : tensor<4x8xf32>, tensor<4x8xf32> -> tensor<4x16xf32>
  attn.return
}

// -----

attn.graph @concat_element_type(%a: tensor<4x8xf32>, %b: tensor<4x8xi1>) {
  // expected-error @+1 {{'attn.concat' op input 1 has element type 'i1' but the result has 'f32'}}
  %0 = attn.concat %a, %b dim 1 : tensor<4x8xf32>, tensor<4x8xi1> -> tensor<4x16xf32>
  attn.return
}

// -----

attn.graph @concat_rank(%a: tensor<4x8xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{'attn.concat' op input 1 has rank 1 but the result has rank 2}}
  %0 = attn.concat %a, %b dim 1 : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x16xf32>
  attn.return
}

// -----

attn.graph @concat_other_dim(%a: tensor<4x8xf32>, %b: tensor<3x8xf32>) {
  // expected-error @+1 {{'attn.concat' op input 1 has shape 3x8 but the result 4x16 differs in dim 0}}
  %0 = attn.concat %a, %b dim 1 : tensor<4x8xf32>, tensor<3x8xf32> -> tensor<4x16xf32>
  attn.return
}

// -----

attn.graph @concat_total(%a: tensor<4x8xf32>, %b: tensor<4x8xf32>) {
  // expected-error @+1 {{'attn.concat' op inputs add up to 16 along dim 1 but the result has 12}}
  %0 = attn.concat %a, %b dim 1 : tensor<4x8xf32>, tensor<4x8xf32> -> tensor<4x12xf32>
  attn.return
}

// -----

attn.graph @split_dim(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'attn.split' op dim 2 is out of range for rank 2}}
  %0, %1 = attn.split %x dim 2 : tensor<4x8xf32> -> tensor<4x4xf32>, tensor<4x4xf32>
  attn.return
}

// -----

attn.graph @split_no_results(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'attn.split' op needs at least one result}}
  "attn.split"(%x) <{dim = 0 : i64}> : (tensor<4x8xf32>) -> ()
  attn.return
}

// -----

attn.graph @split_element_type(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'attn.split' op result 1 changes the element type}}
  %0, %1 = attn.split %x dim 1 : tensor<4x8xf32> -> tensor<4x4xf32>, tensor<4x4xbf16>
  attn.return
}

// -----

attn.graph @split_rank(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'attn.split' op result 0 has rank 1 but the input has rank 2}}
  %0, %1 = attn.split %x dim 1 : tensor<4x8xf32> -> tensor<16xf32>, tensor<4x4xf32>
  attn.return
}

// -----

attn.graph @split_other_dim(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'attn.split' op result 1 has shape 2x4 but the input 4x8 differs in dim 0}}
  %0, %1 = attn.split %x dim 1 : tensor<4x8xf32> -> tensor<4x4xf32>, tensor<2x4xf32>
  attn.return
}

// -----

attn.graph @split_total(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'attn.split' op results add up to 6 along dim 1 but the input has 8}}
  %0, %1 = attn.split %x dim 1 : tensor<4x8xf32> -> tensor<4x4xf32>, tensor<4x2xf32>
  attn.return
}

// -----

//===----------------------------------------------------------------------===//
// Constants, masks and index tensors
//===----------------------------------------------------------------------===//

attn.graph @causal_mask_rank() {
  // expected-error @+1 {{'attn.causal_mask' op result needs rank 2 or more (queries x keys) but has shape 16}}
  %0 = attn.causal_mask : tensor<16xi1>
  attn.return
}

// -----

attn.graph @iota_dim() {
  // expected-error @+1 {{'attn.iota' op dim 1 is out of range for rank 1}}
  %0 = attn.iota dim 1 : tensor<128xf32>
  attn.return
}

// -----

//===----------------------------------------------------------------------===//
// attn.scan and attn.yield
//===----------------------------------------------------------------------===//

attn.graph @scan_parse_dim(%xs: tensor<8x4xf32>) {
  // expected-error @+1 {{custom op 'attn.scan' sequence type 'tensor<8x4xf32>' has no dim 2 for the scan to walk}}
  attn.scan dim 2 ins(%x = %xs : tensor<8x4xf32>) -> () {
    attn.yield
  }
  attn.return
}

// -----

attn.graph @scan_parse_negative_dim(%xs: tensor<8x4xf32>) {
  // expected-error @+1 {{custom op 'attn.scan' sequence type 'tensor<8x4xf32>' has no dim -1 for the scan to walk}}
  attn.scan dim -1 ins(%x = %xs : tensor<8x4xf32>) -> () {
    attn.yield
  }
  attn.return
}

// -----

// expected-note @+1 {{prior use here}}
attn.graph @scan_operand_type(%xs: tensor<8x4xf32>) {
  // expected-error @+1 {{use of value '%xs' expects different type than prior uses: 'tensor<8x4xf16>' vs 'tensor<8x4xf32>'}}
  attn.scan dim 0 ins(%x = %xs : tensor<8x4xf16>) -> () {
    attn.yield
  }
  attn.return
}

// -----

attn.graph @scan_no_sequences() {
  // expected-error @+1 {{'attn.scan' op needs at least one sequence operand to walk}}
  attn.scan dim 0 ins() -> () {
    attn.yield
  }
  attn.return
}

// -----

// The custom parser rejects a dim the sequences lack; the generic form
// reaches the verifier.
attn.graph @scan_walk_dim(%xs: tensor<8x4xf32>) {
  // expected-error @+1 {{'attn.scan' op walks dim 2 but sequence operand 0 has rank 2}}
  "attn.scan"(%xs) <{dim = 2 : i64, operandSegmentSizes = array<i32: 1, 0>}> ({
  ^bb0(%x: tensor<4xf32>):
    "attn.yield"() : () -> ()
  }) : (tensor<8x4xf32>) -> ()
  attn.return
}

// -----

attn.graph @scan_lengths(%xs: tensor<8x4xf32>, %ys: tensor<6x4xf32>) {
  // expected-error @+1 {{'attn.scan' op sequence operand 1 has extent 6 along dim 0 but sequence operand 0 has 8}}
  attn.scan dim 0 ins(%x = %xs : tensor<8x4xf32>, %y = %ys : tensor<6x4xf32>) -> () {
    attn.yield
  }
  attn.return
}

// -----

attn.graph @scan_missing_final_carry(%xs: tensor<8x4xf32>, %h0: tensor<4xf32>) {
  // expected-error @+1 {{'attn.scan' op has 0 results but 1 carried values, each of which needs a final result}}
  attn.scan dim 0 ins(%x = %xs : tensor<8x4xf32>) carry(%h = %h0 : tensor<4xf32>) -> () {
    attn.yield %h : tensor<4xf32>
  }
  attn.return
}

// -----

attn.graph @scan_final_carry_type(%xs: tensor<8x4xf32>, %h0: tensor<4xf32>) {
  // expected-error @+1 {{'attn.scan' op carried value 0 starts as 'tensor<4xf32>' but its final result is 'tensor<4xf16>'}}
  %0 = attn.scan dim 0 ins(%x = %xs : tensor<8x4xf32>) carry(%h = %h0 : tensor<4xf32>) -> tensor<4xf16> {
    attn.yield %h : tensor<4xf32>
  }
  attn.return
}

// -----

attn.graph @scan_body_arg_count(%xs: tensor<8x4xf32>) {
  // expected-error @+1 {{'attn.scan' op body has 2 arguments but the scan binds 1}}
  "attn.scan"(%xs) <{dim = 0 : i64, operandSegmentSizes = array<i32: 1, 0>}> ({
  ^bb0(%x: tensor<4xf32>, %y: tensor<4xf32>):
    "attn.yield"() : () -> ()
  }) : (tensor<8x4xf32>) -> ()
  attn.return
}

// -----

attn.graph @scan_body_sequence_arg(%xs: tensor<8x4xf32>) {
  // expected-error @+1 {{'attn.scan' op body argument 0 has type 'tensor<8xf32>' but a step of sequence operand 0 is 'tensor<4xf32>'}}
  "attn.scan"(%xs) <{dim = 0 : i64, operandSegmentSizes = array<i32: 1, 0>}> ({
  ^bb0(%x: tensor<8xf32>):
    "attn.yield"() : () -> ()
  }) : (tensor<8x4xf32>) -> ()
  attn.return
}

// -----

attn.graph @scan_body_carried_arg(%xs: tensor<8x4xf32>, %h0: tensor<4xf32>) {
  // expected-error @+1 {{'attn.scan' op body argument 1 has type 'tensor<4xf16>' but carried value 0 is 'tensor<4xf32>'}}
  %0 = "attn.scan"(%xs, %h0) <{dim = 0 : i64, operandSegmentSizes = array<i32: 1, 1>}> ({
  ^bb0(%x: tensor<4xf32>, %h: tensor<4xf16>):
    "attn.yield"(%x) : (tensor<4xf32>) -> ()
  }) : (tensor<8x4xf32>, tensor<4xf32>) -> tensor<4xf32>
  attn.return
}

// -----

attn.graph @scan_yield_count(%xs: tensor<8x4xf32>, %h0: tensor<4xf32>) {
  %0:2 = attn.scan dim 0 ins(%x = %xs : tensor<8x4xf32>) carry(%h = %h0 : tensor<4xf32>)
      -> (tensor<8x4xf32>, tensor<4xf32>) {
    // expected-error @+1 {{'attn.yield' op yields 1 values but the scan has 2 results (step outputs, then carries)}}
    attn.yield %x : tensor<4xf32>
  }
  attn.return
}

// -----

attn.graph @scan_stacked_rank(%xs: tensor<4x8xf32>) {
  // expected-error @+1 {{'attn.scan' op result 0 has type 'tensor<4xf32>' with no dim 1 to stack step outputs along}}
  %0 = attn.scan dim 1 ins(%x = %xs : tensor<4x8xf32>) -> tensor<4xf32> {
    attn.yield %x : tensor<4xf32>
  }
  attn.return
}

// -----

attn.graph @scan_stacked_extent(%xs: tensor<8x4xf32>) {
  // expected-error @+1 {{'attn.scan' op result 0 has extent 6 along dim 0 but the scan has 8 steps}}
  %0 = attn.scan dim 0 ins(%x = %xs : tensor<8x4xf32>) -> tensor<6x4xf32> {
    attn.yield %x : tensor<4xf32>
  }
  attn.return
}

// -----

attn.graph @scan_yield_stacked_type(%xs: tensor<8x4xf32>) {
  %0 = attn.scan dim 0 ins(%x = %xs : tensor<8x4xf32>) -> tensor<8x4xbf16> {
    // expected-error @+1 {{'attn.yield' op operand 0 has type 'tensor<4xf32>' but the stacked result needs 'tensor<4xbf16>'}}
    attn.yield %x : tensor<4xf32>
  }
  attn.return
}

// -----

attn.graph @scan_yield_carried_type(%xs: tensor<8x4xf32>, %h0: tensor<2xf32>) {
  %0 = attn.scan dim 0 ins(%x = %xs : tensor<8x4xf32>) carry(%h = %h0 : tensor<2xf32>)
      -> tensor<2xf32> {
    // expected-error @+1 {{'attn.yield' op operand 0 has type 'tensor<4xf32>' but the carried value is 'tensor<2xf32>'}}
    attn.yield %x : tensor<4xf32>
  }
  attn.return
}

// -----

attn.graph @scan_empty_body(%xs: tensor<8x4xf32>) {
  // expected-error @+1 {{empty block: expect at least a terminator}}
  attn.scan dim 0 ins(%x = %xs : tensor<8x4xf32>) -> () {
  }
  attn.return
}

// -----

// Element counts must fit in 64 bits, or every size computation downstream
// would wrap.
// expected-error @+1 {{'attn.graph' op argument 0 has type 'tensor<4294967296x4294967296xf32>'; graph values must be}}
attn.graph @count_overflow_arg(%x: tensor<4294967296x4294967296xf32>) {
  attn.return
}

// -----

attn.graph @count_overflow_result() {
  // expected-error @+1 {{'attn.splat' op result has type 'tensor<3x6148914691236517206xf32>'; graph values must be}}
  %s = attn.splat 1.0 : tensor<3x6148914691236517206xf32>
  attn.return
}

// -----

// expected-error @+1 {{'attn.graph' op argument 0 has type 'tensor<2xf32, "sparse">'; graph values must be}}
attn.graph @encoding(%x: tensor<2xf32, "sparse">) {
  attn.return
}

// -----

attn.graph @foreign_op(%x: tensor<2xf32>) {
  // expected-error @+1 {{'builtin.unrealized_conversion_cast' op is not an attn op; graphs hold attn ops only}}
  %0 = builtin.unrealized_conversion_cast %x : tensor<2xf32> to f32
  attn.return
}

// -----

attn.graph @concat_overflow(%a: tensor<9223372036854775807xf32>, %b: tensor<2xf32>) {
  // expected-error @+1 {{'attn.concat' op inputs' extents along dim 0 overflow 64 bits}}
  %c = attn.concat %a, %b dim 0 : tensor<9223372036854775807xf32>, tensor<2xf32> -> tensor<1xf32>
  attn.return
}

// -----

attn.graph @split_overflow(%x: tensor<2xf32>) {
  // expected-error @+1 {{'attn.split' op results' extents along dim 0 overflow 64 bits}}
  %a, %b = attn.split %x dim 0 : tensor<2xf32> -> tensor<9223372036854775807xf32>, tensor<9223372036854775807xf32>
  attn.return
}

// -----

attn.graph @scan_dim_in_dict(%xs: tensor<3x4xf32>) {
  // expected-error @+1 {{'dim' is set by the scan's syntax and may not appear in its attribute dictionary}}
  %y = attn.scan dim 0 ins(%x = %xs : tensor<3x4xf32>) -> tensor<3x4xf32> attributes {dim = 1 : i64} {
    attn.yield %x : tensor<4xf32>
  }
  attn.return
}

// -----

attn.graph @assoc_dim(%a: tensor<5x3xf32>, %h: tensor<3xf32>) {
  // expected-error @+1 {{'attn.assoc_scan' op dim 2 is out of range for a rank-1 state}}
  %s, %f = attn.assoc_scan dim 2 %a, %a, %h : tensor<5x3xf32>, tensor<5x3xf32>, tensor<3xf32> -> tensor<5x3xf32>, tensor<3xf32>
  attn.return
}

// -----

attn.graph @assoc_final(%a: tensor<5x3xf32>, %h: tensor<3xf32>) {
  // expected-error @+1 {{'attn.assoc_scan' op final state has shape 4 but the initial state has 3}}
  %s, %f = attn.assoc_scan dim 0 %a, %a, %h : tensor<5x3xf32>, tensor<5x3xf32>, tensor<3xf32> -> tensor<5x3xf32>, tensor<4xf32>
  attn.return
}

// -----

attn.graph @assoc_steps(%a: tensor<5x3xf32>, %b: tensor<4x3xf32>, %h: tensor<3xf32>) {
  // expected-error @+1 {{'attn.assoc_scan' op operand 1 has 4 steps but operand 0 has 5}}
  %s, %f = attn.assoc_scan dim 0 %a, %b, %h : tensor<5x3xf32>, tensor<4x3xf32>, tensor<3xf32> -> tensor<5x3xf32>, tensor<3xf32>
  attn.return
}

// -----

attn.graph @assoc_broadcast(%a: tensor<5x4xf32>, %h: tensor<3xf32>) {
  // expected-error @+1 {{'attn.assoc_scan' op operand 0 has steps of shape 4 which do not broadcast to the state shape 3}}
  %s, %f = attn.assoc_scan dim 0 %a, %a, %h : tensor<5x4xf32>, tensor<5x4xf32>, tensor<3xf32> -> tensor<5x3xf32>, tensor<3xf32>
  attn.return
}

// -----

attn.graph @assoc_no_dim(%a: tensor<3xf32>, %h: tensor<3xf32>) {
  // expected-error @+1 {{'attn.assoc_scan' op operand 0 has shape 3 with no dim 1 to walk}}
  %s, %f = attn.assoc_scan dim 1 %a, %a, %h : tensor<3xf32>, tensor<3xf32>, tensor<3xf32> -> tensor<3x1xf32>, tensor<3xf32>
  attn.return
}

// -----

attn.graph @assoc_states(%a: tensor<5x3xf32>, %h: tensor<3xf32>) {
  // expected-error @+1 {{'attn.assoc_scan' op states have shape 3x5 but 5 states of shape 3 stacked along dim 0 are 5x3}}
  %s, %f = attn.assoc_scan dim 0 %a, %a, %h : tensor<5x3xf32>, tensor<5x3xf32>, tensor<3xf32> -> tensor<3x5xf32>, tensor<3xf32>
  attn.return
}

// -----

attn.graph @assoc_types(%a: tensor<5x3xf16>, %h: tensor<3xf32>) {
  // expected-error @+1 {{'attn.assoc_scan' op mixes element types 'f16' and 'f32'}}
  %s, %f = attn.assoc_scan dim 0 %a, %a, %h : tensor<5x3xf16>, tensor<5x3xf16>, tensor<3xf32> -> tensor<5x3xf32>, tensor<3xf32>
  attn.return
}

// -----

attn.graph @attention_head_dim(%q: tensor<7x5xf32>, %k: tensor<9x6xf32>, %v: tensor<9x4xf32>) {
  // expected-error @+1 {{'attn.attention' op query has head dim 5 but key has 6}}
  %o = attn.attention %q, %k, %v scale 1.0 : tensor<7x5xf32>, tensor<9x6xf32>, tensor<9x4xf32> -> tensor<7x4xf32>
  attn.return
}

// -----

attn.graph @attention_positions(%q: tensor<7x5xf32>, %k: tensor<9x5xf32>, %v: tensor<8x4xf32>) {
  // expected-error @+1 {{'attn.attention' op key has 9 positions but value has 8}}
  %o = attn.attention %q, %k, %v scale 1.0 : tensor<7x5xf32>, tensor<9x5xf32>, tensor<8x4xf32> -> tensor<7x4xf32>
  attn.return
}

// -----

attn.graph @attention_types(%q: tensor<7x5xf32>, %k: tensor<9x5xbf16>, %v: tensor<9x4xf32>) {
  // expected-error @+1 {{'attn.attention' op query, key, value and result must share one element type}}
  %o = attn.attention %q, %k, %v scale 1.0 : tensor<7x5xf32>, tensor<9x5xbf16>, tensor<9x4xf32> -> tensor<7x4xf32>
  attn.return
}

// -----

attn.graph @attention_batch(%q: tensor<2x7x5xf32>, %k: tensor<3x9x5xf32>, %v: tensor<3x9x4xf32>) {
  // expected-error @+1 {{'attn.attention' op batch dims of query 2x7x5, key 3x9x5 and value 3x9x4 do not broadcast}}
  %o = attn.attention %q, %k, %v scale 1.0 : tensor<2x7x5xf32>, tensor<3x9x5xf32>, tensor<3x9x4xf32> -> tensor<3x7x4xf32>
  attn.return
}

// -----

attn.graph @attention_result(%q: tensor<7x5xf32>, %k: tensor<9x5xf32>, %v: tensor<9x4xf32>) {
  // expected-error @+1 {{'attn.attention' op result has shape 7x5 but 7x4 is expected}}
  %o = attn.attention %q, %k, %v scale 1.0 : tensor<7x5xf32>, tensor<9x5xf32>, tensor<9x4xf32> -> tensor<7x5xf32>
  attn.return
}

// -----

attn.graph @attention_rank(%q: tensor<5xf32>, %k: tensor<9x5xf32>, %v: tensor<9x4xf32>) {
  // expected-error @+1 {{'attn.attention' op query, key and value need rank 2 or more}}
  %o = attn.attention %q, %k, %v scale 1.0 : tensor<5xf32>, tensor<9x5xf32>, tensor<9x4xf32> -> tensor<4xf32>
  attn.return
}

// -----

attn.graph @attention_causal(%q: tensor<7x5xf32>, %k: tensor<9x5xf32>, %v: tensor<9x4xf32>) {
  // expected-error @+1 {{'attn.attention' op causal offset -1 would leave queries with no visible key; it must be 0 or more}}
  %o = attn.attention %q, %k, %v scale 1.0 causal offset -1 : tensor<7x5xf32>, tensor<9x5xf32>, tensor<9x4xf32> -> tensor<7x4xf32>
  attn.return
}

// -----

attn.graph @attention_region_arg(%q: tensor<7x5xf32>, %k: tensor<9x5xf32>, %v: tensor<9x4xf32>) {
  // expected-error @+1 {{'attn.attention' op score modification must take one argument of type 'tensor<7x9xf32>'}}
  %o = attn.attention %q, %k, %v scale 1.0 : tensor<7x5xf32>, tensor<9x5xf32>, tensor<9x4xf32> -> tensor<7x4xf32> {
  ^bb0(%s: tensor<9x7xf32>):
    attn.yield %s : tensor<9x7xf32>
  }
  attn.return
}

// -----

attn.graph @attention_region_yield(%q: tensor<7x5xf32>, %k: tensor<9x5xf32>, %v: tensor<9x4xf32>) {
  // expected-error @+1 {{'attn.attention' op score modification must yield one 'tensor<7x9xf32>'}}
  %o = attn.attention %q, %k, %v scale 1.0 : tensor<7x5xf32>, tensor<9x5xf32>, tensor<9x4xf32> -> tensor<7x4xf32> {
  ^bb0(%s: tensor<7x9xf32>):
    %r = attn.reduce_sum %s dims [1] keep_dims : tensor<7x9xf32> -> tensor<7x1xf32>
    attn.yield %r : tensor<7x1xf32>
  }
  attn.return
}

// -----

attn.graph @attention_region_reduction(%q: tensor<7x5xf32>, %k: tensor<9x5xf32>, %v: tensor<9x4xf32>) {
  %o = attn.attention %q, %k, %v scale 1.0 : tensor<7x5xf32>, tensor<9x5xf32>, tensor<9x4xf32> -> tensor<7x4xf32> {
  ^bb0(%s: tensor<7x9xf32>):
    // expected-error @+1 {{'attn.softmax' op is not elementwise; a score modification may only hold elementwise ops}}
    %p = attn.softmax %s dim 1 : tensor<7x9xf32>
    attn.yield %p : tensor<7x9xf32>
  }
  attn.return
}

// -----

attn.graph @fused_arg_type(%x: tensor<4xf32>) {
  // expected-error @+1 {{'attn.fused' op body argument 0 has type 'tensor<4xf16>' but input 0 is 'tensor<4xf32>'}}
  %y = attn.fused %x : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf16>):
    %c = attn.cast %a : tensor<4xf16> to tensor<4xf32>
    attn.yield %c : tensor<4xf32>
  }
  attn.return
}

// -----

attn.graph @fused_arg_count(%x: tensor<4xf32>) {
  // expected-error @+1 {{'attn.fused' op body takes 2 arguments for 1 inputs}}
  %y = attn.fused %x : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>, %b: tensor<4xf32>):
    attn.yield %a : tensor<4xf32>
  }
  attn.return
}

// -----

attn.graph @fused_yield(%x: tensor<4xf32>) {
  // expected-error @+1 {{'attn.fused' op body must yield one 'tensor<4xf32>'}}
  %y = attn.fused %x : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    %r = attn.reduce_sum %a dims [0] keep_dims : tensor<4xf32> -> tensor<1xf32>
    attn.yield %r : tensor<1xf32>
  }
  attn.return
}

// -----

attn.graph @fused_reduction(%x: tensor<4xf32>) {
  %y = attn.fused %x : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    // expected-error @+1 {{'attn.softmax' op is not elementwise; a fused op may only hold elementwise ops}}
    %p = attn.softmax %a dim 0 : tensor<4xf32>
    attn.yield %p : tensor<4xf32>
  }
  attn.return
}
