// NVML as a slice sees it. The hooks are generated from nvml_hooks.def; each calls its policy
// with the real function (the one dlsym found, else the loaded libnvidia-ml.so.1's).
//
// Inside a slice:
//  - memory info: with a quota, the slice's limit and what its ledger holds; in a compute-only
//    slice, the device's total and what the slice's processes hold by the driver's process
//    list. Free is the device's, at most total less used.
//  - process lists: the driver's, kept to the slice's processes, with the driver's figures.
//  - per-process utilization: the driver's samples, kept to the slice's processes.
//  - device utilization: the latest sample of each of the slice's processes, summed (SM and
//    memory), at most 100; a sample over a second older than the device's newest is stale.
// What cannot be narrowed to the slice (the device's UUID unknown) shows nothing of anyone.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "common/nvml_abi.h"
#include "interposer/memory_quota.h"
#include "interposer/nvml_hooks.h"
#include "interposer/real_driver.h"
#include "interposer/slice_members.h"

#define VXPU_NVML_UNPAREN(...) __VA_ARGS__

extern "C" {
#define VXPU_NVML_HOOK(symbol, policy, params, args) nvmlReturn_t symbol params;
#include "interposer/nvml_hooks.def"
#undef VXPU_NVML_HOOK
}

namespace vxpu::interposer {
namespace {

enum NvmlHookId {
#define VXPU_NVML_HOOK(symbol, policy, params, args) kNvml_##symbol,
#include "interposer/nvml_hooks.def"
#undef VXPU_NVML_HOOK
  kNvmlHookCount
};

struct NvmlHook {
  const char* symbol;
  void* hook;
};

const NvmlHook kNvmlHooks[kNvmlHookCount] = {
#define VXPU_NVML_HOOK(symbol, policy, params, args) {#symbol, reinterpret_cast<void*>(&::symbol)},
#include "interposer/nvml_hooks.def"
#undef VXPU_NVML_HOOK
};

std::atomic<void*> g_real[kNvmlHookCount];

constexpr char kNvmlLibrary[] = "libnvidia-ml.so.1";
constexpr nvmlReturn_t kNoRealFunction = NVML_ERROR_FUNCTION_NOT_FOUND;  // the NVML behind lacks it
constexpr unsigned long long kStaleUs = 1000000;

using Sample = nvmlProcessUtilizationSample_t;
using ProcessUtilizationFn = decltype(&nvmlDeviceGetProcessUtilization);
using ProcessListFn = decltype(&nvmlDeviceGetComputeRunningProcesses_v3);

void* RealNvml(NvmlHookId id) {
  void* f = g_real[id].load(std::memory_order_acquire);
  if (f != nullptr) return f;
  f = RealSymbolIn(kNvmlLibrary, kNvmlHooks[id].symbol);
  if (f != nullptr) g_real[id].store(f, std::memory_order_release);
  return f;
}

template <typename Fn>
Fn RealNvmlAs(NvmlHookId id) {
  return reinterpret_cast<Fn>(RealNvml(id));
}

// The device's UUID, from the real NVML (not policed: it tells nothing about others).
bool UuidOf(nvmlDevice_t device, std::string* uuid) {
  auto get_uuid = reinterpret_cast<decltype(&nvmlDeviceGetUUID)>(RealSymbolIn(kNvmlLibrary, "nvmlDeviceGetUUID"));
  char text[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
  if (get_uuid == nullptr || get_uuid(device, text, sizeof(text)) != NVML_SUCCESS) return false;
  *uuid = text;
  return true;
}

// Keeps the entries of the slice's processes on `device`: none if the device is unknown.
template <typename Entry>
void KeepTheSlices(nvmlDevice_t device, std::vector<Entry>* entries) {
  std::string uuid;
  std::vector<int32_t> pids;
  if (UuidOf(device, &uuid)) pids = SlicePidsOn(uuid);
  auto foreign = [&pids](const Entry& e) {
    return !std::binary_search(pids.begin(), pids.end(), static_cast<int32_t>(e.pid));
  };
  entries->erase(std::remove_if(entries->begin(), entries->end(), foreign), entries->end());
}

// Reads a whole list with `read(count, array)`, which answers NVML_ERROR_INSUFFICIENT_SIZE and
// the count needed when the array is too small.
template <typename Entry, typename Read>
nvmlReturn_t ReadAll(std::vector<Entry>* out, Read read) {
  out->resize(64);
  for (int attempt = 0; attempt < 4; ++attempt) {
    unsigned n = static_cast<unsigned>(out->size());
    nvmlReturn_t r = read(&n, out->data());
    if (r == NVML_SUCCESS) out->resize(std::min<size_t>(n, out->size()));
    if (r != NVML_ERROR_INSUFFICIENT_SIZE) return r;
    out->resize(std::max<size_t>(n, out->size()) + 16);  // more came meanwhile
  }
  return NVML_ERROR_UNKNOWN;
}

nvmlReturn_t ReadSamples(ProcessUtilizationFn real, nvmlDevice_t device, unsigned long long last_seen,
                         std::vector<Sample>* out) {
  return ReadAll(out, [&](unsigned* n, Sample* array) { return real(device, array, n, last_seen); });
}

// Hands `list` out as NVML does: the count needed, and INSUFFICIENT_SIZE, when `out` cannot
// hold it (a list query with no array and nothing to list succeeds if `empty_fits`).
template <typename Entry>
nvmlReturn_t HandOut(const std::vector<Entry>& list, unsigned* count, Entry* out, bool empty_fits) {
  unsigned n = static_cast<unsigned>(list.size());
  if (out == nullptr || *count < n) {
    *count = n;
    return n == 0 && empty_fits ? NVML_SUCCESS : NVML_ERROR_INSUFFICIENT_SIZE;
  }
  std::copy(list.begin(), list.end(), out);
  *count = n;
  return NVML_SUCCESS;
}

// What the slice's processes hold on `device`, by the driver's process list (0 if unknown).
unsigned long long SliceProcessMemory(nvmlDevice_t device) {
  auto list = RealNvmlAs<ProcessListFn>(kNvml_nvmlDeviceGetComputeRunningProcesses_v3);
  if (list == nullptr) list = RealNvmlAs<ProcessListFn>(kNvml_nvmlDeviceGetComputeRunningProcesses_v2);
  std::vector<nvmlProcessInfo_t> infos;
  if (list == nullptr ||
      ReadAll(&infos, [&](unsigned* n, nvmlProcessInfo_t* array) { return list(device, n, array); }) != NVML_SUCCESS)
    return 0;
  KeepTheSlices(device, &infos);
  unsigned long long used = 0;
  for (const nvmlProcessInfo_t& info : infos) used += info.usedGpuMemory != ~0ull ? info.usedGpuMemory : 0;
  return used;
}

template <typename Memory>
nvmlReturn_t ShowSliceMemory(nvmlDevice_t device, Memory* memory) {
  std::string uuid;
  if (!UuidOf(device, &uuid)) return NVML_ERROR_UNKNOWN;
  uint64_t limit = 0, used = 0;
  if (SliceViewOf(uuid.c_str(), memory->total, &limit, &used)) {
    memory->total = limit;
  } else {
    used = SliceProcessMemory(device);
  }
  memory->used = used;
  memory->free = std::min<unsigned long long>(memory->free, used >= memory->total ? 0 : memory->total - used);
  return NVML_SUCCESS;
}

// The latest sample of each process, leaving out those over kStaleUs older than the newest.
std::vector<Sample> LatestSamples(const std::vector<Sample>& samples) {
  unsigned long long newest = 0;
  for (const Sample& s : samples) newest = std::max(newest, s.timeStamp);
  std::map<unsigned, Sample> latest;
  for (const Sample& s : samples) {
    if (s.timeStamp + kStaleUs < newest) continue;
    auto [it, fresh] = latest.emplace(s.pid, s);
    if (!fresh && s.timeStamp > it->second.timeStamp) it->second = s;
  }
  std::vector<Sample> out;
  for (const auto& [pid, s] : latest) out.push_back(s);
  return out;
}

nvmlUtilization_t Summed(const std::vector<Sample>& samples) {
  unsigned long long sm = 0, memory = 0;
  for (const Sample& s : samples) {
    sm += s.smUtil;
    memory += s.memUtil;
  }
  return nvmlUtilization_t{static_cast<unsigned>(std::min(sm, 100ull)),
                           static_cast<unsigned>(std::min(memory, 100ull))};
}

// The policies nvml_hooks.def names.

template <typename Memory>
nvmlReturn_t SliceMemory(nvmlReturn_t (*real)(nvmlDevice_t, Memory*), nvmlDevice_t device, Memory* memory) {
  if (real == nullptr) return kNoRealFunction;
  nvmlReturn_t r = real(device, memory);
  if (r != NVML_SUCCESS || !InSlice()) return r;
  return ShowSliceMemory(device, memory);
}

template <typename Info>
nvmlReturn_t SliceProcesses(nvmlReturn_t (*real)(nvmlDevice_t, unsigned*, Info*), nvmlDevice_t device, unsigned* count,
                            Info* infos) {
  if (real == nullptr) return kNoRealFunction;
  if (!InSlice()) return real(device, count, infos);
  if (count == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  std::vector<Info> all;
  nvmlReturn_t r = ReadAll(&all, [&](unsigned* n, Info* array) { return real(device, n, array); });
  if (r != NVML_SUCCESS) return r;
  KeepTheSlices(device, &all);
  return HandOut(all, count, infos, /*empty_fits=*/true);
}

nvmlReturn_t SliceSamples(ProcessUtilizationFn real, nvmlDevice_t device, Sample* samples, unsigned* count,
                          unsigned long long last_seen) {
  if (real == nullptr) return kNoRealFunction;
  if (!InSlice()) return real(device, samples, count, last_seen);
  if (count == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  std::vector<Sample> all;
  if (nvmlReturn_t r = ReadSamples(real, device, last_seen, &all); r != NVML_SUCCESS) return r;
  KeepTheSlices(device, &all);
  return HandOut(all, count, samples, /*empty_fits=*/false);
}

nvmlReturn_t SliceUtilization(decltype(&nvmlDeviceGetUtilizationRates) real, nvmlDevice_t device,
                              nvmlUtilization_t* utilization) {
  if (!InSlice()) return real != nullptr ? real(device, utilization) : kNoRealFunction;
  if (utilization == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  auto per_process = RealNvmlAs<ProcessUtilizationFn>(kNvml_nvmlDeviceGetProcessUtilization);
  if (per_process == nullptr) return kNoRealFunction;
  std::vector<Sample> samples;
  nvmlReturn_t r = ReadSamples(per_process, device, 0, &samples);
  if (r == NVML_ERROR_NOT_FOUND) samples.clear();  // no samples: nothing ran
  if (r != NVML_SUCCESS && r != NVML_ERROR_NOT_FOUND) return r;
  samples = LatestSamples(samples);
  KeepTheSlices(device, &samples);
  *utilization = Summed(samples);
  return NVML_SUCCESS;
}

template <typename Real, typename... Args>
nvmlReturn_t Withheld(Real real, Args... args) {
  if (InSlice()) return NVML_ERROR_NOT_SUPPORTED;
  return real != nullptr ? real(args...) : kNoRealFunction;
}

}  // namespace

void* InterceptNvmlSymbol(const char* symbol, void* real) {
  for (int id = 0; id < kNvmlHookCount; ++id) {
    const NvmlHook& h = kNvmlHooks[id];
    if (std::strcmp(symbol, h.symbol) != 0) continue;
    if (real == h.hook) return real;  // the lookup found the hook itself
    g_real[id].store(real, std::memory_order_release);
    return h.hook;
  }
  return real;
}

}  // namespace vxpu::interposer

extern "C" {

#define VXPU_NVML_HOOK(symbol, policy, params, args)                                     \
  nvmlReturn_t symbol params {                                                           \
    using Real = nvmlReturn_t(*) params;                                                 \
    namespace vi = ::vxpu::interposer;                                                   \
    return vi::policy(vi::RealNvmlAs<Real>(vi::kNvml_##symbol), VXPU_NVML_UNPAREN args); \
  }
#include "interposer/nvml_hooks.def"
#undef VXPU_NVML_HOOK

}  // extern "C"
