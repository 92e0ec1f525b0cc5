// `vxpu top`'s arithmetic: shares of device time between two looks at the arbiters.
#include "cli/top.h"

#include <gtest/gtest.h>

namespace vxpu {
namespace {

ComputeSliceUsage Usage(const std::string& device, const std::string& slice, double used_seconds) {
  ComputeSliceUsage u;
  u.device = device;
  u.slice = slice;
  u.used_ns = static_cast<uint64_t>(used_seconds * 1e9);
  return u;
}

TEST(TopShares, AreTheDeviceTimeEachSliceGotOverTheInterval) {
  std::vector<SliceShare> shares = SharesBetween({Usage("GPU-1", "a", 5.0), Usage("GPU-1", "b", 1.0)},
                                                 {Usage("GPU-1", "a", 5.6), Usage("GPU-1", "b", 2.4)}, 2.0);
  ASSERT_EQ(shares.size(), 2u);
  EXPECT_NEAR(*shares[0].percent, 30.0, 1e-6);
  EXPECT_NEAR(*shares[1].percent, 70.0, 1e-6);
}

TEST(TopShares, AreUnknownForASliceJustSeenOrRestarted) {
  std::vector<SliceShare> shares = SharesBetween({Usage("GPU-1", "restarted", 9.0)},
                                                 {Usage("GPU-1", "restarted", 0.5), Usage("GPU-1", "new", 0.5)}, 1.0);
  ASSERT_EQ(shares.size(), 2u);
  EXPECT_FALSE(shares[0].percent.has_value());
  EXPECT_FALSE(shares[1].percent.has_value());
}

TEST(TopShares, KeepSlicesOfOneNameOnTwoDevicesApart) {
  std::vector<SliceShare> shares = SharesBetween({Usage("GPU-1", "a", 1.0), Usage("GPU-2", "a", 3.0)},
                                                 {Usage("GPU-1", "a", 1.5), Usage("GPU-2", "a", 3.1)}, 1.0);
  ASSERT_EQ(shares.size(), 2u);
  EXPECT_NEAR(*shares[0].percent, 50.0, 1e-6);
  EXPECT_NEAR(*shares[1].percent, 10.0, 1e-6);
}

TEST(TopShares, NeverAddUpToMoreThanTheWholeDevice) {
  // 1.05 s charged over 1 s (a lease that began before the first look): scaled to 100%.
  std::vector<SliceShare> shares = SharesBetween({Usage("GPU-1", "a", 1.0), Usage("GPU-1", "b", 1.0)},
                                                 {Usage("GPU-1", "a", 1.35), Usage("GPU-1", "b", 1.7)}, 1.0);
  ASSERT_EQ(shares.size(), 2u);
  EXPECT_NEAR(*shares[0].percent + *shares[1].percent, 100.0, 1e-6);
  EXPECT_NEAR(*shares[0].percent / *shares[1].percent, 0.35 / 0.7, 1e-6);
  std::vector<SliceShare> alone = SharesBetween({Usage("GPU-2", "c", 0.0)}, {Usage("GPU-2", "c", 1.011)}, 1.0);
  EXPECT_NEAR(*alone[0].percent, 100.0, 1e-6);
}

}  // namespace
}  // namespace vxpu
