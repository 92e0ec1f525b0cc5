// The simulated devices: what each looks like (name, UUID, memory, SMs, compute capability)
// and how the simulation treats it (context overhead, time-slice quantum).
//
// Devices come from the JSON file named by VXPU_SIMGPU_CONFIG, or default to one H100-like
// device. A config that cannot be read or parsed is an error, never a silent default.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace simgpu {

struct DeviceSpec {
  std::string name;
  std::string uuid;  // "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
  unsigned char uuid_bytes[16] = {};
  uint64_t total_memory = 0;  // bytes
  int sm_count = 0;
  int cc_major = 0;
  int cc_minor = 0;
  uint64_t context_overhead = 0;  // device memory a context takes when created
  uint32_t timeslice_us = 0;      // round-robin quantum between contexts with pending work
};

struct DeviceConfig {
  std::vector<DeviceSpec> devices;
  std::string error;  // non-empty: the config is unusable and this says why, in one line
};

constexpr const char* kConfigEnv = "VXPU_SIMGPU_CONFIG";

// One "NVIDIA H100 80GB HBM3" with 132 SMs, compute capability 9.0.
std::vector<DeviceSpec> DefaultDevices();

// Parses a JSON config (see docs/simgpu.md for the format).
DeviceConfig ParseDeviceConfig(std::string_view json_text);

// The devices a process sees given CUDA_VISIBLE_DEVICES (`visible`, may be null): a comma list
// of ordinals or UUIDs; as with the real driver, an entry that names no device ends the list.
std::vector<DeviceSpec> VisibleDevices(const std::vector<DeviceSpec>& devices, const char* visible);

// Reads VXPU_SIMGPU_CONFIG if set (file path), else returns DefaultDevices().
DeviceConfig LoadDeviceConfig();

}  // namespace simgpu
