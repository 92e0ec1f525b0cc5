// A device as its vendor's backend reports it (backend/device_backend.h): who makes it and what
// it is, its identity, its memory and the processes on it. What everything above the backend
// works with, whatever the vendor.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vxpu {

struct DeviceProcess {
  unsigned pid = 0;
  uint64_t memory_used = 0;
  unsigned sm_util = 0;  // percent of device time since the previous query
};

struct Device {
  std::string vendor;  // the backend's name: "nvidia"
  std::string kind;    // "gpu" (an NPU backend: "npu")
  unsigned index = 0;  // the vendor's own ordinal (NVML's index)
  std::string name;    // the model, as the vendor's library names it
  std::string uuid;    // unique on the node, across vendors
  uint64_t memory_total = 0;
  uint64_t memory_used = 0;
  unsigned utilization = 0;  // percent
  std::vector<DeviceProcess> processes;
};

}  // namespace vxpu
