// Several processes on one simulated device: time slicing, shared memory accounting and
// recovery from clients killed while holding the device. Runs the real vxpu-burn binary.
#include <cuda.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "sim_env.h"

namespace {

using simtest::FreeMemory;
using simtest::PollFor;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr uint64_t kGiB = 1ull << 30;

double SecondsSince(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

std::unique_ptr<vxpu::ChildProcess> StartBurn(std::vector<std::string> args) {
  args.insert(args.begin(), VXPU_BIN_DIR "/vxpu-burn");
  return simtest::StartOnSimgpu(args);
}

// The number after "key": in burn's one-line JSON report, or -1 if absent.
long long JsonNumber(const std::string& json, const std::string& key) {
  size_t at = json.find("\"" + key + "\":");
  if (at == std::string::npos) return -1;
  return std::strtoll(json.c_str() + at + key.size() + 3, nullptr, 10);
}

// Waits for burn to finish successfully and returns the kernels it reports.
long long KernelsOf(vxpu::ChildProcess& burn) {
  EXPECT_EQ(burn.Wait(), 0) << "output: " << burn.output();
  return JsonNumber(burn.output(), "kernels");
}

using MultiprocessTest = simtest::PrimaryContextTest;

TEST_F(MultiprocessTest, TwoBurnsShareTheDeviceFairly) {
  auto a = StartBurn({"--seconds", "3", "--kernel-us", "1000"});
  auto b = StartBurn({"--seconds", "3", "--kernel-us", "1000"});
  long long ka = KernelsOf(*a);
  long long kb = KernelsOf(*b);
  ASSERT_GT(ka, 0);
  ASSERT_GT(kb, 0);
  double share = static_cast<double>(ka) / static_cast<double>(ka + kb);
  std::cout << "kernels: " << ka << " + " << kb << ", first burn's share " << share << "\n";
  RecordProperty("kernels_a", std::to_string(ka));
  RecordProperty("kernels_b", std::to_string(kb));
  EXPECT_GE(share, 0.35);
  EXPECT_LE(share, 0.65);
}

TEST_F(MultiprocessTest, AnotherProcessesMemoryIsVisibleAndReclaimedWhenItDies) {
  size_t before = FreeMemory();
  auto burn = StartBurn({"--seconds", "30", "--memory", "1024"});
  EXPECT_TRUE(PollFor(milliseconds(2000), [&] { return FreeMemory() + kGiB <= before; }))
      << "free stayed at " << FreeMemory() << " of " << before;

  burn->Kill();
  auto killed_at = Clock::now();
  bool reclaimed = PollFor(milliseconds(1000), [&] { return FreeMemory() == before; });
  double seconds = SecondsSince(killed_at);
  std::cout << "memory of the killed burn reclaimed after " << seconds * 1000 << " ms\n";
  RecordProperty("reclaim_ms", std::to_string(seconds * 1000));
  EXPECT_TRUE(reclaimed) << "free " << FreeMemory() << ", expected " << before;
  burn->Wait();
}

TEST_F(MultiprocessTest, KilledHolderDoesNotStallOthers) {
  auto start = Clock::now();
  auto victim = StartBurn({"--seconds", "4", "--kernel-us", "1000"});
  auto survivor = StartBurn({"--seconds", "2", "--kernel-us", "1000"});
  std::this_thread::sleep_for(milliseconds(500));
  victim->Kill();
  long long kernels = KernelsOf(*survivor);
  double wall = SecondsSince(start);
  std::cout << "survivor finished after " << wall << " s with " << kernels << " kernels\n";
  EXPECT_GT(kernels, 0);
  EXPECT_LT(wall, 4.0);
  EXPECT_EQ(victim->Wait(), 128 + SIGKILL);
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  std::vector<simtest::SimDevice> devices = {{.memory = "16GiB", .context_overhead = "0"}};
  ::testing::AddGlobalTestEnvironment(new simtest::SimEnvironment(devices));
  return RUN_ALL_TESTS();
}
