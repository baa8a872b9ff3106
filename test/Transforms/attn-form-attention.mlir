// RUN: attnc-opt %s -split-input-file --attn-form-attention=explain=true -verify-diagnostics | FileCheck %s

// Plain scaled attention: scale folds into the op.
// CHECK-LABEL: attn.graph @plain
// CHECK-SAME: (%[[Q:.+]]: tensor<2x3x7x5xf32>, %[[K:.+]]: tensor<2x3x9x5xf32>, %[[V:.+]]: tensor<2x3x9x4xf32>)
// CHECK-NEXT: %[[O:.+]] = attn.attention %[[Q]], %[[K]], %[[V]] scale 1.250000e-01 : tensor<2x3x7x5xf32>, tensor<2x3x9x5xf32>, tensor<2x3x9x4xf32> -> tensor<2x3x7x4xf32>
// CHECK-NEXT: attn.return %[[O]]
attn.graph @plain(%q: tensor<2x3x7x5xf32>, %k: tensor<2x3x9x5xf32>, %v: tensor<2x3x9x4xf32>) -> tensor<2x3x7x4xf32> {
  %s = attn.matmul %q, %k transpose_rhs : tensor<2x3x7x5xf32>, tensor<2x3x9x5xf32> -> tensor<2x3x7x9xf32>
  %ss = attn.scale %s by 0.125 : tensor<2x3x7x9xf32>
  %p = attn.softmax %ss dim 3 : tensor<2x3x7x9xf32>
  %o = attn.matmul %p, %v : tensor<2x3x7x9xf32>, tensor<2x3x9x4xf32> -> tensor<2x3x7x4xf32>
  attn.return %o : tensor<2x3x7x4xf32>
}

// -----

// Causal, grouped-query (kv heads broadcast over a group dim), bf16, with an
// additive bias before the mask: the bias moves into the f32 score
// modification (cast there), the causal select becomes the attribute.
// CHECK-LABEL: attn.graph @causal_gqa_bias
// CHECK: attn.attention %{{.+}}, %{{.+}}, %{{.+}} scale 1.000000e+00 causal offset 2 : tensor<1x2x2x5x4xbf16>, tensor<1x2x1x7x4xbf16>, tensor<1x2x1x7x4xbf16> -> tensor<1x2x2x5x4xbf16> {
// CHECK-NEXT: ^bb0(%[[S:.+]]: tensor<1x2x2x5x7xf32>):
// CHECK-NEXT: %[[B:.+]] = attn.cast %{{.+}} : tensor<5x7xbf16> to tensor<5x7xf32>
// CHECK-NEXT: %[[SB:.+]] = attn.add %[[S]], %[[B]] : tensor<1x2x2x5x7xf32>, tensor<5x7xf32> -> tensor<1x2x2x5x7xf32>
// CHECK-NEXT: attn.yield %[[SB]] : tensor<1x2x2x5x7xf32>
// CHECK-NOT: attn.softmax
attn.graph @causal_gqa_bias(%q: tensor<1x2x2x5x4xbf16>, %k: tensor<1x2x1x7x4xbf16>,
                            %v: tensor<1x2x1x7x4xbf16>, %bias: tensor<5x7xbf16>) -> tensor<1x2x2x5x4xbf16> {
  %s = attn.matmul %q, %k transpose_rhs : tensor<1x2x2x5x4xbf16>, tensor<1x2x1x7x4xbf16> -> tensor<1x2x2x5x7xbf16>
  %sb = attn.add %s, %bias : tensor<1x2x2x5x7xbf16>, tensor<5x7xbf16> -> tensor<1x2x2x5x7xbf16>
  %mask = attn.causal_mask offset 2 : tensor<5x7xi1>
  %ninf = attn.splat -1.0e+30 : tensor<1xbf16>
  %sm = attn.select %mask, %sb, %ninf : tensor<5x7xi1>, tensor<1x2x2x5x7xbf16>, tensor<1xbf16> -> tensor<1x2x2x5x7xbf16>
  %p = attn.softmax %sm dim 4 : tensor<1x2x2x5x7xbf16>
  %o = attn.matmul %p, %v : tensor<1x2x2x5x7xbf16>, tensor<1x2x1x7x4xbf16> -> tensor<1x2x2x5x4xbf16>
  attn.return %o : tensor<1x2x2x5x4xbf16>
}

// -----

// Not attention, and the remarks say why.
// CHECK-LABEL: attn.graph @wrong_dim
// CHECK-NOT: attn.attention
attn.graph @wrong_dim(%q: tensor<3x7x5xf32>, %k: tensor<3x9x5xf32>, %v: tensor<3x7x4xf32>) -> tensor<3x9x4xf32> {
  %s = attn.matmul %q, %k transpose_rhs : tensor<3x7x5xf32>, tensor<3x9x5xf32> -> tensor<3x7x9xf32>
  // expected-remark @+1 {{not rewritten to attn.attention: the softmax is over dim 1, not the last dim of the scores (the keys)}}
  %p = attn.softmax %s dim 1 : tensor<3x7x9xf32>
  %o = attn.matmul %p, %v transpose_lhs : tensor<3x7x9xf32>, tensor<3x7x4xf32> -> tensor<3x9x4xf32>
  attn.return %o : tensor<3x9x4xf32>
}

// -----

attn.graph @scores_reused(%q: tensor<7x5xf32>, %k: tensor<9x5xf32>, %v: tensor<9x4xf32>) -> (tensor<7x4xf32>, tensor<7x9xf32>) {
  %s = attn.matmul %q, %k transpose_rhs : tensor<7x5xf32>, tensor<9x5xf32> -> tensor<7x9xf32>
  // expected-remark @+1 {{not rewritten to attn.attention: attn.matmul feeds the softmax but its result has other uses too}}
  %p = attn.softmax %s dim 1 : tensor<7x9xf32>
  %o = attn.matmul %p, %v : tensor<7x9xf32>, tensor<9x4xf32> -> tensor<7x4xf32>
  attn.return %o, %s : tensor<7x4xf32>, tensor<7x9xf32>
}

// -----

attn.graph @not_transposed(%q: tensor<7x5xf32>, %kt: tensor<5x9xf32>, %v: tensor<9x4xf32>) -> tensor<7x4xf32> {
  %s = attn.matmul %q, %kt : tensor<7x5xf32>, tensor<5x9xf32> -> tensor<7x9xf32>
  // expected-remark @+1 {{not rewritten to attn.attention: the scores matmul is not Q.K^T written with transpose_rhs}}
  %p = attn.softmax %s dim 1 : tensor<7x9xf32>
  %o = attn.matmul %p, %v : tensor<7x9xf32>, tensor<9x4xf32> -> tensor<7x4xf32>
  attn.return %o : tensor<7x4xf32>
}

// -----

attn.graph @no_values(%x: tensor<7x9xf32>) -> tensor<7x9xf32> {
  // expected-remark @+1 {{not rewritten to attn.attention: the softmax result is not the lhs of a matmul with V (without transposes)}}
  %p = attn.softmax %x dim 1 : tensor<7x9xf32>
  %e = attn.exp %p : tensor<7x9xf32>
  attn.return %e : tensor<7x9xf32>
}

// -----

attn.graph @reduction_in_chain(%q: tensor<7x5xf32>, %k: tensor<9x5xf32>, %v: tensor<9x4xf32>, %g: tensor<9xf32>) -> tensor<7x4xf32> {
  %s = attn.matmul %q, %k transpose_rhs : tensor<7x5xf32>, tensor<9x5xf32> -> tensor<7x9xf32>
  %n = attn.layer_norm %s, %g, %g : tensor<7x9xf32>, tensor<9xf32>
  // expected-remark @+1 {{not rewritten to attn.attention: attn.layer_norm between the scores and the softmax is not elementwise}}
  %p = attn.softmax %n dim 1 : tensor<7x9xf32>
  %o = attn.matmul %p, %v : tensor<7x9xf32>, tensor<9x4xf32> -> tensor<7x4xf32>
  attn.return %o : tensor<7x4xf32>
}
