// The node's devices as each vendor's backend (backend/device_backend.h: the driver's library,
// or its simulator's with --sim) reports them, with health: the backends read afresh at every
// refresh, so a device that disappears (or a driver that stops answering) shows. A device once
// seen stays listed; missing from a reading, it is unhealthy until it comes back.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <memory>

#include "backend/device_backend.h"
#include "node/node_view.h"

namespace vxpu {

class DeviceInventory {
 public:
  // The devices of every vendor's real driver, or of the simulators with `sim`.
  explicit DeviceInventory(bool sim);

  // Reads the devices again. Returns a line per change worth logging (a device found, lost,
  // back).
  std::vector<std::string> Refresh();

  const std::vector<DeviceView>& devices() const { return devices_; }
  const DeviceView* Find(const std::string& uuid) const;

 private:
  void MarkUnhealthy(const std::string& vendor, const std::string& reason, std::vector<std::string>* events);
  void Take(const DeviceBackend& backend, const std::vector<Device>& seen, std::vector<std::string>* events);

  std::vector<std::unique_ptr<DeviceBackend>> backends_;
  std::vector<DeviceView> devices_;
  bool first_ = true;  // the first refresh says when a vendor has no devices
};

}  // namespace vxpu
