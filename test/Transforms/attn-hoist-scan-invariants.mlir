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
// A step slice of lower rank than the result would broadcast against the
// wrong dim if lifted as is: it is read as [T, 1, C], so the steps line up.
// CHECK-LABEL: attn.graph @rank_mismatch
// CHECK-SAME: (%[[AS:.+]]: tensor<3x4xf32>, %[[BS:.+]]: tensor<3x3x4xf32>
// CHECK: %[[A1:.+]] = attn.reshape %[[AS]] : tensor<3x4xf32> -> tensor<3x1x4xf32>
// CHECK-NEXT: %[[AB:.+]] = attn.add %[[A1]], %[[BS]] : tensor<3x1x4xf32>, tensor<3x3x4xf32> -> tensor<3x3x4xf32>
// CHECK-NEXT: attn.scan dim 0 ins(%{{.+}} = %[[AB]] : tensor<3x3x4xf32>)
// CHECK-NEXT: attn.mul
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

// -----

// Ops that name dims lift with every named dim moved past the steps: the
// split's dim 1 becomes 2, the softmax's too, the slice takes every step,
// the transpose keeps the steps first, and the concat's outside operand is
// repeated over the steps. Nothing is left for the scan to do.
// CHECK-LABEL: attn.graph @named_dims
// CHECK-SAME: (%[[XS:.+]]: tensor<6x3x8xf32>, %[[PAD:.+]]: tensor<3x1xf32>)
// CHECK-DAG: %[[P:.+]]:2 = attn.split %[[XS]] dim 2 : tensor<6x3x8xf32> -> tensor<6x3x4xf32>, tensor<6x3x4xf32>
// CHECK-DAG: %[[Z:.+]] = attn.softmax %[[P]]#0 dim 2 : tensor<6x3x4xf32>
// CHECK-DAG: %[[ODD:.+]] = attn.slice %[[XS]] offsets [0, 0, 1] strides [1, 1, 2] : tensor<6x3x8xf32> -> tensor<6x3x4xf32>
// CHECK-DAG: %[[T:.+]] = attn.transpose %[[ODD]] perm [0, 2, 1] : tensor<6x3x4xf32> -> tensor<6x4x3xf32>
// CHECK-DAG: %[[R:.+]] = attn.reduce_sum %[[T]] dims [2] : tensor<6x4x3xf32> -> tensor<6x4xf32>
// CHECK-DAG: %[[ONES:.+]] = attn.splat 1.000000e+00 : tensor<6x3x1xf32>
// CHECK-DAG: %[[REP:.+]] = attn.mul %[[PAD]], %[[ONES]] : tensor<3x1xf32>, tensor<6x3x1xf32> -> tensor<6x3x1xf32>
// CHECK-DAG: %[[C:.+]] = attn.concat %[[Z]], %[[REP]] dim 2 : tensor<6x3x4xf32>, tensor<6x3x1xf32> -> tensor<6x3x5xf32>
// CHECK-NOT: attn.scan
// CHECK: attn.return %[[C]], %[[R]]
attn.graph @named_dims(%xs: tensor<6x3x8xf32>, %pad: tensor<3x1xf32>)
    -> (tensor<6x3x5xf32>, tensor<6x4xf32>) {
  %cs, %rs = attn.scan dim 0 ins(%x = %xs : tensor<6x3x8xf32>)
      -> (tensor<6x3x5xf32>, tensor<6x4xf32>) {
    %p:2 = attn.split %x dim 1 : tensor<3x8xf32> -> tensor<3x4xf32>, tensor<3x4xf32>
    %z = attn.softmax %p#0 dim 1 : tensor<3x4xf32>
    %odd = attn.slice %x offsets [0, 1] strides [1, 2] : tensor<3x8xf32> -> tensor<3x4xf32>
    %t = attn.transpose %odd perm [1, 0] : tensor<3x4xf32> -> tensor<4x3xf32>
    %r = attn.reduce_sum %t dims [1] : tensor<4x3xf32> -> tensor<4xf32>
    %c = attn.concat %z, %pad dim 1 : tensor<3x4xf32>, tensor<3x1xf32> -> tensor<3x5xf32>
    attn.yield %c, %r : tensor<3x5xf32>, tensor<4xf32>
  }
  attn.return %cs, %rs : tensor<6x3x5xf32>, tensor<6x4xf32>
}

// -----

// A scan that carries nothing and yields outside values (the coefficients
// the linear-recurrence conversion writes for a running sum and a learned
// decay) gives them repeated over the steps: a splat as a larger splat,
// anything else times ones. Over dim 1 the repeat is moved into place.
// CHECK-LABEL: attn.graph @repeated
// CHECK-SAME: (%[[XS:.+]]: tensor<2x7x3xf32>, %[[LAM:.+]]: tensor<2x3xf32>)
// CHECK-DAG: %[[ONE:.+]] = attn.splat 1.000000e+00 : tensor<7x2x3xf32>
// CHECK-DAG: %[[ONES:.+]] = attn.splat 1.000000e+00 : tensor<7x2x3xf32>
// CHECK-DAG: %[[REP:.+]] = attn.mul %[[LAM]], %[[ONES]] : tensor<2x3xf32>, tensor<7x2x3xf32> -> tensor<7x2x3xf32>
// CHECK-DAG: %[[ONE1:.+]] = attn.transpose %[[ONE]] perm [1, 0, 2] : tensor<7x2x3xf32> -> tensor<2x7x3xf32>
// CHECK-DAG: %[[REP1:.+]] = attn.transpose %[[REP]] perm [1, 0, 2] : tensor<7x2x3xf32> -> tensor<2x7x3xf32>
// CHECK-NOT: attn.scan
// CHECK: attn.return %[[ONE1]], %[[REP1]]
attn.graph @repeated(%xs: tensor<2x7x3xf32>, %lam: tensor<2x3xf32>)
    -> (tensor<2x7x3xf32>, tensor<2x7x3xf32>) {
  %one = attn.splat 1.0 : tensor<2x3xf32>
  %as, %ds = attn.scan dim 1 ins(%x = %xs : tensor<2x7x3xf32>)
      -> (tensor<2x7x3xf32>, tensor<2x7x3xf32>) {
    attn.yield %one, %lam : tensor<2x3xf32>, tensor<2x3xf32>
  }
  attn.return %as, %ds : tensor<2x7x3xf32>, tensor<2x7x3xf32>
}

// -----

// In a scan that carries state, stacked outputs that are the step's own
// slice or an outside value need no step: the first is the sequence, the
// second a repeat. The state before each step (the carried argument) is a
// real output and stays, and the split stays inside the recurrence, which
// reads its pieces at no cost.
// CHECK-LABEL: attn.graph @carrying_outputs
// CHECK-SAME: (%[[XS:.+]]: tensor<5x2x6xf32>, %[[H0:.+]]: tensor<2x3xf32>)
// CHECK: %[[TWO:.+]] = attn.splat 2.000000e+00 : tensor<5x2x3xf32>
// CHECK: %[[R:.+]]:2 = attn.scan dim 0 ins(%[[X:.+]] = %[[XS]] : tensor<5x2x6xf32>) carry(%[[H:.+]] = %[[H0]] : tensor<2x3xf32>) -> (tensor<5x2x3xf32>, tensor<2x3xf32>)
// CHECK-NEXT: attn.split %[[X]] dim 1
// CHECK: attn.yield %[[H]], %{{.+}} : tensor<2x3xf32>, tensor<2x3xf32>
// CHECK: attn.return %[[XS]], %[[TWO]], %[[R]]#0, %[[R]]#1
attn.graph @carrying_outputs(%xs: tensor<5x2x6xf32>, %h0: tensor<2x3xf32>)
    -> (tensor<5x2x6xf32>, tensor<5x2x3xf32>, tensor<5x2x3xf32>, tensor<2x3xf32>) {
  %two = attn.splat 2.0 : tensor<2x3xf32>
  %same, %twos, %before, %h = attn.scan dim 0 ins(%x = %xs : tensor<5x2x6xf32>)
      carry(%c = %h0 : tensor<2x3xf32>)
      -> (tensor<5x2x6xf32>, tensor<5x2x3xf32>, tensor<5x2x3xf32>, tensor<2x3xf32>) {
    %p:2 = attn.split %x dim 1 : tensor<2x6xf32> -> tensor<2x3xf32>, tensor<2x3xf32>
    %g = attn.mul %p#0, %c : tensor<2x3xf32>, tensor<2x3xf32> -> tensor<2x3xf32>
    %t = attn.tanh %g : tensor<2x3xf32>
    %n = attn.add %t, %p#1 : tensor<2x3xf32>, tensor<2x3xf32> -> tensor<2x3xf32>
    attn.yield %x, %two, %c, %n : tensor<2x6xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>
  }
  attn.return %same, %twos, %before, %h
      : tensor<5x2x6xf32>, tensor<5x2x3xf32>, tensor<5x2x3xf32>, tensor<2x3xf32>
}

// -----

// In a recurrence, a row op of the step's input lifts (the recurrence
// kernel computes none inside a step), and so does the data movement
// feeding it, through elementwise ops: the concat, the sub, the softmax.
// CHECK-LABEL: attn.graph @row_ops_in_recurrence
// CHECK-SAME: (%[[XS:.+]]: tensor<5x4x3xf32>, %[[H0:.+]]: tensor<4x6xf32>, %[[B:.+]]: tensor<6xf32>)
// CHECK: %[[C:.+]] = attn.concat %[[XS]], %[[XS]] dim 2 : tensor<5x4x3xf32>, tensor<5x4x3xf32> -> tensor<5x4x6xf32>
// CHECK: %[[S:.+]] = attn.sub %[[C]], %[[B]]
// CHECK: %[[P:.+]] = attn.softmax %[[S]] dim 1 : tensor<5x4x6xf32>
// CHECK: attn.scan dim 0 ins(%[[STEP:.+]] = %[[P]] : tensor<5x4x6xf32>)
// CHECK-NOT: attn.softmax
// CHECK: attn.yield
attn.graph @row_ops_in_recurrence(%xs: tensor<5x4x3xf32>, %h0: tensor<4x6xf32>,
                                  %b: tensor<6xf32>) -> tensor<4x6xf32> {
  %h = attn.scan dim 0 ins(%x = %xs : tensor<5x4x3xf32>)
      carry(%c = %h0 : tensor<4x6xf32>) -> tensor<4x6xf32> {
    %w = attn.concat %x, %x dim 1 : tensor<4x3xf32>, tensor<4x3xf32> -> tensor<4x6xf32>
    %s = attn.sub %w, %b : tensor<4x6xf32>, tensor<6xf32> -> tensor<4x6xf32>
    %p = attn.softmax %s dim 0 : tensor<4x6xf32>
    %g = attn.mul %p, %c : tensor<4x6xf32>, tensor<4x6xf32> -> tensor<4x6xf32>
    %n = attn.tanh %g : tensor<4x6xf32>
    attn.yield %n : tensor<4x6xf32>
  }
  attn.return %h : tensor<4x6xf32>
}

// -----

// A matmul behind a step's split: the split lifts, so the projection runs
// as one matmul over all steps instead of one per step in the recurrence.
// CHECK-LABEL: attn.graph @split_then_matmul
// CHECK-SAME: (%[[XS:.+]]: tensor<5x2x6xf32>, %[[H0:.+]]: tensor<2x4xf32>, %[[W:.+]]: tensor<3x4xf32>)
// CHECK: %[[P:.+]]:2 = attn.split %[[XS]] dim 2 : tensor<5x2x6xf32> -> tensor<5x2x3xf32>, tensor<5x2x3xf32>
// CHECK: %[[XW:.+]] = attn.matmul %[[P]]#1, %[[W]] : tensor<5x2x3xf32>, tensor<3x4xf32> -> tensor<5x2x4xf32>
// CHECK: attn.scan dim 0 ins(%{{.+}} = %[[XW]] : tensor<5x2x4xf32>)
// CHECK-NOT: attn.split
// CHECK: attn.yield
attn.graph @split_then_matmul(%xs: tensor<5x2x6xf32>, %h0: tensor<2x4xf32>,
                              %w: tensor<3x4xf32>) -> tensor<2x4xf32> {
  %h = attn.scan dim 0 ins(%x = %xs : tensor<5x2x6xf32>)
      carry(%c = %h0 : tensor<2x4xf32>) -> tensor<2x4xf32> {
    %p:2 = attn.split %x dim 1 : tensor<2x6xf32> -> tensor<2x3xf32>, tensor<2x3xf32>
    %xw = attn.matmul %p#1, %w : tensor<2x3xf32>, tensor<3x4xf32> -> tensor<2x4xf32>
    %s = attn.add %xw, %c : tensor<2x4xf32>, tensor<2x4xf32> -> tensor<2x4xf32>
    %t = attn.tanh %s : tensor<2x4xf32>
    attn.yield %t : tensor<2x4xf32>
  }
  attn.return %h : tensor<2x4xf32>
}

// -----

// A step-invariant attention (no score modification) lifts like a matmul:
// the steps become one more batch dim of the queries.
// CHECK-LABEL: attn.graph @attention_in_step
// CHECK-SAME: (%[[XS:.+]]: tensor<5x3x4xf32>, %[[H0:.+]]: tensor<3x4xf32>, %[[K:.+]]: tensor<6x4xf32>, %[[V:.+]]: tensor<6x4xf32>)
// CHECK: %[[A:.+]] = attn.attention %[[XS]], %[[K]], %[[V]] scale 5.000000e-01 : tensor<5x3x4xf32>, tensor<6x4xf32>, tensor<6x4xf32> -> tensor<5x3x4xf32>
// CHECK: attn.scan dim 0 ins(%{{.+}} = %[[A]] : tensor<5x3x4xf32>)
// CHECK-NOT: attn.attention
// CHECK: attn.yield
attn.graph @attention_in_step(%xs: tensor<5x3x4xf32>, %h0: tensor<3x4xf32>,
                              %k: tensor<6x4xf32>, %v: tensor<6x4xf32>) -> tensor<3x4xf32> {
  %h = attn.scan dim 0 ins(%x = %xs : tensor<5x3x4xf32>)
      carry(%c = %h0 : tensor<3x4xf32>) -> tensor<3x4xf32> {
    %a = attn.attention %x, %k, %v scale 0.5 : tensor<3x4xf32>, tensor<6x4xf32>, tensor<6x4xf32> -> tensor<3x4xf32>
    %s = attn.add %a, %c : tensor<3x4xf32>, tensor<3x4xf32> -> tensor<3x4xf32>
    %t = attn.tanh %s : tensor<3x4xf32>
    attn.yield %t : tensor<3x4xf32>
  }
  attn.return %h : tensor<3x4xf32>
}

// -----

// A scan that carries nothing, its step a recurrence from an outside
// initial state: the inner scan becomes one scan over the outer steps'
// batch of states, walking dim 1, its initial state repeated over the
// batch; the outer scan dissolves, its outputs the new scan's.
// CHECK-LABEL: attn.graph @batched_recurrence
// CHECK-SAME: (%[[XS:.+]]: tensor<4x5x3xf32>, %[[H0:.+]]: tensor<3xf32>)
// CHECK: %[[ONES:.+]] = attn.splat 1.000000e+00 : tensor<4x3xf32>
// CHECK: %[[INIT:.+]] = attn.mul %[[H0]], %[[ONES]] : tensor<3xf32>, tensor<4x3xf32> -> tensor<4x3xf32>
// CHECK: %[[R:.+]]:2 = attn.scan dim 1 ins(%[[Y:.+]] = %[[XS]] : tensor<4x5x3xf32>) carry(%[[C:.+]] = %[[INIT]] : tensor<4x3xf32>) -> (tensor<4x5x3xf32>, tensor<4x3xf32>) {
// CHECK: %[[T:.+]] = attn.tanh %[[C]] : tensor<4x3xf32>
// CHECK: %[[N:.+]] = attn.add %[[T]], %[[Y]] : tensor<4x3xf32>, tensor<4x3xf32> -> tensor<4x3xf32>
// CHECK: attn.yield %[[N]], %[[N]]
// CHECK-NOT: attn.scan
// CHECK: attn.return %[[R]]#0, %[[R]]#1
attn.graph @batched_recurrence(%xs: tensor<4x5x3xf32>, %h0: tensor<3xf32>) -> (tensor<4x5x3xf32>, tensor<4x3xf32>) {
  %ys, %r = attn.scan dim 0 ins(%x = %xs : tensor<4x5x3xf32>) -> (tensor<4x5x3xf32>, tensor<4x3xf32>) {
    %zs, %h = attn.scan dim 0 ins(%y = %x : tensor<5x3xf32>) carry(%c = %h0 : tensor<3xf32>) -> (tensor<5x3xf32>, tensor<3xf32>) {
      %t = attn.tanh %c : tensor<3xf32>
      %n = attn.add %t, %y : tensor<3xf32>, tensor<3xf32> -> tensor<3xf32>
      attn.yield %n, %n : tensor<3xf32>, tensor<3xf32>
    }
    attn.yield %zs, %h : tensor<5x3xf32>, tensor<3xf32>
  }
  attn.return %ys, %r : tensor<4x5x3xf32>, tensor<4x3xf32>
}

// -----

// In a recurrence, a step's recurrence that does not read the outer
// state (a word-level RNN under a sentence-level one) is batched over all
// outer steps before it; the outer recurrence reads its final states.
// CHECK-LABEL: attn.graph @hierarchical
// CHECK: %[[WORDS:.+]] = attn.scan dim 1 ins(%{{.+}} : tensor<4x5x3xf32>) carry(%{{.+}} : tensor<4x3xf32>) -> tensor<4x3xf32>
// CHECK: attn.scan dim 0 ins(%{{.+}} = %[[WORDS]] : tensor<4x3xf32>) carry(%{{.+}} : tensor<3xf32>) -> tensor<3xf32> {
// CHECK-NOT: attn.scan
// CHECK: attn.return
attn.graph @hierarchical(%xs: tensor<4x5x3xf32>, %h0: tensor<3xf32>, %g0: tensor<3xf32>) -> tensor<3xf32> {
  %g = attn.scan dim 0 ins(%x = %xs : tensor<4x5x3xf32>) carry(%a = %g0 : tensor<3xf32>) -> tensor<3xf32> {
    %h = attn.scan dim 0 ins(%y = %x : tensor<5x3xf32>) carry(%c = %h0 : tensor<3xf32>) -> tensor<3xf32> {
      %t = attn.tanh %c : tensor<3xf32>
      %n = attn.add %t, %y : tensor<3xf32>, tensor<3xf32> -> tensor<3xf32>
      attn.yield %n : tensor<3xf32>
    }
    %s = attn.add %h, %a : tensor<3xf32>, tensor<3xf32> -> tensor<3xf32>
    %u = attn.tanh %s : tensor<3xf32>
    attn.yield %u : tensor<3xf32>
  }
  attn.return %g : tensor<3xf32>
}

// -----

// Must not fire: the inner recurrence starts from the outer state, so it
// depends on the previous outer step and stays nested.
// CHECK-LABEL: attn.graph @reads_outer_state
// CHECK: attn.scan dim 0 ins(%{{.+}} : tensor<4x5x3xf32>) carry(%{{.+}} : tensor<3xf32>)
// CHECK-NEXT: attn.scan dim 0 ins(%{{.+}} : tensor<5x3xf32>) carry(%{{.+}} : tensor<3xf32>)
attn.graph @reads_outer_state(%xs: tensor<4x5x3xf32>, %g0: tensor<3xf32>) -> tensor<3xf32> {
  %g = attn.scan dim 0 ins(%x = %xs : tensor<4x5x3xf32>) carry(%a = %g0 : tensor<3xf32>) -> tensor<3xf32> {
    %h = attn.scan dim 0 ins(%y = %x : tensor<5x3xf32>) carry(%c = %a : tensor<3xf32>) -> tensor<3xf32> {
      %t = attn.tanh %c : tensor<3xf32>
      %n = attn.add %t, %y : tensor<3xf32>, tensor<3xf32> -> tensor<3xf32>
      attn.yield %n : tensor<3xf32>
    }
    attn.yield %h : tensor<3xf32>
  }
  attn.return %g : tensor<3xf32>
}

// -----

// Data movement a nested scan's step captures feeds that scan: the
// reshape of the outer step's input lifts, so the inner scan, which reads
// it, can be batched.
// CHECK-LABEL: attn.graph @captured_reshape
// CHECK: %[[R:.+]] = attn.reshape %{{.+}} : tensor<4x15xf32> -> tensor<4x5x3xf32>
// CHECK: %[[H:.+]] = attn.scan dim 1
// CHECK: attn.add %{{.+}}, %[[R]] : tensor<4x1x3xf32>, tensor<4x5x3xf32> -> tensor<4x5x3xf32>
// CHECK: attn.scan dim 0 ins(%{{.+}} = %[[H]] : tensor<4x3xf32>)
// CHECK-NOT: attn.reshape
// CHECK-NOT: attn.scan
// CHECK: attn.return
attn.graph @captured_reshape(%xs: tensor<4x15xf32>, %h0: tensor<3xf32>, %g0: tensor<3xf32>) -> tensor<3xf32> {
  %g = attn.scan dim 0 ins(%x = %xs : tensor<4x15xf32>) carry(%a = %g0 : tensor<3xf32>) -> tensor<3xf32> {
    %r = attn.reshape %x : tensor<15xf32> -> tensor<5x3xf32>
    %ones = attn.splat 1.0 : tensor<5xf32>
    %h = attn.scan dim 0 ins(%i = %ones : tensor<5xf32>) carry(%c = %h0 : tensor<3xf32>) -> tensor<3xf32> {
      %t = attn.tanh %c : tensor<3xf32>
      %s = attn.add %t, %r : tensor<3xf32>, tensor<5x3xf32> -> tensor<5x3xf32>
      %m = attn.reduce_mean %s dims [0] : tensor<5x3xf32> -> tensor<3xf32>
      attn.yield %m : tensor<3xf32>
    }
    %u = attn.add %h, %a : tensor<3xf32>, tensor<3xf32> -> tensor<3xf32>
    %w = attn.scale %u by 0.5 : tensor<3xf32>
    %v = attn.tanh %w : tensor<3xf32>
    attn.yield %v : tensor<3xf32>
  }
  attn.return %g : tensor<3xf32>
}

// -----

// An attention with a score modification that reads the step's bias but
// not the state lifts with its score modification: the scores gain the
// steps dim, and the bias sequence is reshaped outside to line up with
// them, so that the score modification stays elementwise.
// CHECK-LABEL: attn.graph @score_mod_in_step
// CHECK-SAME: (%[[XS:.+]]: tensor<5x3x4xf32>, %[[BS:.+]]: tensor<5x6xf32>, %{{.+}}: tensor<3x4xf32>, %[[K:.+]]: tensor<6x4xf32>, %[[V:.+]]: tensor<6x4xf32>)
// CHECK: %[[B:.+]] = attn.reshape %[[BS]] : tensor<5x6xf32> -> tensor<5x1x6xf32>
// CHECK: %[[A:.+]] = attn.attention %[[XS]], %[[K]], %[[V]] scale 5.000000e-01 : tensor<5x3x4xf32>, tensor<6x4xf32>, tensor<6x4xf32> -> tensor<5x3x4xf32> {
// CHECK-NEXT: ^bb0(%[[S:.+]]: tensor<5x3x6xf32>):
// CHECK-NEXT: %[[SB:.+]] = attn.add %[[S]], %[[B]] : tensor<5x3x6xf32>, tensor<5x1x6xf32> -> tensor<5x3x6xf32>
// CHECK-NEXT: %[[T:.+]] = attn.tanh %[[SB]] : tensor<5x3x6xf32>
// CHECK-NEXT: attn.yield %[[T]] : tensor<5x3x6xf32>
// CHECK: attn.scan dim 0 ins(%{{.+}} = %[[A]] : tensor<5x3x4xf32>)
// CHECK-NOT: attn.attention
// CHECK: attn.return
attn.graph @score_mod_in_step(%xs: tensor<5x3x4xf32>, %bs: tensor<5x6xf32>, %h0: tensor<3x4xf32>,
                              %k: tensor<6x4xf32>, %v: tensor<6x4xf32>) -> tensor<3x4xf32> {
  %h = attn.scan dim 0 ins(%x = %xs : tensor<5x3x4xf32>, %b = %bs : tensor<5x6xf32>)
      carry(%c = %h0 : tensor<3x4xf32>) -> tensor<3x4xf32> {
    %a = attn.attention %x, %k, %v scale 0.5 : tensor<3x4xf32>, tensor<6x4xf32>, tensor<6x4xf32> -> tensor<3x4xf32> {
    ^bb0(%s: tensor<3x6xf32>):
      %sb = attn.add %s, %b : tensor<3x6xf32>, tensor<6xf32> -> tensor<3x6xf32>
      %t = attn.tanh %sb : tensor<3x6xf32>
      attn.yield %t : tensor<3x6xf32>
    }
    %s = attn.add %a, %c : tensor<3x4xf32>, tensor<3x4xf32> -> tensor<3x4xf32>
    %t = attn.tanh %s : tensor<3x4xf32>
    attn.yield %t : tensor<3x4xf32>
  }
  attn.return %h : tensor<3x4xf32>
}

// -----

// Must not fire: a score modification that reads the state keeps the
// attention in the step (the recurrence kernel computes it).
// CHECK-LABEL: attn.graph @score_mod_of_state
// CHECK: attn.scan
// CHECK: attn.attention
// CHECK: attn.yield
attn.graph @score_mod_of_state(%xs: tensor<5x3x4xf32>, %h0: tensor<3x6xf32>,
                               %k: tensor<6x4xf32>, %v: tensor<6x4xf32>) -> tensor<3x6xf32> {
  %h = attn.scan dim 0 ins(%x = %xs : tensor<5x3x4xf32>)
      carry(%c = %h0 : tensor<3x6xf32>) -> tensor<3x6xf32> {
    %a = attn.attention %x, %k, %v scale 0.5 : tensor<3x4xf32>, tensor<6x4xf32>, tensor<6x4xf32> -> tensor<3x4xf32> {
    ^bb0(%s: tensor<3x6xf32>):
      %sb = attn.add %s, %c : tensor<3x6xf32>, tensor<3x6xf32> -> tensor<3x6xf32>
      attn.yield %sb : tensor<3x6xf32>
    }
    %r = attn.reduce_sum %a dims [1] : tensor<3x4xf32> -> tensor<3xf32>
    %rr = attn.reshape %r : tensor<3xf32> -> tensor<3x1xf32>
    %n = attn.add %c, %rr : tensor<3x6xf32>, tensor<3x1xf32> -> tensor<3x6xf32>
    %t = attn.tanh %n : tensor<3x6xf32>
    attn.yield %t : tensor<3x6xf32>
  }
  attn.return %h : tensor<3x6xf32>
}

// -----

// A norm whose gamma and beta change from step to step lifts normalising
// with a row of ones and zeros; the steps' gamma and beta, lined up with
// the rows, scale and shift its result.
// CHECK-LABEL: attn.graph @stepped_norm_parameters
// CHECK-SAME: (%[[XS:.+]]: tensor<5x2x4xf32>, %[[GS:.+]]: tensor<5x4xf32>, %[[BS:.+]]: tensor<5x4xf32>
// CHECK-DAG: %[[ONES:.+]] = attn.splat 1.000000e+00 : tensor<4xf32>
// CHECK-DAG: %[[ZEROS:.+]] = attn.splat 0.000000e+00 : tensor<4xf32>
// CHECK: %[[N:.+]] = attn.layer_norm %[[XS]], %[[ONES]], %[[ZEROS]] : tensor<5x2x4xf32>, tensor<4xf32>
// CHECK: %[[G:.+]] = attn.reshape %[[GS]] : tensor<5x4xf32> -> tensor<5x1x4xf32>
// CHECK: %[[NG:.+]] = attn.mul %[[N]], %[[G]] : tensor<5x2x4xf32>, tensor<5x1x4xf32> -> tensor<5x2x4xf32>
// CHECK: %[[B:.+]] = attn.reshape %[[BS]] : tensor<5x4xf32> -> tensor<5x1x4xf32>
// CHECK: %[[NB:.+]] = attn.add %[[NG]], %[[B]] : tensor<5x2x4xf32>, tensor<5x1x4xf32> -> tensor<5x2x4xf32>
// CHECK: attn.scan dim 0 ins(%{{.+}} = %[[NB]] : tensor<5x2x4xf32>)
// CHECK-NOT: attn.layer_norm
// CHECK: attn.return
attn.graph @stepped_norm_parameters(%xs: tensor<5x2x4xf32>, %gs: tensor<5x4xf32>, %bs: tensor<5x4xf32>,
                                    %h0: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %h = attn.scan dim 0 ins(%x = %xs : tensor<5x2x4xf32>, %g = %gs : tensor<5x4xf32>, %b = %bs : tensor<5x4xf32>)
      carry(%c = %h0 : tensor<2x4xf32>) -> tensor<2x4xf32> {
    %n = attn.layer_norm %x, %g, %b eps 1.0e-5 : tensor<2x4xf32>, tensor<4xf32>
    %s = attn.add %n, %c : tensor<2x4xf32>, tensor<2x4xf32> -> tensor<2x4xf32>
    %t = attn.tanh %s : tensor<2x4xf32>
    attn.yield %t : tensor<2x4xf32>
  }
  attn.return %h : tensor<2x4xf32>
}
