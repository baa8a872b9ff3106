//===- NpyTest.cpp - tests of the .npy reader and writer ------------------===//
//
// Round trips of every dtype and rank, the exact bytes numpy expects from
// a writer, headers spelled the ways other writers spell them, and the
// rejection (with a message naming the file) of everything the reader must
// not accept: bad magic, unsupported descr or version, Fortran order,
// truncated or oversized data, absurd shapes and plain garbage.
//
//===----------------------------------------------------------------------===//

#include "attn/Support/Npy.h"

#include "gtest/gtest.h"

#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace attn;

namespace {

std::vector<uint8_t> bytesOf(const std::string &text) {
  return std::vector<uint8_t>(text.begin(), text.end());
}

/// A .npy image with a hand-written header dict (padded to 64 bytes like
/// numpy does) followed by `data`.
std::vector<uint8_t> makeNpy(const std::string &dict,
                             const std::vector<uint8_t> &data,
                             unsigned major = 1) {
  unsigned lengthBytes = major == 1 ? 2 : 4;
  std::string header = dict;
  size_t prefix = 8 + lengthBytes;
  while ((prefix + header.size() + 1) % 64 != 0)
    header += ' ';
  header += '\n';
  std::string bytes = std::string("\x93NUMPY", 6);
  bytes += char(major);
  bytes += char(0);
  for (unsigned i = 0; i < lengthBytes; ++i)
    bytes += char((header.size() >> (8 * i)) & 0xff);
  bytes += header;
  std::vector<uint8_t> result = bytesOf(bytes);
  result.insert(result.end(), data.begin(), data.end());
  return result;
}

std::vector<uint8_t> iota(size_t count) {
  std::vector<uint8_t> data(count);
  for (size_t i = 0; i < count; ++i)
    data[i] = uint8_t(i * 7 + 3);
  return data;
}

NpyArray makeArray(DType dtype, std::vector<int64_t> shape) {
  NpyArray array;
  array.dtype = dtype;
  array.shape = std::move(shape);
  array.data = iota(size_t(numElements(array.shape)) * dtypeSize(dtype));
  if (dtype == DType::I1)
    for (uint8_t &byte : array.data)
      byte &= 1;
  return array;
}

/// Parses `bytes` as "x.npy" expecting failure; returns the message.
std::string parseError(const std::vector<uint8_t> &bytes) {
  NpyArray array;
  std::string error;
  EXPECT_FALSE(parseNpy(bytes, "x.npy", array, error));
  EXPECT_EQ(error.rfind("x.npy: ", 0), 0u) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  return error;
}

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

//===----------------------------------------------------------------------===//
// DType helpers
//===----------------------------------------------------------------------===//

TEST(DTypeTest, NamesSizesShapes) {
  EXPECT_STREQ(dtypeName(DType::F32), "f32");
  EXPECT_STREQ(dtypeName(DType::F16), "f16");
  EXPECT_STREQ(dtypeName(DType::BF16), "bf16");
  EXPECT_STREQ(dtypeName(DType::I1), "i1");
  EXPECT_EQ(dtypeSize(DType::F32), 4u);
  EXPECT_EQ(dtypeSize(DType::F16), 2u);
  EXPECT_EQ(dtypeSize(DType::BF16), 2u);
  EXPECT_EQ(dtypeSize(DType::I1), 1u);
  EXPECT_EQ(numElements({}), 1);
  EXPECT_EQ(numElements({4, 8}), 32);
  EXPECT_EQ(numElements({4, 0, 8}), 0);
  EXPECT_EQ(shapeString({}), "scalar");
  EXPECT_EQ(shapeString({7}), "7");
  EXPECT_EQ(shapeString({4, 8}), "4x8");
}

//===----------------------------------------------------------------------===//
// Writing and round trips
//===----------------------------------------------------------------------===//

TEST(NpyTest, RoundTripEveryDTypeAndRank) {
  for (DType dtype : {DType::F32, DType::F16, DType::BF16, DType::I1}) {
    for (const std::vector<int64_t> &shape : std::vector<std::vector<int64_t>>{
             {}, {1}, {5}, {2, 3}, {2, 3, 4}, {0}, {3, 0, 2}, {1, 1, 1, 7}}) {
      NpyArray in = makeArray(dtype, shape);
      std::vector<uint8_t> bytes = serializeNpy(in);
      NpyArray out;
      std::string error;
      ASSERT_TRUE(parseNpy(bytes, "x.npy", out, error))
          << dtypeName(dtype) << " " << shapeString(shape) << ": " << error;
      EXPECT_EQ(out.dtype, dtype);
      EXPECT_EQ(out.shape, shape);
      EXPECT_EQ(out.data, in.data);
    }
  }
}

TEST(NpyTest, WritesNumpysLayout) {
  NpyArray array = makeArray(DType::F32, {2, 3});
  std::vector<uint8_t> bytes = serializeNpy(array);
  ASSERT_GE(bytes.size(), 10u);
  EXPECT_EQ(std::string(bytes.begin(), bytes.begin() + 6), "\x93NUMPY");
  EXPECT_EQ(bytes[6], 1); // version 1.0
  EXPECT_EQ(bytes[7], 0);
  size_t headerSize = bytes[8] | (bytes[9] << 8);
  size_t dataStart = 10 + headerSize;
  EXPECT_EQ(dataStart % 64, 0u);
  ASSERT_EQ(bytes.size(), dataStart + 24);
  std::string header(bytes.begin() + 10, bytes.begin() + dataStart);
  EXPECT_EQ(header.back(), '\n');
  EXPECT_EQ(header.rfind("{'descr': '<f4', 'fortran_order': False, "
                         "'shape': (2, 3), }",
                         0),
            0u)
      << header;
  EXPECT_EQ(header.find_first_not_of(' ', header.find('}') + 1),
            header.size() - 1)
      << "only spaces pad the header";
  EXPECT_TRUE(std::equal(array.data.begin(), array.data.end(),
                         bytes.begin() + dataStart));
}

TEST(NpyTest, WritesDescrAndShapeSpelling) {
  auto header = [](DType dtype, std::vector<int64_t> shape) {
    std::vector<uint8_t> bytes = serializeNpy(makeArray(dtype, shape));
    return std::string(bytes.begin() + 10, bytes.begin() + 10 + bytes[8]);
  };
  EXPECT_TRUE(contains(header(DType::F16, {3}), "'descr': '<f2'"));
  EXPECT_TRUE(contains(header(DType::BF16, {3}), "'descr': '|V2'"));
  EXPECT_TRUE(contains(header(DType::I1, {3}), "'descr': '|b1'"));
  EXPECT_TRUE(contains(header(DType::F32, {}), "'shape': (), }"));
  EXPECT_TRUE(contains(header(DType::F32, {3}), "'shape': (3,), }"));
  EXPECT_TRUE(contains(header(DType::F32, {1, 2, 3}), "'shape': (1, 2, 3), }"));
}

TEST(NpyTest, ManyDimensionsStillAlign) {
  // Long headers cross several 64-byte blocks; the data must stay aligned.
  NpyArray array = makeArray(DType::F16, std::vector<int64_t>(40, 1));
  std::vector<uint8_t> bytes = serializeNpy(array);
  size_t headerSize = bytes[8] | (bytes[9] << 8);
  EXPECT_EQ((10 + headerSize) % 64, 0u);
  EXPECT_GT(headerSize, 64u);
  NpyArray out;
  std::string error;
  ASSERT_TRUE(parseNpy(bytes, "x.npy", out, error)) << error;
  EXPECT_EQ(out.shape, array.shape);
}

//===----------------------------------------------------------------------===//
// Headers as other writers spell them
//===----------------------------------------------------------------------===//

TEST(NpyTest, AcceptsHeaderVariants) {
  struct Case {
    const char *dict;
    DType dtype;
    std::vector<int64_t> shape;
  };
  std::vector<Case> cases = {
      {"{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}",
       DType::F32,
       {2, 3}},
      {"{\"descr\": \"<f2\", \"fortran_order\": False, \"shape\": (4,)}",
       DType::F16,
       {4}},
      {"{ 'descr' : '<f4' ,\n 'fortran_order' :False,'shape':(2,3) , }",
       DType::F32,
       {2, 3}},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': ( ), }",
       DType::F32,
       {}},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3L, 2L), }",
       DType::F32,
       {3, 2}},
      {"{'descr': '<V2', 'fortran_order': False, 'shape': (2,), }",
       DType::BF16,
       {2}},
      {"{'descr': '|V2', 'fortran_order': False, 'shape': (2,), }",
       DType::BF16,
       {2}},
      {"{'descr': '<b1', 'fortran_order': False, 'shape': (2,), }",
       DType::I1,
       {2}},
      {"{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }",
       DType::I1,
       {2}},
  };
  for (const Case &c : cases) {
    size_t size = size_t(numElements(c.shape)) * dtypeSize(c.dtype);
    std::vector<uint8_t> data(size, 1);
    NpyArray out;
    std::string error;
    ASSERT_TRUE(parseNpy(makeNpy(c.dict, data), "x.npy", out, error))
        << c.dict << ": " << error;
    EXPECT_EQ(out.dtype, c.dtype) << c.dict;
    EXPECT_EQ(out.shape, c.shape) << c.dict;
    EXPECT_EQ(out.data, data) << c.dict;
  }
}

TEST(NpyTest, ReadsVersions2And3) {
  std::vector<uint8_t> data = iota(12);
  for (unsigned major : {2u, 3u}) {
    NpyArray out;
    std::string error;
    ASSERT_TRUE(parseNpy(
        makeNpy("{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }",
                data, major),
        "x.npy", out, error))
        << error;
    EXPECT_EQ(out.dtype, DType::F16);
    EXPECT_EQ(out.shape, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(out.data, data);
  }
}

TEST(NpyTest, NormalisesBooleans) {
  NpyArray out;
  std::string error;
  ASSERT_TRUE(parseNpy(
      makeNpy("{'descr': '|b1', 'fortran_order': False, 'shape': (4,), }",
              {0, 1, 2, 255}),
      "x.npy", out, error))
      << error;
  EXPECT_EQ(out.data, (std::vector<uint8_t>{0, 1, 1, 1}));
}

//===----------------------------------------------------------------------===//
// Rejections
//===----------------------------------------------------------------------===//

const char *const kGoodDict =
    "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 8), }";

TEST(NpyTest, RejectsBadMagic) {
  std::vector<uint8_t> bytes = makeNpy(kGoodDict, iota(128));
  bytes[1] = 'X';
  EXPECT_TRUE(contains(parseError(bytes), "bad magic"));
  EXPECT_TRUE(contains(parseError(bytesOf("hello, world")), "bad magic"));
  EXPECT_TRUE(contains(parseError(bytesOf("PK\x03\x04")), "bad magic"));
}

TEST(NpyTest, RejectsShortFiles) {
  EXPECT_EQ(parseError({}),
            "x.npy: truncated: 0 bytes, too short for a .npy header");
  EXPECT_TRUE(contains(parseError(bytesOf(std::string("\x93NUMPY\x01", 7))),
                       "truncated"));
  // Header length larger than the file.
  std::vector<uint8_t> bytes = makeNpy(kGoodDict, {});
  bytes.resize(40);
  EXPECT_EQ(parseError(bytes), "x.npy: truncated: header is 118 bytes but "
                               "only 30 bytes follow the preamble");
}

TEST(NpyTest, RejectsTruncatedData) {
  EXPECT_EQ(parseError(makeNpy(kGoodDict, iota(100))),
            "x.npy: truncated: header says 4x8 f32 (128 bytes) but only 100 "
            "bytes of data follow");
  EXPECT_EQ(
      parseError(makeNpy(
          "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", {})),
      "x.npy: truncated: header says scalar f32 (4 bytes) but only 0 bytes "
      "of data follow");
  EXPECT_EQ(parseError(makeNpy(kGoodDict, iota(129))),
            "x.npy: size mismatch: header says 4x8 f32 (128 bytes) but 129 "
            "bytes of data follow");
}

TEST(NpyTest, TruncationAtEveryLengthFails) {
  std::vector<uint8_t> bytes = serializeNpy(makeArray(DType::BF16, {3, 5}));
  for (size_t length = 0; length < bytes.size(); ++length) {
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + length);
    NpyArray out;
    std::string error;
    EXPECT_FALSE(parseNpy(prefix, "x.npy", out, error)) << length;
    EXPECT_EQ(error.rfind("x.npy: ", 0), 0u) << error;
  }
}

TEST(NpyTest, RejectsUnsupportedDescr) {
  for (const char *descr :
       {"<f8", ">f4", "<i4", "<u2", ">f2", "f4", "|u1", "<V4", "<c8", "O"}) {
    std::string dict = std::string("{'descr': '") + descr +
                       "', 'fortran_order': False, 'shape': (2,), }";
    std::string error = parseError(makeNpy(dict, iota(16)));
    EXPECT_TRUE(contains(error, std::string("'") + descr + "'")) << error;
    EXPECT_TRUE(contains(error, "unsupported dtype")) << error;
    EXPECT_TRUE(contains(error, "'<f4' f32")) << error;
    EXPECT_TRUE(contains(error, "'|V2' bf16")) << error;
  }
  // Structured dtypes have a list as descr.
  std::string error = parseError(
      makeNpy("{'descr': [('a', '<f4'), ('b', '<f4')], 'fortran_order': "
              "False, 'shape': (2,), }",
              iota(16)));
  EXPECT_TRUE(contains(error, "unsupported dtype [('a', '<f4'), ('b', '<f4')]"))
      << error;
}

TEST(NpyTest, RejectsFortranOrder) {
  std::string error = parseError(makeNpy(
      "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", iota(24)));
  EXPECT_TRUE(contains(error, "fortran_order is True")) << error;
}

TEST(NpyTest, RejectsUnknownVersion) {
  std::vector<uint8_t> bytes = makeNpy(kGoodDict, iota(128));
  bytes[6] = 4;
  EXPECT_EQ(parseError(bytes), "x.npy: unsupported .npy format version 4.0 "
                               "(1.0, 2.0 and 3.0 are read)");
  bytes[6] = 1;
  bytes[7] = 1;
  EXPECT_TRUE(contains(parseError(bytes), "version 1.1"));
}

TEST(NpyTest, RejectsMalformedHeaders) {
  struct Case {
    const char *dict;
    const char *message;
  };
  std::vector<Case> cases = {
      {"{'descr': '<f4', 'fortran_order': False}", "header has no 'shape'"},
      {"{'fortran_order': False, 'shape': (2,)}", "header has no 'descr'"},
      {"{'descr': '<f4', 'shape': (2,)}", "header has no 'fortran_order'"},
      {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, "
       "'shape': (2,)}",
       "header repeats 'descr'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}",
       "unexpected key 'x' in header"},
      {"{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}",
       "'fortran_order' is 0, expected True or False"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': [2]}",
       "'shape' is [2], expected a tuple"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}",
       "negative extent in shape"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, x)}",
       "expected an integer in shape"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,", "malformed"},
      {"{'descr': '<f4", "unterminated string"},
      {"'descr': '<f4'", "expected '{'"},
      {"{'descr' '<f4'}", "expected ':'"},
      {"{'descr': '<f4' 'shape': (2,)}", "expected ',' or '}'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} junk",
       "unexpected text after '}'"},
      {"", "expected '{'"},
      {"{'descr': '<f4', 'fortran_order': False, "
       "'shape': (99999999999999999999,)}",
       "extent too large"},
  };
  for (const Case &c : cases) {
    std::string error = parseError(makeNpy(c.dict, iota(8)));
    EXPECT_TRUE(contains(error, c.message)) << c.dict << " -> " << error;
  }
}

TEST(NpyTest, RejectsHugeShapesWithoutOverflow) {
  // Each of these multiplies past 2^63 (or past 2^64 in bytes); none may
  // wrap around to a small size that happens to match the data.
  for (const char *shape :
       {"(4611686018427387904, 4)", "(4294967296, 4294967296)",
        "(4294967296, 4294967296, 0)", "(9223372036854775807, 2)",
        "(3, 3074457345618258603)"}) {
    std::string dict = std::string("{'descr': '<f4', 'fortran_order': "
                                   "False, 'shape': ") +
                       shape + ", }";
    std::string error = parseError(makeNpy(dict, {}));
    EXPECT_TRUE(contains(error, "is too large")) << shape << ": " << error;
  }
  // 2^62 f32 elements fit in int64 but are 2^64 bytes.
  std::string error =
      parseError(makeNpy("{'descr': '<f4', 'fortran_order': False, 'shape': "
                         "(4611686018427387904,), }",
                         {}));
  EXPECT_TRUE(contains(error, "is too large")) << error;
  // Large but representable: reported as truncated, not allocated.
  error = parseError(
      makeNpy("{'descr': '<f2', 'fortran_order': False, 'shape': (1000000000, "
              "1000), }",
              iota(8)));
  EXPECT_TRUE(contains(error, "truncated: header says 1000000000x1000 f16 "
                              "(2000000000000 bytes)"))
      << error;
}

TEST(NpyTest, GarbageNeverCrashes) {
  // Deterministic pseudo-random corruption of a valid file: every outcome
  // is either a clean parse or a one-line error, and a parse only
  // succeeds with a self-consistent array.
  std::vector<uint8_t> valid = serializeNpy(makeArray(DType::F16, {3, 4}));
  uint64_t state = 12345;
  auto next = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return uint32_t(state >> 33);
  };
  for (int trial = 0; trial < 20000; ++trial) {
    std::vector<uint8_t> bytes = valid;
    unsigned flips = 1 + next() % 4;
    for (unsigned f = 0; f < flips; ++f)
      bytes[next() % bytes.size()] = uint8_t(next());
    if (next() % 4 == 0)
      bytes.resize(next() % bytes.size());
    NpyArray out;
    std::string error;
    if (parseNpy(bytes, "x.npy", out, error)) {
      ASSERT_EQ(out.data.size(),
                size_t(numElements(out.shape)) * dtypeSize(out.dtype));
    } else {
      ASSERT_EQ(error.rfind("x.npy: ", 0), 0u) << error;
    }
  }
}

//===----------------------------------------------------------------------===//
// Files
//===----------------------------------------------------------------------===//

class NpyFileTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string base = ::testing::TempDir();
    if (base.empty() || base.back() != '/')
      base += '/';
    dir = base + "attn-npy-test-" + std::to_string(::getpid());
    ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0) << dir;
  }
  void TearDown() override {
    for (const std::string &name : listDir())
      std::remove((dir + "/" + name).c_str());
    ::rmdir(dir.c_str());
  }
  std::vector<std::string> listDir() const {
    std::vector<std::string> names;
    if (DIR *handle = ::opendir(dir.c_str())) {
      while (dirent *entry = ::readdir(handle))
        if (std::strcmp(entry->d_name, ".") && std::strcmp(entry->d_name, ".."))
          names.push_back(entry->d_name);
      ::closedir(handle);
    }
    return names;
  }
  std::string dir;
};

TEST_F(NpyFileTest, WriteThenRead) {
  std::string path = dir + "/a.npy";
  NpyArray in = makeArray(DType::F32, {2, 5});
  std::string error;
  ASSERT_TRUE(writeNpy(path, in, error)) << error;
  NpyArray out;
  ASSERT_TRUE(readNpy(path, out, error)) << error;
  EXPECT_EQ(out.dtype, in.dtype);
  EXPECT_EQ(out.shape, in.shape);
  EXPECT_EQ(out.data, in.data);

  // Overwriting replaces the file and leaves no temporary behind.
  NpyArray other = makeArray(DType::I1, {7});
  ASSERT_TRUE(writeNpy(path, other, error)) << error;
  ASSERT_TRUE(readNpy(path, out, error)) << error;
  EXPECT_EQ(out.dtype, DType::I1);
  EXPECT_EQ(out.data, other.data);
  EXPECT_EQ(listDir(), std::vector<std::string>{"a.npy"});
}

TEST_F(NpyFileTest, ReadErrorsNameThePath) {
  NpyArray out;
  std::string error;
  std::string missing = dir + "/missing.npy";
  EXPECT_FALSE(readNpy(missing, out, error));
  EXPECT_EQ(error, missing + ": cannot open: No such file or directory");

  EXPECT_FALSE(readNpy(dir, out, error));
  EXPECT_EQ(error.rfind(dir + ": ", 0), 0u) << error;

  std::string bad = dir + "/bad.npy";
  std::FILE *file = std::fopen(bad.c_str(), "wb");
  ASSERT_TRUE(file);
  std::fputs("not numpy", file);
  std::fclose(file);
  EXPECT_FALSE(readNpy(bad, out, error));
  EXPECT_EQ(error, bad + ": not a .npy file (bad magic)");
}

TEST_F(NpyFileTest, WriteErrors) {
  std::string error;
  std::string path = dir + "/no/such/dir/a.npy";
  EXPECT_FALSE(writeNpy(path, makeArray(DType::F16, {2}), error));
  EXPECT_EQ(error.rfind(path + ": ", 0), 0u) << error;
  EXPECT_TRUE(contains(error, "No such file or directory")) << error;

  // Renaming over a directory fails after the temporary was written; the
  // temporary must be cleaned up.
  std::string sub = dir + "/sub";
  ASSERT_EQ(::mkdir(sub.c_str(), 0700), 0);
  ASSERT_EQ(::mkdir((sub + "/x.npy").c_str(), 0700), 0);
  EXPECT_FALSE(writeNpy(sub + "/x.npy", makeArray(DType::F16, {2}), error));
  EXPECT_TRUE(contains(error, "rename")) << error;
  ::rmdir((sub + "/x.npy").c_str());
  EXPECT_EQ(::rmdir(sub.c_str()), 0) << "temporary left behind";

  NpyArray wrong = makeArray(DType::F32, {2, 3});
  wrong.data.pop_back();
  EXPECT_FALSE(writeNpy(dir + "/w.npy", wrong, error));
  EXPECT_TRUE(contains(error, "needs 24 bytes but the array holds 23"))
      << error;
  EXPECT_TRUE(listDir().empty());
}

} // namespace
