// remoted's admission policy (remote/server/admission.h): pending connections are not sessions,
// one address's pending ones are capped, wrong tokens bar an address for doubling times.
#include "remote/server/admission.h"

#include <gtest/gtest.h>

namespace vxpu::remote {
namespace {

using std::chrono::milliseconds;

TEST(Admission, PendingConnectionsAreNotSessions) {
  Admission a(/*max_sessions=*/1);
  auto now = Admission::Clock::now();
  for (int i = 0; i < Admission::kMaxPendingPerPeer; ++i) EXPECT_TRUE(a.Connect("10.0.0.9", now).taken);
  EXPECT_EQ(a.Connect("10.0.0.9", now).why, "10.0.0.9 has 8 connections waiting to say Hello already");
  EXPECT_EQ(a.sessions(), 0);
  EXPECT_TRUE(a.Connect("10.0.0.1", now).taken);  // another address is not held up
  EXPECT_TRUE(a.Authenticated("10.0.0.1"));
  EXPECT_EQ(a.sessions(), 1);
  EXPECT_TRUE(a.Connect("10.0.0.1", now).taken);
  EXPECT_FALSE(a.Authenticated("10.0.0.1"));  // no room: --max-sessions counts sessions only
  a.SessionEnded();
  a.LeftPending("10.0.0.9");
  EXPECT_TRUE(a.Connect("10.0.0.9", now).taken);
  EXPECT_EQ(a.pending(), Admission::kMaxPendingPerPeer);
}

TEST(Admission, TheServerAsAWholeHasACapOnPendingConnections) {
  Admission a(4);
  auto now = Admission::Clock::now();
  for (int i = 0; i < Admission::kMaxPending; ++i) ASSERT_TRUE(a.Connect("10.1." + std::to_string(i), now).taken);
  EXPECT_EQ(a.Connect("10.2.0.1", now).why, "the server has 128 connections waiting to say Hello already");
}

TEST(Admission, WrongTokensBarTheAddressForDoublingTimesThenAreForgiven) {
  Admission a(4);
  auto now = Admission::Clock::now();
  for (int i = 0; i < Admission::kFreeFailures; ++i) {
    ASSERT_TRUE(a.Connect("10.0.0.5", now).taken);
    a.AuthenticationFailed("10.0.0.5", now);
  }
  EXPECT_TRUE(a.Connect("10.0.0.5", now).taken);  // three mistakes are free
  a.AuthenticationFailed("10.0.0.5", now);
  Admission::Verdict barred = a.Connect("10.0.0.5", now + milliseconds(100));
  EXPECT_TRUE(barred.barred);
  EXPECT_EQ(barred.why, "too many wrong tokens from 10.0.0.5; try again in 1 s");
  EXPECT_TRUE(a.Connect("10.0.0.6", now + milliseconds(100)).taken);  // only that address
  now += milliseconds(250);
  ASSERT_TRUE(a.Connect("10.0.0.5", now).taken);
  a.AuthenticationFailed("10.0.0.5", now);
  EXPECT_FALSE(a.Connect("10.0.0.5", now + milliseconds(499)).taken);  // 500 ms now
  EXPECT_TRUE(a.Connect("10.0.0.5", now + milliseconds(500)).taken);
  a.LeftPending("10.0.0.5");
  for (int i = 0; i < 30; ++i) a.AuthenticationFailed("10.0.0.5", now);
  EXPECT_EQ(a.Connect("10.0.0.5", now + milliseconds(29000)).why,
            "too many wrong tokens from 10.0.0.5; try again in 1 s");
  EXPECT_TRUE(a.Connect("10.0.0.5", now + Admission::kLongestWait).taken);  // capped
  a.LeftPending("10.0.0.5");
  // A right token clears the record.
  a.AuthenticationFailed("10.0.0.5", now + Admission::kLongestWait);
  ASSERT_TRUE(a.Connect("10.0.0.5", now + 2 * Admission::kLongestWait).taken);
  EXPECT_TRUE(a.Authenticated("10.0.0.5"));
  ASSERT_TRUE(a.Connect("10.0.0.5", now + 2 * Admission::kLongestWait).taken);
  a.AuthenticationFailed("10.0.0.5", now + 2 * Admission::kLongestWait);
  EXPECT_TRUE(a.Connect("10.0.0.5", now + 2 * Admission::kLongestWait).taken);
}

}  // namespace
}  // namespace vxpu::remote
