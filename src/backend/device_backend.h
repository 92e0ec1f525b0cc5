// One vendor's devices behind one interface: discovery (a snapshot of every device, its
// identity, memory and processes) and what a container needs to use them (its device nodes).
// Each vendor is one folder here (nvidia/) with its simulator's library beside the real one;
// a new vendor is one more folder and one more entry in Vendors().
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backend/device.h"

namespace vxpu {

class DeviceBackend {
 public:
  virtual ~DeviceBackend() = default;

  // Device::vendor of its devices ("nvidia"), and what messages name as their source ("NVML").
  virtual const char* vendor() const = 0;
  virtual const char* source() const = 0;

  // Every device and the processes on it, read afresh. False with *error if the vendor's
  // library cannot be loaded or does not answer.
  virtual bool Snapshot(std::vector<Device>* devices, std::string* error) = 0;

  // The host paths under `dev_dir` of the nodes a container needs for the devices of ordinals
  // `indices` (and the vendor's shared ones), those that `exists`.
  virtual std::vector<std::string> DeviceNodes(const std::vector<unsigned>& indices, const std::string& dev_dir,
                                               const std::function<bool(const std::string&)>& exists) const = 0;
};

// The paths under `dev_dir` of the device nodes `names` that `exists` (for DeviceNodes).
std::vector<std::string> ExistingDeviceNodes(const std::vector<std::string>& names, const std::string& dev_dir,
                                             const std::function<bool(const std::string&)>& exists);

// The vendors vxpu has a backend for, as Device::vendor names them.
const std::vector<std::string>& Vendors();

// The backend of `vendor`, reading its simulator with `sim`, else the real driver. nullptr for a
// vendor vxpu does not know.
std::unique_ptr<DeviceBackend> MakeBackend(const std::string& vendor, bool sim);

}  // namespace vxpu
