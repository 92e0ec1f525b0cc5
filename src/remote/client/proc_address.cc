// cuGetProcAddress of the remote client, answered from api.def.
#include "common/proc_table.h"
#include "remote/client/client.h"
#include "remote/client/cuda_api.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace {

const vxpu::ProcEntry kEntries[] = {
#define VXPU_REMOTE_ENTRY(name, version, symbol, per_thread) \
  {#name, version, reinterpret_cast<void*>(&symbol),         \
   vxpu::PerThreadOf<vxpu::remote::PerThreadScope, &symbol>(per_thread)},
#include "remote/client/api.def"
#undef VXPU_REMOTE_ENTRY
};

CUresult Lookup(const char* symbol, void** pfn, int cuda_version, cuuint64_t flags,
                CUdriverProcAddressQueryResult* status) {
  return vxpu::LookupProc(kEntries, sizeof(kEntries) / sizeof(kEntries[0]), symbol, pfn, cuda_version, flags, status);
}

}  // namespace

extern "C" {

CUresult CUDAAPI cuGetProcAddress_v2(const char* symbol, void** pfn, int cuda_version, cuuint64_t flags,
                                     CUdriverProcAddressQueryResult* status) {
  return Lookup(symbol, pfn, cuda_version, flags, status);
}

CUresult CUDAAPI remote_cuGetProcAddress_v1(const char* symbol, void** pfn, int cuda_version, cuuint64_t flags) {
  return Lookup(symbol, pfn, cuda_version, flags, nullptr);
}

}  // extern "C"
