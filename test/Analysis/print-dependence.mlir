// RUN: attnc-opt %s --attn-print-dependence -o /dev/null | FileCheck %s

// Dependence classes on small hand-written recurrences; the examples'
// models are covered by the .test files next to this one.

// A state that passes through a matmul with a constant matrix: linear, but
// not elementwise, so it is not reported as a parallel-scan candidate.
// CHECK-LABEL: graph @matmul_state
// CHECK: attn.matmul at [[#@LINE+7]]:{{[0-9]+}} [state] loops: 3:parallel 4:parallel->reduction 4:reduction
// CHECK: attn.add at [[#@LINE+7]]:{{[0-9]+}} [state]
// CHECK: carried 0: linear-not-elementwise: attn.matmul at {{.*}} mixes positions of the state (a matrix product or reduction over it)
attn.graph @matmul_state(%xs: tensor<6x3x4xf32>, %h0: tensor<3x4xf32>,
                         %a: tensor<4x4xf32>) -> tensor<3x4xf32> {
  %hT = attn.scan dim 0 ins(%x = %xs : tensor<6x3x4xf32>)
      carry(%h = %h0 : tensor<3x4xf32>) -> tensor<3x4xf32> {
    %ha = attn.matmul %h, %a : tensor<3x4xf32>, tensor<4x4xf32> -> tensor<3x4xf32>
    %hn = attn.add %ha, %x : tensor<3x4xf32>, tensor<3x4xf32> -> tensor<3x4xf32>
    attn.yield %hn : tensor<3x4xf32>
  }
  attn.return %hT : tensor<3x4xf32>
}

// A decaying running sum with a broadcast coefficient, walked in reverse:
// elementwise-linear; the coefficient's sigmoid reads only the input.
// CHECK-LABEL: graph @reverse_decay
// CHECK: attn.scan at {{.*}} loops: 5:carried | result 0: parallel carried
// CHECK: attn.sigmoid at {{.*}} [invariant]
// CHECK: attn.mul at {{.*}} [state]
// CHECK: carried 0: elementwise-linear: h' = a * h + b
// CHECK: hoistable: attn.sigmoid
// CHECK-NOT: hoistable: attn.mul
attn.graph @reverse_decay(%xs: tensor<2x5x3xf32>, %h0: tensor<2x3xf32>,
                          %g: tensor<3xf32>) -> (tensor<2x5x3xf32>, tensor<2x3xf32>) {
  %hs, %hT = attn.scan reverse dim 1 ins(%x = %xs : tensor<2x5x3xf32>)
      carry(%h = %h0 : tensor<2x3xf32>) -> (tensor<2x5x3xf32>, tensor<2x3xf32>) {
    %s = attn.sigmoid %g : tensor<3xf32>
    %sh = attn.mul %s, %h : tensor<3xf32>, tensor<2x3xf32> -> tensor<2x3xf32>
    %hn = attn.add %sh, %x : tensor<2x3xf32>, tensor<2x3xf32> -> tensor<2x3xf32>
    attn.yield %hn, %hn : tensor<2x3xf32>, tensor<2x3xf32>
  }
  attn.return %hs, %hT : tensor<2x5x3xf32>, tensor<2x3xf32>
}

// Nested scans: the outer walks time, the inner walks layers and reads the
// outer state, so the inner scan is state-dependent for the outer one and
// the outer update is nonlinear (tanh). The outer body's span is the add plus the inner scan's 3 x 2 steps; sync
// steps multiply: 4 outer steps x 3 inner ones.
// CHECK-LABEL: graph @nested
// CHECK: attn.scan at [[#@LINE+12]]:{{[0-9]+}} [state] loops: 3:carried
// CHECK: attn.tanh at {{.*}} [state]
// CHECK: scan at [[#@LINE+10]]:{{[0-9]+}}: length 3, body span 2, chain 6
// CHECK-NEXT: carried 0: nonlinear: attn.tanh at {{.*}} is not linear in its state-dependent operand 0
// CHECK: scan at [[#@LINE+5]]:{{[0-9]+}}: length 4, body span 7, chain 28
// CHECK-NEXT: carried 0: nonlinear: attn.scan at {{.*}} is a nested scan over the state
// CHECK: total: flops 280, matmul flops 0, span 28, sync steps 12
attn.graph @nested(%xs: tensor<4x2x5xf32>, %h0: tensor<2x5xf32>,
                   %ws: tensor<3x5xf32>) -> tensor<2x5xf32> {
  %hT = attn.scan dim 0 ins(%x = %xs : tensor<4x2x5xf32>)
      carry(%h = %h0 : tensor<2x5xf32>) -> tensor<2x5xf32> {
    %start = attn.add %x, %h : tensor<2x5xf32>, tensor<2x5xf32> -> tensor<2x5xf32>
    %out = attn.scan dim 0 ins(%w = %ws : tensor<3x5xf32>)
        carry(%l = %start : tensor<2x5xf32>) -> tensor<2x5xf32> {
      %lw = attn.mul %l, %w : tensor<2x5xf32>, tensor<5xf32> -> tensor<2x5xf32>
      %ln = attn.tanh %lw : tensor<2x5xf32>
      attn.yield %ln : tensor<2x5xf32>
    }
    attn.yield %out : tensor<2x5xf32>
  }
  attn.return %hT : tensor<2x5xf32>
}

// A scan that carries nothing is a map: its steps are independent, its
// loop is parallel, and its span is one step's.
// CHECK-LABEL: graph @map_scan
// CHECK: attn.scan at {{.*}} loops: 6:parallel
// CHECK: scan at {{.*}}: length 6, body span 2, chain 2
// CHECK: total: flops {{[0-9]+}}, matmul flops 0, span 2, sync steps 0
attn.graph @map_scan(%xs: tensor<3x6xf32>) -> tensor<3x6xf32> {
  %ys = attn.scan dim 1 ins(%x = %xs : tensor<3x6xf32>) -> tensor<3x6xf32> {
    %t = attn.tanh %x : tensor<3xf32>
    %e = attn.exp %t : tensor<3xf32>
    attn.yield %e : tensor<3xf32>
  }
  attn.return %ys : tensor<3x6xf32>
}
