// RUN: attnc-opt %s | attnc-opt | FileCheck %s
// RUN: attnc-opt %s --mlir-print-op-generic | attnc-opt | FileCheck %s

// Round trip of every op of the `attn` dialect, through the custom and the
// generic form: one graph per op family, covering the optional keywords and
// attributes of each op and the element types f32, f16, bf16 and i1.

// CHECK-LABEL: attn.graph @structure
// CHECK-SAME: ([[X:%[a-z0-9]+]]: tensor<4x8xf32> {attn.name = "x"}, [[M:%[a-z0-9]+]]: tensor<4x8xi1>)
// CHECK-SAME: -> (tensor<4x8xf32> {attn.out}, tensor<4x8xi1>)
// CHECK-SAME: attributes {attn.version = 1 : i64} {
// CHECK-NEXT: attn.return [[X]], [[M]] : tensor<4x8xf32>, tensor<4x8xi1>
// CHECK-NEXT: }
attn.graph @structure(%x: tensor<4x8xf32> {attn.name = "x"}, %m: tensor<4x8xi1>)
    -> (tensor<4x8xf32> {attn.out}, tensor<4x8xi1>)
    attributes {attn.version = 1 : i64} {
  attn.return %x, %m : tensor<4x8xf32>, tensor<4x8xi1>
}

// CHECK-LABEL: attn.graph private @empty() {
// CHECK-NEXT: attn.return{{$}}
// CHECK-NEXT: }
attn.graph private @empty() {
  attn.return
}

// CHECK-LABEL: attn.graph @matmul
// CHECK-SAME: ([[A:%[a-z0-9]+]]: tensor<4x8xf32>, [[B:%[a-z0-9]+]]: tensor<8x16xf32>, [[AT:%[a-z0-9]+]]: tensor<8x4xf32>, [[BT:%[a-z0-9]+]]: tensor<16x8xf32>, [[Q:%[a-z0-9]+]]: tensor<2x1x4x8xbf16>, [[K:%[a-z0-9]+]]: tensor<3x16x8xbf16>, [[H:%[a-z0-9]+]]: tensor<5x4x8xf16>, [[W:%[a-z0-9]+]]: tensor<8x16xf16>)
// CHECK: attn.matmul [[A]], [[B]] : tensor<4x8xf32>, tensor<8x16xf32> -> tensor<4x16xf32>
// CHECK: attn.matmul [[AT]], [[B]] transpose_lhs : tensor<8x4xf32>, tensor<8x16xf32> -> tensor<4x16xf32>
// CHECK: attn.matmul [[A]], [[BT]] transpose_rhs : tensor<4x8xf32>, tensor<16x8xf32> -> tensor<4x16xf32>
// CHECK: attn.matmul [[AT]], [[BT]] transpose_lhs transpose_rhs : tensor<8x4xf32>, tensor<16x8xf32> -> tensor<4x16xf32>
// CHECK: attn.matmul [[Q]], [[K]] transpose_rhs : tensor<2x1x4x8xbf16>, tensor<3x16x8xbf16> -> tensor<2x3x4x16xbf16>
// CHECK: attn.matmul [[H]], [[W]] : tensor<5x4x8xf16>, tensor<8x16xf16> -> tensor<5x4x16xf16>
attn.graph @matmul(%a: tensor<4x8xf32>, %b: tensor<8x16xf32>,
                   %at: tensor<8x4xf32>, %bt: tensor<16x8xf32>,
                   %q: tensor<2x1x4x8xbf16>, %k: tensor<3x16x8xbf16>,
                   %h: tensor<5x4x8xf16>, %w: tensor<8x16xf16>) {
  %0 = attn.matmul %a, %b : tensor<4x8xf32>, tensor<8x16xf32> -> tensor<4x16xf32>
  %1 = attn.matmul %at, %b transpose_lhs
      : tensor<8x4xf32>, tensor<8x16xf32> -> tensor<4x16xf32>
  %2 = attn.matmul %a, %bt transpose_rhs
      : tensor<4x8xf32>, tensor<16x8xf32> -> tensor<4x16xf32>
  %3 = attn.matmul %at, %bt transpose_lhs transpose_rhs
      : tensor<8x4xf32>, tensor<16x8xf32> -> tensor<4x16xf32>
  // Batch dims 2x1 and 3 broadcast to 2x3.
  %4 = attn.matmul %q, %k transpose_rhs
      : tensor<2x1x4x8xbf16>, tensor<3x16x8xbf16> -> tensor<2x3x4x16xbf16>
  %5 = attn.matmul %h, %w : tensor<5x4x8xf16>, tensor<8x16xf16> -> tensor<5x4x16xf16>
  attn.return
}

// CHECK-LABEL: attn.graph @binary
// CHECK-SAME: ([[X:%[a-z0-9]+]]: tensor<4x8xf32>, [[ROW:%[a-z0-9]+]]: tensor<8xf32>, [[COL:%[a-z0-9]+]]: tensor<4x1xf32>, [[S:%[a-z0-9]+]]: tensor<f32>, [[H:%[a-z0-9]+]]: tensor<2x1x8xf16>, [[G:%[a-z0-9]+]]: tensor<3x1xf16>, [[B:%[a-z0-9]+]]: tensor<4x8xbf16>)
// CHECK: [[ADD:%[a-z0-9]+]] = attn.add [[X]], [[ROW]] : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x8xf32>
// CHECK: attn.sub [[COL]], [[ROW]] : tensor<4x1xf32>, tensor<8xf32> -> tensor<4x8xf32>
// CHECK: attn.mul [[ADD]], [[S]] : tensor<4x8xf32>, tensor<f32> -> tensor<4x8xf32>
// CHECK: attn.div [[S]], [[X]] : tensor<f32>, tensor<4x8xf32> -> tensor<4x8xf32>
// CHECK: attn.max [[H]], [[G]] : tensor<2x1x8xf16>, tensor<3x1xf16> -> tensor<2x3x8xf16>
// CHECK: attn.min [[B]], [[B]] : tensor<4x8xbf16>, tensor<4x8xbf16> -> tensor<4x8xbf16>
attn.graph @binary(%x: tensor<4x8xf32>, %row: tensor<8xf32>,
                   %col: tensor<4x1xf32>, %s: tensor<f32>,
                   %h: tensor<2x1x8xf16>, %g: tensor<3x1xf16>,
                   %b: tensor<4x8xbf16>) {
  %0 = attn.add %x, %row : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x8xf32>
  %1 = attn.sub %col, %row : tensor<4x1xf32>, tensor<8xf32> -> tensor<4x8xf32>
  %2 = attn.mul %0, %s : tensor<4x8xf32>, tensor<f32> -> tensor<4x8xf32>
  %3 = attn.div %s, %x : tensor<f32>, tensor<4x8xf32> -> tensor<4x8xf32>
  %4 = attn.max %h, %g : tensor<2x1x8xf16>, tensor<3x1xf16> -> tensor<2x3x8xf16>
  %5 = attn.min %b, %b : tensor<4x8xbf16>, tensor<4x8xbf16> -> tensor<4x8xbf16>
  attn.return
}

// CHECK-LABEL: attn.graph @unary
// CHECK-SAME: ([[X:%[a-z0-9]+]]: tensor<4x8xf32>, [[H:%[a-z0-9]+]]: tensor<16xf16>, [[B:%[a-z0-9]+]]: tensor<2x3x4xbf16>)
// CHECK: [[TANH:%[a-z0-9]+]] = attn.tanh [[X]] : tensor<4x8xf32>
// CHECK: [[SIG:%[a-z0-9]+]] = attn.sigmoid [[TANH]] : tensor<4x8xf32>
// CHECK: attn.exp [[SIG]] : tensor<4x8xf32>
// CHECK: attn.log [[X]] : tensor<4x8xf32>
// CHECK: attn.neg [[H]] : tensor<16xf16>
// CHECK: attn.relu [[H]] : tensor<16xf16>
// CHECK: attn.gelu [[B]] : tensor<2x3x4xbf16>
// CHECK: attn.silu [[B]] : tensor<2x3x4xbf16>
// CHECK: attn.rsqrt [[X]] : tensor<4x8xf32>
// CHECK: attn.sqrt [[H]] : tensor<16xf16>
// CHECK: attn.sin [[B]] : tensor<2x3x4xbf16>
// CHECK: attn.cos [[X]] : tensor<4x8xf32>
attn.graph @unary(%x: tensor<4x8xf32>, %h: tensor<16xf16>, %b: tensor<2x3x4xbf16>) {
  %0 = attn.tanh %x : tensor<4x8xf32>
  %1 = attn.sigmoid %0 : tensor<4x8xf32>
  %2 = attn.exp %1 : tensor<4x8xf32>
  %3 = attn.log %x : tensor<4x8xf32>
  %4 = attn.neg %h : tensor<16xf16>
  %5 = attn.relu %h : tensor<16xf16>
  %6 = attn.gelu %b : tensor<2x3x4xbf16>
  %7 = attn.silu %b : tensor<2x3x4xbf16>
  %8 = attn.rsqrt %x : tensor<4x8xf32>
  %9 = attn.sqrt %h : tensor<16xf16>
  %10 = attn.sin %b : tensor<2x3x4xbf16>
  %11 = attn.cos %x : tensor<4x8xf32>
  attn.return
}

// CHECK-LABEL: attn.graph @scale_cast
// CHECK-SAME: ([[X:%[a-z0-9]+]]: tensor<4x8xf32>, [[H:%[a-z0-9]+]]: tensor<4x8xf16>, [[M:%[a-z0-9]+]]: tensor<4x8xi1>)
// CHECK: attn.scale [[X]] by 1.250000e-01 : tensor<4x8xf32>
// CHECK: attn.scale [[H]] by -2.000000e+00 : tensor<4x8xf16>
// CHECK: [[BF:%[a-z0-9]+]] = attn.cast [[X]] : tensor<4x8xf32> to tensor<4x8xbf16>
// CHECK: attn.scale [[BF]] by 3.000000e+00 : tensor<4x8xbf16>
// CHECK: attn.cast [[H]] : tensor<4x8xf16> to tensor<4x8xf32>
// CHECK: attn.cast [[M]] : tensor<4x8xi1> to tensor<4x8xf32>
// CHECK: attn.cast [[X]] : tensor<4x8xf32> to tensor<4x8xi1>
attn.graph @scale_cast(%x: tensor<4x8xf32>, %h: tensor<4x8xf16>, %m: tensor<4x8xi1>) {
  %0 = attn.scale %x by 0.125 : tensor<4x8xf32>
  %1 = attn.scale %h by -2.0 : tensor<4x8xf16>
  %2 = attn.cast %x : tensor<4x8xf32> to tensor<4x8xbf16>
  %3 = attn.scale %2 by 3.0 : tensor<4x8xbf16>
  %4 = attn.cast %h : tensor<4x8xf16> to tensor<4x8xf32>
  %5 = attn.cast %m : tensor<4x8xi1> to tensor<4x8xf32>
  %6 = attn.cast %x : tensor<4x8xf32> to tensor<4x8xi1>
  attn.return
}

// CHECK-LABEL: attn.graph @select
// CHECK-SAME: ([[M:%[a-z0-9]+]]: tensor<16x16xi1>, [[S:%[a-z0-9]+]]: tensor<4x16x16xf32>, [[N:%[a-z0-9]+]]: tensor<1xf32>, [[B:%[a-z0-9]+]]: tensor<16xbf16>)
// CHECK: attn.select [[M]], [[S]], [[N]] : tensor<16x16xi1>, tensor<4x16x16xf32>, tensor<1xf32> -> tensor<4x16x16xf32>
// CHECK: attn.select [[M]], [[B]], [[B]] : tensor<16x16xi1>, tensor<16xbf16>, tensor<16xbf16> -> tensor<16x16xbf16>
attn.graph @select(%m: tensor<16x16xi1>, %s: tensor<4x16x16xf32>, %n: tensor<1xf32>,
                   %b: tensor<16xbf16>) {
  %0 = attn.select %m, %s, %n
      : tensor<16x16xi1>, tensor<4x16x16xf32>, tensor<1xf32> -> tensor<4x16x16xf32>
  %1 = attn.select %m, %b, %b
      : tensor<16x16xi1>, tensor<16xbf16>, tensor<16xbf16> -> tensor<16x16xbf16>
  attn.return
}

// CHECK-LABEL: attn.graph @reductions
// CHECK-SAME: ([[X:%[a-z0-9]+]]: tensor<4x16x8xf32>, [[H:%[a-z0-9]+]]: tensor<4x8xf16>, [[B:%[a-z0-9]+]]: tensor<2x3xbf16>)
// CHECK: attn.softmax [[X]] dim 2 : tensor<4x16x8xf32>
// CHECK: attn.softmax [[B]] dim 0 : tensor<2x3xbf16>
// CHECK: attn.reduce_sum [[X]] dims [1] : tensor<4x16x8xf32> -> tensor<4x8xf32>
// CHECK: attn.reduce_sum [[X]] dims [0, 2] keep_dims : tensor<4x16x8xf32> -> tensor<1x16x1xf32>
// CHECK: attn.reduce_max [[H]] dims [1] keep_dims : tensor<4x8xf16> -> tensor<4x1xf16>
// CHECK: attn.reduce_max [[H]] dims [0, 1] : tensor<4x8xf16> -> tensor<f16>
// CHECK: attn.reduce_mean [[B]] dims [0] : tensor<2x3xbf16> -> tensor<3xbf16>
// CHECK: attn.reduce_mean [[B]] dims [1] keep_dims : tensor<2x3xbf16> -> tensor<2x1xbf16>
// CHECK: attn.reduce_sum [[H]] dims [] : tensor<4x8xf16> -> tensor<4x8xf16>
attn.graph @reductions(%x: tensor<4x16x8xf32>, %h: tensor<4x8xf16>, %b: tensor<2x3xbf16>) {
  %0 = attn.softmax %x dim 2 : tensor<4x16x8xf32>
  %1 = attn.softmax %b dim 0 : tensor<2x3xbf16>
  %2 = attn.reduce_sum %x dims [1] : tensor<4x16x8xf32> -> tensor<4x8xf32>
  %3 = attn.reduce_sum %x dims [0, 2] keep_dims : tensor<4x16x8xf32> -> tensor<1x16x1xf32>
  %4 = attn.reduce_max %h dims [1] keep_dims : tensor<4x8xf16> -> tensor<4x1xf16>
  %5 = attn.reduce_max %h dims [0, 1] : tensor<4x8xf16> -> tensor<f16>
  %6 = attn.reduce_mean %b dims [0] : tensor<2x3xbf16> -> tensor<3xbf16>
  %7 = attn.reduce_mean %b dims [1] keep_dims : tensor<2x3xbf16> -> tensor<2x1xbf16>
  %8 = attn.reduce_sum %h dims [] : tensor<4x8xf16> -> tensor<4x8xf16>
  attn.return
}

// The default epsilon (1.0e-5) is not printed.
// CHECK-LABEL: attn.graph @norms
// CHECK-SAME: ([[X:%[a-z0-9]+]]: tensor<4x64xf32>, [[G:%[a-z0-9]+]]: tensor<64xf32>, [[BETA:%[a-z0-9]+]]: tensor<64xf32>, [[Y:%[a-z0-9]+]]: tensor<2x4x64xbf16>, [[GB:%[a-z0-9]+]]: tensor<64xbf16>, [[Z:%[a-z0-9]+]]: tensor<64xf16>, [[GH:%[a-z0-9]+]]: tensor<64xf16>)
// CHECK: attn.layer_norm [[X]], [[G]], [[BETA]] : tensor<4x64xf32>, tensor<64xf32>{{$}}
// CHECK: attn.layer_norm [[X]], [[G]], [[BETA]] eps 1.000000e-03 : tensor<4x64xf32>, tensor<64xf32>{{$}}
// CHECK: attn.layer_norm [[X]], [[G]], [[BETA]] : tensor<4x64xf32>, tensor<64xf32>{{$}}
// CHECK: attn.rms_norm [[Y]], [[GB]] : tensor<2x4x64xbf16>, tensor<64xbf16>{{$}}
// CHECK: attn.rms_norm [[Y]], [[GB]] eps 2.500000e-01 : tensor<2x4x64xbf16>, tensor<64xbf16>{{$}}
// CHECK: attn.rms_norm [[Z]], [[GH]] eps 9.9999999999999995E-7 : tensor<64xf16>, tensor<64xf16>{{$}}
attn.graph @norms(%x: tensor<4x64xf32>, %g: tensor<64xf32>, %beta: tensor<64xf32>,
                  %y: tensor<2x4x64xbf16>, %gb: tensor<64xbf16>,
                  %z: tensor<64xf16>, %gh: tensor<64xf16>) {
  %0 = attn.layer_norm %x, %g, %beta : tensor<4x64xf32>, tensor<64xf32>
  %1 = attn.layer_norm %x, %g, %beta eps 1.0e-3 : tensor<4x64xf32>, tensor<64xf32>
  %2 = attn.layer_norm %x, %g, %beta eps 1.0e-5 : tensor<4x64xf32>, tensor<64xf32>
  %3 = attn.rms_norm %y, %gb : tensor<2x4x64xbf16>, tensor<64xbf16>
  %4 = attn.rms_norm %y, %gb eps 0.25 : tensor<2x4x64xbf16>, tensor<64xbf16>
  %5 = attn.rms_norm %z, %gh eps 1.0e-6 : tensor<64xf16>, tensor<64xf16>
  attn.return
}

// CHECK-LABEL: attn.graph @shapes
// CHECK-SAME: ([[X:%[a-z0-9]+]]: tensor<16x4x8xf32>, [[M:%[a-z0-9]+]]: tensor<4x6xi1>, [[H:%[a-z0-9]+]]: tensor<16x64xf16>, [[B:%[a-z0-9]+]]: tensor<4x128xbf16>)
// CHECK: attn.transpose [[X]] perm [1, 0, 2] : tensor<16x4x8xf32> -> tensor<4x16x8xf32>
// CHECK: attn.transpose [[M]] perm [1, 0] : tensor<4x6xi1> -> tensor<6x4xi1>
// CHECK: attn.reshape [[X]] : tensor<16x4x8xf32> -> tensor<64x8xf32>
// CHECK: attn.reshape [[M]] : tensor<4x6xi1> -> tensor<24xi1>
// CHECK: [[EVEN:%[a-z0-9]+]] = attn.slice [[H]] offsets [0, 0] strides [1, 2] : tensor<16x64xf16> -> tensor<16x32xf16>
// CHECK: [[ODD:%[a-z0-9]+]] = attn.slice [[H]] offsets [0, 1] strides [1, 2] : tensor<16x64xf16> -> tensor<16x32xf16>
// CHECK: attn.slice [[X]] offsets [2, 0, 4] : tensor<16x4x8xf32> -> tensor<8x4x4xf32>{{$}}
// CHECK: attn.concat [[ODD]], [[EVEN]] dim 1 : tensor<16x32xf16>, tensor<16x32xf16> -> tensor<16x64xf16>
// CHECK: attn.concat [[M]], [[M]], [[M]] dim 0 : tensor<4x6xi1>, tensor<4x6xi1>, tensor<4x6xi1> -> tensor<12x6xi1>
// CHECK: [[GATES:%[a-z0-9]+]]:4 = attn.split [[B]] dim 1 : tensor<4x128xbf16> -> tensor<4x32xbf16>, tensor<4x32xbf16>, tensor<4x32xbf16>, tensor<4x32xbf16>
// CHECK: attn.split [[X]] dim 0 : tensor<16x4x8xf32> -> tensor<10x4x8xf32>, tensor<6x4x8xf32>
// CHECK: attn.split [[M]] dim 1 : tensor<4x6xi1> -> tensor<4x6xi1>
// CHECK: attn.concat [[GATES]]#3, [[GATES]]#0 dim 1 : tensor<4x32xbf16>, tensor<4x32xbf16> -> tensor<4x64xbf16>
attn.graph @shapes(%x: tensor<16x4x8xf32>, %m: tensor<4x6xi1>, %h: tensor<16x64xf16>,
                   %b: tensor<4x128xbf16>) {
  %0 = attn.transpose %x perm [1, 0, 2] : tensor<16x4x8xf32> -> tensor<4x16x8xf32>
  %1 = attn.transpose %m perm [1, 0] : tensor<4x6xi1> -> tensor<6x4xi1>
  %2 = attn.reshape %x : tensor<16x4x8xf32> -> tensor<64x8xf32>
  %3 = attn.reshape %m : tensor<4x6xi1> -> tensor<24xi1>
  %even = attn.slice %h offsets [0, 0] strides [1, 2] : tensor<16x64xf16> -> tensor<16x32xf16>
  %odd = attn.slice %h offsets [0, 1] strides [1, 2] : tensor<16x64xf16> -> tensor<16x32xf16>
  %4 = attn.slice %x offsets [2, 0, 4] : tensor<16x4x8xf32> -> tensor<8x4x4xf32>
  %5 = attn.concat %odd, %even dim 1
      : tensor<16x32xf16>, tensor<16x32xf16> -> tensor<16x64xf16>
  %6 = attn.concat %m, %m, %m dim 0
      : tensor<4x6xi1>, tensor<4x6xi1>, tensor<4x6xi1> -> tensor<12x6xi1>
  %i, %f, %g, %o = attn.split %b dim 1 : tensor<4x128xbf16>
      -> tensor<4x32xbf16>, tensor<4x32xbf16>, tensor<4x32xbf16>, tensor<4x32xbf16>
  %7, %8 = attn.split %x dim 0 : tensor<16x4x8xf32> -> tensor<10x4x8xf32>, tensor<6x4x8xf32>
  %9 = attn.split %m dim 1 : tensor<4x6xi1> -> tensor<4x6xi1>
  %10 = attn.concat %o, %i dim 1 : tensor<4x32xbf16>, tensor<4x32xbf16> -> tensor<4x64xbf16>
  attn.return
}

// The default causal offset (0) is not printed.
// CHECK-LABEL: attn.graph @constants
// CHECK: attn.constant dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32>{{$}}
// CHECK: attn.constant dense<{{\[}}[true, false], [false, true]]> : tensor<2x2xi1>{{$}}
// CHECK: attn.constant dense<5.000000e-01> : tensor<4x8xbf16>{{$}}
// CHECK: attn.constant dense<-1.500000e+00> : tensor<f16>{{$}}
// CHECK: attn.splat -1.000000e+30 : tensor<1xf32>{{$}}
// CHECK: attn.splat 2.500000e-01 : tensor<4x8xbf16>{{$}}
// CHECK: attn.splat 1.000000e+00 : tensor<16x16xi1>{{$}}
// CHECK: attn.splat 0.000000e+00 : tensor<3xf16>{{$}}
// CHECK: attn.splat 0xFFF0000000000000 : tensor<1x16xf32>{{$}}
// CHECK: attn.causal_mask : tensor<16x16xi1>{{$}}
// CHECK: attn.causal_mask : tensor<16x16xi1>{{$}}
// CHECK: attn.causal_mask offset 8 : tensor<2x8x16xi1>{{$}}
// CHECK: attn.causal_mask offset -2 : tensor<4x4xi1>{{$}}
// CHECK: attn.iota dim 0 : tensor<128x1xf32>{{$}}
// CHECK: attn.iota dim 2 : tensor<2x3x4xbf16>{{$}}
// CHECK: attn.iota dim 0 : tensor<8xf16>{{$}}
attn.graph @constants() {
  %0 = attn.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %1 = attn.constant dense<[[true, false], [false, true]]> : tensor<2x2xi1>
  %2 = attn.constant dense<0.5> : tensor<4x8xbf16>
  %3 = attn.constant dense<-1.5> : tensor<f16>
  %4 = attn.splat -1.0e+30 : tensor<1xf32>
  %5 = attn.splat 0.25 : tensor<4x8xbf16>
  %6 = attn.splat 1.0 : tensor<16x16xi1>
  %7 = attn.splat 0.0 : tensor<3xf16>
  %ninf = attn.splat 0xFFF0000000000000 : tensor<1x16xf32>
  %8 = attn.causal_mask : tensor<16x16xi1>
  %9 = attn.causal_mask offset 0 : tensor<16x16xi1>
  %10 = attn.causal_mask offset 8 : tensor<2x8x16xi1>
  %11 = attn.causal_mask offset -2 : tensor<4x4xi1>
  %12 = attn.iota dim 0 : tensor<128x1xf32>
  %13 = attn.iota dim 2 : tensor<2x3x4xbf16>
  %14 = attn.iota dim 0 : tensor<8xf16>
  attn.return
}

// A forward scan with one sequence and one carry that reads weights from
// outside its body.
// CHECK-LABEL: attn.graph @scan_rnn
// CHECK-SAME: ([[XS:%[a-z0-9]+]]: tensor<16x4x8xf32>, [[H0:%[a-z0-9]+]]: tensor<4x32xf32>, [[WX:%[a-z0-9]+]]: tensor<8x32xf32>, [[WH:%[a-z0-9]+]]: tensor<32x32xf32>)
// CHECK-SAME: -> (tensor<16x4x32xf32>, tensor<4x32xf32>)
// CHECK-NEXT: [[R:%[a-z0-9]+]]:2 = attn.scan dim 0 ins([[X:%[a-z0-9]+]] = [[XS]] : tensor<16x4x8xf32>) carry([[H:%[a-z0-9]+]] = [[H0]] : tensor<4x32xf32>) -> (tensor<16x4x32xf32>, tensor<4x32xf32>) {
// CHECK-NEXT: [[A:%[a-z0-9]+]] = attn.matmul [[X]], [[WX]] : tensor<4x8xf32>, tensor<8x32xf32> -> tensor<4x32xf32>
// CHECK-NEXT: [[B:%[a-z0-9]+]] = attn.matmul [[H]], [[WH]] : tensor<4x32xf32>, tensor<32x32xf32> -> tensor<4x32xf32>
// CHECK-NEXT: [[S:%[a-z0-9]+]] = attn.add [[A]], [[B]] : tensor<4x32xf32>, tensor<4x32xf32> -> tensor<4x32xf32>
// CHECK-NEXT: [[HN:%[a-z0-9]+]] = attn.tanh [[S]] : tensor<4x32xf32>
// CHECK-NEXT: attn.yield [[HN]], [[HN]] : tensor<4x32xf32>, tensor<4x32xf32>
// CHECK-NEXT: }
// CHECK-NEXT: attn.return [[R]]#0, [[R]]#1 : tensor<16x4x32xf32>, tensor<4x32xf32>
attn.graph @scan_rnn(%xs: tensor<16x4x8xf32>, %h0: tensor<4x32xf32>,
                     %wx: tensor<8x32xf32>, %wh: tensor<32x32xf32>)
    -> (tensor<16x4x32xf32>, tensor<4x32xf32>) {
  %hs, %hT = attn.scan dim 0 ins(%x = %xs : tensor<16x4x8xf32>)
      carry(%h = %h0 : tensor<4x32xf32>)
      -> (tensor<16x4x32xf32>, tensor<4x32xf32>) {
    %a = attn.matmul %x, %wx : tensor<4x8xf32>, tensor<8x32xf32> -> tensor<4x32xf32>
    %b = attn.matmul %h, %wh : tensor<4x32xf32>, tensor<32x32xf32> -> tensor<4x32xf32>
    %s = attn.add %a, %b : tensor<4x32xf32>, tensor<4x32xf32> -> tensor<4x32xf32>
    %hn = attn.tanh %s : tensor<4x32xf32>
    attn.yield %hn, %hn : tensor<4x32xf32>, tensor<4x32xf32>
  }
  attn.return %hs, %hT : tensor<16x4x32xf32>, tensor<4x32xf32>
}

// A reverse scan along dim 1 over two sequences of different element types,
// with two carries and two stacked outputs, one of them a mask.
// CHECK-LABEL: attn.graph @scan_reverse_multi
// CHECK-SAME: ([[XS:%[a-z0-9]+]]: tensor<4x10x8xbf16>, [[MS:%[a-z0-9]+]]: tensor<4x10xi1>, [[H0:%[a-z0-9]+]]: tensor<4x8xbf16>, [[C0:%[a-z0-9]+]]: tensor<4xf16>)
// CHECK-NEXT: [[R:%[a-z0-9]+]]:4 = attn.scan reverse dim 1 ins([[X:%[a-z0-9]+]] = [[XS]] : tensor<4x10x8xbf16>, [[M:%[a-z0-9]+]] = [[MS]] : tensor<4x10xi1>) carry([[H:%[a-z0-9]+]] = [[H0]] : tensor<4x8xbf16>, [[C:%[a-z0-9]+]] = [[C0]] : tensor<4xf16>) -> (tensor<4x10x8xbf16>, tensor<4x10xi1>, tensor<4x8xbf16>, tensor<4xf16>) {
// CHECK-NEXT: [[S:%[a-z0-9]+]] = attn.add [[X]], [[H]] : tensor<4x8xbf16>, tensor<4x8xbf16> -> tensor<4x8xbf16>
// CHECK-NEXT: [[MF:%[a-z0-9]+]] = attn.cast [[M]] : tensor<4xi1> to tensor<4xf16>
// CHECK-NEXT: [[CN:%[a-z0-9]+]] = attn.add [[C]], [[MF]] : tensor<4xf16>, tensor<4xf16> -> tensor<4xf16>
// CHECK-NEXT: attn.yield [[S]], [[M]], [[S]], [[CN]] : tensor<4x8xbf16>, tensor<4xi1>, tensor<4x8xbf16>, tensor<4xf16>
// CHECK-NEXT: }
// CHECK-NEXT: attn.return [[R]]#0, [[R]]#1, [[R]]#2, [[R]]#3 :
attn.graph @scan_reverse_multi(%xs: tensor<4x10x8xbf16>, %ms: tensor<4x10xi1>,
                               %h0: tensor<4x8xbf16>, %c0: tensor<4xf16>)
    -> (tensor<4x10x8xbf16>, tensor<4x10xi1>, tensor<4x8xbf16>, tensor<4xf16>) {
  %ys, %mo, %hT, %cT = attn.scan reverse dim 1
      ins(%x = %xs : tensor<4x10x8xbf16>, %m = %ms : tensor<4x10xi1>)
      carry(%h = %h0 : tensor<4x8xbf16>, %c = %c0 : tensor<4xf16>)
      -> (tensor<4x10x8xbf16>, tensor<4x10xi1>, tensor<4x8xbf16>, tensor<4xf16>) {
    %s = attn.add %x, %h : tensor<4x8xbf16>, tensor<4x8xbf16> -> tensor<4x8xbf16>
    %mf = attn.cast %m : tensor<4xi1> to tensor<4xf16>
    %cn = attn.add %c, %mf : tensor<4xf16>, tensor<4xf16> -> tensor<4xf16>
    attn.yield %s, %m, %s, %cn : tensor<4x8xbf16>, tensor<4xi1>, tensor<4x8xbf16>, tensor<4xf16>
  }
  attn.return %ys, %mo, %hT, %cT
      : tensor<4x10x8xbf16>, tensor<4x10xi1>, tensor<4x8xbf16>, tensor<4xf16>
}

// A scan without carries (a map over the sequence), one whose only result is
// a carry, and one with no results at all.
// CHECK-LABEL: attn.graph @scan_shapes
// CHECK-SAME: ([[XS:%[a-z0-9]+]]: tensor<6x3xf32>, [[A0:%[a-z0-9]+]]: tensor<6xf32>)
// CHECK-NEXT: [[MAP:%[a-z0-9]+]] = attn.scan dim 1 ins([[X:%[a-z0-9]+]] = [[XS]] : tensor<6x3xf32>) -> tensor<6x3xf32> {
// CHECK-NEXT: [[N:%[a-z0-9]+]] = attn.neg [[X]] : tensor<6xf32>
// CHECK-NEXT: attn.yield [[N]] : tensor<6xf32>
// CHECK-NEXT: }
// CHECK-NEXT: [[SUM:%[a-z0-9]+]] = attn.scan dim 1 ins([[Y:%[a-z0-9]+]] = [[XS]] : tensor<6x3xf32>) carry([[ACC:%[a-z0-9]+]] = [[A0]] : tensor<6xf32>) -> tensor<6xf32> {
// CHECK-NEXT: [[NEXT:%[a-z0-9]+]] = attn.add [[ACC]], [[Y]] : tensor<6xf32>, tensor<6xf32> -> tensor<6xf32>
// CHECK-NEXT: attn.yield [[NEXT]] : tensor<6xf32>
// CHECK-NEXT: }
// CHECK-NEXT: attn.scan dim 0 ins({{%[a-z0-9]+}} = [[XS]] : tensor<6x3xf32>) -> () {
// CHECK-NEXT: attn.yield{{$}}
// CHECK-NEXT: }
// CHECK-NEXT: attn.return [[MAP]], [[SUM]] : tensor<6x3xf32>, tensor<6xf32>
attn.graph @scan_shapes(%xs: tensor<6x3xf32>, %a0: tensor<6xf32>)
    -> (tensor<6x3xf32>, tensor<6xf32>) {
  %map = attn.scan dim 1 ins(%x = %xs : tensor<6x3xf32>) -> tensor<6x3xf32> {
    %n = attn.neg %x : tensor<6xf32>
    attn.yield %n : tensor<6xf32>
  }
  %sum = attn.scan dim 1 ins(%y = %xs : tensor<6x3xf32>) carry(%acc = %a0 : tensor<6xf32>)
      -> tensor<6xf32> {
    %next = attn.add %acc, %y : tensor<6xf32>, tensor<6xf32> -> tensor<6xf32>
    attn.yield %next : tensor<6xf32>
  }
  attn.scan dim 0 ins(%z = %xs : tensor<6x3xf32>) -> () {
    attn.yield
  }
  attn.return %map, %sum : tensor<6x3xf32>, tensor<6xf32>
}

// Nested scans: the inner scan walks a step of the outer sequence and uses
// the outer carry and a value defined outside both; discardable attributes
// survive.
// CHECK-LABEL: attn.graph @scan_nested
// CHECK-SAME: ([[XS:%[a-z0-9]+]]: tensor<5x7x4xf16>, [[H0:%[a-z0-9]+]]: tensor<4xf16>)
// CHECK-NEXT: [[BIAS:%[a-z0-9]+]] = attn.splat 1.000000e+00 : tensor<4xf16>
// CHECK-NEXT: [[OUT:%[a-z0-9]+]]:2 = attn.scan dim 0 ins([[ROW:%[a-z0-9]+]] = [[XS]] : tensor<5x7x4xf16>) carry([[H:%[a-z0-9]+]] = [[H0]] : tensor<4xf16>) -> (tensor<5x4xf16>, tensor<4xf16>) attributes {attn.tag = "outer"} {
// CHECK-NEXT: [[IN:%[a-z0-9]+]] = attn.scan reverse dim 0 ins([[X:%[a-z0-9]+]] = [[ROW]] : tensor<7x4xf16>) carry([[G:%[a-z0-9]+]] = [[H]] : tensor<4xf16>) -> tensor<4xf16> {
// CHECK-NEXT: [[T:%[a-z0-9]+]] = attn.add [[X]], [[G]] : tensor<4xf16>, tensor<4xf16> -> tensor<4xf16>
// CHECK-NEXT: [[U:%[a-z0-9]+]] = attn.add [[T]], [[BIAS]] : tensor<4xf16>, tensor<4xf16> -> tensor<4xf16>
// CHECK-NEXT: attn.yield [[U]] : tensor<4xf16>
// CHECK-NEXT: }
// CHECK-NEXT: attn.yield [[IN]], [[IN]] : tensor<4xf16>, tensor<4xf16>
// CHECK-NEXT: }
// CHECK-NEXT: attn.return [[OUT]]#0, [[OUT]]#1 : tensor<5x4xf16>, tensor<4xf16>
attn.graph @scan_nested(%xs: tensor<5x7x4xf16>, %h0: tensor<4xf16>)
    -> (tensor<5x4xf16>, tensor<4xf16>) {
  %bias = attn.splat 1.0 : tensor<4xf16>
  %out, %hT = attn.scan dim 0 ins(%row = %xs : tensor<5x7x4xf16>)
      carry(%h = %h0 : tensor<4xf16>) -> (tensor<5x4xf16>, tensor<4xf16>)
      attributes {attn.tag = "outer"} {
    %in = attn.scan reverse dim 0 ins(%x = %row : tensor<7x4xf16>)
        carry(%g = %h : tensor<4xf16>) -> tensor<4xf16> {
      %t = attn.add %x, %g : tensor<4xf16>, tensor<4xf16> -> tensor<4xf16>
      %u = attn.add %t, %bias : tensor<4xf16>, tensor<4xf16> -> tensor<4xf16>
      attn.yield %u : tensor<4xf16>
    }
    attn.yield %in, %in : tensor<4xf16>, tensor<4xf16>
  }
  attn.return %out, %hT : tensor<5x4xf16>, tensor<4xf16>
}

// attn.assoc_scan, forward and reverse, with a broadcast coefficient.

// CHECK-LABEL: attn.graph @assoc_scan
// CHECK: %{{.+}}, %{{.+}} = attn.assoc_scan dim 0 %{{.+}}, %{{.+}}, %{{.+}} : tensor<5x2x3xf32>, tensor<5x2x3xf32>, tensor<2x3xf32> -> tensor<5x2x3xf32>, tensor<2x3xf32>
// CHECK: attn.assoc_scan reverse dim 1 %{{.+}}, %{{.+}}, %{{.+}} : tensor<2x5x1xbf16>, tensor<2x5x3xbf16>, tensor<2x3xbf16> -> tensor<2x5x3xbf16>, tensor<2x3xbf16>
attn.graph @assoc_scan(%a: tensor<5x2x3xf32>, %b: tensor<5x2x3xf32>, %h: tensor<2x3xf32>,
                       %ra: tensor<2x5x1xbf16>, %rb: tensor<2x5x3xbf16>, %rh: tensor<2x3xbf16>) {
  %hs, %hT = attn.assoc_scan dim 0 %a, %b, %h : tensor<5x2x3xf32>, tensor<5x2x3xf32>, tensor<2x3xf32> -> tensor<5x2x3xf32>, tensor<2x3xf32>
  %rs, %rT = attn.assoc_scan reverse dim 1 %ra, %rb, %rh : tensor<2x5x1xbf16>, tensor<2x5x3xbf16>, tensor<2x3xbf16> -> tensor<2x5x3xbf16>, tensor<2x3xbf16>
  attn.return
}

// attn.attention: plain, causal with grouped-query broadcast, and with a
// score modification region (a softcap).
// CHECK-LABEL: attn.graph @attention
// CHECK: attn.attention %{{.+}}, %{{.+}}, %{{.+}} scale 1.250000e-01 : tensor<2x3x7x5xbf16>, tensor<2x3x9x5xbf16>, tensor<2x3x9x4xbf16> -> tensor<2x3x7x4xbf16>
// CHECK: attn.attention %{{.+}}, %{{.+}}, %{{.+}} scale 5.000000e-01 causal offset 2 : tensor<1x2x2x7x5xf32>, tensor<1x2x1x9x5xf32>, tensor<1x2x1x9x5xf32> -> tensor<1x2x2x7x5xf32> {
// CHECK-NEXT: ^bb0(%[[S:.+]]: tensor<1x2x2x7x9xf32>):
// CHECK-NEXT: %[[C:.+]] = attn.scale %[[S]] by 2.000000e-02
// CHECK-NEXT: %[[T:.+]] = attn.tanh %[[C]]
// CHECK-NEXT: %[[U:.+]] = attn.scale %[[T]] by 5.000000e+01
// CHECK-NEXT: attn.yield %[[U]] : tensor<1x2x2x7x9xf32>
attn.graph @attention(%q: tensor<2x3x7x5xbf16>, %k: tensor<2x3x9x5xbf16>, %v: tensor<2x3x9x4xbf16>,
                      %gq: tensor<1x2x2x7x5xf32>, %gk: tensor<1x2x1x9x5xf32>, %gv: tensor<1x2x1x9x5xf32>) {
  %o = attn.attention %q, %k, %v scale 0.125 : tensor<2x3x7x5xbf16>, tensor<2x3x9x5xbf16>, tensor<2x3x9x4xbf16> -> tensor<2x3x7x4xbf16>
  %g = attn.attention %gq, %gk, %gv scale 0.5 causal offset 2 : tensor<1x2x2x7x5xf32>, tensor<1x2x1x9x5xf32>, tensor<1x2x1x9x5xf32> -> tensor<1x2x2x7x5xf32> {
  ^bb0(%s: tensor<1x2x2x7x9xf32>):
    %c = attn.scale %s by 0.02 : tensor<1x2x2x7x9xf32>
    %t = attn.tanh %c : tensor<1x2x2x7x9xf32>
    %u = attn.scale %t by 50.0 : tensor<1x2x2x7x9xf32>
    attn.yield %u : tensor<1x2x2x7x9xf32>
  }
  attn.return
}

// attn.fused with a broadcast input.
// CHECK-LABEL: attn.graph @fused
// CHECK: attn.fused %{{.+}}, %{{.+}} : (tensor<4x8xbf16>, tensor<8xbf16>) -> tensor<4x8xbf16> {
// CHECK-NEXT: ^bb0(%[[A:.+]]: tensor<4x8xbf16>, %[[B:.+]]: tensor<8xbf16>):
// CHECK-NEXT: %[[S:.+]] = attn.add %[[A]], %[[B]]
// CHECK-NEXT: %[[T:.+]] = attn.silu %[[S]]
// CHECK-NEXT: attn.yield %[[T]] : tensor<4x8xbf16>
attn.graph @fused(%x: tensor<4x8xbf16>, %b: tensor<8xbf16>) -> tensor<4x8xbf16> {
  %y = attn.fused %x, %b : (tensor<4x8xbf16>, tensor<8xbf16>) -> tensor<4x8xbf16> {
  ^bb0(%xa: tensor<4x8xbf16>, %ba: tensor<8xbf16>):
    %s = attn.add %xa, %ba : tensor<4x8xbf16>, tensor<8xbf16> -> tensor<4x8xbf16>
    %t = attn.silu %s : tensor<4x8xbf16>
    attn.yield %t : tensor<4x8xbf16>
  }
  attn.return %y : tensor<4x8xbf16>
}
