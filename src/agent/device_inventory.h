// The node's devices as NVML (the driver's, or simgpu's with --sim) reports them, with health:
// NVML is opened afresh at every refresh, so a device that disappears (or a driver that stops
// answering) shows. A device once seen stays listed; missing from a reading, it is unhealthy
// until it comes back.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "node/node_view.h"

namespace vxpu {

class DeviceInventory {
 public:
  // `nvml_library`: the path or name to dlopen.
  explicit DeviceInventory(std::string nvml_library) : library_(std::move(nvml_library)) {}

  // Reads the devices again. Returns a line per change worth logging (a device found, lost,
  // back).
  std::vector<std::string> Refresh();

  const std::vector<DeviceView>& devices() const { return devices_; }
  const DeviceView* Find(const std::string& uuid) const;

 private:
  void MarkAllUnhealthy(const std::string& reason, std::vector<std::string>* events);

  std::string library_;
  std::vector<DeviceView> devices_;
  bool first_ = true;
};

}  // namespace vxpu
