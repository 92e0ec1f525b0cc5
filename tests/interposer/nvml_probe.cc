// nvml_probe: what NVML shows this process about device 0, as one JSON line. Run under
// libvxpu.so inside a slice by nvml_view_test.cc.
//
//   nvml_probe MIB
// Holds a context and MIB MiB on device 0, then reads device 0 through NVML both ways a client
// reaches it: the symbols it is linked against (libnvidia-ml.so.1) and dlsym on
// dlopen("libnvidia-ml.so.1"). Reads the compute process lists in every layout (v1, v2, v3),
// each into an array of exactly the size announced with a canary after it; the graphics and
// MPS lists; the device utilization twice, 300 ms apart (the second is reported); the
// per-process samples; memory info. Exits 1 if any query fails or writes past its array.
#include <cuda.h>
#include <dlfcn.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "common/nvml_abi.h"

namespace {

std::vector<std::string> g_failures;

void Fail(const std::string& what) { g_failures.push_back(what); }

bool Check(nvmlReturn_t r, const std::string& what) {
  if (r != NVML_SUCCESS) Fail(what + " returned " + std::to_string(r));
  return r == NVML_SUCCESS;
}

template <typename Fn>
Fn Lookup(void* library, const char* symbol) {
  auto fn = reinterpret_cast<Fn>(dlsym(library, symbol));
  if (fn == nullptr) Fail(std::string("dlsym found no ") + symbol);
  return fn;
}

constexpr unsigned char kCanary = 0xA5;

// A process list read as a client does: the count first, then an array of exactly that many
// entries, checked for writes past its end. "[[pid,bytes],...]".
template <typename Info>
std::string ProcessList(nvmlReturn_t (*fn)(nvmlDevice_t, unsigned*, Info*), nvmlDevice_t device,
                        const std::string& what) {
  if (fn == nullptr) return "null";
  unsigned count = 0;
  nvmlReturn_t r = fn(device, &count, nullptr);
  if (r != NVML_SUCCESS && r != NVML_ERROR_INSUFFICIENT_SIZE) Check(r, what + " (sizing)");
  std::vector<Info> storage(count + 2);  // the two entries past the array are the canary
  std::memset(static_cast<void*>(storage.data()), kCanary, storage.size() * sizeof(Info));
  unsigned n = count;
  if (!Check(fn(device, &n, storage.data()), what)) return "null";
  const auto* bytes = reinterpret_cast<const unsigned char*>(storage.data());
  for (size_t i = count * sizeof(Info); i < storage.size() * sizeof(Info); ++i) {
    if (bytes[i] != kCanary) {
      Fail(what + " wrote past the " + std::to_string(count) + " entries it was given");
      break;
    }
  }
  std::string out = "[";
  for (unsigned i = 0; i < n && i < count; ++i) {
    out += (i ? ",[" : "[") + std::to_string(storage[i].pid) + "," + std::to_string(storage[i].usedGpuMemory) + "]";
  }
  return out + "]";
}

// The compute lists in all three layouts through `v1`, `v2`, `v3`.
std::string ComputeLists(decltype(&nvmlDeviceGetComputeRunningProcesses) v1,
                         decltype(&nvmlDeviceGetComputeRunningProcesses_v2) v2,
                         decltype(&nvmlDeviceGetComputeRunningProcesses_v3) v3, nvmlDevice_t device,
                         const std::string& how) {
  return "{\"v1\":" + ProcessList(v1, device, how + " v1") + ",\"v2\":" + ProcessList(v2, device, how + " v2") +
         ",\"v3\":" + ProcessList(v3, device, how + " v3") + "}";
}

// How many processes a list shows (by its count query).
template <typename Info>
unsigned CountOf(nvmlReturn_t (*fn)(nvmlDevice_t, unsigned*, Info*), nvmlDevice_t device, const char* what) {
  unsigned count = 0;
  nvmlReturn_t r = fn(device, &count, nullptr);
  if (r != NVML_SUCCESS && r != NVML_ERROR_INSUFFICIENT_SIZE) Check(r, what);
  return count;
}

// How many graphics and MPS processes the six lists show, all told.
unsigned OtherProcesses(nvmlDevice_t device) {
  return CountOf(&nvmlDeviceGetGraphicsRunningProcesses, device, "graphics v1") +
         CountOf(&nvmlDeviceGetGraphicsRunningProcesses_v2, device, "graphics v2") +
         CountOf(&nvmlDeviceGetGraphicsRunningProcesses_v3, device, "graphics v3") +
         CountOf(&nvmlDeviceGetMPSComputeRunningProcesses, device, "mps v1") +
         CountOf(&nvmlDeviceGetMPSComputeRunningProcesses_v2, device, "mps v2") +
         CountOf(&nvmlDeviceGetMPSComputeRunningProcesses_v3, device, "mps v3");
}

// "[[pid,sm],...]"
std::string Samples(nvmlDevice_t device) {
  std::vector<nvmlProcessUtilizationSample_t> samples(64);
  unsigned n = static_cast<unsigned>(samples.size());
  if (!Check(nvmlDeviceGetProcessUtilization(device, samples.data(), &n, 0), "process utilization")) return "null";
  std::string out = "[";
  for (unsigned i = 0; i < n; ++i) {
    out += (i ? ",[" : "[") + std::to_string(samples[i].pid) + "," + std::to_string(samples[i].smUtil) + "]";
  }
  return out + "]";
}

unsigned DeviceUtilization(nvmlDevice_t device) {
  nvmlUtilization_t util{};
  Check(nvmlDeviceGetUtilizationRates(device, &util), "utilization rates");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  Check(nvmlDeviceGetUtilizationRates(device, &util), "utilization rates");
  return util.gpu;
}

std::string MemoryInfo(nvmlDevice_t device) {
  nvmlMemory_t memory{};
  Check(nvmlDeviceGetMemoryInfo(device, &memory), "memory info");
  return "{\"total\":" + std::to_string(memory.total) + ",\"used\":" + std::to_string(memory.used) +
         ",\"free\":" + std::to_string(memory.free) + "}";
}

// The lists again, through dlopen + dlsym and the legacy entry points' names.
std::string ThroughDlsym() {
  void* library = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    Fail(std::string("dlopen: ") + dlerror());
    return "null";
  }
  auto init = Lookup<decltype(&nvmlInit)>(library, "nvmlInit");
  auto by_index = Lookup<decltype(&nvmlDeviceGetHandleByIndex)>(library, "nvmlDeviceGetHandleByIndex");
  nvmlDevice_t device = nullptr;
  if (init == nullptr || by_index == nullptr || !Check(init(), "dlsym nvmlInit") ||
      !Check(by_index(0, &device), "dlsym nvmlDeviceGetHandleByIndex"))
    return "null";
  return ComputeLists(
      Lookup<decltype(&nvmlDeviceGetComputeRunningProcesses)>(library, "nvmlDeviceGetComputeRunningProcesses"),
      Lookup<decltype(&nvmlDeviceGetComputeRunningProcesses_v2)>(library, "nvmlDeviceGetComputeRunningProcesses_v2"),
      Lookup<decltype(&nvmlDeviceGetComputeRunningProcesses_v3)>(library, "nvmlDeviceGetComputeRunningProcesses_v3"),
      device, "dlsym");
}

std::string Failures() {
  std::string out = "[";
  for (size_t i = 0; i < g_failures.size(); ++i) out += (i ? ",\"" : "\"") + g_failures[i] + "\"";
  return out + "]";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: nvml_probe MIB\n");
    return 2;
  }
  size_t bytes = std::strtoull(argv[1], nullptr, 10) << 20;
  CUcontext ctx = nullptr;
  CUdeviceptr held = 0;
  if (cuInit(0) != CUDA_SUCCESS || cuDevicePrimaryCtxRetain(&ctx, 0) != CUDA_SUCCESS ||
      cuCtxSetCurrent(ctx) != CUDA_SUCCESS || (bytes > 0 && cuMemAlloc(&held, bytes) != CUDA_SUCCESS)) {
    std::fprintf(stderr, "nvml_probe: cannot hold %zu bytes on device 0\n", bytes);
    return 1;
  }
  nvmlDevice_t device = nullptr;
  if (!Check(nvmlInit_v2(), "nvmlInit_v2") || !Check(nvmlDeviceGetHandleByIndex_v2(0, &device), "handle")) {
    std::printf("{\"failures\":%s}\n", Failures().c_str());
    return 1;
  }
  std::string linked = ComputeLists(&nvmlDeviceGetComputeRunningProcesses, &nvmlDeviceGetComputeRunningProcesses_v2,
                                    &nvmlDeviceGetComputeRunningProcesses_v3, device, "linked");
  std::string dlsym_lists = ThroughDlsym();
  unsigned others = OtherProcesses(device);
  unsigned gpu_util = DeviceUtilization(device);
  std::string samples = Samples(device);
  std::string memory = MemoryInfo(device);
  Check(nvmlShutdown(), "nvmlShutdown");
  if (held != 0 && cuMemFree(held) != CUDA_SUCCESS) Fail("cuMemFree");
  if (cuDevicePrimaryCtxRelease(0) != CUDA_SUCCESS) Fail("cuDevicePrimaryCtxRelease");
  std::printf(
      "{\"pid\":%d,\"linked\":%s,\"dlsym\":%s,\"graphics_and_mps\":%u,\"gpu_util\":%u,\"samples\":%s,\"memory\":%s,"
      "\"failures\":%s}\n",
      static_cast<int>(getpid()), linked.c_str(), dlsym_lists.c_str(), others, gpu_util, samples.c_str(),
      memory.c_str(), Failures().c_str());
  return g_failures.empty() ? 0 : 1;
}
