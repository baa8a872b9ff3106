// RUN: attnc-opt %s -split-input-file -verify-diagnostics

// Verifier errors of the kernel dialect: the shared rules (KernelOps.cpp,
// verifyKernelCommon), the body shape of each kind and the loop attribute.

attn.graph @arg_count(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'kernel.pointwise' op body has 0 arguments for 1 inputs}}
  %y = kernel.pointwise %x target "sm_90" blocks [1, 1, 1] threads 32 smem 0
      loops [#kernel.loop<"i", 4, "grid", 128>] : (tensor<4xf32>) -> tensor<4xf32> {
    %c = attn.splat 1.0 : tensor<4xf32>
    kernel.yield %c : tensor<4xf32>
  }
  attn.return %y : tensor<4xf32>
}

// -----

attn.graph @arg_type(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'kernel.pointwise' op body argument 0 has type 'tensor<4xf16>' but input 0 is 'tensor<4xf32>'}}
  %y = kernel.pointwise %x target "sm_90" blocks [1, 1, 1] threads 32 smem 0
      loops [#kernel.loop<"i", 4, "grid", 128>] : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf16>):
    %c = attn.cast %a : tensor<4xf16> to tensor<4xf32>
    kernel.yield %c : tensor<4xf32>
  }
  attn.return %y : tensor<4xf32>
}

// -----

attn.graph @yield_types(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'kernel.pointwise' op yields types that differ from its results}}
  %y = kernel.pointwise %x target "sm_90" blocks [1, 1, 1] threads 32 smem 0
      loops [#kernel.loop<"i", 4, "grid", 128>] : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    %c = attn.cast %a : tensor<4xf32> to tensor<4xf16>
    kernel.yield %c : tensor<4xf16>
  }
  attn.return %y : tensor<4xf32>
}

// -----

attn.graph @blocks(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'kernel.pointwise' op needs three positive block counts (x, y, z)}}
  %y = kernel.pointwise %x target "sm_90" blocks [1, 0] threads 32 smem 0
      loops [#kernel.loop<"i", 4, "grid", 128>] : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    kernel.yield %a : tensor<4xf32>
  }
  attn.return %y : tensor<4xf32>
}

// -----

attn.graph @loop_role(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = kernel.pointwise %x target "sm_90" blocks [1, 1, 1] threads 32 smem 0
      // expected-error @+1 {{loop 'i' has role 'warp'; expected 'grid' or 'looped'}}
      loops [#kernel.loop<"i", 4, "warp", 128>] : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    kernel.yield %a : tensor<4xf32>
  }
  attn.return %y : tensor<4xf32>
}

// -----

attn.graph @pointwise_matmul(%x: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %y = kernel.pointwise %x target "sm_90" blocks [1, 1, 1] threads 32 smem 0
      loops [#kernel.loop<"i", 16, "grid", 128>] : (tensor<4x4xf32>) -> tensor<4x4xf32> {
  ^bb0(%a: tensor<4x4xf32>):
    // expected-error @+1 {{'attn.matmul' op cannot be part of a pointwise kernel}}
    %m = attn.matmul %a, %a : tensor<4x4xf32>, tensor<4x4xf32> -> tensor<4x4xf32>
    kernel.yield %m : tensor<4x4xf32>
  }
  attn.return %y : tensor<4x4xf32>
}

// -----

attn.graph @gemm_without_matmul(%x: tensor<4x4xf32>) -> tensor<4x4xf32> {
  // expected-error @+1 {{'kernel.gemm' op body holds no attn.matmul}}
  %y = kernel.gemm %x, %x target "sm_90" blocks [1, 1, 1] threads 32 smem 0
      loops [#kernel.loop<"m", 4, "grid", 16>] : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32> {
  ^bb0(%a: tensor<4x4xf32>, %b: tensor<4x4xf32>):
    %s = attn.add %a, %b : tensor<4x4xf32>, tensor<4x4xf32> -> tensor<4x4xf32>
    kernel.yield %s : tensor<4x4xf32>
  }
  attn.return %y : tensor<4x4xf32>
}

// -----

attn.graph @gemm_two_matmuls(%x: tensor<4x4xf32>) -> tensor<4x4xf32> {
  // expected-error @+1 {{'kernel.gemm' op body holds more than one attn.matmul}}
  %y = kernel.gemm %x, %x target "sm_90" blocks [1, 1, 1] threads 32 smem 0
      loops [#kernel.loop<"m", 4, "grid", 16>] : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32> {
  ^bb0(%a: tensor<4x4xf32>, %b: tensor<4x4xf32>):
    %m = attn.matmul %a, %b : tensor<4x4xf32>, tensor<4x4xf32> -> tensor<4x4xf32>
    %n = attn.matmul %m, %b : tensor<4x4xf32>, tensor<4x4xf32> -> tensor<4x4xf32>
    kernel.yield %n : tensor<4x4xf32>
  }
  attn.return %y : tensor<4x4xf32>
}

// -----

attn.graph @gemm_operands(%x: tensor<4x4xf32>) -> tensor<4x4xf32> {
  // expected-error @+1 {{'kernel.gemm' op the matmul must multiply kernel inputs}}
  %y = kernel.gemm %x, %x target "sm_90" blocks [1, 1, 1] threads 32 smem 0
      loops [#kernel.loop<"m", 4, "grid", 16>] : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32> {
  ^bb0(%a: tensor<4x4xf32>, %b: tensor<4x4xf32>):
    %e = attn.exp %a : tensor<4x4xf32>
    %m = attn.matmul %e, %b : tensor<4x4xf32>, tensor<4x4xf32> -> tensor<4x4xf32>
    kernel.yield %m : tensor<4x4xf32>
  }
  attn.return %y : tensor<4x4xf32>
}

// -----

attn.graph @gemm_epilogue_shape(%x: tensor<4x4xf32>, %z: tensor<2x4x4xf32>) -> tensor<2x4x4xf32> {
  %y = kernel.gemm %x, %x, %z target "sm_90" blocks [1, 1, 1] threads 32 smem 0
      loops [#kernel.loop<"m", 4, "grid", 16>]
      : (tensor<4x4xf32>, tensor<4x4xf32>, tensor<2x4x4xf32>) -> tensor<2x4x4xf32> {
  ^bb0(%a: tensor<4x4xf32>, %b: tensor<4x4xf32>, %c: tensor<2x4x4xf32>):
    %m = attn.matmul %a, %b : tensor<4x4xf32>, tensor<4x4xf32> -> tensor<4x4xf32>
    // expected-error @+1 {{'attn.add' op epilogue op must keep the product's shape}}
    %s = attn.add %m, %c : tensor<4x4xf32>, tensor<2x4x4xf32> -> tensor<2x4x4xf32>
    kernel.yield %s : tensor<2x4x4xf32>
  }
  attn.return %y : tensor<2x4x4xf32>
}

// -----

attn.graph @row_two_rows(%x: tensor<4x4xf32>) -> tensor<4x4xf32> {
  // expected-error @+1 {{'kernel.row' op body holds more than one row op}}
  %y = kernel.row %x target "sm_90" blocks [4, 1, 1] threads 32 smem 0
      loops [#kernel.loop<"r", 4, "grid", 1>] : (tensor<4x4xf32>) -> tensor<4x4xf32> {
  ^bb0(%a: tensor<4x4xf32>):
    %s = attn.softmax %a dim 1 : tensor<4x4xf32>
    %t = attn.softmax %s dim 1 : tensor<4x4xf32>
    kernel.yield %t : tensor<4x4xf32>
  }
  attn.return %y : tensor<4x4xf32>
}

// -----

attn.graph @row_transpose(%x: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %y = kernel.row %x target "sm_90" blocks [4, 1, 1] threads 32 smem 0
      loops [#kernel.loop<"r", 4, "grid", 1>] : (tensor<4x4xf32>) -> tensor<4x4xf32> {
  ^bb0(%a: tensor<4x4xf32>):
    // expected-error @+1 {{'attn.transpose' op cannot be part of a row kernel}}
    %t = attn.transpose %a perm [1, 0] : tensor<4x4xf32> -> tensor<4x4xf32>
    %s = attn.softmax %t dim 1 : tensor<4x4xf32>
    kernel.yield %s : tensor<4x4xf32>
  }
  attn.return %y : tensor<4x4xf32>
}

// -----

attn.graph @attention_without(%x: tensor<4x4xf32>) -> tensor<4x4xf32> {
  // expected-error @+1 {{'kernel.attention' op body holds no attn.attention}}
  %y = kernel.attention %x target "sm_90" blocks [1, 1, 1] threads 32 smem 0
      loops [#kernel.loop<"i", 4, "grid", 16>] : (tensor<4x4xf32>) -> tensor<4x4xf32> {
  ^bb0(%a: tensor<4x4xf32>):
    kernel.yield %a : tensor<4x4xf32>
  }
  attn.return %y : tensor<4x4xf32>
}

// -----

attn.graph @recurrence_without_state(%x: tensor<5x4xf32>) -> tensor<5x4xf32> {
  // expected-error @+1 {{'kernel.recurrence' op the scan carries no state; it is not a recurrence}}
  %y = kernel.recurrence %x target "sm_90" blocks [1, 1, 1] threads 32 smem 0
      loops [#kernel.loop<"t", 5, "looped", 1>] : (tensor<5x4xf32>) -> tensor<5x4xf32> {
  ^bb0(%a: tensor<5x4xf32>):
    %s = attn.scan dim 0 ins(%xt = %a : tensor<5x4xf32>) -> (tensor<5x4xf32>) {
      %e = attn.exp %xt : tensor<4xf32>
      attn.yield %e : tensor<4xf32>
    }
    kernel.yield %s : tensor<5x4xf32>
  }
  attn.return %y : tensor<5x4xf32>
}

// -----

attn.graph @scan_without(%x: tensor<5x4xf32>) -> tensor<5x4xf32> {
  // expected-error @+1 {{'kernel.scan' op body holds no attn.assoc_scan}}
  %y = kernel.scan %x target "sm_90" blocks [1, 1, 1] threads 32 smem 0
      loops [#kernel.loop<"t", 5, "grid", 5>] : (tensor<5x4xf32>) -> tensor<5x4xf32> {
  ^bb0(%a: tensor<5x4xf32>):
    kernel.yield %a : tensor<5x4xf32>
  }
  attn.return %y : tensor<5x4xf32>
}

// -----

attn.graph @yield_outside(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'kernel.yield' op expects parent op to be one of}}
  kernel.yield %x : tensor<4xf32>
}

// -----

attn.graph @nested_kernel(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = kernel.pointwise %x target "sm_90" blocks [1, 1, 1] threads 32 smem 0
      loops [#kernel.loop<"i", 4, "grid", 128>] : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    // expected-error @+1 {{'kernel.pointwise' op is not an attn op; kernel bodies hold attn ops only}}
    %z = kernel.pointwise %a target "sm_90" blocks [1, 1, 1] threads 32 smem 0
        loops [#kernel.loop<"i", 4, "grid", 128>] : (tensor<4xf32>) -> tensor<4xf32> {
    ^bb0(%b: tensor<4xf32>):
      kernel.yield %b : tensor<4xf32>
    }
    kernel.yield %z : tensor<4xf32>
  }
  attn.return %y : tensor<4xf32>
}

// -----

attn.graph @no_loops(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'kernel.pointwise' op needs at least one loop}}
  %y = kernel.pointwise %x target "sm_90" blocks [1, 1, 1] threads 32 smem 0
      loops [] : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    kernel.yield %a : tensor<4xf32>
  }
  attn.return %y : tensor<4xf32>
}

// -----

attn.graph @zero_tile(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = kernel.pointwise %x target "sm_90" blocks [1, 1, 1] threads 32 smem 0
      // expected-error @+1 {{loop 'i' needs a positive extent and tile}}
      loops [#kernel.loop<"i", 4, "grid", 0>] : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    kernel.yield %a : tensor<4xf32>
  }
  attn.return %y : tensor<4xf32>
}

// -----

attn.graph @gemm_epilogue_reduction(%x: tensor<4x4xf32>) -> tensor<4xf32> {
  %y = kernel.gemm %x, %x target "sm_90" blocks [1, 1, 1] threads 32 smem 0
      loops [#kernel.loop<"m", 4, "grid", 16>] : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4x4xf32>, %b: tensor<4x4xf32>):
    %m = attn.matmul %a, %b : tensor<4x4xf32>, tensor<4x4xf32> -> tensor<4x4xf32>
    // expected-error @+1 {{'attn.reduce_sum' op cannot be part of a GEMM epilogue}}
    %s = attn.reduce_sum %m dims [1] : tensor<4x4xf32> -> tensor<4xf32>
    kernel.yield %s : tensor<4xf32>
  }
  attn.return %y : tensor<4xf32>
}

// -----

attn.graph @attention_extra(%x: tensor<1x4x8xf32>) -> tensor<1x4x8xf32> {
  %y = kernel.attention %x target "sm_90" blocks [1, 1, 1] threads 32 smem 0
      loops [#kernel.loop<"i", 4, "grid", 16>] : (tensor<1x4x8xf32>) -> tensor<1x4x8xf32> {
  ^bb0(%a: tensor<1x4x8xf32>):
    %o = attn.attention %a, %a, %a scale 0.35 : tensor<1x4x8xf32>, tensor<1x4x8xf32>, tensor<1x4x8xf32> -> tensor<1x4x8xf32>
    // expected-error @+1 {{'attn.exp' op cannot be part of an attention kernel}}
    %e = attn.exp %o : tensor<1x4x8xf32>
    kernel.yield %e : tensor<1x4x8xf32>
  }
  attn.return %y : tensor<1x4x8xf32>
}

// -----

attn.graph @row_without(%x: tensor<4x4xf32>) -> tensor<4x4xf32> {
  // expected-error @+1 {{'kernel.row' op body holds no row op}}
  %y = kernel.row %x target "sm_90" blocks [4, 1, 1] threads 32 smem 0
      loops [#kernel.loop<"r", 4, "grid", 1>] : (tensor<4x4xf32>) -> tensor<4x4xf32> {
  ^bb0(%a: tensor<4x4xf32>):
    %e = attn.exp %a : tensor<4x4xf32>
    kernel.yield %e : tensor<4x4xf32>
  }
  attn.return %y : tensor<4x4xf32>
}

// -----

attn.graph @recurrence_extra(%xs: tensor<3x4xf32>, %h0: tensor<4xf32>) -> tensor<4xf32> {
  %y = kernel.recurrence %xs, %h0 target "sm_90" blocks [1, 1, 1] threads 32 smem 0
      loops [#kernel.loop<"t", 3, "looped", 1>] : (tensor<3x4xf32>, tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%x: tensor<3x4xf32>, %a: tensor<4xf32>):
    %s = attn.scan dim 0 ins(%xt = %x : tensor<3x4xf32>) carry(%h = %a : tensor<4xf32>) -> (tensor<4xf32>) {
      %t = attn.add %h, %xt : tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
      attn.yield %t : tensor<4xf32>
    }
    // expected-error @+1 {{'attn.exp' op cannot be part of a recurrence kernel}}
    %e = attn.exp %s : tensor<4xf32>
    kernel.yield %e : tensor<4xf32>
  }
  attn.return %y : tensor<4xf32>
}

// -----

attn.graph @scan_two(%a: tensor<5x4xf32>, %h0: tensor<4xf32>) -> tensor<5x4xf32> {
  // expected-error @+1 {{'kernel.scan' op body holds more than one attn.assoc_scan}}
  %y = kernel.scan %a, %h0 target "sm_90" blocks [1, 1, 1] threads 32 smem 0
      loops [#kernel.loop<"t", 5, "grid", 5>] : (tensor<5x4xf32>, tensor<4xf32>) -> tensor<5x4xf32> {
  ^bb0(%c: tensor<5x4xf32>, %i: tensor<4xf32>):
    %s1, %f1 = attn.assoc_scan dim 0 %c, %c, %i : tensor<5x4xf32>, tensor<5x4xf32>, tensor<4xf32> -> tensor<5x4xf32>, tensor<4xf32>
    %s2, %f2 = attn.assoc_scan dim 0 %c, %s1, %i : tensor<5x4xf32>, tensor<5x4xf32>, tensor<4xf32> -> tensor<5x4xf32>, tensor<4xf32>
    kernel.yield %s2 : tensor<5x4xf32>
  }
  attn.return %y : tensor<5x4xf32>
}
