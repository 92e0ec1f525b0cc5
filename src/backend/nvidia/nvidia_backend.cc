#include "backend/nvidia/nvidia_backend.h"

#include "backend/nvidia/device_nodes.h"
#include "backend/nvidia/nvml_client.h"

namespace vxpu {

bool NvidiaBackend::Snapshot(std::vector<Device>* devices, std::string* error) {
  std::unique_ptr<NvmlClient> nvml = NvmlClient::Open(library_, error);
  return nvml && nvml->Snapshot(devices, error);
}

std::vector<std::string> NvidiaBackend::DeviceNodes(const std::vector<unsigned>& indices, const std::string& dev_dir,
                                                    const std::function<bool(const std::string&)>& exists) const {
  return GpuDeviceNodes(indices, dev_dir, exists);
}

}  // namespace vxpu
