// NVML queries, answered by the worker's own NVML: under the slice (libvxpu.so preloaded) that
// is the slice's view of the device, as a local program under `vxpu run` sees it.
#include <dlfcn.h>

#include "common/nvml_abi.h"
#include "remote/worker/session.h"

namespace vxpu::remote {

namespace {

struct Nvml {
  decltype(&nvmlDeviceGetMemoryInfo) memory = nullptr;
  decltype(&nvmlDeviceGetUtilizationRates) utilization = nullptr;
  nvmlDevice_t device = nullptr;
};

// NVML opened once; nullptr members if it is missing.
const Nvml& TheNvml() {
  static Nvml nvml = [] {
    Nvml n;
    void* lib = dlopen("libnvidia-ml.so.1", RTLD_NOW);
    if (lib == nullptr) return n;
    auto init = reinterpret_cast<decltype(&nvmlInit_v2)>(dlsym(lib, "nvmlInit_v2"));
    auto by_index =
        reinterpret_cast<decltype(&nvmlDeviceGetHandleByIndex_v2)>(dlsym(lib, "nvmlDeviceGetHandleByIndex_v2"));
    if (init == nullptr || by_index == nullptr || init() != NVML_SUCCESS || by_index(0, &n.device) != NVML_SUCCESS)
      return n;
    n.memory = reinterpret_cast<decltype(&nvmlDeviceGetMemoryInfo)>(dlsym(lib, "nvmlDeviceGetMemoryInfo"));
    n.utilization =
        reinterpret_cast<decltype(&nvmlDeviceGetUtilizationRates)>(dlsym(lib, "nvmlDeviceGetUtilizationRates"));
    return n;
  }();
  return nvml;
}

}  // namespace

CUresult Session::OnNvmlQuery(Call& call) {
  const Nvml& nvml = TheNvml();
  if (call.arg(0) == kNvmlMemory && nvml.memory != nullptr) {
    nvmlMemory_t m{};
    if (nvml.memory(nvml.device, &m) != NVML_SUCCESS) return CUDA_ERROR_UNKNOWN;
    call.outs = {m.total, m.free, m.used};
    return CUDA_SUCCESS;
  }
  if (call.arg(0) == kNvmlUtilization && nvml.utilization != nullptr) {
    nvmlUtilization_t u{};
    if (nvml.utilization(nvml.device, &u) != NVML_SUCCESS) return CUDA_ERROR_UNKNOWN;
    call.outs = {u.gpu, u.memory};
    return CUDA_SUCCESS;
  }
  return CUDA_ERROR_NOT_SUPPORTED;
}

}  // namespace vxpu::remote
