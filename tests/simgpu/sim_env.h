// Test fixture support: gives a test binary its own simulated devices (unique UUIDs, so test
// binaries running in parallel never share device state) through VXPU_SIMGPU_CONFIG.
#pragma once

#include <cuda.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "simgpu/device_config.h"
#include "simgpu/shared_device.h"

namespace simtest {

struct SimDevice {
  std::string memory = "80GiB";
  std::string context_overhead = "0";
  int sm_count = 132;
  std::string name = "NVIDIA H100 80GB HBM3";
};

inline std::string UniqueUuid(int index) {
  char text[64];
  std::snprintf(text, sizeof(text), "GPU-7e570000-%04x-4000-8000-%012x", index & 0xffff,
                static_cast<unsigned>(getpid()));
  return text;
}

// Writes a config with `devices`, points VXPU_SIMGPU_CONFIG at it, and removes the shared
// segments when the test binary ends. Install before the first cuInit of the process.
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
          << "\",\"sm_count\":" << d.sm_count << "}";
    }
    out << "]}";
    out.close();
    setenv(simgpu::kConfigEnv, path_.c_str(), 1);
  }

  void TearDown() override {
    simgpu::DeviceConfig config = simgpu::LoadDeviceConfig();
    for (const auto& spec : config.devices) simgpu::SharedDevice::Unlink(spec);
    std::remove(path_.c_str());
  }

  const std::string& path() const { return path_; }

 private:
  std::vector<SimDevice> devices_;
  std::string path_;
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

// Polls `condition` every 10 ms until it holds or `timeout` passes; returns whether it held.
template <typename Condition>
bool PollFor(std::chrono::milliseconds timeout, Condition condition) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// A program run as a child process on this binary's simulated devices: it inherits the
// environment (VXPU_SIMGPU_CONFIG included) with LD_LIBRARY_PATH set to `library_path`, and its
// stdout is captured. A child still running when this goes out of scope is killed and reaped.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::string& library_path) {
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      if (std::string(*e).rfind("LD_LIBRARY_PATH=", 0) != 0) env.emplace_back(*e);
    }
    env.push_back("LD_LIBRARY_PATH=" + library_path);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    std::vector<char*> args = Pointers(argv);
    std::vector<char*> envp = Pointers(env);
    if (posix_spawn(&pid_, argv[0].c_str(), &actions, nullptr, args.data(), envp.data()) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    stdout_fd_ = fds[0];
  }
  ~ChildProcess() {
    if (pid_ > 0) {
      Kill();
      Wait();
    }
    if (stdout_fd_ >= 0) close(stdout_fd_);
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  void Kill() {
    if (pid_ > 0) kill(pid_, SIGKILL);
  }
  // Reads stdout to its end and reaps the child; returns its stdout. *status: as waitpid's.
  std::string Wait(int* status = nullptr) {
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = read(stdout_fd_, buf, sizeof(buf))) != 0;) {
      if (n > 0) out.append(buf, static_cast<size_t>(n));
      if (n < 0 && errno != EINTR) break;
    }
    int st = -1;
    if (pid_ > 0) waitpid(pid_, &st, 0);
    pid_ = -1;
    if (status != nullptr) *status = st;
    return out;
  }

 private:
  static std::vector<char*> Pointers(const std::vector<std::string>& strings) {
    std::vector<char*> pointers;
    for (const std::string& s : strings) pointers.push_back(const_cast<char*>(s.c_str()));
    pointers.push_back(nullptr);
    return pointers;
  }

  pid_t pid_ = -1;
  int stdout_fd_ = -1;
};

}  // namespace simtest

#define ASSERT_CU(call) ASSERT_EQ((call), CUDA_SUCCESS)
#define EXPECT_CU(call) EXPECT_EQ((call), CUDA_SUCCESS)
