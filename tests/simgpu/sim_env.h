// Test fixture support: gives a test binary its own simulated devices (unique UUIDs, so test
// binaries running in parallel never share device state) through VXPU_SIMGPU_CONFIG.
#pragma once

#include <cuda.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/child_process.h"
#include "common/json_line.h"
#include "common/shared_segment.h"
#include "simgpu/device_config.h"
#ifdef VXPU_REMOTE_CLIENT_DIR
#include "../remote/remote_server.h"
#endif

namespace simtest {

struct SimDevice {
  std::string memory = "80GiB";
  std::string context_overhead = "0";
  int sm_count = 132;
  std::string name = "NVIDIA H100 80GB HBM3";
  unsigned timeslice_us = 0;  // 0: simgpu's default quantum
};

inline std::string UniqueUuid(int index) {
  char text[64];
  std::snprintf(text, sizeof(text), "GPU-7e570000-%04x-4000-8000-%012x", index & 0xffff,
                static_cast<unsigned>(getpid()));
  return text;
}

// True when this test binary runs through the remote client (LD_LIBRARY_PATH puts its
// libcuda.so.1 first): the devices are then served by a vxpu remoted on loopback.
inline bool ThroughRemote() {
#ifdef VXPU_REMOTE_CLIENT_DIR
  const char* path = std::getenv("LD_LIBRARY_PATH");
  return path != nullptr && std::string(path).rfind(VXPU_REMOTE_CLIENT_DIR, 0) == 0;
#else
  return false;
#endif
}

// Writes a config with `devices`, points VXPU_SIMGPU_CONFIG at it, and removes the shared
// segments when the test binary ends. Install before the first cuInit of the process.
// Through remote, it also starts the server on those devices and points the client at it.
class SimEnvironment : public ::testing::Environment {
 public:
  explicit SimEnvironment(std::vector<SimDevice> devices) : devices_(std::move(devices)) {}

  void SetUp() override {
    path_ = "/tmp/vxpu-simgpu-test-" + std::to_string(getpid()) + ".json";
    std::ofstream out(path_);
    out << "{\"devices\":[";
    for (size_t i = 0; i < devices_.size(); ++i) {
      const SimDevice& d = devices_[i];
      out << (i ? "," : "") << "{\"name\":\"" << d.name << "\",\"uuid\":\"" << UniqueUuid(static_cast<int>(i))
          << "\",\"memory\":\"" << d.memory << "\",\"context_overhead\":\"" << d.context_overhead
          << "\",\"sm_count\":" << d.sm_count;
      if (d.timeslice_us != 0) out << ",\"timeslice_us\":" << d.timeslice_us;
      out << "}";
    }
    out << "]}";
    out.close();
    setenv(simgpu::kConfigEnv, path_.c_str(), 1);
    // These devices alone: no simulated NPU beside them (tests/simnpu/npu_env.h gives NPUs).
    npu_path_ = "/tmp/vxpu-simnpu-none-" + std::to_string(getpid()) + ".json";
    std::ofstream(npu_path_) << "{\"devices\": []}";
    if (std::getenv(simgpu::kNpuConfigEnv) == nullptr) setenv(simgpu::kNpuConfigEnv, npu_path_.c_str(), 1);
#ifdef VXPU_REMOTE_CLIENT_DIR
    if (ThroughRemote()) StartRemote();
#endif
  }

  void TearDown() override {
#ifdef VXPU_REMOTE_CLIENT_DIR
    if (server_) {
      EXPECT_EQ(server_->Stop(), 0) << server_->log();
    }
#endif
    simgpu::DeviceConfig config = simgpu::LoadDeviceConfig();
    // The simulated devices' segments, and their slices' ledgers and arbiters.
    for (const auto& spec : config.devices) vxpu::UnlinkSegmentsOfDevice(spec.uuid);
    std::remove(path_.c_str());
    std::remove(npu_path_.c_str());
  }

  const std::string& path() const { return path_; }

 private:
#ifdef VXPU_REMOTE_CLIENT_DIR
  // The whole device per session (no room kept for contexts), so that the device looks the same
  // through the slice as it does locally.
  void StartRemote() {
    setenv("VXPU_CONTEXT_RESERVE", "0", 1);
    server_ = std::make_unique<remotetest::RemoteServer>();
    std::string error;
    if (!server_->Start({"--memory", "100%"}, &error)) {
      std::fprintf(stderr, "%s\n", error.c_str());
      std::abort();
    }
    for (const std::string& entry : server_->Env()) {
      size_t eq = entry.find('=');
      if (entry.compare(0, eq, "LD_LIBRARY_PATH") != 0) setenv(entry.substr(0, eq).c_str(), entry.c_str() + eq + 1, 1);
    }
  }
  std::unique_ptr<remotetest::RemoteServer> server_;
#endif
  std::vector<SimDevice> devices_;
  std::string path_, npu_path_;
};

// Free memory of the current context's device, as cuMemGetInfo reports it.
inline size_t FreeMemory() {
  size_t free_bytes = 0, total = 0;
  EXPECT_EQ(cuMemGetInfo(&free_bytes, &total), CUDA_SUCCESS);
  return free_bytes;
}

// `count` elements of type T copied from device memory at `src`.
template <typename T>
std::vector<T> ReadBack(CUdeviceptr src, size_t count) {
  std::vector<T> out(count);
  EXPECT_EQ(cuMemcpyDtoH(out.data(), src, count * sizeof(T)), CUDA_SUCCESS);
  return out;
}

// Polls `condition` every `period` until it holds or `timeout` passes; returns whether it held.
template <typename Condition>
bool PollFor(std::chrono::milliseconds timeout, Condition condition,
             std::chrono::milliseconds period = std::chrono::milliseconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(period);
  }
}

// Polls every millisecond: for timing a hand-over.
template <typename Condition>
bool PollFast(std::chrono::milliseconds timeout, Condition condition) {
  return PollFor(timeout, condition, std::chrono::milliseconds(1));
}

// Runs the test binary's tests on its own simulated `devices` (a main() for test binaries).
inline int RunAllTestsOn(int argc, char** argv, std::vector<SimDevice> devices) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new SimEnvironment(std::move(devices)));
  return RUN_ALL_TESTS();
}

using vxpu::LastJsonLine;

// A test that runs with device 0's primary context current.
class PrimaryContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(cuInit(0), CUDA_SUCCESS);
    ASSERT_EQ(cuDevicePrimaryCtxRetain(&ctx_, 0), CUDA_SUCCESS);
    ASSERT_EQ(cuCtxSetCurrent(ctx_), CUDA_SUCCESS);
  }
  void TearDown() override {
    EXPECT_EQ(cuCtxSetCurrent(nullptr), CUDA_SUCCESS);
    EXPECT_EQ(cuDevicePrimaryCtxRelease(0), CUDA_SUCCESS);
  }

  CUcontext ctx_ = nullptr;
};

// Starts `argv` with `env` added to the environment. A failed start fails the test, and the
// child's Wait() then returns ChildProcess::kNotStarted, never 0. Killed when dropped.
inline std::unique_ptr<vxpu::ChildProcess> StartChild(const std::vector<std::string>& argv,
                                                      const std::vector<std::string>& env, bool with_stderr = true) {
  auto child = std::make_unique<vxpu::ChildProcess>();
  std::string error;
  if (!child->Start(argv, env, &error, with_stderr)) ADD_FAILURE() << "cannot start " << argv[0] << ": " << error;
  return child;
}

// Starts a program on this binary's simulated devices: it inherits the environment
// (VXPU_SIMGPU_CONFIG included) with LD_LIBRARY_PATH set to simgpu. Killed when dropped.
inline std::unique_ptr<vxpu::ChildProcess> StartOnSimgpu(const std::vector<std::string>& argv) {
  return StartChild(argv, {"LD_LIBRARY_PATH=" VXPU_SIMGPU_DIR}, /*with_stderr=*/false);
}

// Waits for `child` and returns its report (the last JSON line of its output), failing the
// test unless it exited with 0 and printed one.
inline nlohmann::json ReportOf(vxpu::ChildProcess& child) {
  int code = child.Wait();
  nlohmann::json report = vxpu::LastJsonLine(child.output());
  EXPECT_EQ(code, 0) << child.output();
  EXPECT_TRUE(report.is_object()) << "no JSON report in: " << child.output();
  return report;
}

}  // namespace simtest

// Skips a test that needs what docs/remote.md lists as not forwarded, when run through remote.
#define SKIP_THROUGH_REMOTE(why)                                                 \
  do {                                                                           \
    if (simtest::ThroughRemote()) GTEST_SKIP() << "not through remote: " << why; \
  } while (0)

#define ASSERT_CU(call) ASSERT_EQ((call), CUDA_SUCCESS)
#define EXPECT_CU(call) EXPECT_EQ((call), CUDA_SUCCESS)
