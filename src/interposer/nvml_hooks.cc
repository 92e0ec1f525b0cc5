// NVML's memory queries report the slice, so nvidia-smi-style tools inside a workload see a
// device of the slice's size. Reached through the exported symbols and through dlsym.
#include <dlfcn.h>

#include <algorithm>
#include <cstring>

#include "common/nvml_abi.h"
#include "interposer/memory_quota.h"
#include "interposer/nvml_hooks.h"
#include "interposer/real_driver.h"

namespace vxpu::interposer {
namespace {

template <typename Fn>
Fn RealNvml(const char* symbol) {
  return reinterpret_cast<Fn>(RealSymbolIn("libnvidia-ml.so.1", symbol));
}

// Replaces the device's figures with the slice's when a quota applies to it.
void ShowSlice(nvmlDevice_t device, unsigned long long* total, unsigned long long* used,
               unsigned long long* free_bytes) {
  if (!QuotaEnabled()) return;
  auto get_uuid = RealNvml<decltype(&nvmlDeviceGetUUID)>("nvmlDeviceGetUUID");
  char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
  if (get_uuid == nullptr || get_uuid(device, uuid, sizeof(uuid)) != NVML_SUCCESS) return;
  uint64_t limit = 0, slice_used = 0;
  if (!SliceViewOf(uuid, *total, &limit, &slice_used)) return;
  *total = limit;
  *used = slice_used;
  *free_bytes = std::min<unsigned long long>(*free_bytes, slice_used >= limit ? 0 : limit - slice_used);
}

}  // namespace

void* InterceptNvmlSymbol(const char* symbol) {
  if (std::strcmp(symbol, "nvmlDeviceGetMemoryInfo") == 0) return reinterpret_cast<void*>(&nvmlDeviceGetMemoryInfo);
  if (std::strcmp(symbol, "nvmlDeviceGetMemoryInfo_v2") == 0)
    return reinterpret_cast<void*>(&nvmlDeviceGetMemoryInfo_v2);
  return nullptr;
}

}  // namespace vxpu::interposer

using namespace vxpu::interposer;

extern "C" {

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t* memory) {
  auto real = RealNvml<decltype(&nvmlDeviceGetMemoryInfo)>("nvmlDeviceGetMemoryInfo");
  if (real == nullptr) return NVML_ERROR_UNINITIALIZED;
  nvmlReturn_t r = real(device, memory);
  if (r == NVML_SUCCESS) ShowSlice(device, &memory->total, &memory->used, &memory->free);
  return r;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t* memory) {
  auto real = RealNvml<decltype(&nvmlDeviceGetMemoryInfo_v2)>("nvmlDeviceGetMemoryInfo_v2");
  if (real == nullptr) return NVML_ERROR_UNINITIALIZED;
  nvmlReturn_t r = real(device, memory);
  if (r == NVML_SUCCESS) ShowSlice(device, &memory->total, &memory->used, &memory->free);
  return r;
}

}  // extern "C"
