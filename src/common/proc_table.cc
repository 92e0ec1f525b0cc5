#include "common/proc_table.h"

#include <cstring>

namespace vxpu {

CUresult LookupProc(const ProcEntry* entries, size_t count, const char* symbol, void** pfn, int cuda_version,
                    cuuint64_t flags, CUdriverProcAddressQueryResult* status) {
  constexpr cuuint64_t kKnownFlags = CU_GET_PROC_ADDRESS_LEGACY_STREAM | CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM;
  if (symbol == nullptr || pfn == nullptr || (flags & ~kKnownFlags)) return CUDA_ERROR_INVALID_VALUE;
  const ProcEntry* best = nullptr;
  bool name_found = false;
  for (size_t i = 0; i < count; ++i) {
    const ProcEntry& e = entries[i];
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

}  // namespace vxpu
