#include "backend/nvidia/nvml_client.h"

#include <dlfcn.h>

#include <memory>

namespace vxpu {

struct NvmlClient::Api {
  decltype(&nvmlInit_v2) init;
  decltype(&nvmlShutdown) shutdown;
  decltype(&nvmlErrorString) error_string;
  decltype(&nvmlDeviceGetCount_v2) count;
  decltype(&nvmlDeviceGetHandleByIndex_v2) by_index;
  decltype(&nvmlDeviceGetName) name;
  decltype(&nvmlDeviceGetUUID) uuid;
  decltype(&nvmlDeviceGetMemoryInfo) memory;
  decltype(&nvmlDeviceGetUtilizationRates) utilization;
  decltype(&nvmlDeviceGetComputeRunningProcesses_v3) processes;
  decltype(&nvmlDeviceGetProcessUtilization) process_utilization;
};

namespace {
template <typename T>
bool Resolve(void* handle, const char* symbol, T* out, std::string* error) {
  *out = reinterpret_cast<T>(dlsym(handle, symbol));
  if (*out == nullptr) *error = std::string("NVML lacks ") + symbol;
  return *out != nullptr;
}
}  // namespace

std::unique_ptr<NvmlClient> NvmlClient::Open(const std::string& path, std::string* error) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    *error = "cannot load " + path + ": " + dlerror();
    return nullptr;
  }
  std::unique_ptr<NvmlClient> client(new NvmlClient);
  client->handle_ = handle;
  client->api_ = std::make_unique<Api>();
  Api& a = *client->api_;
  bool ok = Resolve(handle, "nvmlInit_v2", &a.init, error) && Resolve(handle, "nvmlShutdown", &a.shutdown, error) &&
            Resolve(handle, "nvmlErrorString", &a.error_string, error) &&
            Resolve(handle, "nvmlDeviceGetCount_v2", &a.count, error) &&
            Resolve(handle, "nvmlDeviceGetHandleByIndex_v2", &a.by_index, error) &&
            Resolve(handle, "nvmlDeviceGetName", &a.name, error) &&
            Resolve(handle, "nvmlDeviceGetUUID", &a.uuid, error) &&
            Resolve(handle, "nvmlDeviceGetMemoryInfo", &a.memory, error) &&
            Resolve(handle, "nvmlDeviceGetUtilizationRates", &a.utilization, error) &&
            Resolve(handle, "nvmlDeviceGetComputeRunningProcesses_v3", &a.processes, error) &&
            Resolve(handle, "nvmlDeviceGetProcessUtilization", &a.process_utilization, error);
  if (!ok) return nullptr;
  if (nvmlReturn_t r = a.init(); r != NVML_SUCCESS) {
    *error = std::string("nvmlInit failed: ") + a.error_string(r);
    a.shutdown = nullptr;
    return nullptr;
  }
  return client;
}

NvmlClient::~NvmlClient() {
  if (api_ && api_->shutdown) api_->shutdown();
  // The library stays loaded: NVML implementations may keep threads or atexit hooks.
}

bool NvmlClient::Snapshot(std::vector<Device>* devices, std::string* error) {
  const Api& a = *api_;
  unsigned count = 0;
  if (nvmlReturn_t r = a.count(&count); r != NVML_SUCCESS) {
    *error = std::string("nvmlDeviceGetCount: ") + a.error_string(r);
    return false;
  }
  devices->clear();
  for (unsigned i = 0; i < count; ++i) {
    nvmlDevice_t handle = nullptr;
    if (a.by_index(i, &handle) != NVML_SUCCESS) continue;
    Device d;
    d.vendor = "nvidia";
    d.kind = "gpu";
    d.index = i;
    char text[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
    if (a.name(handle, text, sizeof(text)) == NVML_SUCCESS) d.name = text;
    if (a.uuid(handle, text, sizeof(text)) == NVML_SUCCESS) d.uuid = text;
    nvmlMemory_t memory{};
    if (a.memory(handle, &memory) == NVML_SUCCESS) {
      d.memory_total = memory.total;
      d.memory_used = memory.used;
    }
    nvmlUtilization_t util{};
    if (a.utilization(handle, &util) == NVML_SUCCESS) d.utilization = util.gpu;
    std::vector<nvmlProcessInfo_t> infos(64);
    unsigned n = static_cast<unsigned>(infos.size());
    if (a.processes(handle, &n, infos.data()) == NVML_SUCCESS) {
      for (unsigned k = 0; k < n; ++k) d.processes.push_back({infos[k].pid, infos[k].usedGpuMemory, 0});
    }
    std::vector<nvmlProcessUtilizationSample_t> samples(64);
    unsigned m = static_cast<unsigned>(samples.size());
    if (a.process_utilization(handle, samples.data(), &m, 0) == NVML_SUCCESS) {
      for (unsigned k = 0; k < m; ++k) {
        for (DeviceProcess& p : d.processes) {
          if (p.pid == samples[k].pid) p.sm_util = samples[k].smUtil;
        }
      }
    }
    devices->push_back(std::move(d));
  }
  return true;
}

}  // namespace vxpu
