// simgpu's NVML (libnvidia-ml.so.1): the monitoring view of the simulated devices, read from
// the same shared state the simulated driver writes, so it sees every process on the device.
//
// Utilization is the share of device time consumed: per device, since the previous query from
// this process; per process, over the sample taken at the first query (since the process
// started) or at a later query at least kSamplePeriodNs after the previous sample.
//
// The exported entry points are generated from nvml_api.def.
#include <sys/time.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

#include "common/nvml_abi.h"
#include "common/state_dir.h"
#include "simgpu/device_config.h"
#include "simgpu/shared_device.h"

namespace simgpu {
namespace {

struct NvmlDevice {
  unsigned index;
  DeviceSpec spec;
  std::unique_ptr<SharedDevice> shared;
};

// Device time `busy_ns` used by `at_ns`, and the utilization sampled then.
struct UsageMark {
  uint64_t at_ns;
  uint64_t busy_ns;
  unsigned percent;
  unsigned long long stamp_us;  // wall clock, as NVML stamps samples
};

// Per-process utilization is sampled as a real driver samples it: queries within one period of
// the previous sample return that sample rather than a fresh one over a sliver of time.
constexpr uint64_t kSamplePeriodNs = 100000000;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"  // in NVML's own version macro
constexpr unsigned kMemoryV2Version = nvmlMemory_v2;
#pragma GCC diagnostic pop

struct Nvml {
  std::mutex mu;
  int init_count = 0;
  std::vector<std::unique_ptr<NvmlDevice>> devices;
  std::map<std::tuple<unsigned, int32_t, uint64_t>, UsageMark> marks;  // (device, pid, start) -> last read
  UsageMark device_mark[64] = {};
};

Nvml& TheNvml() {
  static Nvml* nvml = new Nvml;
  return *nvml;
}

nvmlReturn_t DeviceOf(nvmlDevice_t handle, NvmlDevice** out) {
  Nvml& n = TheNvml();
  if (n.init_count == 0) return NVML_ERROR_UNINITIALIZED;
  for (auto& d : n.devices) {
    if (reinterpret_cast<nvmlDevice_t>(d.get()) == handle) {
      *out = d.get();
      return NVML_SUCCESS;
    }
  }
  return NVML_ERROR_INVALID_ARGUMENT;
}

nvmlReturn_t CopyString(const std::string& text, char* out, unsigned length) {
  if (out == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  if (text.size() + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
  std::memcpy(out, text.c_str(), text.size() + 1);
  return NVML_SUCCESS;
}

unsigned Percent(uint64_t busy, uint64_t wall) {
  if (wall == 0) return 0;
  uint64_t p = (busy * 100 + wall / 2) / wall;
  return static_cast<unsigned>(p > 100 ? 100 : p);
}

unsigned long long WallClockMicros() {
  timeval tv;
  gettimeofday(&tv, nullptr);
  return static_cast<unsigned long long>(tv.tv_sec) * 1000000ull + static_cast<unsigned long long>(tv.tv_usec);
}

nvmlReturn_t InitWithFlags(unsigned int) {
  Nvml& n = TheNvml();
  std::lock_guard<std::mutex> lock(n.mu);
  if (n.init_count > 0) {
    ++n.init_count;
    return NVML_SUCCESS;
  }
  std::string state_dir, state_error;
  if (!vxpu::StateDir(&state_dir, &state_error)) {  // where the devices' shared state lives
    std::fprintf(stderr, "simgpu nvml: %s\n", state_error.c_str());
    return NVML_ERROR_DRIVER_NOT_LOADED;
  }
  DeviceConfig config = LoadDeviceConfig();
  if (!config.error.empty()) {
    std::fprintf(stderr, "simgpu nvml: %s\n", config.error.c_str());
    return NVML_ERROR_DRIVER_NOT_LOADED;
  }
  n.devices.clear();
  for (size_t i = 0; i < config.devices.size(); ++i) {
    std::string error;
    auto shared = SharedDevice::Open(config.devices[i], &error);
    if (!shared) {
      std::fprintf(stderr, "simgpu nvml: device %zu: %s\n", i, error.c_str());
      n.devices.clear();
      return NVML_ERROR_DRIVER_NOT_LOADED;
    }
    n.devices.push_back(
        std::make_unique<NvmlDevice>(NvmlDevice{static_cast<unsigned>(i), config.devices[i], std::move(shared)}));
  }
  n.init_count = 1;
  return NVML_SUCCESS;
}

nvmlReturn_t Shutdown() {
  Nvml& n = TheNvml();
  std::lock_guard<std::mutex> lock(n.mu);
  if (n.init_count == 0) return NVML_ERROR_UNINITIALIZED;
  if (--n.init_count == 0) n.devices.clear();
  return NVML_SUCCESS;
}

const char* ErrorString(nvmlReturn_t result) {
  switch (result) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    default: return "Unknown Error";
  }
}

nvmlReturn_t DriverVersion(char* version, unsigned int length) {
  return CopyString("simgpu-" VXPU_VERSION_STRING, version, length);
}

nvmlReturn_t DeviceCount(unsigned int* count) {
  Nvml& n = TheNvml();
  std::lock_guard<std::mutex> lock(n.mu);
  if (n.init_count == 0) return NVML_ERROR_UNINITIALIZED;
  if (count == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  *count = static_cast<unsigned>(n.devices.size());
  return NVML_SUCCESS;
}

nvmlReturn_t HandleByIndex(unsigned int index, nvmlDevice_t* device) {
  Nvml& n = TheNvml();
  std::lock_guard<std::mutex> lock(n.mu);
  if (n.init_count == 0) return NVML_ERROR_UNINITIALIZED;
  if (device == nullptr || index >= n.devices.size()) return NVML_ERROR_INVALID_ARGUMENT;
  *device = reinterpret_cast<nvmlDevice_t>(n.devices[index].get());
  return NVML_SUCCESS;
}

nvmlReturn_t HandleByUuid(const char* uuid, nvmlDevice_t* device) {
  Nvml& n = TheNvml();
  std::lock_guard<std::mutex> lock(n.mu);
  if (n.init_count == 0) return NVML_ERROR_UNINITIALIZED;
  if (uuid == nullptr || device == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  for (auto& d : n.devices) {
    if (d->spec.uuid == uuid) {
      *device = reinterpret_cast<nvmlDevice_t>(d.get());
      return NVML_SUCCESS;
    }
  }
  return NVML_ERROR_NOT_FOUND;
}

nvmlReturn_t DeviceIndex(nvmlDevice_t handle, unsigned int* index) {
  std::lock_guard<std::mutex> lock(TheNvml().mu);
  NvmlDevice* d = nullptr;
  if (nvmlReturn_t r = DeviceOf(handle, &d); r != NVML_SUCCESS) return r;
  if (index == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  *index = d->index;
  return NVML_SUCCESS;
}

nvmlReturn_t DeviceName(nvmlDevice_t handle, char* name, unsigned int length) {
  std::lock_guard<std::mutex> lock(TheNvml().mu);
  NvmlDevice* d = nullptr;
  if (nvmlReturn_t r = DeviceOf(handle, &d); r != NVML_SUCCESS) return r;
  return CopyString(d->spec.name, name, length);
}

nvmlReturn_t DeviceUuid(nvmlDevice_t handle, char* uuid, unsigned int length) {
  std::lock_guard<std::mutex> lock(TheNvml().mu);
  NvmlDevice* d = nullptr;
  if (nvmlReturn_t r = DeviceOf(handle, &d); r != NVML_SUCCESS) return r;
  return CopyString(d->spec.uuid, uuid, length);
}

nvmlReturn_t MemoryInfo(nvmlDevice_t handle, nvmlMemory_t* memory) {
  std::lock_guard<std::mutex> lock(TheNvml().mu);
  NvmlDevice* d = nullptr;
  if (nvmlReturn_t r = DeviceOf(handle, &d); r != NVML_SUCCESS) return r;
  if (memory == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  memory->total = d->shared->total_memory();
  memory->used = d->shared->UsedMemory();
  memory->free = memory->used >= memory->total ? 0 : memory->total - memory->used;
  return NVML_SUCCESS;
}

nvmlReturn_t MemoryInfoV2(nvmlDevice_t handle, nvmlMemory_v2_t* memory) {
  if (memory == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  if (memory->version != kMemoryV2Version) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
  nvmlMemory_t v1;
  if (nvmlReturn_t r = MemoryInfo(handle, &v1); r != NVML_SUCCESS) return r;
  memory->total = v1.total;
  memory->reserved = 0;
  memory->used = v1.used;
  memory->free = v1.free;
  return NVML_SUCCESS;
}

// One process list entry in the caller's layout: v1 has no MIG instance ids.
void Fill(const ClientInfo& c, nvmlProcessInfo_v1_t* info) {
  *info = nvmlProcessInfo_v1_t{static_cast<unsigned>(c.pid), c.memory_used};
}
void Fill(const ClientInfo& c, nvmlProcessInfo_v2_t* info) {
  *info = nvmlProcessInfo_v2_t{static_cast<unsigned>(c.pid), c.memory_used, 0xFFFFFFFFu, 0xFFFFFFFFu};
}

template <typename Info>
nvmlReturn_t ComputeProcesses(nvmlDevice_t handle, unsigned int* count, Info* infos) {
  std::lock_guard<std::mutex> lock(TheNvml().mu);
  NvmlDevice* d = nullptr;
  if (nvmlReturn_t r = DeviceOf(handle, &d); r != NVML_SUCCESS) return r;
  if (count == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  std::vector<ClientInfo> clients = d->shared->Clients();
  if (infos == nullptr || *count < clients.size()) {
    *count = static_cast<unsigned>(clients.size());
    return clients.empty() ? NVML_SUCCESS : NVML_ERROR_INSUFFICIENT_SIZE;
  }
  for (size_t i = 0; i < clients.size(); ++i) Fill(clients[i], &infos[i]);
  *count = static_cast<unsigned>(clients.size());
  return NVML_SUCCESS;
}

template <typename Info>
nvmlReturn_t NoProcesses(nvmlDevice_t handle, unsigned int* count, Info*) {
  std::lock_guard<std::mutex> lock(TheNvml().mu);
  NvmlDevice* d = nullptr;
  if (nvmlReturn_t r = DeviceOf(handle, &d); r != NVML_SUCCESS) return r;
  if (count == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  *count = 0;
  return NVML_SUCCESS;
}

// A client's sample, retaken when the previous one is at least a sample period old.
UsageMark& SampleOf(Nvml& n, const NvmlDevice& d, const ClientInfo& c, uint64_t now) {
  auto [it, fresh] = n.marks.emplace(std::make_tuple(d.index, c.pid, c.start_ns), UsageMark{c.start_ns, 0, 0, 0});
  UsageMark& mark = it->second;
  if (fresh || now - mark.at_ns >= kSamplePeriodNs)
    mark = UsageMark{now, c.busy_ns, Percent(c.busy_ns - mark.busy_ns, now - mark.at_ns), WallClockMicros()};
  return mark;
}

nvmlReturn_t ProcessUtilization(nvmlDevice_t handle, nvmlProcessUtilizationSample_t* samples, unsigned int* count,
                                unsigned long long) {
  Nvml& n = TheNvml();
  std::lock_guard<std::mutex> lock(n.mu);
  NvmlDevice* d = nullptr;
  if (nvmlReturn_t r = DeviceOf(handle, &d); r != NVML_SUCCESS) return r;
  if (count == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  std::vector<ClientInfo> clients = d->shared->Clients();
  if (samples == nullptr || *count < clients.size()) {
    *count = static_cast<unsigned>(clients.size());
    return NVML_ERROR_INSUFFICIENT_SIZE;
  }
  uint64_t now = MonotonicNs();
  for (size_t i = 0; i < clients.size(); ++i) {
    const UsageMark& sample = SampleOf(n, *d, clients[i], now);
    samples[i] =
        nvmlProcessUtilizationSample_t{static_cast<unsigned>(clients[i].pid), sample.stamp_us, sample.percent, 0, 0, 0};
  }
  *count = static_cast<unsigned>(clients.size());
  return NVML_SUCCESS;
}

nvmlReturn_t UtilizationRates(nvmlDevice_t handle, nvmlUtilization_t* utilization) {
  Nvml& n = TheNvml();
  std::lock_guard<std::mutex> lock(n.mu);
  NvmlDevice* d = nullptr;
  if (nvmlReturn_t r = DeviceOf(handle, &d); r != NVML_SUCCESS) return r;
  if (utilization == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  uint64_t busy = 0;
  for (const ClientInfo& c : d->shared->Clients()) busy += c.busy_ns;
  uint64_t now = MonotonicNs();
  UsageMark& mark = n.device_mark[d->index % 64];
  // Busy time of clients that left since the last read is gone with them; clamp, don't wrap.
  uint64_t delta = busy >= mark.busy_ns ? busy - mark.busy_ns : 0;
  utilization->gpu = mark.at_ns == 0 ? 0 : Percent(delta, now - mark.at_ns);
  utilization->memory = 0;
  mark = UsageMark{now, busy, utilization->gpu, 0};
  return NVML_SUCCESS;
}

}  // namespace
}  // namespace simgpu

#pragma GCC visibility push(default)
extern "C" {

#define SIMGPU_NVML(symbol, result, params, implementation, args) \
  result symbol params { return simgpu::implementation args; }
#include "simgpu/nvml_api.def"
#undef SIMGPU_NVML

}  // extern "C"
#pragma GCC visibility pop
