// The remote client's libnvidia-ml.so.1: the remote slice's view for tools and frameworks
// that ask NVML. One device, described by the session (through the client libcuda.so.1 this
// library opens beside itself); memory and utilization come from the worker's NVML, which
// reports the slice. Everything else NVML has is not exported (docs/remote.md).
#include <dlfcn.h>

#include <cstdio>
#include <cstring>
#include <mutex>

#include "common/nvml_abi.h"
#include "remote/client/cuda_api.h"
#include "remote/protocol.h"

namespace {

struct Driver {
  decltype(&cuInit) init = nullptr;
  decltype(&cuDeviceGetName) name = nullptr;
  decltype(&cuDeviceGetUuid_v2) uuid = nullptr;
  decltype(&cuDriverGetVersion) version = nullptr;
  int (*query)(unsigned long long, unsigned long long*, int) = nullptr;
};

std::mutex mu;
Driver driver;
bool initialized = false;
// The one device's handle: any non-null value that names it.
nvmlDevice_t const kDevice = reinterpret_cast<nvmlDevice_t>(uintptr_t{0x1});

nvmlReturn_t Open() {
  void* cuda = dlopen("libcuda.so.1", RTLD_NOW);
  if (cuda == nullptr) return NVML_ERROR_DRIVER_NOT_LOADED;
  driver.init = reinterpret_cast<decltype(driver.init)>(dlsym(cuda, "cuInit"));
  driver.name = reinterpret_cast<decltype(driver.name)>(dlsym(cuda, "cuDeviceGetName"));
  driver.uuid = reinterpret_cast<decltype(driver.uuid)>(dlsym(cuda, "cuDeviceGetUuid_v2"));
  driver.version = reinterpret_cast<decltype(driver.version)>(dlsym(cuda, "cuDriverGetVersion"));
  driver.query = reinterpret_cast<decltype(driver.query)>(dlsym(cuda, "vxpu_remote_nvml_query"));
  if (driver.init == nullptr || driver.name == nullptr || driver.uuid == nullptr || driver.query == nullptr)
    return NVML_ERROR_DRIVER_NOT_LOADED;  // that libcuda.so.1 is not the remote client
  return driver.init(0) == CUDA_SUCCESS ? NVML_SUCCESS : NVML_ERROR_DRIVER_NOT_LOADED;
}

nvmlReturn_t Ready() { return initialized ? NVML_SUCCESS : NVML_ERROR_UNINITIALIZED; }

nvmlReturn_t CheckDevice(nvmlDevice_t device) {
  if (!initialized) return NVML_ERROR_UNINITIALIZED;
  return device == kDevice ? NVML_SUCCESS : NVML_ERROR_INVALID_ARGUMENT;
}

nvmlReturn_t Copy(const char* text, char* out, unsigned length) {
  if (out == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  if (std::strlen(text) + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
  std::memcpy(out, text, std::strlen(text) + 1);
  return NVML_SUCCESS;
}

// "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", as NVML writes a UUID.
void UuidText(const CUuuid& uuid, char* out) {
  const auto* b = reinterpret_cast<const unsigned char*>(uuid.bytes);
  std::snprintf(out, 64, "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
                b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

nvmlReturn_t Memory(unsigned long long values[3]) {
  if (!initialized) return NVML_ERROR_UNINITIALIZED;
  return driver.query(vxpu::remote::kNvmlMemory, values, 3) == 3 ? NVML_SUCCESS : NVML_ERROR_GPU_IS_LOST;
}

}  // namespace

extern "C" {

nvmlReturn_t nvmlInitWithFlags(unsigned int) {
  std::lock_guard<std::mutex> lock(mu);
  if (initialized) return NVML_SUCCESS;
  nvmlReturn_t result = Open();
  initialized = result == NVML_SUCCESS;
  return result;
}
nvmlReturn_t nvmlInit_v2(void) { return nvmlInitWithFlags(0); }
nvmlReturn_t nvmlInit(void) { return nvmlInitWithFlags(0); }
nvmlReturn_t nvmlShutdown(void) { return Ready(); }

const char* nvmlErrorString(nvmlReturn_t result) {
  switch (result) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    default: return "Unknown Error";
  }
}

nvmlReturn_t nvmlSystemGetDriverVersion(char* version, unsigned int length) {
  if (!initialized) return NVML_ERROR_UNINITIALIZED;
  int v = 0;
  driver.version(&v);
  char text[32];
  std::snprintf(text, sizeof(text), "vxpu-remote-%d", v);
  return Copy(text, version, length);
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int* count) {
  if (count == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  if (!initialized) return NVML_ERROR_UNINITIALIZED;
  *count = 1;
  return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetCount(unsigned int* count) { return nvmlDeviceGetCount_v2(count); }

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t* device) {
  if (device == nullptr || index != 0) return initialized ? NVML_ERROR_INVALID_ARGUMENT : NVML_ERROR_UNINITIALIZED;
  if (!initialized) return NVML_ERROR_UNINITIALIZED;
  *device = kDevice;
  return NVML_SUCCESS;
}
nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t* device) {
  return nvmlDeviceGetHandleByIndex_v2(index, device);
}

nvmlReturn_t nvmlDeviceGetHandleByUUID(const char* uuid, nvmlDevice_t* device) {
  if (uuid == nullptr || device == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  if (!initialized) return NVML_ERROR_UNINITIALIZED;
  CUuuid id{};
  char text[64];
  driver.uuid(&id, 0);
  UuidText(id, text);
  if (std::strcmp(text, uuid) != 0) return NVML_ERROR_NOT_FOUND;
  *device = kDevice;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t device, unsigned int* index) {
  if (index == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  nvmlReturn_t result = CheckDevice(device);
  if (result == NVML_SUCCESS) *index = 0;
  return result;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char* name, unsigned int length) {
  nvmlReturn_t result = CheckDevice(device);
  if (result != NVML_SUCCESS) return result;
  char text[256] = {};
  driver.name(text, sizeof(text), 0);
  return Copy(text, name, length);
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char* uuid, unsigned int length) {
  nvmlReturn_t result = CheckDevice(device);
  if (result != NVML_SUCCESS) return result;
  CUuuid id{};
  char text[64];
  driver.uuid(&id, 0);
  UuidText(id, text);
  return Copy(text, uuid, length);
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t* memory) {
  nvmlReturn_t result = memory == nullptr ? NVML_ERROR_INVALID_ARGUMENT : CheckDevice(device);
  unsigned long long v[3];
  if (result == NVML_SUCCESS) result = Memory(v);
  if (result == NVML_SUCCESS) *memory = nvmlMemory_t{v[0], v[1], v[2]};
  return result;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t* memory) {
  nvmlReturn_t result = memory == nullptr ? NVML_ERROR_INVALID_ARGUMENT : CheckDevice(device);
  if (result == NVML_SUCCESS && memory->version != nvmlMemory_v2) result = NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
  unsigned long long v[3];
  if (result == NVML_SUCCESS) result = Memory(v);
  if (result != NVML_SUCCESS) return result;
  memory->total = v[0];
  memory->free = v[1];
  memory->used = v[2];
  memory->reserved = 0;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t* utilization) {
  nvmlReturn_t result = utilization == nullptr ? NVML_ERROR_INVALID_ARGUMENT : CheckDevice(device);
  if (result != NVML_SUCCESS) return result;
  unsigned long long v[2];
  if (driver.query(vxpu::remote::kNvmlUtilization, v, 2) != 2) return NVML_ERROR_GPU_IS_LOST;
  utilization->gpu = static_cast<unsigned>(v[0]);
  utilization->memory = static_cast<unsigned>(v[1]);
  return NVML_SUCCESS;
}

}  // extern "C"
