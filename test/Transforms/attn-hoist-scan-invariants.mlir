// RUN: attnc-opt %s --attn-hoist-scan-invariants -split-input-file | FileCheck %s

// The input projection becomes one matmul over all steps before the scan;
// the recurrent matmul, which reads the state, stays inside.
// CHECK-LABEL: attn.graph @projection
// CHECK-SAME: (%[[XS:.+]]: tensor<6x3x5xf32>, %[[H0:.+]]: tensor<3x4xf32>, %[[W:.+]]: tensor<5x4xf32>, %[[U:.+]]: tensor<4x4xf32>)
// CHECK: %[[XW:.+]] = attn.matmul %[[XS]], %[[W]] : tensor<6x3x5xf32>, tensor<5x4xf32> -> tensor<6x3x4xf32>
// CHECK: attn.scan dim 0 ins(%[[STEP:.+]] = %[[XW]] : tensor<6x3x4xf32>) carry(%[[H:.+]] = %[[H0]] : tensor<3x4xf32>)
// CHECK-NEXT: %[[HU:.+]] = attn.matmul %[[H]], %[[U]]
// CHECK-NEXT: %[[S:.+]] = attn.add %[[STEP]], %[[HU]]
// CHECK-NEXT: %[[T:.+]] = attn.tanh %[[S]]
// CHECK-NEXT: attn.yield %[[T]] :
attn.graph @projection(%xs: tensor<6x3x5xf32>, %h0: tensor<3x4xf32>,
                       %w: tensor<5x4xf32>, %u: tensor<4x4xf32>) -> tensor<3x4xf32> {
  %h = attn.scan dim 0 ins(%x = %xs : tensor<6x3x5xf32>) carry(%c = %h0 : tensor<3x4xf32>) -> tensor<3x4xf32> {
    %xw = attn.matmul %x, %w : tensor<3x5xf32>, tensor<5x4xf32> -> tensor<3x4xf32>
    %hu = attn.matmul %c, %u : tensor<3x4xf32>, tensor<4x4xf32> -> tensor<3x4xf32>
    %s = attn.add %xw, %hu : tensor<3x4xf32>, tensor<3x4xf32> -> tensor<3x4xf32>
    %t = attn.tanh %s : tensor<3x4xf32>
    attn.yield %t : tensor<3x4xf32>
  }
  attn.return %h : tensor<3x4xf32>
}

// -----

// Work on outside values only moves out unchanged (a transposed weight);
// a carried value passed through unchanged and an unused stacked output
// disappear.
// CHECK-LABEL: attn.graph @loop_invariant
// CHECK: %[[WT:.+]] = attn.transpose
// CHECK: attn.scan dim 0 ins({{.*}}) carry(%[[H:[^ ]+]] = {{[^ ]+}} : tensor<2x4xf32>) -> tensor<2x4xf32> {
// CHECK-NEXT: %[[HW:.+]] = attn.matmul %[[H]], %[[WT]]
// CHECK-NOT: attn.transpose
// CHECK: attn.yield
attn.graph @loop_invariant(%xs: tensor<5x2x4xf32>, %h0: tensor<2x4xf32>, %k0: tensor<2x4xf32>,
                           %w: tensor<4x4xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>) {
  %ys, %h, %k = attn.scan dim 0 ins(%x = %xs : tensor<5x2x4xf32>)
      carry(%c = %h0 : tensor<2x4xf32>, %keep = %k0 : tensor<2x4xf32>)
      -> (tensor<5x2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>) {
    %wt = attn.transpose %w perm [1, 0] : tensor<4x4xf32> -> tensor<4x4xf32>
    %hw = attn.matmul %c, %wt : tensor<2x4xf32>, tensor<4x4xf32> -> tensor<2x4xf32>
    %n = attn.tanh %hw : tensor<2x4xf32>
    attn.yield %n, %n, %keep : tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>
  }
  attn.return %h, %k : tensor<2x4xf32>, tensor<2x4xf32>
}

// -----

// A scan over dim 1 (batch-major [B, T, I]) lifts through transposes: the
// sequence goes steps-first, one [T, B, I] x [I, H] matmul covers all
// steps, and its result goes back to [B, T, H] for the scan to walk.
// CHECK-LABEL: attn.graph @batch_major
// CHECK: %[[XT:.*]] = attn.transpose %arg0 perm [1, 0, 2] : tensor<3x6x5xf32> -> tensor<6x3x5xf32>
// CHECK-NEXT: %[[XW:.*]] = attn.matmul %[[XT]], %arg2 : tensor<6x3x5xf32>, tensor<5x4xf32> -> tensor<6x3x4xf32>
// CHECK-NEXT: %[[BACK:.*]] = attn.transpose %[[XW]] perm [1, 0, 2] : tensor<6x3x4xf32> -> tensor<3x6x4xf32>
// CHECK-NEXT: attn.scan dim 1 ins(%{{.*}} = %[[BACK]] : tensor<3x6x4xf32>)
// CHECK-NOT: attn.matmul
// CHECK: attn.yield
// Must not fire: a step slice of lower rank than the result would
// broadcast against the wrong dim if lifted, so it stays.
// CHECK-LABEL: attn.graph @rank_mismatch
// CHECK: attn.scan dim 0
// CHECK-NEXT: attn.add
attn.graph @batch_major(%xs: tensor<3x6x5xf32>, %h0: tensor<3x4xf32>, %w: tensor<5x4xf32>) -> tensor<3x4xf32> {
  %h = attn.scan dim 1 ins(%x = %xs : tensor<3x6x5xf32>) carry(%c = %h0 : tensor<3x4xf32>) -> tensor<3x4xf32> {
    %xw = attn.matmul %x, %w : tensor<3x5xf32>, tensor<5x4xf32> -> tensor<3x4xf32>
    %s = attn.add %xw, %c : tensor<3x4xf32>, tensor<3x4xf32> -> tensor<3x4xf32>
    attn.yield %s : tensor<3x4xf32>
  }
  attn.return %h : tensor<3x4xf32>
}
attn.graph @rank_mismatch(%as: tensor<3x4xf32>, %bs: tensor<3x3x4xf32>, %h0: tensor<3x4xf32>) -> tensor<3x4xf32> {
  %h = attn.scan dim 0 ins(%a = %as : tensor<3x4xf32>, %b = %bs : tensor<3x3x4xf32>) carry(%c = %h0 : tensor<3x4xf32>) -> tensor<3x4xf32> {
    %ab = attn.add %a, %b : tensor<4xf32>, tensor<3x4xf32> -> tensor<3x4xf32>
    %s = attn.mul %ab, %c : tensor<3x4xf32>, tensor<3x4xf32> -> tensor<3x4xf32>
    attn.yield %s : tensor<3x4xf32>
  }
  attn.return %h : tensor<3x4xf32>
}

// -----

// A state-dependent op stays in the scan even when it is batch-polymorphic.
// CHECK-LABEL: attn.graph @state_stays
// CHECK: attn.scan
// CHECK-NEXT: attn.mul
// CHECK-NEXT: attn.add
attn.graph @state_stays(%xs: tensor<4x3xf32>, %h0: tensor<3xf32>) -> tensor<3xf32> {
  %h = attn.scan dim 0 ins(%x = %xs : tensor<4x3xf32>) carry(%c = %h0 : tensor<3xf32>) -> tensor<3xf32> {
    %cc = attn.mul %c, %c : tensor<3xf32>, tensor<3xf32> -> tensor<3xf32>
    %s = attn.add %cc, %x : tensor<3xf32>, tensor<3xf32> -> tensor<3xf32>
    attn.yield %s : tensor<3xf32>
  }
  attn.return %h : tensor<3xf32>
}
