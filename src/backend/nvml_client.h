// NVML loaded at run time by absolute path (simgpu's, or the real driver's), so the CLI never
// links against a GPU library and can choose which one it reads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/nvml_abi.h"

namespace vxpu {

struct GpuProcess {
  unsigned pid = 0;
  uint64_t memory_used = 0;
  unsigned sm_util = 0;  // percent of device time since the previous query
};

struct GpuDevice {
  unsigned index = 0;
  std::string name;
  std::string uuid;
  uint64_t memory_total = 0;
  uint64_t memory_used = 0;
  unsigned utilization = 0;
  std::vector<GpuProcess> processes;
};

class NvmlClient {
 public:
  // Loads the library at `path` and initialises it; on failure returns nullptr and sets *error.
  static std::unique_ptr<NvmlClient> Open(const std::string& path, std::string* error);
  ~NvmlClient();
  NvmlClient(const NvmlClient&) = delete;
  NvmlClient& operator=(const NvmlClient&) = delete;

  // A snapshot of every device and the processes on it.
  bool Snapshot(std::vector<GpuDevice>* devices, std::string* error);

 private:
  NvmlClient() = default;
  void* handle_ = nullptr;
  struct Api;
  std::unique_ptr<Api> api_;
};

}  // namespace vxpu
