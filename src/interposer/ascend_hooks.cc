#include "interposer/ascend_hooks.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

#include "common/ascend_api.h"
#include "interposer/compute_gate.h"
#include "interposer/memory_quota.h"
#include "interposer/real_driver.h"

namespace vxpu::interposer {
namespace {

enum AscendHookId {
#define VXPU_ASCEND_HOOK(library, symbol, policy, params, args) kAscend_##symbol,
#include "interposer/ascend_hooks.def"
#undef VXPU_ASCEND_HOOK
  kAscendHookCount
};

struct AscendHook {
  const char* library;
  const char* symbol;
  void* hook;
};

const AscendHook kAscendHooks[kAscendHookCount] = {
#define VXPU_ASCEND_HOOK(library, symbol, policy, params, args) {library, #symbol, reinterpret_cast<void*>(&::symbol)},
#include "interposer/ascend_hooks.def"
#undef VXPU_ASCEND_HOOK
};

std::atomic<void*> g_real[kAscendHookCount];

void* RealAscend(AscendHookId id) {
  void* f = g_real[id].load(std::memory_order_acquire);
  if (f != nullptr) return f;
  f = RealSymbolIn(kAscendHooks[id].library, kAscendHooks[id].symbol);
  if (f != nullptr) g_real[id].store(f, std::memory_order_release);
  return f;
}

template <typename Fn>
Fn RealRuntime(const char* symbol) {
  return reinterpret_cast<Fn>(RealSymbolIn("libruntime.so", symbol));
}

// ---- which NPU ----

struct Npu {
  std::string uuid;
  uint64_t total = 0;
  std::string label;  // "NPU 0"
};

// The NPU of logical id `ordinal` (the calling thread's current one): its UUID from the chip's
// physical id, its memory from the runtime. Cached per ordinal.
bool DescribeCurrentNpu(int ordinal, Npu* out) {
  static std::mutex mu;
  static auto* known = new std::map<int, Npu>;  // never destroyed: hooks may run during exit
  std::lock_guard<std::mutex> lock(mu);
  auto found = known->find(ordinal);
  if (found != known->end()) {
    *out = found->second;
    return true;
  }
  static const auto phy_of = RealRuntime<decltype(&rtGetDevicePhyIdByIndex)>("rtGetDevicePhyIdByIndex");
  auto info = reinterpret_cast<decltype(&rtMemGetInfoEx)>(RealAscend(kAscend_rtMemGetInfoEx));
  uint32_t phy = 0;
  size_t free_bytes = 0, total = 0;
  if (phy_of == nullptr || info == nullptr || phy_of(static_cast<uint32_t>(ordinal), &phy) != ACL_SUCCESS ||
      info(ACL_HBM_MEM, &free_bytes, &total) != ACL_SUCCESS || total == 0)
    return false;
  char uuid[41];
  NpuUuid(phy, uuid);
  Npu npu{uuid, total, "NPU " + std::to_string(ordinal)};
  (*known)[ordinal] = npu;
  *out = npu;
  return true;
}

// The logical id of the NPU the calling thread's current context is on.
bool CurrentDevice(int* device) {
  static const auto get_device = RealRuntime<decltype(&rtCtxGetDevice)>("rtCtxGetDevice");
  int32_t id = -1;
  if (get_device == nullptr || get_device(&id) != ACL_SUCCESS) return false;
  *device = id;
  return true;
}

// The NPU the calling thread's current context is on; false (and one line) if the runtime
// cannot say, so the caller fails closed.
bool CurrentNpu(Npu* out, int* ordinal = nullptr) {
  int device = -1;
  if (!CurrentDevice(&device)) return false;
  if (ordinal != nullptr) *ordinal = device;
  if (DescribeCurrentNpu(device, out)) return true;
  std::fprintf(stderr, "vxpu: cannot identify NPU %d; its allocations are refused\n", device);
  return false;
}

bool DescribeForGate(int device, std::string* uuid, uint64_t* total) {
  Npu npu;
  if (!DescribeCurrentNpu(device, &npu)) return false;
  *uuid = npu.uuid;
  *total = npu.total;
  return true;
}

void DrainNpuContext(void* ctx) {
  static const auto set_current = RealRuntime<decltype(&rtCtxSetCurrent)>("rtCtxSetCurrent");
  static const auto sync = RealRuntime<decltype(&rtCtxSynchronize)>("rtCtxSynchronize");
  if (set_current != nullptr && sync != nullptr && set_current(ctx) == ACL_SUCCESS) sync();
}

const GateFamily kAscendFamily = {1, "NPU", DescribeForGate, CurrentDevice, DrainNpuContext};

// ---- what the slice holds ----

struct Charge {
  Npu npu;
  uint64_t bytes = 0;
};

struct Charges {
  std::mutex mu;
  std::map<uintptr_t, Charge> by_key;  // rtMalloc's pointers and physical handles
};

Charges& TheCharges() {
  static auto* charges = new Charges;  // never destroyed: hooks may run during exit
  return *charges;
}

void Remember(const void* key, const Npu& npu, uint64_t bytes) {
  std::lock_guard<std::mutex> lock(TheCharges().mu);
  TheCharges().by_key[reinterpret_cast<uintptr_t>(key)] = Charge{npu, bytes};
}

void Forget(const void* key) {
  Charges& c = TheCharges();
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = c.by_key.find(reinterpret_cast<uintptr_t>(key));
  if (it == c.by_key.end()) return;
  ReleaseMemoryOn(it->second.npu.uuid, it->second.npu.total, it->second.bytes);
  c.by_key.erase(it);
}

// Runs `allocate` with `bytes` reserved in the slice on `npu`; 207001 without room.
template <typename Allocate>
rtError_t Charged(const Npu& npu, uint64_t bytes, Allocate allocate) {
  if (!ReserveMemoryOn(npu.uuid, npu.total, bytes, npu.label)) return ACL_ERROR_RT_MEMORY_ALLOCATION;
  rtError_t result = allocate();
  if (result != ACL_SUCCESS) ReleaseMemoryOn(npu.uuid, npu.total, bytes);
  return result;
}

// ---- the policies ----

rtError_t Allocate(decltype(&rtMalloc) real, void** ptr, uint64_t size, rtMemType_t type, uint16_t module_id) {
  if (real == nullptr) return ACL_ERROR_RT_INTERNAL_ERROR;
  if (!QuotaEnabled() || ptr == nullptr || size == 0) return real(ptr, size, type, module_id);
  Npu npu;
  if (!CurrentNpu(&npu)) return ACL_ERROR_RT_MEMORY_ALLOCATION;
  rtError_t result = Charged(npu, size, [&] { return real(ptr, size, type, module_id); });
  if (result == ACL_SUCCESS) Remember(*ptr, npu, size);
  return result;
}

rtError_t Free(decltype(&rtFree) real, void* ptr) {
  if (real == nullptr) return ACL_ERROR_RT_INTERNAL_ERROR;
  rtError_t result = real(ptr);
  if (result == ACL_SUCCESS && QuotaEnabled()) Forget(ptr);
  return result;
}

rtError_t AllocatePhysical(decltype(&rtMallocPhysical) real, rtDrvMemHandle* handle, size_t size,
                           const rtDrvMemProp_t* prop, uint64_t flags) {
  if (real == nullptr) return ACL_ERROR_RT_INTERNAL_ERROR;
  if (!QuotaEnabled() || handle == nullptr || prop == nullptr || size == 0) return real(handle, size, prop, flags);
  Npu npu;
  int current = -1;
  if (!CurrentNpu(&npu, &current)) return ACL_ERROR_RT_MEMORY_ALLOCATION;
  if (prop->location.type == 1 && static_cast<int>(prop->location.id) != current) {
    std::fprintf(stderr, "vxpu: physical memory on NPU %u asked for from a context on NPU %d is not policed; refused\n",
                 prop->location.id, current);
    return ACL_ERROR_RT_MEMORY_ALLOCATION;
  }
  rtError_t result = Charged(npu, size, [&] { return real(handle, size, prop, flags); });
  if (result == ACL_SUCCESS) Remember(*handle, npu, size);
  return result;
}

rtError_t FreePhysical(decltype(&rtFreePhysical) real, rtDrvMemHandle handle) {
  if (real == nullptr) return ACL_ERROR_RT_INTERNAL_ERROR;
  rtError_t result = real(handle);
  if (result == ACL_SUCCESS && QuotaEnabled()) Forget(handle);
  return result;
}

rtError_t MemoryInfo(decltype(&rtMemGetInfoEx) real, rtMemInfoType_t type, size_t* free_bytes, size_t* total_bytes) {
  if (real == nullptr) return ACL_ERROR_RT_INTERNAL_ERROR;
  rtError_t result = real(type, free_bytes, total_bytes);
  if (result != ACL_SUCCESS || !QuotaEnabled()) return result;
  Npu npu;
  uint64_t limit = 0, used = 0;
  if (!CurrentNpu(&npu) || !SliceViewOf(npu.uuid.c_str(), npu.total, &limit, &used))
    return ACL_ERROR_RT_INTERNAL_ERROR;  // never the whole chip inside a slice
  uint64_t left = used < limit ? limit - used : 0;
  *total_bytes = limit;
  *free_bytes = left < *free_bytes ? left : *free_bytes;
  return ACL_SUCCESS;
}

template <typename Real, typename... Args>
rtError_t Launch(Real real, Args... args) {
  if (real == nullptr) return ACL_ERROR_RT_INTERNAL_ERROR;
  if (ComputeEnabled()) {
    static const auto get_current = RealRuntime<decltype(&rtCtxGetCurrent)>("rtCtxGetCurrent");
    rtContext_t ctx = nullptr;
    if (get_current != nullptr && get_current(&ctx) == ACL_SUCCESS && ctx != nullptr &&
        !AwaitTurnOn(kAscendFamily, ctx))
      return ACL_ERROR_RT_INTERNAL_ERROR;  // the slice cannot hold there (said)
  }
  return real(args...);
}

// Whether the process may use the chip of logical id `logic` (ASCEND_RT_VISIBLE_DEVICES lists it,
// or is unset). DCMI shows every chip; only those the slice's process can use are the slice's.
bool ChipVisible(int logic) {
  const char* visible = std::getenv("ASCEND_RT_VISIBLE_DEVICES");
  if (visible == nullptr) return true;
  std::string list = std::string(",") + visible + ",";
  return list.find("," + std::to_string(logic) + ",") != std::string::npos;
}

// DCMI's chip (card, device) as the slice shows it: its UUID and size, and the slice's view.
// False, with *visible false, for a chip the process cannot use: it shows as it is.
bool DcmiSliceView(int card, int device, uint64_t total, uint64_t* limit, uint64_t* used, bool* visible) {
  static const auto logic_of =
      reinterpret_cast<decltype(&dcmi_get_device_logic_id)>(RealSymbolIn("libdcmi.so", "dcmi_get_device_logic_id"));
  static const auto phy_of = reinterpret_cast<decltype(&dcmi_get_device_phyid_from_logicid)>(
      RealSymbolIn("libdcmi.so", "dcmi_get_device_phyid_from_logicid"));
  int logic = -1;
  unsigned phy = 0;
  if (logic_of == nullptr || phy_of == nullptr || logic_of(&logic, card, device) != DCMI_OK || logic < 0 ||
      phy_of(static_cast<unsigned>(logic), &phy) != DCMI_OK)
    return false;
  *visible = ChipVisible(logic);
  if (!*visible) return false;
  char uuid[41];
  NpuUuid(phy, uuid);
  return SliceViewOf(uuid, total, limit, used);
}

constexpr unsigned long long kMiB = 1024ull * 1024;

int DcmiMemory(decltype(&dcmi_get_device_memory_info_v3) real, int card, int device,
               struct dcmi_get_memory_info_stru* info) {
  if (real == nullptr) return DCMI_ERR_INNER;
  int result = real(card, device, info);
  if (result != DCMI_OK || !QuotaEnabled()) return result;
  uint64_t limit = 0, used = 0;
  bool visible = true;
  if (!DcmiSliceView(card, device, info->memory_size * kMiB, &limit, &used, &visible))
    return visible ? DCMI_ERR_INNER : DCMI_OK;
  info->memory_size = limit / kMiB;
  info->memory_available = (used < limit ? limit - used : 0) / kMiB;
  info->utiliza = limit > 0 ? static_cast<unsigned>(used * 100 / limit) : 0;
  if (info->hugepagesize > 0) {
    info->hugepages_total = limit / (info->hugepagesize * 1024);
    info->hugepages_free = info->memory_available * 1024 / info->hugepagesize;
  }
  return DCMI_OK;
}

int DcmiHbm(decltype(&dcmi_get_device_hbm_info) real, int card, int device, struct dcmi_hbm_info* info) {
  if (real == nullptr) return DCMI_ERR_INNER;
  int result = real(card, device, info);
  if (result != DCMI_OK || !QuotaEnabled()) return result;
  uint64_t limit = 0, used = 0;
  bool visible = true;
  if (!DcmiSliceView(card, device, info->memory_size * kMiB, &limit, &used, &visible))
    return visible ? DCMI_ERR_INNER : DCMI_OK;
  info->memory_size = limit / kMiB;
  info->memory_usage = used / kMiB;
  return DCMI_OK;
}

}  // namespace

void* InterceptAscendSymbol(const char* symbol, void* real) {
  for (int id = 0; id < kAscendHookCount; ++id) {
    const AscendHook& h = kAscendHooks[id];
    if (std::strcmp(symbol, h.symbol) != 0) continue;
    if (real == h.hook) return real;  // the lookup found the hook itself
    g_real[id].store(real, std::memory_order_release);
    return h.hook;
  }
  return real;
}

}  // namespace vxpu::interposer

extern "C" {

#define VXPU_ASCEND_UNPAREN(...) __VA_ARGS__
// Every policed entry point returns an int code (rtError_t, DCMI's int).
#define VXPU_ASCEND_HOOK(library, symbol, policy, params, args)                                    \
  int symbol params {                                                                              \
    namespace vi = ::vxpu::interposer;                                                             \
    return vi::policy(reinterpret_cast<decltype(&::symbol)>(vi::RealAscend(vi::kAscend_##symbol)), \
                      VXPU_ASCEND_UNPAREN args);                                                   \
  }
#include "interposer/ascend_hooks.def"
#undef VXPU_ASCEND_HOOK

}  // extern "C"
