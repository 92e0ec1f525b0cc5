// cuGetProcAddress: the driver's own symbol lookup, answered from driver_api.def.
//
// The version argument picks the newest symbol version introduced at or before it; the
// per-thread flag hands out a variant whose NULL stream means the per-thread default stream.
#include <cstring>

#include "simgpu/driver.h"

// The table lists deprecated entry points too: a driver still exports them.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace simgpu {
namespace {

template <auto Fn>
struct PerThreadVariant;

template <typename... Args, CUresult (*Fn)(Args...)>
struct PerThreadVariant<Fn> {
  static CUresult Call(Args... args) {
    PerThreadDefaultStreamScope scope;
    return Fn(args...);
  }
};

struct ProcEntry {
  const char* name;
  int since_version;
  void* function;
  void* per_thread_function;  // nullptr when there is no per-thread variant
};

template <auto Fn>
constexpr void* PerThreadOf(bool has_variant) {
  return has_variant ? reinterpret_cast<void*>(&PerThreadVariant<Fn>::Call) : nullptr;
}

const ProcEntry kEntries[] = {
#define SIMGPU_ENTRY(name, version, symbol, per_thread) \
  {#name, version, reinterpret_cast<void*>(&symbol), PerThreadOf<&symbol>(per_thread)},
#include "simgpu/driver_api.def"
#undef SIMGPU_ENTRY
};

CUresult Lookup(const char* symbol, void** pfn, int cuda_version, cuuint64_t flags,
                CUdriverProcAddressQueryResult* status) {
  constexpr cuuint64_t kKnownFlags = CU_GET_PROC_ADDRESS_LEGACY_STREAM | CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM;
  if (symbol == nullptr || pfn == nullptr || (flags & ~kKnownFlags)) return CUDA_ERROR_INVALID_VALUE;
  const ProcEntry* best = nullptr;
  bool name_found = false;
  for (const ProcEntry& e : kEntries) {
    if (std::strcmp(e.name, symbol) != 0) continue;
    name_found = true;
    if (e.since_version <= cuda_version && (best == nullptr || e.since_version > best->since_version)) best = &e;
  }
  *pfn = nullptr;
  if (best == nullptr) {
    if (status != nullptr)
      *status = name_found ? CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT : CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    return CUDA_ERROR_NOT_FOUND;
  }
  bool per_thread = (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) != 0;
  *pfn = per_thread && best->per_thread_function != nullptr ? best->per_thread_function : best->function;
  if (status != nullptr) *status = CU_GET_PROC_ADDRESS_SUCCESS;
  return CUDA_SUCCESS;
}

}  // namespace
}  // namespace simgpu

extern "C" {

CUresult CUDAAPI cuGetProcAddress_v2(const char* symbol, void** pfn, int cuda_version, cuuint64_t flags,
                                     CUdriverProcAddressQueryResult* status) {
  return simgpu::Lookup(symbol, pfn, cuda_version, flags, status);
}

CUresult CUDAAPI simgpu_cuGetProcAddress_v1(const char* symbol, void** pfn, int cuda_version, cuuint64_t flags) {
  return simgpu::Lookup(symbol, pfn, cuda_version, flags, nullptr);
}

}  // extern "C"
