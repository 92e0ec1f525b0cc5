// cuGetProcAddress answered from a table of entry points, for every library that presents
// itself as libcuda.so.1 (simgpu, the remote client). Dependency-free (cuda.h declarations).
//
// The version argument picks the newest symbol version introduced at or before it; the
// per-thread flag hands out a variant that runs the entry point inside a `Scope` object, which
// makes the NULL stream mean the per-thread default stream for that call.
#pragma once

#include <cuda.h>

#include <cstddef>

namespace vxpu {

struct ProcEntry {
  const char* name;
  int since_version;
  void* function;
  void* per_thread_function;  // nullptr when there is no per-thread variant
};

// The tables list deprecated entry points too (a driver still exports them).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
template <typename Scope, auto Fn>
struct PerThreadVariant;

template <typename Scope, typename... Args, CUresult (*Fn)(Args...)>
struct PerThreadVariant<Scope, Fn> {
  static CUresult Call(Args... args) {
    Scope scope;
    return Fn(args...);
  }
};

template <typename Scope, auto Fn>
constexpr void* PerThreadOf(bool has_variant) {
  return has_variant ? reinterpret_cast<void*>(&PerThreadVariant<Scope, Fn>::Call) : nullptr;
}
#pragma GCC diagnostic pop

// cuGetProcAddress_v2's contract over `entries` (status may be null, as for the v1 call).
CUresult LookupProc(const ProcEntry* entries, size_t count, const char* symbol, void** pfn, int cuda_version,
                    cuuint64_t flags, CUdriverProcAddressQueryResult* status);

}  // namespace vxpu
