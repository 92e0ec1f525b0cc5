// Test fixture support for simnpu: a test binary gets its own simulated NPUs (a config through
// VXPU_SIMNPU_CONFIG and a state directory of its own through VXPU_STATE_DIR, so binaries running
// in parallel never share chips), and runs ACL programs on them as child processes.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/child_process.h"
#include "common/json_line.h"
#include "simgpu/device_config.h"

namespace npu {

const std::string kAcl = VXPU_BIN_DIR "/vxpu-acl";
const std::string kAclDl = VXPU_BIN_DIR "/vxpu-acl-dl";
const std::string kSimnpuPath = "LD_LIBRARY_PATH=" VXPU_SIMNPU_DIR;

// Writes `config_json` as the NPU config and makes a state directory; removes both at the end.
class NpuEnvironment : public ::testing::Environment {
 public:
  explicit NpuEnvironment(std::string config_json) : config_(std::move(config_json)) {}

  void SetUp() override {
    char dir[] = "/tmp/vxpu-simnpu-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    state_dir_ = dir;
    path_ = state_dir_ + ".json";
    std::ofstream(path_) << config_;
    setenv(simgpu::kNpuConfigEnv, path_.c_str(), 1);
    setenv("VXPU_STATE_DIR", state_dir_.c_str(), 1);
  }

  void TearDown() override {
    std::filesystem::remove_all(state_dir_);
    std::remove(path_.c_str());
  }

 private:
  std::string config_, state_dir_, path_;
};

// Starts `argv` with `env` added (simnpu first on the library path unless `env` says otherwise).
inline std::unique_ptr<vxpu::ChildProcess> Start(const std::vector<std::string>& argv,
                                                 std::vector<std::string> env = {}) {
  env.insert(env.begin(), kSimnpuPath);
  auto child = std::make_unique<vxpu::ChildProcess>();
  std::string error;
  if (!child->Start(argv, env, &error, /*with_stderr=*/true))
    ADD_FAILURE() << "cannot start " << argv[0] << ": " << error;
  return child;
}

// Runs `argv` to its end; its report (last JSON line), failing the test unless it exited 0.
inline nlohmann::json Report(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
                             std::string* output = nullptr) {
  auto child = Start(argv, env);
  int code = child->Wait();
  EXPECT_EQ(code, 0) << child->output();
  if (output != nullptr) *output = child->output();
  nlohmann::json report = vxpu::LastJsonLine(child->output());
  EXPECT_TRUE(report.is_object()) << "no JSON report in: " << child->output();
  return report;
}

// Waits until `child` printed `line`, or it ended, or 10 s passed.
inline bool WaitForLine(vxpu::ChildProcess& child, const std::string& line) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    child.Poll();
    if (child.output().find(line) != std::string::npos) return true;
    if (!child.running()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

template <typename Condition>
bool PollFor(std::chrono::milliseconds timeout, Condition condition) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace npu
