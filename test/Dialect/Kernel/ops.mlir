// RUN: attnc-opt %s | attnc-opt | FileCheck %s
// RUN: attnc-opt %s --mlir-print-op-generic | attnc-opt | FileCheck %s

// Round trip of every kernel kind, in the custom and the generic form,
// with the schedule attributes and the loop attribute.

// CHECK-LABEL: attn.graph @kinds
attn.graph @kinds(%x: tensor<14x18xf32>, %w: tensor<18x45xf32>, %b: tensor<45xf32>,
                  %q: tensor<2x3x7x6xf32>, %h0: tensor<3x11xf32>, %u: tensor<11x11xf32>,
                  %xs: tensor<9x3x11xf32>)
    -> (tensor<14x45xf32>, tensor<2x3x7x6xf32>, tensor<45x14xf32>, tensor<14x45xf32>,
        tensor<3x11xf32>, tensor<9x3x11xf32>) {
  // CHECK: kernel.gemm %{{.*}}, %{{.*}}, %{{.*}} target "sm_90" blocks [1, 1, 1] threads 256 smem 10240
  // CHECK-SAME: loops [#kernel.loop<"m", 14, "grid", 16>, #kernel.loop<"n", 45, "grid", 64>, #kernel.loop<"k", 18, "looped", 32>]
  // CHECK: attn.matmul
  // CHECK: attn.gelu
  // CHECK: kernel.yield
  %y = kernel.gemm %x, %w, %b target "sm_90" blocks [1, 1, 1] threads 256 smem 10240
      loops [#kernel.loop<"m", 14, "grid", 16>, #kernel.loop<"n", 45, "grid", 64>,
             #kernel.loop<"k", 18, "looped", 32>]
      : (tensor<14x18xf32>, tensor<18x45xf32>, tensor<45xf32>) -> tensor<14x45xf32> {
  ^bb0(%a: tensor<14x18xf32>, %bw: tensor<18x45xf32>, %bias: tensor<45xf32>):
    %p = attn.matmul %a, %bw : tensor<14x18xf32>, tensor<18x45xf32> -> tensor<14x45xf32>
    %s = attn.add %p, %bias : tensor<14x45xf32>, tensor<45xf32> -> tensor<14x45xf32>
    %g = attn.gelu %s : tensor<14x45xf32>
    kernel.yield %g : tensor<14x45xf32>
  }
  // CHECK: kernel.attention {{.*}} target "sm_80" blocks [6, 1, 1] threads 128
  // CHECK: attn.attention {{.*}} causal offset 0
  %o = kernel.attention %q, %q, %q target "sm_80" blocks [6, 1, 1] threads 128 smem 960
      loops [#kernel.loop<"b0", 2, "grid", 1>, #kernel.loop<"b1", 3, "grid", 1>,
             #kernel.loop<"i", 7, "grid", 16>, #kernel.loop<"e", 6, "grid", 6>,
             #kernel.loop<"j", 7, "looped", 7>, #kernel.loop<"d", 6, "looped", 6>]
      : (tensor<2x3x7x6xf32>, tensor<2x3x7x6xf32>, tensor<2x3x7x6xf32>) -> tensor<2x3x7x6xf32> {
  ^bb0(%qa: tensor<2x3x7x6xf32>, %ka: tensor<2x3x7x6xf32>, %va: tensor<2x3x7x6xf32>):
    %a = attn.attention %qa, %ka, %va scale 0.5 causal offset 0
        : tensor<2x3x7x6xf32>, tensor<2x3x7x6xf32>, tensor<2x3x7x6xf32> -> tensor<2x3x7x6xf32>
    kernel.yield %a : tensor<2x3x7x6xf32>
  }
  // CHECK: kernel.pointwise {{.*}} loops [#kernel.loop<"i", 630, "grid", 1024>]
  // CHECK: attn.transpose
  %t = kernel.pointwise %y target "sm_90" blocks [1, 1, 1] threads 256 smem 0
      loops [#kernel.loop<"i", 630, "grid", 1024>]
      : (tensor<14x45xf32>) -> tensor<45x14xf32> {
  ^bb0(%a: tensor<14x45xf32>):
    %c = attn.splat 2.0 : tensor<1xf32>
    %m = attn.mul %a, %c : tensor<14x45xf32>, tensor<1xf32> -> tensor<14x45xf32>
    %tr = attn.transpose %m perm [1, 0] : tensor<14x45xf32> -> tensor<45x14xf32>
    kernel.yield %tr : tensor<45x14xf32>
  }
  // CHECK: kernel.row
  // CHECK: attn.softmax
  %r = kernel.row %y target "sm_90" blocks [14, 1, 1] threads 64 smem 16
      loops [#kernel.loop<"r", 14, "grid", 1>, #kernel.loop<"x", 45, "looped", 64>]
      : (tensor<14x45xf32>) -> tensor<14x45xf32> {
  ^bb0(%a: tensor<14x45xf32>):
    %e = attn.exp %a : tensor<14x45xf32>
    %s = attn.softmax %e dim 1 : tensor<14x45xf32>
    kernel.yield %s : tensor<14x45xf32>
  }
  // CHECK: kernel.recurrence
  // CHECK: attn.scan dim 0
  %hT = kernel.recurrence %h0, %u target "sm_90" blocks [2, 1, 1] threads 256 smem 484
      loops [#kernel.loop<"t", 5, "looped", 1>, #kernel.loop<"s0", 3, "looped", 3>,
             #kernel.loop<"h", 11, "grid", 6>]
      : (tensor<3x11xf32>, tensor<11x11xf32>) -> tensor<3x11xf32> {
  ^bb0(%ha: tensor<3x11xf32>, %ua: tensor<11x11xf32>):
    %seq = attn.splat 0.0 : tensor<5x3x11xf32>
    %final = attn.scan dim 0 ins(%xt = %seq : tensor<5x3x11xf32>) carry(%h = %ha : tensor<3x11xf32>)
        -> (tensor<3x11xf32>) {
      %hu = attn.matmul %h, %ua : tensor<3x11xf32>, tensor<11x11xf32> -> tensor<3x11xf32>
      %z = attn.add %hu, %xt : tensor<3x11xf32>, tensor<3x11xf32> -> tensor<3x11xf32>
      %hn = attn.tanh %z : tensor<3x11xf32>
      attn.yield %hn : tensor<3x11xf32>
    }
    kernel.yield %final : tensor<3x11xf32>
  }
  // CHECK: kernel.scan
  // CHECK: attn.assoc_scan dim 0
  %states = kernel.scan %xs, %xs, %h0 target "sm_90" blocks [1, 1, 1] threads 64 smem 0
      loops [#kernel.loop<"c", 33, "grid", 64>, #kernel.loop<"t", 9, "grid", 9>]
      : (tensor<9x3x11xf32>, tensor<9x3x11xf32>, tensor<3x11xf32>) -> tensor<9x3x11xf32> {
  ^bb0(%a: tensor<9x3x11xf32>, %bb: tensor<9x3x11xf32>, %init: tensor<3x11xf32>):
    %sig = attn.sigmoid %a : tensor<9x3x11xf32>
    %st, %fin = attn.assoc_scan dim 0 %sig, %bb, %init
        : tensor<9x3x11xf32>, tensor<9x3x11xf32>, tensor<3x11xf32> -> tensor<9x3x11xf32>, tensor<3x11xf32>
    kernel.yield %st : tensor<9x3x11xf32>
  }
  attn.return %y, %o, %t, %r, %hT, %states
      : tensor<14x45xf32>, tensor<2x3x7x6xf32>, tensor<45x14xf32>, tensor<14x45xf32>,
        tensor<3x11xf32>, tensor<9x3x11xf32>
}
