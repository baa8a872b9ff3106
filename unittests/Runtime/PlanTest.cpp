//===- PlanTest.cpp - the launch plan's text form -------------------------===//
//
// The plan's printer and parser (runtime/src/Plan.cpp): a plan with tensor
// maps and scalars survives a round trip, and malformed launches are
// rejected with the line they are on.
//
//===----------------------------------------------------------------------===//

#include "Plan.h"

#include <gtest/gtest.h>

using namespace attnc::rt;

namespace {

const char *kPlan = "attnc-plan 4\n"
                    "arch sm_90a\n"
                    "entry g\n"
                    "buffer 0 input 0 bf16 [37,200] a\n"
                    "buffer 1 input 1 bf16 [200,72] b\n"
                    "buffer 2 output 0 f32 [37,72] c\n"
                    "launch attnc_k0 gemm grid 1 1 1 block 256 1 1 smem 99392 "
                    "coop 0 args 2 0 1 aligned 1 2 maps 1:1:37:200:64:64 "
                    "2:1:200:72:64:64 "
                    "scalars 4 0 8589934592\n"
                    "end\n";

std::string withLaunch(const std::string &launch) {
  std::string text = kPlan;
  size_t at = text.find("launch");
  size_t end = text.find('\n', at);
  return text.substr(0, at) + launch + text.substr(end);
}

TEST(PlanTest, TensorMapsRoundTrip) {
  Plan plan;
  std::string error;
  ASSERT_TRUE(parsePlan(kPlan, &plan, &error)) << error;
  ASSERT_EQ(plan.steps.size(), 1u);
  const PlanStep &step = plan.steps[0];
  ASSERT_EQ(step.args.size(), 3u);
  ASSERT_EQ(step.maps.size(), 2u);
  EXPECT_EQ(step.aligned, (std::vector<int>{1, 2}));
  EXPECT_EQ(step.maps[0].arg, 1);
  EXPECT_EQ(step.maps[0].rows, 37);
  EXPECT_EQ(step.maps[0].cols, 200);
  EXPECT_EQ(step.maps[0].boxRows, 64);
  EXPECT_EQ(step.maps[0].boxCols, 64);
  EXPECT_EQ(step.maps[0].type, ElementType::BF16);
  EXPECT_EQ(step.maps[1].rows, 200);
  EXPECT_EQ(step.scalars, (std::vector<int64_t>{4, 0, int64_t(1) << 33}));
  EXPECT_EQ(printPlan(plan), kPlan);
}

TEST(PlanTest, RejectsBadTensorMaps) {
  struct Case {
    const char *launch, *message;
  } cases[] = {
      // Map over an argument the launch does not have.
      {"launch k gemm grid 1 1 1 block 1 1 1 smem 0 coop 0 args 2 0 1 maps "
       "3:1:37:200:64:64",
       "names no argument"},
      // A box the 128-byte swizzle cannot copy (32 columns of 2 bytes).
      {"launch k gemm grid 1 1 1 block 1 1 1 smem 0 coop 0 args 2 0 1 maps "
       "1:1:37:200:64:32",
       "names no argument"},
      // Too few fields.
      {"launch k gemm grid 1 1 1 block 1 1 1 smem 0 coop 0 args 2 0 1 maps "
       "1:1:37:200",
       "bad tensor map"},
      // Larger than its buffer.
      {"launch k gemm grid 1 1 1 block 1 1 1 smem 0 coop 0 args 2 0 1 maps "
       "1:1:38:200:64:64",
       "does not fit"},
      // Over an f32 buffer.
      {"launch k gemm grid 1 1 1 block 1 1 1 smem 0 coop 0 args 2 0 1 maps "
       "0:1:37:72:64:64",
       "does not fit it or is not f16/bf16"},
      // Not a buffer id.
      {"launch k gemm grid 1 1 1 block 1 1 1 smem 0 coop 0 args 2 x 1",
       "bad buffer id 'x'"},
      // An argument index past what an int holds, which must not wrap.
      {"launch k gemm grid 1 1 1 block 1 1 1 smem 0 coop 0 args 2 0 1 maps "
       "4294967295:1:37:200:64:64",
       "bad tensor map"},
      // A buffer id that would wrap to a valid one.
      {"launch k gemm grid 1 1 1 block 1 1 1 smem 0 coop 0 args 2 4294967297 1",
       "bad buffer id"},
      // Extents whose product overflows 64 bits.
      {"launch k gemm grid 1 1 1 block 1 1 1 smem 0 coop 0 args 2 0 1 maps "
       "1:1048576:1099511627776:16777216:64:64",
       "does not fit"},
      // An empty field, a sign, an empty list.
      {"launch k gemm grid 1 1 1 block 1 1 1 smem 0 coop 0 args 2 0 1 maps "
       "1:1:37:200:64:64:",
       "bad tensor map"},
      {"launch k gemm grid 1 1 1 block 1 1 1 smem 0 coop 0 args 2 +0 1",
       "bad buffer id"},
      {"launch k gemm grid 1 1 1 block 1 1 1 smem 0 coop 0 args 2 0 1 maps",
       "lists no tensor map"},
      // Scalars: not integers, out of range, none, or before the maps.
      {"launch k gemm grid 1 1 1 block 1 1 1 smem 0 coop 0 args 2 0 1 scalars "
       "1 x",
       "bad scalar 'x'"},
      {"launch k gemm grid 1 1 1 block 1 1 1 smem 0 coop 0 args 2 0 1 scalars "
       "99999999999999999999",
       "bad scalar"},
      {"launch k gemm grid 1 1 1 block 1 1 1 smem 0 coop 0 args 2 0 1 scalars",
       "lists no value"},
      {"launch k gemm grid 1 1 1 block 1 1 1 smem 0 coop 0 args 2 0 1 scalars "
       "4 -1",
       "bad scalar '-1'"},
      {"launch k gemm grid 1 1 1 block 1 1 1 smem 0 coop 0 args 2 0 1 scalars "
       "1 maps 1:1:37:200:64:64",
       "bad scalar 'maps'"},
      // Aligned arguments: past the arguments, not a number, none, or
      // after the maps.
      {"launch k gemm grid 1 1 1 block 1 1 1 smem 0 coop 0 args 2 0 1 aligned 3",
       "'aligned' names no argument: '3'"},
      {"launch k gemm grid 1 1 1 block 1 1 1 smem 0 coop 0 args 2 0 1 aligned x",
       "'aligned' names no argument: 'x'"},
      {"launch k gemm grid 1 1 1 block 1 1 1 smem 0 coop 0 args 2 0 1 aligned",
       "'aligned' lists no argument"},
      {"launch k gemm grid 1 1 1 block 1 1 1 smem 0 coop 0 args 2 0 1 maps "
       "1:1:37:200:64:64 aligned 1",
       "bad tensor map 'aligned'"},
  };
  for (const Case &c : cases) {
    Plan plan;
    std::string error;
    EXPECT_FALSE(parsePlan(withLaunch(c.launch), &plan, &error)) << c.launch;
    EXPECT_NE(error.find(c.message), std::string::npos)
        << c.launch << " gave: " << error;
  }
}

TEST(PlanTest, VersionOnePlansStillRead) {
  std::string text = kPlan;
  text.replace(text.find("attnc-plan 4"), 12, "attnc-plan 1");
  text.replace(text.find(" aligned 1 2"), 12, "");
  text.replace(text.find(" scalars 4 0 8589934592"), 23, "");
  Plan plan;
  std::string error;
  EXPECT_TRUE(parsePlan(text, &plan, &error)) << error;
  text.replace(text.find("attnc-plan 1"), 12, "attnc-plan 5");
  EXPECT_FALSE(parsePlan(text, &plan, &error));
  EXPECT_NE(error.find("version 5"), std::string::npos) << error;
}

TEST(PlanTest, LaunchesOfOneKernelPassTheSameParameters) {
  std::string text = kPlan;
  size_t end = text.find("end\n");
  text.insert(end, "launch attnc_k0 gemm grid 1 1 1 block 256 1 1 smem 0 "
                   "coop 0 args 2 0 1 maps 1:1:37:200:64:64 "
                   "2:1:200:72:64:64 scalars 4 1\n");
  Plan plan;
  std::string error;
  EXPECT_FALSE(parsePlan(text, &plan, &error));
  EXPECT_NE(error.find("different numbers of parameters"), std::string::npos)
      << error;
}

} // namespace
