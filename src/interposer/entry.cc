// How programs reach the hooks, generated from hooks.def:
//  - exported symbols (programs linked against libcuda.so.1, with libvxpu.so preloaded),
//  - dlsym (programs that dlopen the driver and look symbols up, like the CUDA runtime),
//  - cuGetProcAddress / _v2 (how the runtime and PyTorch fetch every entry point), including
//    the per-thread default-stream variants.
// Each records the real function it stands in front of, per flavor, and hands out the hook.
#include <dlfcn.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>

#include "interposer/ascend_hooks.h"
#include "interposer/compute_gate.h"
#include "interposer/hooks.h"
#include "interposer/memory_quota.h"
#include "interposer/nvml_hooks.h"
#include "interposer/real_driver.h"
#include "interposer/slice_config.h"

// The per-thread variants are exported as the driver names them: <symbol>_ptsz (the policed
// entry points that have one all take a stream; none is of the _ptds kind).
#define VXPU_PER_THREAD_0(symbol, params, args)
#define VXPU_PER_THREAD_1(symbol, params, args) \
  CUresult CUDAAPI symbol##_ptsz params { return Hook_##symbol(kPerThreadFlavor, VXPU_UNPAREN args); }
#define VXPU_PER_THREAD_DECLARE_0(symbol, params)
#define VXPU_PER_THREAD_DECLARE_1(symbol, params) CUresult CUDAAPI symbol##_ptsz params;
#define VXPU_PER_THREAD_ADDRESS_0(symbol) nullptr
#define VXPU_PER_THREAD_ADDRESS_1(symbol) reinterpret_cast<void*>(&symbol##_ptsz)

extern "C" {
#define VXPU_HOOK(name, since, symbol, per_thread, params, args) VXPU_PER_THREAD_DECLARE_##per_thread(symbol, params)
#include "interposer/hooks.def"
#undef VXPU_HOOK
}

namespace vxpu::interposer {
namespace {

struct HookEntry {
  const char* name;
  int since_version;
  const char* symbol;
  bool per_thread;
  void* hook[2];  // by flavor
};

const HookEntry kHooks[kHookCount] = {
#define VXPU_HOOK(name, since, symbol, per_thread, params, args) \
  {#name,                                                        \
   since,                                                        \
   #symbol,                                                      \
   per_thread != 0,                                              \
   {reinterpret_cast<void*>(&::symbol), VXPU_PER_THREAD_ADDRESS_##per_thread(symbol)}},
#include "interposer/hooks.def"
#undef VXPU_HOOK
};

std::atomic<void*> g_real[kHookCount][2];

bool EndsWith(const std::string& text, const char* suffix) {
  size_t n = std::strlen(suffix);
  return text.size() >= n && text.compare(text.size() - n, n, suffix) == 0;
}

// The hook whose exported symbol is `symbol`, or whose per-thread variant it is.
const HookEntry* HookBySymbol(const char* symbol, int* flavor) {
  std::string s = symbol;
  *flavor = kDefaultFlavor;
  if (EndsWith(s, "_ptsz") || EndsWith(s, "_ptds")) {
    s.resize(s.size() - 5);
    *flavor = kPerThreadFlavor;
  }
  for (const HookEntry& e : kHooks) {
    if (s == e.symbol && (*flavor == kDefaultFlavor || e.per_thread)) return &e;
  }
  return nullptr;
}

// The hook for `name` as asked for by `cuda_version`: the newest of its versions introduced at
// or before it (hooks.def lists them oldest first), or the oldest if none is.
const HookEntry* HookByName(const char* name, int cuda_version) {
  const HookEntry* found = nullptr;
  for (const HookEntry& e : kHooks) {
    if (std::strcmp(name, e.name) == 0 && (found == nullptr || e.since_version <= cuda_version)) found = &e;
  }
  return found;
}

HookId IdOf(const HookEntry* e) { return static_cast<HookId>(e - kHooks); }

// The hooks only a compute slice needs: launches, and the stream capture calls.
bool IsComputeHook(HookId id) {
  switch (id) {
    case kHook_cuLaunchKernel:
    case kHook_cuLaunchKernelEx:
    case kHook_cuLaunchCooperativeKernel:
    case kHook_cuGraphLaunch:
    case kHook_cuStreamBeginCapture:
    case kHook_cuStreamBeginCapture_v2:
    case kHook_cuStreamBeginCaptureToGraph:
    case kHook_cuStreamEndCapture: return true;
    default: return false;
  }
}

// Puts the hook in front of `real`, the driver's function for `e` in `flavor`. The compute
// hooks are left alone when no compute slice is configured: they then cost nothing.
void* Intercept(const HookEntry* e, int flavor, void* real) {
  if (real == e->hook[flavor]) return real;  // the lookup found the hook itself
  if (IsComputeHook(IdOf(e)) && !ComputeEnabled()) return real;
  g_real[IdOf(e)][flavor].store(real, std::memory_order_release);
  return e->hook[flavor];
}

using ProcAddressV2 = decltype(&cuGetProcAddress_v2);
using ProcAddressV1 = decltype(&vxpu_cuGetProcAddress_v1);

void* ProcAddressHook(int cuda_version) {
  return cuda_version >= 12000 ? reinterpret_cast<void*>(&cuGetProcAddress_v2)
                               : reinterpret_cast<void*>(&vxpu_cuGetProcAddress_v1);
}

// After the driver answered cuGetProcAddress: hand out hooks for what is policed, and refuse
// versions of policed entry points the interposer does not know (fail closed).
CUresult InterceptProcAddress(CUresult result, const char* symbol, void** pfn, int cuda_version, cuuint64_t flags,
                              CUdriverProcAddressQueryResult* status) {
  if (result != CUDA_SUCCESS || symbol == nullptr || pfn == nullptr || *pfn == nullptr) return result;
  if (std::strcmp(symbol, "cuGetProcAddress") == 0) {
    *pfn = ProcAddressHook(cuda_version);
    return result;
  }
  const HookEntry* e = HookByName(symbol, cuda_version);
  if (e == nullptr) return result;
  if (cuda_version < e->since_version && QuotaEnabled()) {
    std::fprintf(stderr, "vxpu: refusing %s for CUDA %d: that version is not policed\n", symbol, cuda_version);
    *pfn = nullptr;
    if (status != nullptr) *status = CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT;
    return CUDA_ERROR_NOT_FOUND;
  }
  int flavor =
      (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) && e->per_thread ? kPerThreadFlavor : kDefaultFlavor;
  *pfn = Intercept(e, flavor, *pfn);
  return result;
}

// A driver that does not export <symbol>_ptsz may still hand the variant out by name.
void* PerThreadFromDriver(const HookEntry& e) {
  auto lookup = reinterpret_cast<ProcAddressV2>(RealSymbol("cuGetProcAddress_v2"));
  void* f = nullptr;
  if (lookup == nullptr ||
      lookup(e.name, &f, e.since_version, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, nullptr) != CUDA_SUCCESS)
    return nullptr;
  return f;
}

__attribute__((constructor)) void LoadInterposer() {
  ApplyRegisteredTerms();
  LoadQuotaConfig();
  LoadComputeConfig();
  if (QuotaEnabled() || ComputeEnabled()) CheckStateDirFromEnv();
}

__attribute__((destructor)) void UnloadInterposer() {
  LeaveComputeArbiters();
  LeaveSliceLedgers();
}

}  // namespace

void* RealFunction(HookId id, int flavor) {
  void* f = g_real[id][flavor].load(std::memory_order_acquire);
  if (f != nullptr) return f;
  std::string symbol = kHooks[id].symbol;
  if (flavor == kPerThreadFlavor) symbol += "_ptsz";
  f = RealSymbol(symbol.c_str());
  if (f == nullptr && flavor == kPerThreadFlavor) f = PerThreadFromDriver(kHooks[id]);
  if (f != nullptr) g_real[id][flavor].store(f, std::memory_order_release);
  return f;
}

}  // namespace vxpu::interposer

using namespace vxpu::interposer;

extern "C" {

#define VXPU_HOOK(name, since, symbol, per_thread, params, args)                              \
  CUresult CUDAAPI symbol params { return Hook_##symbol(kDefaultFlavor, VXPU_UNPAREN args); } \
  VXPU_PER_THREAD_##per_thread(symbol, params, args)
#include "interposer/hooks.def"
#undef VXPU_HOOK

CUresult CUDAAPI cuGetProcAddress_v2(const char* symbol, void** pfn, int cuda_version, cuuint64_t flags,
                                     CUdriverProcAddressQueryResult* status) {
  auto real = reinterpret_cast<ProcAddressV2>(RealSymbol("cuGetProcAddress_v2"));
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  return InterceptProcAddress(real(symbol, pfn, cuda_version, flags, status), symbol, pfn, cuda_version, flags, status);
}

CUresult CUDAAPI vxpu_cuGetProcAddress_v1(const char* symbol, void** pfn, int cuda_version, cuuint64_t flags) {
  auto real = reinterpret_cast<ProcAddressV1>(RealSymbol("cuGetProcAddress"));
  if (real == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  return InterceptProcAddress(real(symbol, pfn, cuda_version, flags), symbol, pfn, cuda_version, flags, nullptr);
}

// Programs that dlopen the driver find the hooks through dlsym as well.
// RTLD_NEXT means "after the caller", and glibc tells the caller by its return address: such a
// lookup is passed on as a tail call (a jump), which leaves the caller's return address in place.
// It is not intercepted: a library that looks past itself wants the next definition, whatever it is.
__attribute__((optimize("optimize-sibling-calls"))) void* dlsym(void* handle, const char* symbol) noexcept {
  if (handle == RTLD_NEXT) {
    DlsymFunction next = RealDlsymFunction();
    return next != nullptr ? next(handle, symbol) : nullptr;
  }
  void* real = RealDlsym(handle, symbol);
  if (real == nullptr) return real;
  if (std::strncmp(symbol, "nvml", 4) == 0) return InterceptNvmlSymbol(symbol, real);
  if (std::strncmp(symbol, "rt", 2) == 0 || std::strncmp(symbol, "dcmi_", 5) == 0)
    return InterceptAscendSymbol(symbol, real);
  if (symbol[0] != 'c' || symbol[1] != 'u') return real;
  if (std::strcmp(symbol, "cuGetProcAddress_v2") == 0) return reinterpret_cast<void*>(&cuGetProcAddress_v2);
  if (std::strcmp(symbol, "cuGetProcAddress") == 0) return reinterpret_cast<void*>(&vxpu_cuGetProcAddress_v1);
  int flavor = kDefaultFlavor;
  const HookEntry* e = HookBySymbol(symbol, &flavor);
  return e != nullptr ? Intercept(e, flavor, real) : real;
}

}  // extern "C"
