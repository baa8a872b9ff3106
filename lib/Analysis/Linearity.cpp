//===- Linearity.cpp - is a recurrence linear in its state? ---------------===//
//
// Abstract interpretation of one scan step. Every body value gets a form
// with respect to the carried state:
//
//   invariant    no carried value reaches it;
//   elementwise  a * s + b for state-derived s, a and b invariant, acting
//                position by position (broadcasting a and b allowed);
//   linear       A(s) + b with A linear but mixing positions (a matmul
//                with the state, a transpose or reduction of it);
//   nonlinear    anything else, with the op that made it so.
//
// Ops are never named here: each states, per operand, whether it is
// Additive, a Factor or Nonlinear (IterationSpaceOpInterface), and whether
// it acts position by position follows from its iteration space.
//
//===----------------------------------------------------------------------===//

#include "attn/Analysis/Linearity.h"

#include "mlir/IR/Location.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace attn;
using namespace attn::analysis;
using namespace attn::graph;

llvm::StringRef
attn::analysis::stringifyLinearity(LinearityVerdict::Kind kind) {
  switch (kind) {
  case LinearityVerdict::Kind::Elementwise:
    return "elementwise-linear";
  case LinearityVerdict::Kind::LinearNotElementwise:
    return "linear-not-elementwise";
  case LinearityVerdict::Kind::Nonlinear:
    return "nonlinear";
  }
  llvm_unreachable("unknown linearity");
}

namespace {

struct Form {
  enum Kind { Invariant, Elementwise, Linear, Nonlinear } kind = Invariant;
  /// Bitmask of the carried values the form depends on.
  uint64_t carries = 0;
  /// For Linear and Nonlinear: why, and the op responsible.
  std::string reason;
  Operation *culprit = nullptr;
};

} // namespace

/// "attn.tanh at 12:5", to point at an op in a one-line reason.
static std::string describe(Operation *op) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << op->getName();
  if (auto loc = dyn_cast<FileLineColLoc>(op->getLoc()))
    os << " at " << loc.getLine() << ":" << loc.getColumn();
  return text;
}

bool attn::analysis::readsPositionwise(IterationSpaceOpInterface op,
                                       unsigned index) {
  IterationSpace space = op.getIterationSpace();
  if (llvm::is_contained(space.kinds, IterKind::Reduction) ||
      space.resultMaps.size() != 1)
    return false;
  return space.operandMaps[index] == space.resultMaps[0];
}

/// The form of the results of `op` from the forms of its operands.
static Form transfer(Operation *op, ArrayRef<Form> operands) {
  Form result;
  SmallVector<unsigned> stateOperands;
  for (auto [i, form] : llvm::enumerate(operands)) {
    result.carries |= form.carries;
    if (form.kind == Form::Nonlinear)
      return form; // keep the first cause
    if (form.kind != Form::Invariant)
      stateOperands.push_back(i);
  }
  if (stateOperands.empty())
    return Form();

  auto nonlinear = [&](const std::string &why) {
    result.kind = Form::Nonlinear;
    result.reason = describe(op) + " " + why;
    result.culprit = op;
    return result;
  };
  auto iface = dyn_cast<IterationSpaceOpInterface>(op);
  if (!iface)
    return nonlinear("contains a computation on the state");

  bool allPositionwise = true;
  for (unsigned i : stateOperands) {
    OperandLinearity linearity = iface.getOperandLinearity(i);
    if (linearity == OperandLinearity::Nonlinear)
      return nonlinear("is not linear in its state-dependent operand " +
                       std::to_string(i));
    if (linearity == OperandLinearity::Factor && stateOperands.size() > 1)
      return nonlinear("multiplies two state-dependent values");
    allPositionwise &= operands[i].kind == Form::Elementwise &&
                       readsPositionwise(iface, i);
  }
  if (allPositionwise) {
    result.kind = Form::Elementwise;
    return result;
  }
  // Linear, but positions mix; keep the first op that mixed them.
  for (unsigned i : stateOperands)
    if (operands[i].kind == Form::Linear)
      return Form{Form::Linear, result.carries, operands[i].reason,
                  operands[i].culprit};
  result.kind = Form::Linear;
  result.culprit = op;
  result.reason = describe(op) + " mixes positions of the state (" +
                  (llvm::is_contained(iface.getIterationSpace().kinds,
                                      IterKind::Reduction)
                       ? "a matrix product or reduction over it)"
                       : "it moves or broadcasts state elements)");
  return result;
}

SmallVector<LinearityVerdict>
attn::analysis::analyzeLinearity(ScanOp scan) {
  DenseMap<Value, Form> forms;
  for (auto [i, arg] : llvm::enumerate(scan.getCarriedArgs()))
    forms[arg] = Form{Form::Elementwise, uint64_t(1) << std::min<size_t>(i, 63),
                      "", nullptr};
  auto formOf = [&](Value value) {
    auto it = forms.find(value);
    return it == forms.end() ? Form() : it->second;
  };

  Block &body = scan.getBody().front();
  for (Operation &op : body.without_terminator()) {
    SmallVector<Form> operands;
    for (Value operand : op.getOperands())
      operands.push_back(formOf(operand));
    Form form;
    if (op.getNumRegions() == 0) {
      form = transfer(&op, operands);
    } else {
      // A nested scan (or any op with a region) over the state is treated
      // as nonlinear: looking inside is not something this analysis does.
      bool readsState = llvm::any_of(operands, [](const Form &f) {
        return f.kind != Form::Invariant;
      });
      op.walk([&](Operation *inner) {
        for (Value v : inner->getOperands())
          readsState |= formOf(v).kind != Form::Invariant;
      });
      if (readsState)
        form = Form{Form::Nonlinear, 0,
                    describe(&op) + (isa<ScanOp>(op)
                                         ? " is a nested scan over the state"
                                         : " has a region that reads the "
                                           "state (not analysed)"),
                    &op};
    }
    for (Value result : op.getResults())
      forms[result] = form;
  }

  SmallVector<LinearityVerdict> verdicts;
  auto yield = cast<YieldOp>(body.getTerminator());
  size_t numStacked = scan.getStackedOutputs().size();
  for (unsigned i = 0, e = scan.getInits().size(); i < e; ++i) {
    Form form = formOf(yield.getOperand(numStacked + i));
    uint64_t own = uint64_t(1) << std::min(i, 63u);
    using Kind = LinearityVerdict::Kind;
    switch (form.kind) {
    case Form::Invariant:
      verdicts.push_back({Kind::Elementwise,
                          "the next value does not depend on the state "
                          "(a = 0)",
                          nullptr});
      break;
    case Form::Nonlinear:
      verdicts.push_back({Kind::Nonlinear, form.reason, form.culprit});
      break;
    case Form::Elementwise:
    case Form::Linear:
      if (i >= 63) {
        // Carries from the 64th on share one bit: coupling is invisible.
        verdicts.push_back({Kind::LinearNotElementwise,
                            "too many carried values to tell whether this "
                            "update reads others (more than 63)",
                            nullptr});
      } else if (form.carries & ~own) {
        verdicts.push_back({Kind::LinearNotElementwise,
                            "the update is linear but also reads other "
                            "carried values, a coupled system",
                            nullptr});
      } else if (form.kind == Form::Elementwise) {
        verdicts.push_back({Kind::Elementwise,
                            "h' = a * h + b with a and b independent of the "
                            "state",
                            nullptr});
      } else {
        verdicts.push_back(
            {Kind::LinearNotElementwise, form.reason, form.culprit});
      }
      break;
    }
  }
  return verdicts;
}
