// The compute arbiter's admission, in one process: tenants and guarantees are counted, and a
// refused tenant leaves nothing behind.
#include "interposer/compute_arbiter.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <vector>

namespace vxpu {
namespace {

class ComputeArbiterTest : public ::testing::Test {
 protected:
  void SetUp() override { device_ = "GPU-a4b17e40-0000-4000-8000-" + std::to_string(getpid()); }
  void TearDown() override { ComputeArbiter::Unlink(device_); }

  std::unique_ptr<ComputeArbiter> Open(const std::string& slice, uint32_t request, std::string* error) {
    return ComputeArbiter::Open(device_, ComputeTerms{slice, request, 1000, false}, 10000000, error);
  }

  std::string device_;
};

TEST_F(ComputeArbiterTest, GuaranteesBeyondTheWholeDeviceAreRefused) {
  std::string error;
  auto a = Open("a", 600, &error);
  ASSERT_NE(a, nullptr) << error;
  EXPECT_EQ(Open("b", 500, &error), nullptr);
  EXPECT_NE(error.find("60.0% of its compute guaranteed"), std::string::npos) << error;
  EXPECT_NE(Open("b", 400, &error), nullptr) << error;
}

TEST_F(ComputeArbiterTest, ASliceRefusedForWantOfTenantsKeepsNoGuarantee) {
  std::string error;
  std::vector<std::unique_ptr<ComputeArbiter>> tenants;
  for (int i = 0; i < ComputeArbiter::kMaxTenants; ++i) {
    tenants.push_back(Open("a", 100, &error));
    ASSERT_NE(tenants.back(), nullptr) << error;
  }
  EXPECT_EQ(Open("b", 900, &error), nullptr);
  EXPECT_NE(error.find("compute tenants already"), std::string::npos) << error;
  tenants.pop_back();
  // Had "b" kept its 90%, "c" would not fit beside "a".
  EXPECT_NE(Open("c", 900, &error), nullptr) << error;
}

}  // namespace
}  // namespace vxpu
