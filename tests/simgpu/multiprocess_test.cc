// Several processes on one simulated device: time slicing, shared memory accounting and
// recovery from clients killed while holding the device. Runs the real vxpu-burn binary.
#include <cuda.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "common/shared_segment.h"
#include "sim_env.h"
#include "simgpu/shared_device.h"

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

using MultiprocessTest = simtest::PrimaryContextTest;

TEST_F(MultiprocessTest, TwoBurnsShareTheDeviceFairly) {
  auto a = StartBurn({"--seconds", "3", "--kernel-us", "1000"});
  auto b = StartBurn({"--seconds", "3", "--kernel-us", "1000"});
  nlohmann::json ra = simtest::ReportOf(*a);
  nlohmann::json rb = simtest::ReportOf(*b);
  double da = ra.value("device_seconds", 0.0), db = rb.value("device_seconds", 0.0);
  double wall = std::max(ra.value("wall_seconds", 0.0), rb.value("wall_seconds", 0.0));
  std::cout << "device seconds: " << da << " + " << db << " in " << wall << " s\n";
  RecordProperty("device_seconds_a", std::to_string(da));
  RecordProperty("device_seconds_b", std::to_string(db));
  // One device: together they cannot have had more than the wall time, and they kept it busy.
  EXPECT_LE(da + db, wall * 1.02);
  EXPECT_GE(da + db, wall * 0.8);
  ASSERT_GT(da + db, 0);
  double share = da / (da + db);
  EXPECT_GE(share, 0.4);
  EXPECT_LE(share, 0.6);
}

TEST_F(MultiprocessTest, TheDevicesStateIsItsUsersAloneAndGoesWithItsLastClient) {
  // This process is device 0's client (the fixture's context); device 1 has none.
  auto segments_of = [](int device) {
    std::vector<std::string> names;
    for (const std::string& name : vxpu::SegmentsWithPrefix("vxpu-simgpu-" + std::to_string(getuid()) + "-")) {
      if (name.find(simgpu::LoadDeviceConfig().devices.at(device).uuid) != std::string::npos) names.push_back(name);
    }
    return names;
  };
  ASSERT_EQ(segments_of(0).size(), 1u);
  struct stat st;
  ASSERT_EQ(stat(("/dev/shm/" + segments_of(0)[0]).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(segments_of(1).empty());
  auto burn = StartBurn({"--seconds", "0.2", "--device", "1"});
  EXPECT_TRUE(PollFor(milliseconds(2000), [&] { return segments_of(1).size() == 1; }));
  simtest::ReportOf(*burn);
  EXPECT_TRUE(segments_of(1).empty());  // its last client left
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

TEST_F(MultiprocessTest, AKilledHolderPassesTheDeviceOnWithinTheLivenessBound) {
  // Device 1 has a one-second quantum: a holder keeps it that long unless it dies. The victim
  // is killed the moment it takes the device from the waiting survivor.
  simgpu::DeviceSpec spec = simgpu::LoadDeviceConfig().devices.at(1);
  std::string error;
  auto device = simgpu::SharedDevice::Open(spec, &error);
  ASSERT_NE(device, nullptr) << error;
  auto victim = StartBurn({"--seconds", "30", "--kernel-us", "1000000", "--device", "1"});
  ASSERT_TRUE(PollFor(milliseconds(5000), [&] { return device->HolderPid() == victim->pid(); }));
  auto survivor = StartBurn({"--seconds", "2", "--kernel-us", "1000", "--device", "1"});
  ASSERT_TRUE(simtest::PollFast(milliseconds(5000), [&] { return device->HolderPid() == survivor->pid(); }));
  ASSERT_TRUE(simtest::PollFast(milliseconds(5000), [&] { return device->HolderPid() == victim->pid(); }));
  victim->Kill();
  auto killed_at = Clock::now();
  EXPECT_TRUE(simtest::PollFast(milliseconds(2000), [&] { return device->HolderPid() == survivor->pid(); }));
  double handover_ms = SecondsSince(killed_at) * 1000;
  std::cout << "hand-over after the holder's death: " << handover_ms << " ms\n";
  RecordProperty("handover_ms", std::to_string(handover_ms));
  // The documented bound is one liveness check (50 ms); the victim's quantum had ~1 s left.
  EXPECT_LT(handover_ms, 5 * simgpu::kLivenessCheckMs);
  EXPECT_EQ(victim->Wait(), 128 + SIGKILL);
  EXPECT_GT(simtest::ReportOf(*survivor).value("kernels", 0), 0);
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  std::vector<simtest::SimDevice> devices = {{.memory = "16GiB", .context_overhead = "0"},
                                             {.memory = "16GiB", .context_overhead = "0", .timeslice_us = 1000000}};
  ::testing::AddGlobalTestEnvironment(new simtest::SimEnvironment(devices));
  return RUN_ALL_TESTS();
}
