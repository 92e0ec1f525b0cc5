#include "backend/device_backend.h"

#include "backend/ascend/ascend_backend.h"
#include "backend/nvidia/nvidia_backend.h"
#include "backend/paths.h"

namespace vxpu {

std::vector<std::string> ExistingDeviceNodes(const std::vector<std::string>& names, const std::string& dev_dir,
                                             const std::function<bool(const std::string&)>& exists) {
  std::vector<std::string> nodes;
  for (const std::string& name : names) {
    std::string path = dev_dir + "/" + name;
    if (exists(path)) nodes.push_back(path);
  }
  return nodes;
}

const std::vector<std::string>& Vendors() {
  static const std::vector<std::string> vendors = {"nvidia", "huawei"};
  return vendors;
}

std::unique_ptr<DeviceBackend> MakeBackend(const std::string& vendor, bool sim) {
  if (vendor == "nvidia")
    return std::make_unique<NvidiaBackend>(sim ? SimgpuDir() + "/libnvidia-ml.so.1" : "libnvidia-ml.so.1");
  if (vendor == "huawei") return std::make_unique<AscendBackend>(sim ? SimnpuDir() + "/libdcmi.so" : "libdcmi.so");
  return nullptr;
}

}  // namespace vxpu
