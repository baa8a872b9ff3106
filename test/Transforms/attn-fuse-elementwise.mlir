// RUN: attnc-opt %s --attn-fuse-elementwise -split-input-file | FileCheck %s

// A bias, an activation and a residual add become one fused op; the
// matmul before them stays on its own.
// CHECK-LABEL: attn.graph @chain
// CHECK-SAME: (%[[X:.+]]: tensor<4x8xf32>, %[[W:.+]]: tensor<8x8xf32>, %[[B:.+]]: tensor<8xf32>)
// CHECK: %[[M:.+]] = attn.matmul %[[X]], %[[W]]
// CHECK-NEXT: %[[F:.+]] = attn.fused %[[M]], %[[B]], %[[X]] : (tensor<4x8xf32>, tensor<8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32> {
// CHECK-NEXT: ^bb0(%[[MA:.+]]: tensor<4x8xf32>, %[[BA:.+]]: tensor<8xf32>, %[[XA:.+]]: tensor<4x8xf32>):
// CHECK-NEXT: %[[S:.+]] = attn.add %[[MA]], %[[BA]]
// CHECK-NEXT: %[[G:.+]] = attn.gelu %[[S]]
// CHECK-NEXT: %[[R:.+]] = attn.add %[[G]], %[[XA]]
// CHECK-NEXT: attn.yield %[[R]]
// CHECK: attn.return %[[F]]
attn.graph @chain(%x: tensor<4x8xf32>, %w: tensor<8x8xf32>, %b: tensor<8xf32>) -> tensor<4x8xf32> {
  %m = attn.matmul %x, %w : tensor<4x8xf32>, tensor<8x8xf32> -> tensor<4x8xf32>
  %s = attn.add %m, %b : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x8xf32>
  %g = attn.gelu %s : tensor<4x8xf32>
  %r = attn.add %g, %x : tensor<4x8xf32>, tensor<4x8xf32> -> tensor<4x8xf32>
  attn.return %r : tensor<4x8xf32>
}

// -----

// Never compute twice: %e is also returned, so it is not copied into the
// fused op of its other user; that fused op reads it instead. A reduction
// and a lone op are not fused at all.
// CHECK-LABEL: attn.graph @no_duplication
// CHECK: %[[E:.+]] = attn.fused
// CHECK: attn.exp
// CHECK: attn.yield
// CHECK: %[[T:.+]] = attn.fused %[[E]]
// CHECK-NOT: attn.exp
// CHECK: attn.yield
// CHECK: attn.reduce_sum %[[T]]
// CHECK-NEXT: attn.neg
attn.graph @no_duplication(%x: tensor<3x5xf32>) -> (tensor<3x5xf32>, tensor<3xf32>) {
  %a = attn.scale %x by 2.0 : tensor<3x5xf32>
  %e = attn.exp %a : tensor<3x5xf32>
  %t = attn.tanh %e : tensor<3x5xf32>
  %u = attn.sin %t : tensor<3x5xf32>
  %r = attn.reduce_sum %u dims [1] : tensor<3x5xf32> -> tensor<3xf32>
  %n = attn.neg %r : tensor<3xf32>
  attn.return %e, %n : tensor<3x5xf32>, tensor<3xf32>
}

// -----

// A score modification stays as written: it already is one elementwise
// body, and may hold nothing else (regression: fusing here made an
// attn.fused the attention verifier rejects).
// CHECK-LABEL: attn.graph @score_mod_untouched
// CHECK: attn.attention
// CHECK-NOT: attn.fused
// CHECK: attn.scale
// CHECK-NEXT: attn.tanh
// CHECK-NEXT: attn.scale
// CHECK-NEXT: attn.yield
attn.graph @score_mod_untouched(%q: tensor<1x4x8xf32>) -> tensor<1x4x8xf32> {
  %o = attn.attention %q, %q, %q scale 0.35 : tensor<1x4x8xf32>, tensor<1x4x8xf32>, tensor<1x4x8xf32> -> tensor<1x4x8xf32> {
  ^bb0(%s: tensor<1x4x4xf32>):
    %a = attn.scale %s by 0.2 : tensor<1x4x4xf32>
    %t = attn.tanh %a : tensor<1x4x4xf32>
    %c = attn.scale %t by 5.0 : tensor<1x4x4xf32>
    attn.yield %c : tensor<1x4x4xf32>
  }
  attn.return %o : tensor<1x4x8xf32>
}
