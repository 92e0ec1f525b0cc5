// The simulated devices: what each looks like (name, UUID, memory, SMs, compute capability)
// and how the simulation treats it (context overhead, time-slice quantum).
//
// Devices come from the JSON file named by VXPU_SIMGPU_CONFIG, or default to one H100-like
// device. A config that cannot be read or parsed is an error, never a silent default. simnpu's
// NPUs are described the same way (kind kNpu: VXPU_SIMNPU_CONFIG, one 910B3-like NPU by default;
// an NPU's UUID follows from its position, as vxpu derives it from the chip's physical id).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace simgpu {

enum class SimKind { kGpu, kNpu };

struct DeviceSpec {
  std::string name;
  std::string uuid;  // "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
  unsigned char uuid_bytes[16] = {};
  uint64_t total_memory = 0;  // bytes
  int sm_count = 0;           // an NPU's AI cores
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
constexpr const char* kNpuConfigEnv = "VXPU_SIMNPU_CONFIG";

// One "NVIDIA H100 80GB HBM3" with 132 SMs, compute capability 9.0; for kNpu one "Ascend910B3"
// with 64 GiB and 20 AI cores.
std::vector<DeviceSpec> DefaultDevices(SimKind kind = SimKind::kGpu);

// Parses a JSON config (see docs/simgpu.md and docs/simnpu.md for the format).
DeviceConfig ParseDeviceConfig(std::string_view json_text, SimKind kind = SimKind::kGpu);

// The devices a process sees given CUDA_VISIBLE_DEVICES (`visible`, may be null): a comma list
// of ordinals or UUIDs; as with the real driver, an entry that names no device ends the list.
std::vector<DeviceSpec> VisibleDevices(const std::vector<DeviceSpec>& devices, const char* visible);

// Reads VXPU_SIMGPU_CONFIG (kNpu: VXPU_SIMNPU_CONFIG) if set (file path), else returns
// DefaultDevices(kind).
DeviceConfig LoadDeviceConfig(SimKind kind = SimKind::kGpu);

}  // namespace simgpu
