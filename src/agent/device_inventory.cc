#include "agent/device_inventory.h"

#include "common/units.h"

namespace vxpu {

DeviceInventory::DeviceInventory(bool sim) {
  for (const std::string& vendor : Vendors()) backends_.push_back(MakeBackend(vendor, sim));
}

const DeviceView* DeviceInventory::Find(const std::string& uuid) const {
  for (const DeviceView& d : devices_) {
    if (d.uuid == uuid) return &d;
  }
  return nullptr;
}

void DeviceInventory::MarkUnhealthy(const std::string& vendor, const std::string& reason,
                                    std::vector<std::string>* events) {
  for (DeviceView& d : devices_) {
    if (d.vendor != vendor) continue;
    if (d.healthy) events->push_back("device " + d.uuid + " unhealthy: " + reason);
    d.healthy = false;
    d.health_reason = reason;
    d.busy_ratio.reset();
  }
}

std::vector<std::string> DeviceInventory::Refresh() {
  std::vector<std::string> events;
  for (const std::unique_ptr<DeviceBackend>& backend : backends_) {
    std::string error;
    std::vector<Device> seen;
    if (!backend->Snapshot(&seen, &error)) {
      if (first_) events.push_back(std::string("no ") + backend->vendor() + " devices: " + error);
      MarkUnhealthy(backend->vendor(), std::string(backend->source()) + " does not answer: " + error, &events);
      continue;
    }
    Take(*backend, seen, &events);
  }
  first_ = false;
  return events;
}

// Updates the devices of `backend` from what it reported.
void DeviceInventory::Take(const DeviceBackend& backend, const std::vector<Device>& seen,
                           std::vector<std::string>* events) {
  std::vector<bool> present(devices_.size(), false);
  for (const Device& g : seen) {
    DeviceView view = DeviceViewOf(g);
    bool known = false;
    for (size_t i = 0; i < devices_.size(); ++i) {
      if (devices_[i].uuid != g.uuid) continue;
      known = true;
      present[i] = true;
      if (!devices_[i].healthy) events->push_back("device " + g.uuid + " healthy again");
      devices_[i] = view;
    }
    if (!known) {
      events->push_back("device " + g.uuid + " (" + g.name + ", " + FormatBytes(g.memory_total) + ") found");
      devices_.push_back(view);
      present.push_back(true);
    }
  }
  const std::string reason = std::string("no longer reported by ") + backend.source();
  for (size_t i = 0; i < devices_.size(); ++i) {
    if (present[i] || !devices_[i].healthy || devices_[i].vendor != backend.vendor()) continue;
    devices_[i].healthy = false;
    devices_[i].health_reason = reason;
    devices_[i].busy_ratio.reset();
    events->push_back("device " + devices_[i].uuid + " unhealthy: " + reason);
  }
}

}  // namespace vxpu
