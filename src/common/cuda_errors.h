// The names and texts of CUDA driver errors, as cuGetErrorName and cuGetErrorString give
// them: shared by simgpu and the remote client. Every code cuda.h defines has its name (the list
// is generated from the header, cmake/Cuda.cmake); the text is the driver's where vxpu knows it,
// else made from the name. Dependency-free (cuda.h declarations only).
#pragma once

#include <cuda.h>

namespace vxpu {

// *name / *text for a known code (CUDA_SUCCESS); nullptr and CUDA_ERROR_INVALID_VALUE otherwise.
CUresult ErrorName(CUresult error, const char** name);
CUresult ErrorString(CUresult error, const char** text);

}  // namespace vxpu
