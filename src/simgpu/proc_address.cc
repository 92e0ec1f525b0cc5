// cuGetProcAddress: the driver's own symbol lookup, answered from driver_api.def through
// common/proc_table.h.
#include "common/proc_table.h"
#include "simgpu/driver.h"

// The table lists deprecated entry points too: a driver still exports them.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace simgpu {
namespace {

const vxpu::ProcEntry kEntries[] = {
#define SIMGPU_ENTRY(name, version, symbol, per_thread) \
  {#name, version, reinterpret_cast<void*>(&symbol),    \
   vxpu::PerThreadOf<PerThreadDefaultStreamScope, &symbol>(per_thread)},
#include "simgpu/driver_api.def"
#undef SIMGPU_ENTRY
};

CUresult Lookup(const char* symbol, void** pfn, int cuda_version, cuuint64_t flags,
                CUdriverProcAddressQueryResult* status) {
  return vxpu::LookupProc(kEntries, sizeof(kEntries) / sizeof(kEntries[0]), symbol, pfn, cuda_version, flags, status);
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
