#include "agent/device_inventory.h"

#include "backend/nvml_client.h"
#include "common/units.h"

namespace vxpu {

const DeviceView* DeviceInventory::Find(const std::string& uuid) const {
  for (const DeviceView& d : devices_) {
    if (d.uuid == uuid) return &d;
  }
  return nullptr;
}

void DeviceInventory::MarkAllUnhealthy(const std::string& reason, std::vector<std::string>* events) {
  for (DeviceView& d : devices_) {
    if (d.healthy) events->push_back("device " + d.uuid + " unhealthy: " + reason);
    d.healthy = false;
    d.health_reason = reason;
    d.busy_ratio.reset();
  }
}

std::vector<std::string> DeviceInventory::Refresh() {
  std::vector<std::string> events;
  std::string error;
  std::vector<GpuDevice> seen;
  std::unique_ptr<NvmlClient> nvml = NvmlClient::Open(library_, &error);
  if (!nvml || !nvml->Snapshot(&seen, &error)) {
    if (first_) events.push_back("no devices: " + error);
    first_ = false;
    MarkAllUnhealthy("NVML does not answer: " + error, &events);
    return events;
  }
  first_ = false;
  std::vector<bool> present(devices_.size(), false);
  for (const GpuDevice& g : seen) {
    DeviceView view = DeviceViewOf(g);
    bool known = false;
    for (size_t i = 0; i < devices_.size(); ++i) {
      if (devices_[i].uuid != g.uuid) continue;
      known = true;
      present[i] = true;
      if (!devices_[i].healthy) events.push_back("device " + g.uuid + " healthy again");
      devices_[i] = view;
    }
    if (!known) {
      events.push_back("device " + g.uuid + " (" + g.name + ", " + FormatBytes(g.memory_total) + ") found");
      devices_.push_back(view);
      present.push_back(true);
    }
  }
  for (size_t i = 0; i < devices_.size(); ++i) {
    if (present[i] || !devices_[i].healthy) continue;
    devices_[i].healthy = false;
    devices_[i].health_reason = "no longer reported by NVML";
    devices_[i].busy_ratio.reset();
    events.push_back("device " + devices_[i].uuid + " unhealthy: no longer reported by NVML");
  }
  return events;
}

}  // namespace vxpu
