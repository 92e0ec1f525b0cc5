// The compute arbiter's admission, in one process: tenants and guarantees are counted, and a
// refused tenant leaves nothing behind.
#include "interposer/compute_arbiter.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
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

TEST_F(ComputeArbiterTest, ItsSegmentIsItsUsersAloneAndGoesWithItsLastTenant) {
  const std::string file = "/dev/shm/vxpu-compute-" + std::to_string(getuid()) + "-" + device_;
  std::string error;
  mode_t old_umask = umask(0);  // the mode must come from the arbiter, not from the umask
  auto a = Open("a", 300, &error);
  auto b = Open("b", 300, &error);
  umask(old_umask);
  ASSERT_NE(a, nullptr) << error;
  ASSERT_NE(b, nullptr) << error;
  struct stat st;
  ASSERT_EQ(stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  a.reset();
  EXPECT_EQ(stat(file.c_str(), &st), 0);
  b.reset();
  EXPECT_NE(stat(file.c_str(), &st), 0);
}

}  // namespace
}  // namespace vxpu
