// What every runtime test program shares: a check that names the failing call and its error,
// and simgpu's built-in kernels (samples/kernels/sim_kernels.cu, the same file the driver-API
// samples embed as PTX), so that the programs run unchanged on simgpu and on a real GPU.
#pragma once

#include <cuda_runtime.h>

#include <cstdio>

#include "../kernels/sim_kernels.cu"

#define RT_CHECK(call)                                                                                  \
  do {                                                                                                  \
    cudaError_t rt_error_ = (call);                                                                     \
    if (rt_error_ != cudaSuccess) {                                                                     \
      std::fprintf(stderr, "%s failed: %s (%d)\n", #call, cudaGetErrorName(rt_error_), int(rt_error_)); \
      return 1;                                                                                         \
    }                                                                                                   \
  } while (0)

// Threads per block for the element-wise kernels, and blocks for n elements.
constexpr unsigned kThreads = 256;
inline unsigned BlocksFor(unsigned long long n) { return static_cast<unsigned>((n + kThreads - 1) / kThreads); }
