//===- Plan.cpp - printing and parsing the launch plan --------------------===//
//
// The text form, one record per line, whitespace-separated:
//
//   attnc-plan 4
//   arch sm_90
//   entry lstm_small
//   buffer <id> input|output|temp <index|-> f32|f16|bf16|i1 [d0,d1,...] <name|->
//   launch <kernel> <kind> grid X Y Z block X Y Z smem <bytes> coop 0|1 args <id>...
//          [aligned <arg>...]
//          [maps <arg>:<slices>:<rows>:<cols>:<box rows>:<box cols>...]
//          [scalars <int64>...]
//   zero <id>
//   copy <from> <to>
//   end
//
// Text rather than binary so that `attnc inspect` can print it as is and a
// reader of a model file can see what it will do. The parser trusts
// nothing: every field is checked, and a mistake names the line.
//
//===----------------------------------------------------------------------===//

#include "Plan.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>

using namespace attnc::rt;

const char *attnc::rt::elementTypeName(ElementType type) {
  switch (type) {
  case ElementType::F32:
    return "f32";
  case ElementType::F16:
    return "f16";
  case ElementType::BF16:
    return "bf16";
  case ElementType::I1:
    return "i1";
  }
  return "?";
}

bool attnc::rt::parseElementType(const std::string &name, ElementType *type) {
  for (ElementType t : {ElementType::F32, ElementType::F16, ElementType::BF16,
                        ElementType::I1})
    if (name == elementTypeName(t)) {
      *type = t;
      return true;
    }
  return false;
}

size_t attnc::rt::elementBytes(ElementType type) {
  switch (type) {
  case ElementType::F32:
    return 4;
  case ElementType::F16:
  case ElementType::BF16:
    return 2;
  case ElementType::I1:
    return 1;
  }
  return 0;
}

int64_t BufferDesc::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

const BufferDesc *Plan::buffer(int id) const {
  return id >= 0 && size_t(id) < buffers.size() ? &buffers[id] : nullptr;
}

static std::vector<const BufferDesc *> byRole(const Plan &plan,
                                              BufferDesc::Role role) {
  std::vector<const BufferDesc *> found;
  for (const BufferDesc &b : plan.buffers)
    if (b.role == role) {
      if (size_t(b.index) >= found.size())
        found.resize(b.index + 1, nullptr);
      found[b.index] = &b;
    }
  return found;
}

std::vector<const BufferDesc *> Plan::inputs() const {
  return byRole(*this, BufferDesc::Role::Input);
}
std::vector<const BufferDesc *> Plan::outputs() const {
  return byRole(*this, BufferDesc::Role::Output);
}

static const char *roleName(BufferDesc::Role role) {
  switch (role) {
  case BufferDesc::Role::Input:
    return "input";
  case BufferDesc::Role::Output:
    return "output";
  case BufferDesc::Role::Temp:
    return "temp";
  }
  return "?";
}

std::string attnc::rt::printPlan(const Plan &plan) {
  std::ostringstream os;
  os << "attnc-plan " << Plan::kVersion << "\n";
  os << "arch " << plan.arch << "\n";
  os << "entry " << plan.entry << "\n";
  for (const BufferDesc &b : plan.buffers) {
    os << "buffer " << b.id << " " << roleName(b.role) << " ";
    if (b.role == BufferDesc::Role::Temp)
      os << "-";
    else
      os << b.index;
    os << " " << elementTypeName(b.type) << " [";
    for (size_t i = 0; i < b.shape.size(); ++i)
      os << (i ? "," : "") << b.shape[i];
    os << "] " << (b.name.empty() ? "-" : b.name) << "\n";
  }
  for (const PlanStep &s : plan.steps) {
    switch (s.op) {
    case PlanStep::Op::Launch:
      os << "launch " << s.kernel << " " << s.kind << " grid " << s.grid[0]
         << " " << s.grid[1] << " " << s.grid[2] << " block " << s.block[0]
         << " " << s.block[1] << " " << s.block[2] << " smem "
         << s.dynamicShared << " coop " << (s.cooperative ? 1 : 0) << " args";
      for (int a : s.args)
        os << " " << a;
      if (!s.aligned.empty())
        os << " aligned";
      for (int a : s.aligned)
        os << " " << a;
      if (!s.maps.empty())
        os << " maps";
      for (const TensorMapDesc &m : s.maps)
        os << " " << m.arg << ":" << m.outer << ":" << m.rows << ":" << m.cols
           << ":" << m.boxRows << ":" << m.boxCols;
      if (!s.scalars.empty())
        os << " scalars";
      for (int64_t v : s.scalars)
        os << " " << v;
      os << "\n";
      break;
    case PlanStep::Op::Zero:
      os << "zero " << s.args.at(0) << "\n";
      break;
    case PlanStep::Op::Copy:
      os << "copy " << s.args.at(0) << " " << s.args.at(1) << "\n";
      break;
    }
  }
  os << "end\n";
  return os.str();
}

namespace {
/// Reads whitespace-separated fields of one line, remembering the line
/// number for messages.
class LineReader {
public:
  LineReader(const std::string &line, int number)
      : stream(line), number(number) {}
  bool word(std::string *out) { return bool(stream >> *out); }
  bool integer(int64_t *out, int64_t min, int64_t max) {
    std::string text;
    if (!(stream >> text))
      return false;
    errno = 0;
    char *end = nullptr;
    long long value = std::strtoll(text.c_str(), &end, 10);
    if (errno || end == text.c_str() || *end || value < min || value > max)
      return false;
    *out = value;
    return true;
  }
  bool expect(const char *keyword) {
    std::string text;
    return (stream >> text) && text == keyword;
  }
  bool atEnd() {
    std::string rest;
    return !(stream >> rest);
  }
  std::string fail(const std::string &what) const {
    return "plan line " + std::to_string(number) + ": " + what;
  }

private:
  std::istringstream stream;
  int number;
};
} // namespace

static bool parseShape(const std::string &text, std::vector<int64_t> *shape) {
  if (text.size() < 2 || text.front() != '[' || text.back() != ']')
    return false;
  std::string inner = text.substr(1, text.size() - 2);
  shape->clear();
  if (inner.empty())
    return true;
  std::istringstream parts(inner);
  std::string part;
  int64_t elements = 1;
  while (std::getline(parts, part, ',')) {
    char *end = nullptr;
    errno = 0;
    long long extent = std::strtoll(part.c_str(), &end, 10);
    // Extents stay below 2^31 and sizes below 2^40 elements, so byte counts
    // cannot overflow anywhere downstream.
    if (errno || part.empty() || *end || extent < 1 || extent > (1LL << 31))
      return false;
    elements *= extent;
    if (elements > (1LL << 40))
      return false;
    shape->push_back(extent);
  }
  return true;
}

static bool parseBuffer(LineReader &in, Plan &plan, std::string *error) {
  BufferDesc b;
  int64_t id;
  std::string role, index, type, shape, name;
  if (!in.integer(&id, 0, 1 << 20) || !in.word(&role) || !in.word(&index) ||
      !in.word(&type) || !in.word(&shape) || !in.word(&name) || !in.atEnd()) {
    *error = in.fail("expected 'buffer <id> <role> <index> <type> [shape] "
                     "<name>'");
    return false;
  }
  b.id = int(id);
  // Dense ids in order: the runtime indexes its buffer table by id.
  if (size_t(id) != plan.buffers.size()) {
    *error = in.fail("buffer " + std::to_string(id) + " out of order (expected " +
                     std::to_string(plan.buffers.size()) + ")");
    return false;
  }
  if (role == "input" || role == "output") {
    b.role = role == "input" ? BufferDesc::Role::Input
                             : BufferDesc::Role::Output;
    char *end = nullptr;
    long value = std::strtol(index.c_str(), &end, 10);
    if (index.empty() || *end || value < 0 || value > 1 << 16) {
      *error = in.fail("bad index '" + index + "'");
      return false;
    }
    b.index = int(value);
  } else if (role != "temp") {
    *error = in.fail("unknown buffer role '" + role + "'");
    return false;
  }
  if (!parseElementType(type, &b.type)) {
    *error = in.fail("unknown element type '" + type + "'");
    return false;
  }
  if (!parseShape(shape, &b.shape)) {
    *error = in.fail("bad shape '" + shape + "'");
    return false;
  }
  b.name = name == "-" ? "" : name;
  plan.buffers.push_back(b);
  return true;
}

static bool parseLaunch(LineReader &in, PlanStep &step, std::string *error) {
  step.op = PlanStep::Op::Launch;
  int64_t values[8];
  bool ok = in.word(&step.kernel) && in.word(&step.kind) && in.expect("grid") &&
            in.integer(&values[0], 1, 0x7fffffff) &&
            in.integer(&values[1], 1, 65535) &&
            in.integer(&values[2], 1, 65535) && in.expect("block") &&
            in.integer(&values[3], 1, 1024) && in.integer(&values[4], 1, 1024) &&
            in.integer(&values[5], 1, 64) && in.expect("smem") &&
            in.integer(&values[6], 0, 1 << 20) && in.expect("coop") &&
            in.integer(&values[7], 0, 1) && in.expect("args");
  if (!ok) {
    *error = in.fail("expected 'launch <kernel> <kind> grid X Y Z block X Y "
                     "Z smem N coop 0|1 args ...'");
    return false;
  }
  for (int i = 0; i < 3; ++i) {
    step.grid[i] = unsigned(values[i]);
    step.block[i] = unsigned(values[3 + i]);
  }
  if (values[3] * values[4] * values[5] > 1024) {
    *error = in.fail("more than 1024 threads per block");
    return false;
  }
  step.dynamicShared = size_t(values[6]);
  step.cooperative = values[7] != 0;
  std::string token;
  bool aligned = false, maps = false, scalars = false;
  while (in.word(&token)) {
    if (!aligned && !maps && !scalars && token == "aligned") {
      aligned = true;
      continue;
    }
    if (!maps && !scalars && token == "maps") {
      maps = true;
      continue;
    }
    if (!scalars && token == "scalars") {
      scalars = true;
      continue;
    }
    if (aligned && !maps && !scalars) {
      char *end = nullptr;
      errno = 0;
      long long value = std::strtoll(token.c_str(), &end, 10);
      if (errno || end == token.c_str() || *end || value < 0 ||
          value >= (long long)step.args.size()) {
        *error = in.fail("'aligned' names no argument: '" + token + "'");
        return false;
      }
      step.aligned.push_back(int(value));
      continue;
    }
    if (scalars) {
      char *end = nullptr;
      errno = 0;
      long long value = std::strtoll(token.c_str(), &end, 10);
      // Extents, tile counts and a variant number: never negative.
      if (errno || end == token.c_str() || *end || value < 0) {
        *error = in.fail("bad scalar '" + token + "'");
        return false;
      }
      step.scalars.push_back(value);
      continue;
    }
    // Buffer ids and a map's argument are small (as every id in the
    // plan); a map's extents at most 2^40, so their products cannot
    // overflow before the check against the buffer below.
    int64_t fields[6];
    int count = maps ? 6 : 1;
    int n = 0;
    bool good = std::count(token.begin(), token.end(), ':') == count - 1;
    size_t start = 0;
    while (good && n < count) {
      size_t stop = token.find(':', start);
      std::string part = token.substr(start, stop == std::string::npos
                                                  ? std::string::npos
                                                  : stop - start);
      start = stop == std::string::npos ? token.size() : stop + 1;
      char *end = nullptr;
      errno = 0;
      long long value = std::strtoll(part.c_str(), &end, 10);
      int64_t limit = n == 0 ? (1 << 20) : (int64_t(1) << 40);
      good = !part.empty() && std::isdigit((unsigned char)part[0]) && !errno &&
             !*end && value >= 0 && value <= limit;
      if (good)
        fields[n++] = value;
    }
    if (!good || n != count) {
      *error = in.fail(maps ? "bad tensor map '" + token +
                                  "' (expected "
                                  "arg:slices:rows:cols:boxrows:boxcols)"
                            : "bad buffer id '" + token + "'");
      return false;
    }
    if (!maps) {
      step.args.push_back(int(fields[0]));
      continue;
    }
    TensorMapDesc m;
    m.arg = int(fields[0]);
    m.outer = fields[1];
    m.rows = fields[2];
    m.cols = fields[3];
    m.boxRows = fields[4];
    m.boxCols = fields[5];
    if (m.arg >= int(step.args.size()) || m.boxRows < 1 || m.boxRows > 256 ||
        m.boxCols != 64 || m.outer < 1 || m.rows < 1 || m.cols < 1 ||
        m.cols % 8 != 0) {
      *error = in.fail("tensor map '" + token +
                       "' names no argument, or a box or row the 128-byte "
                       "swizzle cannot copy");
      return false;
    }
    step.maps.push_back(m);
  }
  if (aligned && step.aligned.empty()) {
    *error = in.fail("'aligned' lists no argument");
    return false;
  }
  if (maps && step.maps.empty()) {
    *error = in.fail("'maps' lists no tensor map");
    return false;
  }
  if (scalars && step.scalars.empty()) {
    *error = in.fail("'scalars' lists no value");
    return false;
  }
  return true;
}

bool attnc::rt::parsePlan(const std::string &text, Plan *plan,
                          std::string *error) {
  *plan = Plan();
  std::istringstream lines(text);
  std::string line;
  int number = 0;
  bool ended = false, sawHeader = false;
  while (std::getline(lines, line)) {
    ++number;
    if (line.empty())
      continue;
    LineReader in(line, number);
    std::string keyword;
    in.word(&keyword);
    if (!sawHeader) {
      int64_t version;
      if (keyword != "attnc-plan" || !in.integer(&version, 0, 1 << 20)) {
        *error = "not an attnc launch plan (no 'attnc-plan' header)";
        return false;
      }
      if (version < 1 || version > Plan::kVersion) {
        *error = "launch plan version " + std::to_string(version) +
                 ", but this runtime reads version " +
                 std::to_string(Plan::kVersion) +
                 "; recompile the model with a matching attnc";
        return false;
      }
      sawHeader = true;
      continue;
    }
    if (ended) {
      *error = in.fail("text after 'end'");
      return false;
    }
    if (keyword == "arch") {
      if (!in.word(&plan->arch)) {
        *error = in.fail("expected 'arch <sm_XX>'");
        return false;
      }
    } else if (keyword == "entry") {
      if (!in.word(&plan->entry)) {
        *error = in.fail("expected 'entry <name>'");
        return false;
      }
    } else if (keyword == "buffer") {
      if (!parseBuffer(in, *plan, error))
        return false;
    } else if (keyword == "launch" || keyword == "zero" || keyword == "copy") {
      PlanStep step;
      if (keyword == "launch") {
        if (!parseLaunch(in, step, error))
          return false;
      } else {
        step.op = keyword == "zero" ? PlanStep::Op::Zero : PlanStep::Op::Copy;
        int count = keyword == "zero" ? 1 : 2;
        for (int i = 0; i < count; ++i) {
          int64_t id;
          if (!in.integer(&id, 0, 1 << 20)) {
            *error = in.fail("expected buffer ids after '" + keyword + "'");
            return false;
          }
          step.args.push_back(int(id));
        }
      }
      plan->steps.push_back(step);
    } else if (keyword == "end") {
      ended = true;
    } else {
      *error = in.fail("unknown record '" + keyword + "'");
      return false;
    }
  }
  if (!sawHeader) {
    *error = "empty launch plan";
    return false;
  }
  if (!ended) {
    *error = "launch plan is truncated (no 'end')";
    return false;
  }
  if (plan->arch.empty() || plan->entry.empty()) {
    *error = "launch plan lacks its 'arch' or 'entry'";
    return false;
  }
  for (const PlanStep &step : plan->steps)
    for (int id : step.args)
      if (!plan->buffer(id)) {
        *error = "launch plan step names buffer " + std::to_string(id) +
                 ", which it does not define";
        return false;
      }
  // Every launch of one kernel passes the same parameters: as many
  // buffers, maps and scalars (a shared kernel's launches differ only in
  // their values).
  std::map<std::string, const PlanStep *> firstLaunch;
  for (const PlanStep &step : plan->steps) {
    if (step.op != PlanStep::Op::Launch)
      continue;
    const PlanStep *first =
        firstLaunch.insert({step.kernel, &step}).first->second;
    if (first->args.size() != step.args.size() ||
        first->maps.size() != step.maps.size() ||
        first->scalars.size() != step.scalars.size()) {
      *error = "launch plan: the launches of " + step.kernel +
               " pass different numbers of parameters";
      return false;
    }
  }
  for (PlanStep &step : plan->steps)
    for (TensorMapDesc &m : step.maps) {
      const BufferDesc *b = plan->buffer(step.args[m.arg]);
      m.type = b->type;
      // outer x rows x cols <= elements, by division (no overflow; the
      // parser made every extent at least 1).
      int64_t elements = b->numElements();
      if ((b->type != ElementType::F16 && b->type != ElementType::BF16) ||
          m.outer > elements || m.rows > elements / m.outer ||
          m.cols > elements / (m.outer * m.rows)) {
        *error = "launch plan: the tensor map of " + step.kernel +
                 " over buffer " + std::to_string(b->id) +
                 " does not fit it or is not f16/bf16";
        return false;
      }
    }
  for (auto role : {BufferDesc::Role::Input, BufferDesc::Role::Output}) {
    std::vector<const BufferDesc *> numbered = byRole(*plan, role);
    for (size_t i = 0; i < numbered.size(); ++i)
      if (!numbered[i]) {
        *error = std::string("launch plan has no ") + roleName(role) + " " +
                 std::to_string(i);
        return false;
      }
  }
  return true;
}
