// A simulated device of its own for a benchmark run, so no other run's state is measured.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace vxpu::bench {

// Writes a one-device simgpu config and points VXPU_SIMGPU_CONFIG at it; returns its path.
inline std::string UseThrowawayDevice(const char* tag) {
  char path[128];
  std::snprintf(path, sizeof(path), "/tmp/vxpu-bench-%s-%d.json", tag, static_cast<int>(getpid()));
  char uuid[64];
  std::snprintf(uuid, sizeof(uuid), "GPU-be4c0000-0000-4000-8000-%012x", static_cast<unsigned>(getpid()));
  std::ofstream(path) << R"({"devices":[{"uuid":")" << uuid << R"(","memory":"80GiB"}]})";
  setenv("VXPU_SIMGPU_CONFIG", path, 1);
  return path;
}

}  // namespace vxpu::bench
