// NVML loaded at run time by absolute path (simgpu's, or the real driver's), so vxpu never
// links against a GPU library and can choose which one it reads. The NVIDIA backend's reader.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend/device.h"
#include "common/nvml_abi.h"

namespace vxpu {

class NvmlClient {
 public:
  // Loads the library at `path` and initialises it; on failure returns nullptr and sets *error.
  static std::unique_ptr<NvmlClient> Open(const std::string& path, std::string* error);
  ~NvmlClient();
  NvmlClient(const NvmlClient&) = delete;
  NvmlClient& operator=(const NvmlClient&) = delete;

  // A snapshot of every device and the processes on it.
  bool Snapshot(std::vector<Device>* devices, std::string* error);

 private:
  NvmlClient() = default;
  void* handle_ = nullptr;
  struct Api;
  std::unique_ptr<Api> api_;
};

}  // namespace vxpu
