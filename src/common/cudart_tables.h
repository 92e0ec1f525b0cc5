// The private tables the CUDA runtime asks a driver for through cuGetExportTable, by UUID (facts
// in ../shared/cuda-runtime-facts.md): the six cudart 13.0 requires. They are written against the
// public driver API, so each library that stands in for libcuda.so.1 (simgpu, the remote client)
// compiles this file in and serves the same tables from its own entry points; the integrity
// check is then computed from the calling process's own values, wherever the device is.
#pragma once

#include <cuda.h>

namespace vxpu {

// cuGetExportTable: *table for a table served; CUDA_ERROR_NOT_FOUND for any other, named once on
// stderr with `who` ("simgpu") in front (the one cudart asks for first and does without is not
// named).
CUresult ServeExportTable(const void** table, const CUuuid* id, const char* who);

// Forgets what the runtime stored for `ctx` in CONTEXT_LOCAL_STORAGE: the context is being
// destroyed. Takes a lock of its own, never calls the driver.
void ForgetContextStorage(CUcontext ctx);

}  // namespace vxpu
