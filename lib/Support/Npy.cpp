//===- Npy.cpp - reading and writing .npy files ---------------------------===//
//
// A small, strict implementation of numpy's .npy format. Files come from
// users and other tools, so the reader treats every byte as untrusted: the
// header dict is parsed by a real (if tiny) parser rather than by pattern
// matching, sizes are computed with overflow checks, and every failure
// becomes a one-line message that names the file instead of a crash or a
// guess. The writer produces what np.save produces for the same array.
//
//===----------------------------------------------------------------------===//

#include "attn/Support/Npy.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <unistd.h>

using namespace attn;

static const char kMagic[] = "\x93NUMPY";
static const size_t kMagicSize = 6;
// numpy aligns the data to 64 bytes so that it can be memory-mapped and
// read with aligned vector loads; we do the same.
static const size_t kDataAlign = 64;

static const char *const kSupported =
    "supported: '<f4' f32, '<f2' f16, '|V2' bf16, '|b1' i1";

/// The descr we write for each dtype.
static const char *descrFor(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return "<f4";
  case DType::F16:
    return "<f2";
  case DType::BF16:
    return "|V2";
  case DType::I1:
    return "|b1";
  }
  return "";
}

/// The descrs we accept. Byte order means nothing for one-byte bools and
/// raw void words, so both spellings are taken there; for the float types
/// only little-endian is, since reading big-endian data as little would be
/// a silent guess.
static bool dtypeForDescr(const std::string &descr, DType &dtype) {
  if (descr == "<f4")
    dtype = DType::F32;
  else if (descr == "<f2")
    dtype = DType::F16;
  else if (descr == "|V2" || descr == "<V2")
    dtype = DType::BF16;
  else if (descr == "|b1" || descr == "<b1" || descr == "b1")
    dtype = DType::I1;
  else
    return false;
  return true;
}

//===----------------------------------------------------------------------===//
// Header parsing
//===----------------------------------------------------------------------===//

namespace {

/// One value of the header dict. Values of kinds the format never uses for
/// our keys (lists, nested dicts, ...) are kept as raw text so that the
/// message can quote them.
struct HeaderValue {
  enum Kind { String, Bool, Tuple, Other } kind = Other;
  std::string text;           // String: the contents; otherwise raw text.
  bool boolean = false;       // Bool.
  std::vector<int64_t> tuple; // Tuple of non-negative integers.
};

/// Parses the Python dict literal numpy writes, e.g.
///   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
/// accepting any key order, either quote style and any whitespace.
class HeaderParser {
public:
  explicit HeaderParser(const std::string &text) : text(text) {}

  /// Calls `onEntry(key, value)` for each entry; returns false with
  /// `error` set on malformed input or when `onEntry` returns false.
  template <typename Fn> bool parse(Fn onEntry) {
    skipSpace();
    if (!expect('{'))
      return false;
    skipSpace();
    while (!peek('}')) {
      std::string key;
      if (!parseString(key))
        return fail("expected a quoted key");
      skipSpace();
      if (!expect(':'))
        return false;
      skipSpace();
      HeaderValue value;
      if (!parseValue(value))
        return false;
      if (!onEntry(key, value))
        return false;
      skipSpace();
      if (peek(','))
        ++pos;
      else if (!peek('}'))
        return fail("expected ',' or '}'");
      skipSpace();
    }
    ++pos;
    skipSpace();
    if (pos != text.size())
      return fail("unexpected text after '}'");
    return true;
  }

  std::string error;

private:
  const std::string &text;
  size_t pos = 0;

  bool atEnd() const { return pos >= text.size(); }
  bool peek(char c) const { return !atEnd() && text[pos] == c; }
  bool fail(const std::string &what) {
    if (error.empty())
      error = what + " at offset " + std::to_string(pos);
    return false;
  }
  bool expect(char c) {
    if (!peek(c))
      return fail(std::string("expected '") + c + "'");
    ++pos;
    return true;
  }
  void skipSpace() {
    while (!atEnd() && (text[pos] == ' ' || text[pos] == '\t' ||
                        text[pos] == '\n' || text[pos] == '\r'))
      ++pos;
  }
  bool startsWith(const char *word) const {
    return text.compare(pos, std::strlen(word), word) == 0;
  }

  bool parseString(std::string &out) {
    if (atEnd() || (text[pos] != '\'' && text[pos] != '"'))
      return false;
    char quote = text[pos++];
    while (!atEnd() && text[pos] != quote) {
      if (text[pos] == '\\' && pos + 1 < text.size())
        ++pos;
      out += text[pos++];
    }
    if (atEnd())
      return fail("unterminated string");
    ++pos;
    return true;
  }

  /// A non-negative decimal integer, with the 'L' suffix that numpy under
  /// Python 2 wrote.
  bool parseExtent(int64_t &out) {
    if (peek('-'))
      return fail("negative extent in shape");
    if (atEnd() || text[pos] < '0' || text[pos] > '9')
      return fail("expected an integer in shape");
    uint64_t value = 0;
    const uint64_t max = std::numeric_limits<int64_t>::max();
    while (!atEnd() && text[pos] >= '0' && text[pos] <= '9') {
      value = value * 10 + uint64_t(text[pos++] - '0');
      if (value > max)
        return fail("extent too large in shape");
    }
    if (peek('L') || peek('l'))
      ++pos;
    out = int64_t(value);
    return true;
  }

  bool parseTuple(std::vector<int64_t> &out) {
    ++pos; // '('
    skipSpace();
    while (!peek(')')) {
      int64_t extent;
      if (!parseExtent(extent))
        return false;
      out.push_back(extent);
      skipSpace();
      if (peek(','))
        ++pos;
      else if (!peek(')'))
        return fail("expected ',' or ')' in shape");
      skipSpace();
    }
    ++pos;
    return true;
  }

  /// Skips a value of a kind we do not interpret: up to the ',' or '}' that
  /// ends it at bracket depth zero, stepping over quoted strings.
  bool skipOther(std::string &raw) {
    size_t start = pos;
    int depth = 0;
    while (!atEnd()) {
      char c = text[pos];
      if (c == '\'' || c == '"') {
        std::string ignored;
        if (!parseString(ignored))
          return false;
        continue;
      }
      if (depth == 0 && (c == ',' || c == '}'))
        break;
      if (c == '(' || c == '[' || c == '{')
        ++depth;
      else if (c == ')' || c == ']' || c == '}')
        --depth;
      ++pos;
    }
    raw = text.substr(start, pos - start);
    while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\n'))
      raw.pop_back();
    if (raw.empty())
      return fail("expected a value");
    return true;
  }

  bool parseValue(HeaderValue &value) {
    if (peek('\'') || peek('"')) {
      value.kind = HeaderValue::String;
      return parseString(value.text);
    }
    if (peek('(')) {
      value.kind = HeaderValue::Tuple;
      return parseTuple(value.tuple);
    }
    if (startsWith("True") || startsWith("False")) {
      value.kind = HeaderValue::Bool;
      value.boolean = text[pos] == 'T';
      value.text = value.boolean ? "True" : "False";
      pos += value.text.size();
      return true;
    }
    value.kind = HeaderValue::Other;
    return skipOther(value.text);
  }
};

} // namespace

static uint64_t readLittleEndian(const uint8_t *bytes, unsigned count) {
  uint64_t value = 0;
  for (unsigned i = 0; i < count; ++i)
    value |= uint64_t(bytes[i]) << (8 * i);
  return value;
}

bool attn::parseNpy(const std::vector<uint8_t> &bytes, const std::string &name,
                    NpyArray &array, std::string &error) {
  auto fail = [&](const std::string &what) {
    error = name + ": " + what;
    return false;
  };

  size_t size = bytes.size();
  if (size != 0 &&
      std::memcmp(bytes.data(), kMagic, std::min(size, kMagicSize)) != 0)
    return fail("not a .npy file (bad magic)");
  if (size < kMagicSize + 4)
    return fail("truncated: " + std::to_string(size) +
                " bytes, too short for a .npy header");

  unsigned major = bytes[6], minor = bytes[7];
  unsigned lengthBytes;
  if (major == 1 && minor == 0)
    lengthBytes = 2;
  else if ((major == 2 || major == 3) && minor == 0)
    lengthBytes = 4;
  else
    return fail("unsupported .npy format version " + std::to_string(major) +
                "." + std::to_string(minor) + " (1.0, 2.0 and 3.0 are read)");
  size_t prefix = kMagicSize + 2 + lengthBytes;
  if (size < prefix)
    return fail("truncated: " + std::to_string(size) +
                " bytes, too short for a .npy header");
  uint64_t headerSize = readLittleEndian(&bytes[8], lengthBytes);
  if (headerSize > size - prefix)
    return fail("truncated: header is " + std::to_string(headerSize) +
                " bytes but only " + std::to_string(size - prefix) +
                " bytes follow the preamble");
  std::string header(bytes.begin() + prefix,
                     bytes.begin() + prefix + headerSize);

  bool haveDescr = false, haveOrder = false, haveShape = false;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::string entryError;
  HeaderParser parser(header);
  bool parsed =
      parser.parse([&](const std::string &key, const HeaderValue &value) {
        auto bad = [&](const std::string &what) {
          entryError = what;
          return false;
        };
        if (key == "descr") {
          if (haveDescr)
            return bad("header repeats 'descr'");
          haveDescr = true;
          std::string quoted = value.kind == HeaderValue::String
                                   ? "'" + value.text + "'"
                                   : value.text;
          if (value.kind != HeaderValue::String ||
              !dtypeForDescr(value.text, dtype))
            return bad("unsupported dtype " + quoted + " (" + kSupported + ")");
          return true;
        }
        if (key == "fortran_order") {
          if (haveOrder)
            return bad("header repeats 'fortran_order'");
          haveOrder = true;
          if (value.kind != HeaderValue::Bool)
            return bad("'fortran_order' is " + value.text +
                       ", expected True or False");
          if (value.boolean)
            return bad("fortran_order is True; only C-order arrays are "
                       "supported (save np.ascontiguousarray(a))");
          return true;
        }
        if (key == "shape") {
          if (haveShape)
            return bad("header repeats 'shape'");
          haveShape = true;
          if (value.kind != HeaderValue::Tuple)
            return bad("'shape' is " + value.text + ", expected a tuple");
          shape = value.tuple;
          return true;
        }
        return bad("unexpected key '" + key + "' in header");
      });
  if (!parsed) {
    if (!entryError.empty())
      return fail(entryError);
    return fail("malformed header: " + parser.error);
  }
  if (!haveDescr)
    return fail("header has no 'descr'");
  if (!haveOrder)
    return fail("header has no 'fortran_order'");
  if (!haveShape)
    return fail("header has no 'shape'");

  // Bound the product of the non-zero extents, not just the element count,
  // so that numElements() on this shape cannot overflow in any order.
  const uint64_t maxElements = std::numeric_limits<int64_t>::max();
  uint64_t nonZeroProduct = 1;
  bool empty = false;
  for (int64_t extent : shape) {
    if (extent == 0) {
      empty = true;
      continue;
    }
    if (nonZeroProduct > maxElements / uint64_t(extent))
      return fail("shape " + shapeString(shape) + " is too large");
    nonZeroProduct *= uint64_t(extent);
  }
  uint64_t count = empty ? 0 : nonZeroProduct;
  uint64_t elementSize = dtypeSize(dtype);
  if (count > std::numeric_limits<uint64_t>::max() / elementSize)
    return fail("shape " + shapeString(shape) + " is too large");
  uint64_t dataSize = count * elementSize;
  uint64_t available = size - prefix - headerSize;
  std::string expected = "header says " + shapeString(shape) + " " +
                         dtypeName(dtype) + " (" + std::to_string(dataSize) +
                         " bytes) but ";
  if (available < dataSize)
    return fail("truncated: " + expected + "only " + std::to_string(available) +
                " bytes of data follow");
  if (available > dataSize)
    return fail("size mismatch: " + expected + std::to_string(available) +
                " bytes of data follow");

  array.dtype = dtype;
  array.shape = std::move(shape);
  array.data.assign(bytes.begin() + prefix + headerSize, bytes.end());
  // numpy itself reads any non-zero byte as True; store the canonical 1 so
  // that later byte-wise comparisons and kernels see only 0 and 1.
  if (dtype == DType::I1)
    for (uint8_t &byte : array.data)
      byte = byte != 0;
  return true;
}

//===----------------------------------------------------------------------===//
// Writing
//===----------------------------------------------------------------------===//

std::vector<uint8_t> attn::serializeNpy(const NpyArray &array) {
  // Exactly numpy's spelling: keys sorted, Python tuple syntax for shape.
  std::string header = "{'descr': '";
  header += descrFor(array.dtype);
  header += "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < array.shape.size(); ++i) {
    if (i)
      header += ", ";
    header += std::to_string(array.shape[i]);
  }
  if (array.shape.size() == 1)
    header += ",";
  header += "), }";

  // Version 1.0 has a 16-bit header length; only a shape of thousands of
  // dimensions needs more, and then numpy too switches to 2.0.
  unsigned lengthBytes = 2;
  size_t prefix = kMagicSize + 2 + lengthBytes;
  size_t total = prefix + header.size() + 1;
  size_t padded = (total + kDataAlign - 1) / kDataAlign * kDataAlign;
  if (padded - prefix > 0xffff) {
    lengthBytes = 4;
    prefix = kMagicSize + 2 + lengthBytes;
    total = prefix + header.size() + 1;
    padded = (total + kDataAlign - 1) / kDataAlign * kDataAlign;
  }
  header.append(padded - total, ' ');
  header += '\n';

  std::vector<uint8_t> bytes;
  bytes.reserve(padded + array.data.size());
  bytes.insert(bytes.end(), kMagic, kMagic + kMagicSize);
  bytes.push_back(lengthBytes == 2 ? 1 : 2);
  bytes.push_back(0);
  uint64_t headerSize = header.size();
  for (unsigned i = 0; i < lengthBytes; ++i)
    bytes.push_back(uint8_t(headerSize >> (8 * i)));
  bytes.insert(bytes.end(), header.begin(), header.end());
  bytes.insert(bytes.end(), array.data.begin(), array.data.end());
  return bytes;
}

bool attn::readNpy(const std::string &path, NpyArray &array,
                   std::string &error) {
  std::FILE *file = std::fopen(path.c_str(), "rb");
  if (!file) {
    error = path + ": cannot open: " + std::strerror(errno);
    return false;
  }
  std::vector<uint8_t> bytes;
  uint8_t buffer[1 << 16];
  size_t got;
  while ((got = std::fread(buffer, 1, sizeof buffer, file)) > 0)
    bytes.insert(bytes.end(), buffer, buffer + got);
  // fread does not promise errno, but on POSIX it is set (e.g. EISDIR).
  int readErrno = errno;
  bool readFailed = std::ferror(file);
  std::fclose(file);
  if (readFailed) {
    error = path + ": cannot read: " + std::strerror(readErrno);
    return false;
  }
  return parseNpy(bytes, path, array, error);
}

bool attn::writeNpy(const std::string &path, const NpyArray &array,
                    std::string &error) {
  for (int64_t extent : array.shape) {
    if (extent < 0) {
      error = "cannot write " + path + ": negative extent in shape " +
              shapeString(array.shape);
      return false;
    }
  }
  uint64_t expected =
      uint64_t(numElements(array.shape)) * dtypeSize(array.dtype);
  if (array.data.size() != expected) {
    error = "cannot write " + path + ": shape " + shapeString(array.shape) +
            " " + dtypeName(array.dtype) + " needs " +
            std::to_string(expected) + " bytes but the array holds " +
            std::to_string(array.data.size());
    return false;
  }

  std::vector<uint8_t> bytes = serializeNpy(array);
  // Same directory as the target, so that rename() is atomic; pid plus a
  // counter keep concurrent writers (processes or threads) apart.
  static std::atomic<unsigned> counter{0};
  std::string temp = path + ".tmp." + std::to_string(::getpid()) + "." +
                     std::to_string(counter++);
  auto fail = [&](const char *what, int savedErrno) {
    error = path + ": " + what + ": " + std::strerror(savedErrno);
    std::remove(temp.c_str());
    return false;
  };

  std::FILE *file = std::fopen(temp.c_str(), "wb");
  if (!file) {
    error = path + ": cannot create temporary file " + temp + ": " +
            std::strerror(errno);
    return false;
  }
  size_t written = std::fwrite(bytes.data(), 1, bytes.size(), file);
  int writeErrno = errno;
  if (written != bytes.size()) {
    std::fclose(file);
    return fail("cannot write", writeErrno);
  }
  // A full disk often shows only when the buffer is flushed.
  if (std::fclose(file) != 0)
    return fail("cannot write", errno);
  if (std::rename(temp.c_str(), path.c_str()) != 0)
    return fail("cannot rename temporary file into place", errno);
  return true;
}
