// The `extra` argument of cuLaunchKernel: a packed parameter buffer described by
// CU_LAUNCH_PARAM_BUFFER_POINTER / _SIZE pairs up to CU_LAUNCH_PARAM_END. Shared by every
// library that presents itself as libcuda.so.1 (simgpu, the remote client).
#pragma once

#include <cuda.h>

#include <cstddef>

namespace vxpu {

// The buffer and its size; false for an entry the driver does not know or a missing buffer.
inline bool ExtraBuffer(void** extra, const void** buffer, size_t* size) {
  *buffer = nullptr;
  *size = 0;
  for (size_t i = 0; extra[i] != CU_LAUNCH_PARAM_END; i += 2) {
    if (extra[i] == CU_LAUNCH_PARAM_BUFFER_POINTER) {
      *buffer = extra[i + 1];
    } else if (extra[i] == CU_LAUNCH_PARAM_BUFFER_SIZE) {
      *size = *static_cast<size_t*>(extra[i + 1]);
    } else {
      return false;
    }
  }
  return *buffer != nullptr;
}

}  // namespace vxpu
