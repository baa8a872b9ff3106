// RUN: attnc-opt %s -allow-unregistered-dialect -verify-diagnostics

// The scan verifier's "body must end in attn.yield": attn.return is kept out
// of scan bodies by its HasParent trait and every registered terminator is
// attn's, so only an unregistered terminator reaches this check. It lives
// apart from invalid.mlir because it needs -allow-unregistered-dialect.

attn.graph @scan_foreign_terminator(%xs: tensor<8x4xf32>) {
  // expected-error @+1 {{'attn.scan' op body must end in attn.yield}}
  attn.scan dim 0 ins(%x = %xs : tensor<8x4xf32>) -> () {
    "test.terminator"() : () -> ()
  }
  attn.return
}
