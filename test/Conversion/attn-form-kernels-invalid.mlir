// RUN: attnc-opt %s --attn-form-kernels -split-input-file -verify-diagnostics

// What kernel formation refuses, with the reason, instead of building a
// kernel with an empty grid or a recurrence with no state.

// expected-error @+1 {{argument 0 is an empty tensor ('tensor<0x2xf32>')}}
attn.graph @empty_argument(%xs: tensor<0x2xf32>, %h0: tensor<2xf32>) -> tensor<2xf32> {
  %t = attn.tanh %h0 : tensor<2xf32>
  attn.return %t : tensor<2xf32>
}

// -----

attn.graph @empty_result(%x: tensor<4x2xf32>) -> tensor<4x0xf32> {
  // expected-error @+1 {{'attn.slice' op makes an empty tensor ('tensor<4x0xf32>')}}
  %e = attn.slice %x offsets [0, 2] : tensor<4x2xf32> -> tensor<4x0xf32>
  attn.return %e : tensor<4x0xf32>
}

// -----

// A scan of independent steps whose step is itself a recurrence reading
// a padding mask shared by every outer step: hoisting would batch the
// inner scan over the outer steps (StepBatching.cpp), but no op repeats an
// i1 tensor over them, so the outer scan stays.
attn.graph @stateless_scan(%xs: tensor<4x5x3xf32>, %masks: tensor<5x3xi1>, %h0: tensor<3xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{'attn.scan' op carries no state, and its step's 'attn.scan' has no whole-sequence form}}
  %r = attn.scan dim 0 ins(%x = %xs : tensor<4x5x3xf32>) -> tensor<4x3xf32> {
    %h = attn.scan dim 0 ins(%y = %x : tensor<5x3xf32>, %m = %masks : tensor<5x3xi1>) carry(%c = %h0 : tensor<3xf32>) -> tensor<3xf32> {
      %t = attn.tanh %c : tensor<3xf32>
      %s = attn.add %t, %y : tensor<3xf32>, tensor<3xf32> -> tensor<3xf32>
      %n = attn.select %m, %s, %c : tensor<3xi1>, tensor<3xf32>, tensor<3xf32> -> tensor<3xf32>
      attn.yield %n : tensor<3xf32>
    }
    attn.yield %h : tensor<3xf32>
  }
  attn.return %r : tensor<4x3xf32>
}

// -----

// A scan that carries nothing and only yields an outside mask: an i1
// tensor that is not a splat has no repeated form, so the scan stays.
attn.graph @outside_yield(%xs: tensor<4x3xf32>, %m: tensor<3xi1>) -> tensor<4x3xi1> {
  // expected-error @+1 {{'attn.scan' op carries no state, and its step yields a value from outside it that has no repeated form}}
  %r = attn.scan dim 0 ins(%x = %xs : tensor<4x3xf32>) -> tensor<4x3xi1> {
    attn.yield %m : tensor<3xi1>
  }
  attn.return %r : tensor<4x3xi1>
}
