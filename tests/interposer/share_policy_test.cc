// The share policy's decisions, on plain accounts: least virtual time first, ceilings, and a
// high-priority slice going first only while it is at most the slack ahead.
#include "interposer/share_policy.h"

#include <gtest/gtest.h>

namespace vxpu {
namespace {

constexpr double kLeaseNs = 10e6;
constexpr double kSlackNs = 2 * kLeaseNs;  // what the arbiter passes: two leases

ShareAccount Wanting(uint32_t request, double device_ns_used, bool high = false) {
  ShareAccount a;
  a.wants = true;
  a.request = request;
  a.high_priority = high;
  a.vtime = device_ns_used / request;
  return a;
}

TEST(SharePolicy, TheSliceFurthestBehindItsShareGoesNext) {
  // 30% having used 30 ms is level with 70% having used 70 ms; 30 ms more puts it ahead.
  ShareAccount slices[] = {Wanting(300, 60e6), Wanting(700, 70e6)};
  EXPECT_EQ(PickNextSlice(slices, 2, kSlackNs), 1);
  slices[1].wants = false;
  EXPECT_EQ(PickNextSlice(slices, 2, kSlackNs), 0);  // time another leaves idle is used
}

TEST(SharePolicy, HighPriorityGoesFirstWhileAtMostTwoLeasesAhead) {
  ShareAccount slices[] = {Wanting(500, 0), Wanting(500, 0, /*high=*/true)};
  for (double ahead_ms : {0.0, 10.0, 19.9}) {
    slices[1].vtime = ahead_ms * 1e6 / 500;
    EXPECT_EQ(PickNextSlice(slices, 2, kSlackNs), 1) << ahead_ms << " ms ahead";
  }
  for (double ahead_ms : {20.1, 40.0}) {
    slices[1].vtime = ahead_ms * 1e6 / 500;
    EXPECT_EQ(PickNextSlice(slices, 2, kSlackNs), 0) << ahead_ms << " ms ahead";
  }
}

TEST(SharePolicy, ASliceOverItsCeilingWaitsEvenIfBehind) {
  ShareAccount slices[] = {Wanting(300, 0), Wanting(700, 70e6)};
  slices[0].limit = 300;
  slices[0].tokens_ns = 0;
  EXPECT_EQ(PickNextSlice(slices, 2, kSlackNs), 1);
  RefillCeiling(&slices[0], 10000000, 100000000);
  EXPECT_EQ(PickNextSlice(slices, 2, kSlackNs), 0);
  slices[1].wants = false;
  ChargeDeviceTime(&slices[0], 10000000);             // more than the 3 ms its ceiling refilled
  EXPECT_EQ(PickNextSlice(slices, 2, kSlackNs), -1);  // nobody may run: the device idles
}

}  // namespace
}  // namespace vxpu
