// Huawei Ascend NPUs: DCMI (the driver's libdcmi.so, or simnpu's) for discovery, /dev/davinci*
// for containers. An NPU's index is its logical id (what ACL calls device N when every chip is
// visible), its UUID follows from its physical id (vxpu::NpuUuid), as the interposer names it.
#pragma once

#include <string>

#include "backend/device_backend.h"

namespace vxpu {

class AscendBackend : public DeviceBackend {
 public:
  // `dcmi_library`: the path or name to dlopen.
  explicit AscendBackend(std::string dcmi_library) : library_(std::move(dcmi_library)) {}

  const char* vendor() const override { return "huawei"; }
  const char* source() const override { return "DCMI"; }
  bool Snapshot(std::vector<Device>* devices, std::string* error) override;
  // /dev/davinci<N> of each NPU (N: its physical id, taken to be its logical id when every chip
  // is visible), and the driver's shared nodes (davinci_manager, devmm_svm, hisi_hdc): the nodes
  // Ascend's own container runtime passes.
  std::vector<std::string> DeviceNodes(const std::vector<unsigned>& indices, const std::string& dev_dir,
                                       const std::function<bool(const std::string&)>& exists) const override;

 private:
  std::string library_;
};

}  // namespace vxpu
