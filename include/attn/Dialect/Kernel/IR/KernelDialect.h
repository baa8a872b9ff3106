//===- KernelDialect.h - the kernel-level dialect ---------------*- C++ -*-===//
//
// Declares the `kernel` dialect and its loop attribute, generated from
// KernelDialect.td.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_KERNEL_IR_KERNELDIALECT_H
#define ATTN_DIALECT_KERNEL_IR_KERNELDIALECT_H

#include "attn/Dialect/Graph/IR/GraphDialect.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Dialect.h"

#include "attn/Dialect/Kernel/IR/KernelDialect.h.inc"

#define GET_ATTRDEF_CLASSES
#include "attn/Dialect/Kernel/IR/KernelAttrs.h.inc"

#endif // ATTN_DIALECT_KERNEL_IR_KERNELDIALECT_H
