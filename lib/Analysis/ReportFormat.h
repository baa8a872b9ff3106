//===- ReportFormat.h - shared wording of the report printers ---*- C++ -*-===//
//
// Private to lib/Analysis: the few phrases the text and Graphviz printers
// both write (a loop list like "d0:3 P  d2:5 R", a count with an SI
// prefix, a duration), kept in one place so that the table and the
// picture of one graph read the same.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_LIB_ANALYSIS_REPORTFORMAT_H
#define ATTN_LIB_ANALYSIS_REPORTFORMAT_H

#include "attn/Analysis/ParallelismReport.h"

#include "llvm/ADT/StringRef.h"

#include <cmath>
#include <cstdio>
#include <iterator>
#include <string>

namespace attn::analysis::detail {

/// "P", "R" or "C".
inline llvm::StringRef kindLetter(IterKind kind) {
  switch (kind) {
  case IterKind::Parallel:
    return "P";
  case IterKind::Reduction:
    return "R";
  case IterKind::Carried:
    return "C";
  }
  return "?";
}

/// "d0:3 P  d1:44 P  d2:5 R"; a loop whose dimension group has another
/// class than the op's own view shows both, "d2:9 P→R".
inline std::string formatLoops(const std::vector<ReportLoop> &loops) {
  std::string text;
  for (const ReportLoop &loop : loops) {
    if (!text.empty())
      text += "  ";
    text += loop.name + ":" + std::to_string(loop.extent) + " " +
            kindLetter(loop.kind).str();
    if (loop.groupClass != loop.kind)
      text += "\u2192" + kindLetter(loop.groupClass).str();
  }
  return text;
}

/// `value` scaled by a decimal SI prefix to three significant digits:
/// "660", "9.24 k", "1.23 G". Integers under 1000 stay exact. `separator`
/// goes between the number and the prefix (and the unit, if any).
inline std::string formatSI(double value, llvm::StringRef unit = "",
                            llvm::StringRef separator = " ") {
  static const char *const prefixes[] = {"", "k", "M", "G", "T", "P", "E"};
  std::string sign = value < 0 ? "-" : "";
  double magnitude = std::fabs(value);
  unsigned prefix = 0;
  // 999.5 rounds to "1.00 k", not "1000".
  while (magnitude >= 999.5 && prefix + 1 < std::size(prefixes)) {
    magnitude /= 1000;
    ++prefix;
  }
  std::string number;
  if (prefix == 0 && magnitude == std::floor(magnitude))
    number = std::to_string(int64_t(magnitude));
  else {
    unsigned decimals = magnitude >= 99.95 ? 0 : magnitude >= 9.995 ? 1 : 2;
    char buffer[32];
    std::snprintf(buffer, sizeof(buffer), "%.*f", int(decimals), magnitude);
    number = buffer;
  }
  std::string suffix = std::string(prefixes[prefix]) + unit.str();
  return sign + number + (suffix.empty() ? "" : separator.str() + suffix);
}

/// A duration given in microseconds, in the unit that reads best:
/// "850 ps", "12.3 ns", "10.5 us", "3.20 ms", "1.50 s".
inline std::string formatMicros(double micros) {
  if (micros == 0)
    return "0 us";
  struct Unit {
    double micros;
    const char *name;
  };
  static const Unit units[] = {
      {1e6, "s"}, {1e3, "ms"}, {1, "us"}, {1e-3, "ns"}, {1e-6, "ps"}};
  for (const Unit &unit : units)
    if (std::fabs(micros) >= unit.micros * 0.9995 || unit.micros == 1e-6) {
      double scaled = micros / unit.micros;
      unsigned decimals = std::fabs(scaled) >= 99.95  ? 0
                          : std::fabs(scaled) >= 9.995 ? 1
                                                       : 2;
      char buffer[48];
      std::snprintf(buffer, sizeof(buffer), "%.*f %s", int(decimals), scaled,
                    unit.name);
      return buffer;
    }
  return "0 us";
}

/// A ceiling without trailing zeros: 790, 4.3, 19.5.
inline std::string formatRate(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%g", value);
  return buffer;
}

/// A percentage with one decimal, "26.8%"; "-" when undefined.
inline std::string formatShare(double share) {
  if (!std::isfinite(share))
    return "-";
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.1f%%", share * 100);
  return buffer;
}

/// Columns a UTF-8 string takes on a terminal: its code points (the
/// report's only non-ASCII character is the one-column arrow).
inline size_t displayWidth(llvm::StringRef text) {
  size_t width = 0;
  for (unsigned char c : text)
    width += (c & 0xC0) != 0x80;
  return width;
}

} // namespace attn::analysis::detail

#endif // ATTN_LIB_ANALYSIS_REPORTFORMAT_H
