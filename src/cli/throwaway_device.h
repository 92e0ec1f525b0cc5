// A simulated device of its own for a benchmark run, so no other run's state is measured,
// and nothing of it is left behind.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/shared_segment.h"
#include "simgpu/device_config.h"

namespace vxpu {

// Writes a one-device simgpu config and points VXPU_SIMGPU_CONFIG at it while alive.
class ThrowawayDevice {
 public:
  explicit ThrowawayDevice(const char* tag) {
    char path[128];
    std::snprintf(path, sizeof(path), "/tmp/vxpu-bench-%s-%d.json", tag, static_cast<int>(getpid()));
    path_ = path;
    char uuid[64];
    std::snprintf(uuid, sizeof(uuid), "GPU-be4c0000-0000-4000-8000-%012x", static_cast<unsigned>(getpid()));
    std::ofstream(path_) << R"({"devices":[{"uuid":")" << uuid << R"(","memory":"80GiB"}]})";
    setenv(simgpu::kConfigEnv, path_.c_str(), 1);
  }
  ~ThrowawayDevice() {
    // The simulated device's segment, and its slices' ledgers and arbiter.
    for (const simgpu::DeviceSpec& spec : simgpu::LoadDeviceConfig().devices) UnlinkSegmentsOfDevice(spec.uuid);
    std::remove(path_.c_str());
  }
  ThrowawayDevice(const ThrowawayDevice&) = delete;
  ThrowawayDevice& operator=(const ThrowawayDevice&) = delete;

  const std::string& config_path() const { return path_; }

 private:
  std::string path_;
};

// The same for an NPU: a one-chip simnpu config and a state directory of its own (an NPU's UUID
// follows from its place, so its state is kept apart by directory), both pointed at while alive.
class ThrowawayNpu {
 public:
  explicit ThrowawayNpu(const char* tag) {
    char dir[128];
    std::snprintf(dir, sizeof(dir), "/tmp/vxpu-bench-%s-%d-XXXXXX", tag, static_cast<int>(getpid()));
    if (mkdtemp(dir) != nullptr) dir_ = dir;
    std::ofstream(dir_ + "/npus.json") << R"({"devices":[{"memory":"64GiB"}]})";
    setenv(simgpu::kNpuConfigEnv, (dir_ + "/npus.json").c_str(), 1);
    setenv("VXPU_STATE_DIR", dir_.c_str(), 1);
  }
  ~ThrowawayNpu() {
    std::error_code ignored;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }
  ThrowawayNpu(const ThrowawayNpu&) = delete;
  ThrowawayNpu& operator=(const ThrowawayNpu&) = delete;

  bool ok() const { return !dir_.empty(); }

 private:
  std::string dir_;
};

}  // namespace vxpu
