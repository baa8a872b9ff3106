//===- Diagnostics.cpp - one-line error reporting -------------------------===//
//
// Users see exactly one line per error, starting with the file position
// when there is one, so that editors and CI logs can jump to it. MLIR's
// default handler prints the source line, a caret and notes; useful in a
// debugger, noise in a build log.
//
//===----------------------------------------------------------------------===//

#include "attn/Driver/Driver.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Location.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace attn::driver;

/// The first file position inside `loc` (fused and call-site locations
/// nest them).
static std::optional<FileLineColLoc> findFilePosition(Location loc) {
  std::optional<FileLineColLoc> found;
  loc->walk([&](Location nested) {
    if (auto fileLoc = dyn_cast<FileLineColLoc>(nested)) {
      found = fileLoc;
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return found;
}

OneLineDiagnostics::OneLineDiagnostics(MLIRContext &context)
    : context(context) {
  id = context.getDiagEngine().registerHandler([](Diagnostic &diag) {
    if (diag.getSeverity() == DiagnosticSeverity::Note ||
        diag.getSeverity() == DiagnosticSeverity::Remark)
      return success();
    llvm::raw_ostream &os = llvm::errs();
    if (std::optional<FileLineColLoc> pos = findFilePosition(diag.getLocation()))
      os << pos->getFilename().getValue() << ":" << pos->getLine() << ":"
         << pos->getColumn() << ": ";
    else
      os << "attnc: ";
    os << (diag.getSeverity() == DiagnosticSeverity::Error ? "error: "
                                                           : "warning: ");
    // Messages are single sentences; keep any embedded newline from
    // breaking the one-line promise.
    std::string message = diag.str();
    std::replace(message.begin(), message.end(), '\n', ' ');
    os << message << "\n";
    return success();
  });
}

OneLineDiagnostics::~OneLineDiagnostics() {
  context.getDiagEngine().eraseHandler(id);
}

void attn::driver::reportError(const llvm::Twine &message) {
  llvm::errs() << "attnc: error: " << message << "\n";
}
