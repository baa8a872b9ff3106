// RUN: attnc-opt %s --attn-linear-scan-to-assoc -split-input-file | FileCheck %s

// minGRU's update after hoisting, h' = a * h + b: the states come from an
// associative scan over the step's a and b, which the scan now yields.
// CHECK-LABEL: attn.graph @elementwise
// CHECK-SAME: (%[[AS:.+]]: tensor<5x2x3xf32>, %[[BS:.+]]: tensor<5x2x3xf32>, %[[H0:.+]]: tensor<2x3xf32>)
// CHECK: %[[AB:.+]]:2 = attn.scan dim 0 ins(%[[A:.+]] = %[[AS]] : tensor<5x2x3xf32>, %[[B:.+]] = %[[BS]] : tensor<5x2x3xf32>) -> (tensor<5x2x3xf32>, tensor<5x2x3xf32>) {
// CHECK-NOT: carry
// CHECK: attn.yield
// CHECK: %[[HS:.+]], %[[HT:.+]] = attn.assoc_scan dim 0 %[[AB]]#0, %[[AB]]#1, %[[H0]]
// CHECK: attn.return %[[HS]], %[[HT]]
attn.graph @elementwise(%as: tensor<5x2x3xf32>, %bs: tensor<5x2x3xf32>, %h0: tensor<2x3xf32>)
    -> (tensor<5x2x3xf32>, tensor<2x3xf32>) {
  %hs, %hT = attn.scan dim 0 ins(%a = %as : tensor<5x2x3xf32>, %b = %bs : tensor<5x2x3xf32>)
      carry(%h = %h0 : tensor<2x3xf32>) -> (tensor<5x2x3xf32>, tensor<2x3xf32>) {
    %ah = attn.mul %a, %h : tensor<2x3xf32>, tensor<2x3xf32> -> tensor<2x3xf32>
    %hn = attn.add %ah, %b : tensor<2x3xf32>, tensor<2x3xf32> -> tensor<2x3xf32>
    attn.yield %hn, %hn : tensor<2x3xf32>, tensor<2x3xf32>
  }
  attn.return %hs, %hT : tensor<5x2x3xf32>, tensor<2x3xf32>
}

// -----

// Walking backwards over dim 1 with a broadcast coefficient: the
// associative scan keeps the direction and the dim.
// CHECK-LABEL: attn.graph @reverse
// CHECK: attn.assoc_scan reverse dim 1
attn.graph @reverse(%xs: tensor<2x4x3xf32>, %h0: tensor<2x3xf32>, %g: tensor<3xf32>) -> tensor<2x3xf32> {
  %hT = attn.scan reverse dim 1 ins(%x = %xs : tensor<2x4x3xf32>)
      carry(%h = %h0 : tensor<2x3xf32>) -> tensor<2x3xf32> {
    %gh = attn.mul %g, %h : tensor<3xf32>, tensor<2x3xf32> -> tensor<2x3xf32>
    %hn = attn.sub %x, %gh : tensor<2x3xf32>, tensor<2x3xf32> -> tensor<2x3xf32>
    attn.yield %hn : tensor<2x3xf32>
  }
  attn.return %hT : tensor<2x3xf32>
}

// -----

// Must not fire: a nonlinear update (tanh of the state), a linear but
// mixing one (a matmul with the state), and a linear update whose
// intermediate value the body also outputs.
// CHECK-LABEL: attn.graph @nonlinear
// CHECK-NOT: attn.assoc_scan
// CHECK: attn.tanh
// CHECK-LABEL: attn.graph @matmul_state
// CHECK-NOT: attn.assoc_scan
// CHECK: attn.matmul
// CHECK-LABEL: attn.graph @intermediate_used
// CHECK-NOT: attn.assoc_scan
// CHECK: attn.return
attn.graph @nonlinear(%xs: tensor<4x3xf32>, %h0: tensor<3xf32>) -> tensor<3xf32> {
  %hT = attn.scan dim 0 ins(%x = %xs : tensor<4x3xf32>) carry(%h = %h0 : tensor<3xf32>) -> tensor<3xf32> {
    %s = attn.add %x, %h : tensor<3xf32>, tensor<3xf32> -> tensor<3xf32>
    %t = attn.tanh %s : tensor<3xf32>
    attn.yield %t : tensor<3xf32>
  }
  attn.return %hT : tensor<3xf32>
}
attn.graph @matmul_state(%xs: tensor<4x2x3xf32>, %h0: tensor<2x3xf32>, %w: tensor<3x3xf32>) -> tensor<2x3xf32> {
  %hT = attn.scan dim 0 ins(%x = %xs : tensor<4x2x3xf32>) carry(%h = %h0 : tensor<2x3xf32>) -> tensor<2x3xf32> {
    %hw = attn.matmul %h, %w : tensor<2x3xf32>, tensor<3x3xf32> -> tensor<2x3xf32>
    %s = attn.add %x, %hw : tensor<2x3xf32>, tensor<2x3xf32> -> tensor<2x3xf32>
    attn.yield %s : tensor<2x3xf32>
  }
  attn.return %hT : tensor<2x3xf32>
}
attn.graph @intermediate_used(%xs: tensor<4x3xf32>, %h0: tensor<3xf32>) -> (tensor<4x3xf32>, tensor<3xf32>) {
  %ys, %hT = attn.scan dim 0 ins(%x = %xs : tensor<4x3xf32>) carry(%h = %h0 : tensor<3xf32>) -> (tensor<4x3xf32>, tensor<3xf32>) {
    %xh = attn.mul %x, %h : tensor<3xf32>, tensor<3xf32> -> tensor<3xf32>
    %hn = attn.add %xh, %x : tensor<3xf32>, tensor<3xf32> -> tensor<3xf32>
    attn.yield %xh, %hn : tensor<3xf32>, tensor<3xf32>
  }
  attn.return %ys, %hT : tensor<4x3xf32>, tensor<3xf32>
}
