// RUN: attnc-opt %s --attn-form-kernels -split-input-file | FileCheck %s
// RUN: attnc-opt %s --attn-form-kernels=target=sm_80 -split-input-file | FileCheck %s --check-prefix=AMPERE

// Kernel formation: which ops share a kernel, which do not, and the
// schedules the target description gives.

// A matmul's bias and activation become its epilogue; the left operand's
// batch dim folds into m (one [14, 18] x [18, 45] product). A looped tile
// never exceeds its loop (k = 18 < 64).
// CHECK-LABEL: attn.graph @epilogue
// CHECK: %[[Y:.*]] = kernel.gemm %arg0, %arg1, %arg2 target "sm_90" blocks [1, 1, 1] threads 256
// CHECK-SAME: loops [#kernel.loop<"m", 14, "grid", 16>, #kernel.loop<"n", 45, "grid", 64>, #kernel.loop<"k", 18, "looped", 18>]
// CHECK-NEXT: ^bb0
// CHECK-NEXT: attn.matmul
// CHECK-NEXT: attn.add
// CHECK-NEXT: attn.gelu
// CHECK-NEXT: kernel.yield
// CHECK: attn.return %[[Y]]
attn.graph @epilogue(%x: tensor<2x7x18xf32>, %w: tensor<18x45xf32>, %b: tensor<45xf32>) -> tensor<2x7x45xf32> {
  %p = attn.matmul %x, %w : tensor<2x7x18xf32>, tensor<18x45xf32> -> tensor<2x7x45xf32>
  %s = attn.add %p, %b : tensor<2x7x45xf32>, tensor<45xf32> -> tensor<2x7x45xf32>
  %g = attn.gelu %s : tensor<2x7x45xf32>
  attn.return %g : tensor<2x7x45xf32>
}

// -----

// The product is also a result, so it must be stored: no epilogue, and
// the activation is a pointwise kernel of its own.
// CHECK-LABEL: attn.graph @product_escapes
// CHECK: %[[P:.*]] = kernel.gemm
// CHECK-NOT: attn.tanh
// CHECK: kernel.yield
// CHECK: kernel.pointwise %[[P]]
// CHECK: attn.tanh
attn.graph @product_escapes(%x: tensor<5x6xf32>, %w: tensor<6x7xf32>) -> (tensor<5x7xf32>, tensor<5x7xf32>) {
  %p = attn.matmul %x, %w : tensor<5x6xf32>, tensor<6x7xf32> -> tensor<5x7xf32>
  %t = attn.tanh %p : tensor<5x7xf32>
  attn.return %p, %t : tensor<5x7xf32>, tensor<5x7xf32>
}

// -----

// A consumer that broadcasts the product to a bigger shape does not map
// one to one onto output tiles: no epilogue.
// CHECK-LABEL: attn.graph @broadcast_consumer
// CHECK: kernel.gemm
// CHECK-NOT: attn.add
// CHECK: kernel.yield
// CHECK: kernel.pointwise
// CHECK: attn.add
attn.graph @broadcast_consumer(%x: tensor<5x6xf32>, %w: tensor<6x7xf32>, %z: tensor<3x5x7xf32>) -> tensor<3x5x7xf32> {
  %p = attn.matmul %x, %w : tensor<5x6xf32>, tensor<6x7xf32> -> tensor<5x7xf32>
  %s = attn.add %p, %z : tensor<5x7xf32>, tensor<3x5x7xf32> -> tensor<3x5x7xf32>
  attn.return %s : tensor<3x5x7xf32>
}

// -----

// A row op takes the elementwise ops before it (read only by it) and after
// it into one row kernel.
// CHECK-LABEL: attn.graph @row
// CHECK: kernel.row %arg0, %arg1 target "sm_90" blocks [5, 1, 1] threads 32
// CHECK-SAME: loops [#kernel.loop<"r", 5, "grid", 1>, #kernel.loop<"x", 7, "looped", 7>]
// CHECK-NEXT: ^bb0
// CHECK-NEXT: attn.scale
// CHECK-NEXT: attn.softmax
// CHECK-NEXT: attn.mul
// CHECK-NEXT: kernel.yield
// CHECK-NOT: kernel.
attn.graph @row(%x: tensor<5x7xf32>, %g: tensor<7xf32>) -> tensor<5x7xf32> {
  %s = attn.scale %x by 0.5 : tensor<5x7xf32>
  %p = attn.softmax %s dim 1 : tensor<5x7xf32>
  %m = attn.mul %p, %g : tensor<5x7xf32>, tensor<7xf32> -> tensor<5x7xf32>
  attn.return %m : tensor<5x7xf32>
}

// -----

// Data movement read by two pointwise kernels is recomputed in each (index
// arithmetic) instead of being copied by a kernel of its own; a generator
// read by pointwise ops is cloned into each of them. (The results have
// other shapes, so the two kernels are not merged as siblings.)
// CHECK-LABEL: attn.graph @duplicated_split
// CHECK: kernel.pointwise %arg0 {{.*}} -> tensor<4x3xf32>
// CHECK-NEXT: ^bb0
// CHECK-NEXT: attn.split
// CHECK-NEXT: attn.splat
// CHECK-NEXT: attn.add
// CHECK: kernel.pointwise %arg0 {{.*}} -> tensor<12xf32>
// CHECK-NEXT: ^bb0
// CHECK-NEXT: attn.split
// CHECK-NEXT: attn.splat
// CHECK-NEXT: attn.exp
// CHECK-NEXT: attn.mul
attn.graph @duplicated_split(%x: tensor<4x6xf32>) -> (tensor<4x3xf32>, tensor<12xf32>) {
  %one = attn.splat 1.0 : tensor<1xf32>
  %a, %b = attn.split %x dim 1 : tensor<4x6xf32> -> tensor<4x3xf32>, tensor<4x3xf32>
  %s = attn.add %a, %one : tensor<4x3xf32>, tensor<1xf32> -> tensor<4x3xf32>
  %t = attn.exp %b : tensor<4x3xf32>
  %m = attn.mul %t, %one : tensor<4x3xf32>, tensor<1xf32> -> tensor<4x3xf32>
  %r = attn.reshape %m : tensor<4x3xf32> -> tensor<12xf32>
  attn.return %s, %r : tensor<4x3xf32>, tensor<12xf32>
}

// -----

// Siblings: pointwise kernels that read one source (here through the
// split each recomputes) and produce results of one shape are one kernel
// with several results.
// CHECK-LABEL: attn.graph @siblings
// CHECK: %[[K:.*]]:2 = kernel.pointwise %arg0 {{.*}} -> (tensor<4x3xf32>, tensor<4x3xf32>)
// CHECK-NEXT: ^bb0
// CHECK-NEXT: attn.split
// CHECK-NEXT: attn.exp
// CHECK-NEXT: attn.neg
// CHECK-NEXT: kernel.yield
// CHECK-NOT: kernel.pointwise
// CHECK: attn.return %[[K]]#0, %[[K]]#1
attn.graph @siblings(%x: tensor<4x6xf32>) -> (tensor<4x3xf32>, tensor<4x3xf32>) {
  %a, %b = attn.split %x dim 1 : tensor<4x6xf32> -> tensor<4x3xf32>, tensor<4x3xf32>
  %s = attn.exp %a : tensor<4x3xf32>
  %t = attn.neg %b : tensor<4x3xf32>
  attn.return %s, %t : tensor<4x3xf32>, tensor<4x3xf32>
}

// -----

// Not siblings: the first kernel's result is read (by the GEMM) before the
// second kernel's place, where a merged kernel would be.
// CHECK-LABEL: attn.graph @read_before_sibling
// CHECK: kernel.pointwise %arg0 {{.*}} -> tensor<4x3xf32>
// CHECK-NEXT: ^bb0
// CHECK-NEXT: attn.split
// CHECK-NEXT: attn.exp
// CHECK: kernel.gemm
// CHECK: kernel.pointwise %arg0 {{.*}} -> tensor<4x3xf32>
// CHECK-NEXT: ^bb0
// CHECK-NEXT: attn.split
// CHECK-NEXT: attn.neg
attn.graph @read_before_sibling(%x: tensor<4x6xf32>, %w: tensor<3x3xf32>) -> (tensor<4x3xf32>, tensor<4x3xf32>) {
  %a, %b = attn.split %x dim 1 : tensor<4x6xf32> -> tensor<4x3xf32>, tensor<4x3xf32>
  %s = attn.exp %a : tensor<4x3xf32>
  %m = attn.matmul %s, %w : tensor<4x3xf32>, tensor<3x3xf32> -> tensor<4x3xf32>
  %t = attn.neg %b : tensor<4x3xf32>
  attn.return %m, %t : tensor<4x3xf32>, tensor<4x3xf32>
}

// -----

// Not siblings either: the first kernel's result is read inside a scan
// body (a top-level op before the second kernel's place).
// CHECK-LABEL: attn.graph @read_in_scan_body
// CHECK: %[[A:.*]] = kernel.pointwise %arg0 {{.*}} -> tensor<3x11xf32>
// CHECK: kernel.recurrence {{.*}}, %[[A]]
// CHECK: kernel.pointwise %arg0 {{.*}} -> tensor<3x11xf32>
attn.graph @read_in_scan_body(%x: tensor<3x22xf32>, %xs: tensor<7x3x5xf32>, %h0: tensor<3x11xf32>, %wx: tensor<5x11xf32>) -> (tensor<7x3x11xf32>, tensor<3x11xf32>) {
  %p, %q = attn.split %x dim 1 : tensor<3x22xf32> -> tensor<3x11xf32>, tensor<3x11xf32>
  %a = attn.exp %p : tensor<3x11xf32>
  %hs, %hT = attn.scan dim 0 ins(%xt = %xs : tensor<7x3x5xf32>)
      carry(%h = %h0 : tensor<3x11xf32>) -> (tensor<7x3x11xf32>, tensor<3x11xf32>) {
    %xw = attn.matmul %xt, %wx : tensor<3x5xf32>, tensor<5x11xf32> -> tensor<3x11xf32>
    %s = attn.add %xw, %h : tensor<3x11xf32>, tensor<3x11xf32> -> tensor<3x11xf32>
    %s2 = attn.mul %s, %a : tensor<3x11xf32>, tensor<3x11xf32> -> tensor<3x11xf32>
    %hn = attn.tanh %s2 : tensor<3x11xf32>
    attn.yield %hn, %hn : tensor<3x11xf32>, tensor<3x11xf32>
  }
  %b = attn.neg %q : tensor<3x11xf32>
  attn.return %hs, %b : tensor<7x3x11xf32>, tensor<3x11xf32>
}

// -----

// Nor when all the two share is a generator (cloned into each anyway).
// CHECK-LABEL: attn.graph @only_a_generator_in_common
// CHECK: kernel.pointwise %arg0 {{.*}} -> tensor<4x3xf32>
// CHECK: kernel.pointwise %arg1 {{.*}} -> tensor<4x3xf32>
attn.graph @only_a_generator_in_common(%x: tensor<4x3xf32>, %y: tensor<4x3xf32>) -> (tensor<4x3xf32>, tensor<4x3xf32>) {
  %one = attn.splat 1.0 : tensor<1xf32>
  %s = attn.add %x, %one : tensor<4x3xf32>, tensor<1xf32> -> tensor<4x3xf32>
  %t = attn.mul %y, %one : tensor<4x3xf32>, tensor<1xf32> -> tensor<4x3xf32>
  attn.return %s, %t : tensor<4x3xf32>, tensor<4x3xf32>
}

// -----

// A generator a matmul reads directly is a buffer: a pointwise kernel
// materialises it.
// CHECK-LABEL: attn.graph @generator_operand
// CHECK: %[[I:.*]] = kernel.pointwise  target
// CHECK: attn.iota
// CHECK: kernel.gemm %arg0, %[[I]]
attn.graph @generator_operand(%x: tensor<5x6xf32>) -> tensor<5x4xf32> {
  %i = attn.iota dim 0 : tensor<6x4xf32>
  %p = attn.matmul %x, %i : tensor<5x6xf32>, tensor<6x4xf32> -> tensor<5x4xf32>
  attn.return %p : tensor<5x4xf32>
}

// -----

// A scan is a persistent recurrence; the weights its body reads from the
// graph become kernel inputs, and the hidden units are split over blocks
// (at least 8 per block).
// CHECK-LABEL: attn.graph @recurrence
// CHECK: kernel.recurrence %arg0, %arg1, %arg2 target "sm_90" blocks [3, 1, 1]
// CHECK-SAME: loops [#kernel.loop<"t", 7, "looped", 1>, #kernel.loop<"s0", 3, "looped", 3>, #kernel.loop<"h", 20, "grid", 7>]
// CHECK: attn.scan
// CHECK: attn.matmul %{{.*}}, %{{.*}} : tensor<3x20xf32>, tensor<20x20xf32>
attn.graph @recurrence(%xs: tensor<7x3x20xf32>, %h0: tensor<3x20xf32>, %u: tensor<20x20xf32>) -> tensor<3x20xf32> {
  %hT = attn.scan dim 0 ins(%x = %xs : tensor<7x3x20xf32>) carry(%h = %h0 : tensor<3x20xf32>) -> (tensor<3x20xf32>) {
    %hu = attn.matmul %h, %u : tensor<3x20xf32>, tensor<20x20xf32> -> tensor<3x20xf32>
    %z = attn.add %hu, %x : tensor<3x20xf32>, tensor<3x20xf32> -> tensor<3x20xf32>
    %hn = attn.tanh %z : tensor<3x20xf32>
    attn.yield %hn : tensor<3x20xf32>
  }
  attn.return %hT : tensor<3x20xf32>
}

// -----

// An associative scan is a chunked parallel scan kernel; an elementwise
// producer of its coefficients read only by it is computed inside (the
// scan's prologue), one read by anything else is not.
// CHECK-LABEL: attn.graph @assoc
// CHECK-NOT: kernel.pointwise
// CHECK: kernel.scan
// CHECK-SAME: loops [#kernel.loop<"c", 4, "grid", 32>, #kernel.loop<"t", 9, "grid", 9>]
// CHECK: attn.sigmoid
// CHECK-NEXT: attn.assoc_scan
attn.graph @assoc(%a: tensor<9x4xf32>, %b: tensor<9x4xf32>, %h0: tensor<4xf32>) -> tensor<9x4xf32> {
  %s = attn.sigmoid %a : tensor<9x4xf32>
  %st, %fin = attn.assoc_scan dim 0 %s, %b, %h0 : tensor<9x4xf32>, tensor<9x4xf32>, tensor<4xf32> -> tensor<9x4xf32>, tensor<4xf32>
  attn.return %st : tensor<9x4xf32>
}
// CHECK-LABEL: attn.graph @assoc_shared_producer
// CHECK: kernel.pointwise %arg0
// CHECK: kernel.scan
// CHECK-NOT: attn.sigmoid
// CHECK: attn.assoc_scan
attn.graph @assoc_shared_producer(%a: tensor<9x4xf32>, %b: tensor<9x4xf32>, %h0: tensor<4xf32>) -> (tensor<9x4xf32>, tensor<9x4xf32>) {
  %s = attn.sigmoid %a : tensor<9x4xf32>
  %st, %fin = attn.assoc_scan dim 0 %s, %b, %h0 : tensor<9x4xf32>, tensor<9x4xf32>, tensor<4xf32> -> tensor<9x4xf32>, tensor<4xf32>
  attn.return %st, %s : tensor<9x4xf32>, tensor<9x4xf32>
}
// A producer read by both the coefficient and offset producers (minGRU's
// z in a = 1 - z, b = z * ht) is computed inside too: every reader of it
// is in the scan's kernel.
// CHECK-LABEL: attn.graph @assoc_gate
// CHECK-NOT: kernel.pointwise
// CHECK: kernel.scan
// CHECK: attn.sigmoid
// CHECK: attn.sub
// CHECK: attn.mul
// CHECK-NEXT: attn.assoc_scan
attn.graph @assoc_gate(%zx: tensor<9x4xf32>, %ht: tensor<9x4xf32>, %h0: tensor<4xf32>) -> tensor<9x4xf32> {
  %z = attn.sigmoid %zx : tensor<9x4xf32>
  %one = attn.splat 1.0 : tensor<1xf32>
  %a = attn.sub %one, %z : tensor<1xf32>, tensor<9x4xf32> -> tensor<9x4xf32>
  %b = attn.mul %z, %ht : tensor<9x4xf32>, tensor<9x4xf32> -> tensor<9x4xf32>
  %st, %fin = attn.assoc_scan dim 0 %a, %b, %h0 : tensor<9x4xf32>, tensor<9x4xf32>, tensor<4xf32> -> tensor<9x4xf32>, tensor<4xf32>
  attn.return %st : tensor<9x4xf32>
}

// -----

// Tiles come from the target: a large GEMM gets sm_90's 128x128x64 tiles
// and sm_80's 128x128x32 with 3 stages. sm_90's 4 stages of f32 tiles (64
// KiB each) would not fit its 227 KiB, so the kernel reserves 3.
// CHECK-LABEL: attn.graph @large
// CHECK: kernel.gemm {{.*}} target "sm_90" blocks [64, 1, 1] threads 256 smem 196608
// CHECK-SAME: #kernel.loop<"k", 1024, "looped", 64>
// AMPERE-LABEL: attn.graph @large
// AMPERE: kernel.gemm {{.*}} target "sm_80" blocks [64, 1, 1] threads 256 smem 98304
// AMPERE-SAME: #kernel.loop<"k", 1024, "looped", 32>
attn.graph @large(%x: tensor<1024x1024xf32>, %w: tensor<1024x1024xf32>) -> tensor<1024x1024xf32> {
  %p = attn.matmul %x, %w : tensor<1024x1024xf32>, tensor<1024x1024xf32> -> tensor<1024x1024xf32>
  attn.return %p : tensor<1024x1024xf32>
}
