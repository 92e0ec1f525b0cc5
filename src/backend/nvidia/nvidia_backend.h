// NVIDIA GPUs: NVML (the driver's libnvidia-ml.so.1, or simgpu's) for discovery, /dev/nvidia*
// for containers.
#pragma once

#include <string>

#include "backend/device_backend.h"

namespace vxpu {

class NvidiaBackend : public DeviceBackend {
 public:
  // `nvml_library`: the path or name to dlopen.
  explicit NvidiaBackend(std::string nvml_library) : library_(std::move(nvml_library)) {}

  const char* vendor() const override { return "nvidia"; }
  const char* source() const override { return "NVML"; }
  bool Snapshot(std::vector<Device>* devices, std::string* error) override;
  std::vector<std::string> DeviceNodes(const std::vector<unsigned>& indices, const std::string& dev_dir,
                                       const std::function<bool(const std::string&)>& exists) const override;

 private:
  std::string library_;
};

}  // namespace vxpu
