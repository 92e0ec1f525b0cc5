// LogLimiter: a flood of like lines is cut to a few per window, and the next line that passes
// says how many were left out; other kinds pass meanwhile.
#include "common/log_limiter.h"

#include <gtest/gtest.h>

namespace vxpu {
namespace {

using std::chrono::milliseconds;

TEST(LogLimiter, PassesABurstPerWindowAndCountsTheRest) {
  LogLimiter limiter(2, milliseconds(1000));
  auto now = LogLimiter::Clock::now();
  EXPECT_EQ(limiter.Pass("k", "one", now), "one");
  EXPECT_EQ(limiter.Pass("k", "two", now), "two");
  for (int i = 0; i < 100; ++i) EXPECT_EQ(limiter.Pass("k", "more", now + milliseconds(i)), "");
  EXPECT_EQ(limiter.Pass("other", "else", now), "else");
  EXPECT_EQ(limiter.Pass("k", "later", now + milliseconds(1000)), "later (100 like it left out)");
  EXPECT_EQ(limiter.Pass("k", "again", now + milliseconds(1001)), "again");
}

TEST(LogLimiter, ManyDistinctKindsShareOneCountPastItsMemory) {
  LogLimiter limiter(1, milliseconds(1000));
  auto now = LogLimiter::Clock::now();
  int passed = 0;
  for (int i = 0; i < 5000; ++i) passed += limiter.Pass("peer-" + std::to_string(i), "x", now).empty() ? 0 : 1;
  EXPECT_LE(passed, 1025);
}

}  // namespace
}  // namespace vxpu
