#include "backend/nvidia/device_nodes.h"

#include "backend/device_backend.h"

namespace vxpu {

std::vector<std::string> GpuDeviceNodes(const std::vector<unsigned>& indices, const std::string& dev_dir,
                                        const std::function<bool(const std::string&)>& exists) {
  std::vector<std::string> names;
  for (unsigned index : indices) names.push_back("nvidia" + std::to_string(index));
  for (const char* shared : {"nvidiactl", "nvidia-uvm", "nvidia-uvm-tools"}) names.push_back(shared);
  return ExistingDeviceNodes(names, dev_dir, exists);
}

}  // namespace vxpu
