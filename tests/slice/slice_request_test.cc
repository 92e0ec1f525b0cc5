// A slice request's checks (slice/slice_request.h): the terms that come out, and each bad value
// named in one line.
#include "slice/slice_request.h"

#include <gtest/gtest.h>

namespace vxpu {
namespace {

std::string Refusal(const SliceRequest& request) {
  CheckedRequest out;
  std::string error;
  EXPECT_FALSE(CheckRequest(request, 42, &out, &error));
  return error;
}

TEST(SliceRequest, AnUnnamedSliceIsNamedAfterThePidAndCarriesItsComputeTerms) {
  SliceRequest r;
  r.memory = "4GiB";
  r.compute = "30";
  r.compute_limit = "50";
  r.priority = "high";
  CheckedRequest out;
  std::string error;
  ASSERT_TRUE(CheckRequest(r, 42, &out, &error)) << error;
  EXPECT_EQ(out.slice, "run-42");
  EXPECT_EQ(out.compute.slice, "run-42");
  EXPECT_EQ(out.compute.request, 300u);
  EXPECT_EQ(out.compute.limit, 500u);
  EXPECT_TRUE(out.compute.high_priority);
  EXPECT_EQ(out.compute_limit, "50");
}

TEST(SliceRequest, StrictCapsTheCeilingAtTheGuarantee) {
  SliceRequest r;
  r.compute = "20";
  r.strict = true;
  r.name = "serve";
  r.name_given = true;
  CheckedRequest out;
  std::string error;
  ASSERT_TRUE(CheckRequest(r, 42, &out, &error)) << error;
  EXPECT_EQ(out.slice, "serve");
  EXPECT_EQ(out.compute.limit, 200u);
  EXPECT_EQ(out.compute_limit, "20");
}

TEST(SliceRequest, EachBadValueIsNamed) {
  SliceRequest none;
  EXPECT_EQ(Refusal(none), "give --memory, --compute or both");
  SliceRequest memory;
  memory.memory = "4GB";
  EXPECT_EQ(Refusal(memory).rfind("--memory: ", 0), 0u) << Refusal(memory);
  SliceRequest step;
  step.compute = "35";
  EXPECT_EQ(Refusal(step), "--compute 35 is not a multiple of the 10% step (--compute-step sets a finer one)");
  SliceRequest priority;
  priority.compute = "30";
  priority.priority = "urgent";
  EXPECT_EQ(Refusal(priority), "--priority: bad value \"urgent\" (want normal or high)");
  SliceRequest alone;
  alone.memory = "1GiB";
  alone.strict = true;
  alone.compute_limit = "50";
  EXPECT_EQ(Refusal(alone), "--compute-limit, --strict need --compute");
  SliceRequest below;
  below.compute = "40";
  below.compute_limit = "30";
  EXPECT_EQ(Refusal(below), "--compute-limit 30 is below --compute 40");
  SliceRequest name;
  name.memory = "1GiB";
  name.name = "a/b";
  name.name_given = true;
  EXPECT_EQ(Refusal(name), "--name: bad slice name \"a/b\" (want 1-64 of A-Z a-z 0-9 . _ -)");
}

}  // namespace
}  // namespace vxpu
