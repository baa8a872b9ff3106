// RUN: attnc-opt %s --canonicalize -split-input-file | FileCheck %s

// The graph ops' folds (GraphFolds.cpp): identities that keep the result
// type, operations on two splats, transposes of transposes.

// CHECK-LABEL: attn.graph @identities
// CHECK-SAME: (%[[X:.+]]: tensor<3x4xf32>)
// CHECK-NEXT: attn.return %[[X]], %[[X]]
attn.graph @identities(%x: tensor<3x4xf32>) -> (tensor<3x4xf32>, tensor<3x4xf32>) {
  %zero = attn.splat 0.0 : tensor<4xf32>
  %one = attn.splat 1.0 : tensor<1xf32>
  %a = attn.add %x, %zero : tensor<3x4xf32>, tensor<4xf32> -> tensor<3x4xf32>
  %m = attn.mul %one, %x : tensor<1xf32>, tensor<3x4xf32> -> tensor<3x4xf32>
  attn.return %a, %m : tensor<3x4xf32>, tensor<3x4xf32>
}

// -----

// An identity that would change the shape is not one: x * ones(5x3x4)
// broadcasts x, so it stays.
// CHECK-LABEL: attn.graph @broadcasting_identity
// CHECK: attn.mul %{{.+}}, %{{.+}} : tensor<3x4xf32>, tensor<5x3x4xf32> -> tensor<5x3x4xf32>
attn.graph @broadcasting_identity(%x: tensor<3x4xf32>) -> tensor<5x3x4xf32> {
  %ones = attn.splat 1.0 : tensor<5x3x4xf32>
  %m = attn.mul %x, %ones : tensor<3x4xf32>, tensor<5x3x4xf32> -> tensor<5x3x4xf32>
  attn.return %m : tensor<5x3x4xf32>
}

// -----

// Two splats give one splat of the result's shape, with the value the
// op computes: in f32, then rounded to the element type (0.75 * 3 is 2.25
// in bf16 too).
// CHECK-LABEL: attn.graph @splats
// CHECK-DAG: %[[S:.+]] = attn.constant dense<3.000000e-01> : tensor<7x2xf32>
// CHECK-DAG: %[[P:.+]] = attn.constant dense<2.250000e+00> : tensor<2xbf16>
// CHECK: attn.return %[[S]], %[[P]]
attn.graph @splats() -> (tensor<7x2xf32>, tensor<2xbf16>) {
  %a = attn.splat 0.1 : tensor<2xf32>
  %b = attn.splat 0.2 : tensor<7x2xf32>
  %s = attn.add %a, %b : tensor<2xf32>, tensor<7x2xf32> -> tensor<7x2xf32>
  %c = attn.splat 0.75 : tensor<1xbf16>
  %d = attn.splat 3.0 : tensor<2xbf16>
  %p = attn.mul %c, %d : tensor<1xbf16>, tensor<2xbf16> -> tensor<2xbf16>
  attn.return %s, %p : tensor<7x2xf32>, tensor<2xbf16>
}

// -----

// A transpose and its inverse vanish; two others become one.
// CHECK-LABEL: attn.graph @transposes
// CHECK-SAME: (%[[X:.+]]: tensor<2x3x4xf32>)
// CHECK-NEXT: %[[T:.+]] = attn.transpose %[[X]] perm [2, 0, 1] : tensor<2x3x4xf32> -> tensor<4x2x3xf32>
// CHECK-NEXT: attn.return %[[X]], %[[T]]
attn.graph @transposes(%x: tensor<2x3x4xf32>) -> (tensor<2x3x4xf32>, tensor<4x2x3xf32>) {
  %a = attn.transpose %x perm [1, 0, 2] : tensor<2x3x4xf32> -> tensor<3x2x4xf32>
  %b = attn.transpose %a perm [1, 0, 2] : tensor<3x2x4xf32> -> tensor<2x3x4xf32>
  %c = attn.transpose %a perm [2, 1, 0] : tensor<3x2x4xf32> -> tensor<4x2x3xf32>
  attn.return %b, %c : tensor<2x3x4xf32>, tensor<4x2x3xf32>
}

// -----

// A transpose of a splat is a splat of the transposed shape.
// CHECK-LABEL: attn.graph @transposed_splat
// CHECK-NEXT: %[[S:.+]] = attn.constant dense<1.000000e+00> : tensor<3x7xf32>
// CHECK-NEXT: attn.return %[[S]]
attn.graph @transposed_splat() -> tensor<3x7xf32> {
  %s = attn.splat 1.0 : tensor<7x3xf32>
  %t = attn.transpose %s perm [1, 0] : tensor<7x3xf32> -> tensor<3x7xf32>
  attn.return %t : tensor<3x7xf32>
}
