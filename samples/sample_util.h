// Small helpers shared by the sample programs. Samples use nothing but libc, libstdc++ and
// the CUDA driver API, so they build on a bare GPU machine and run unchanged on simgpu.
#pragma once

#include <cuda.h>

#include <cstdio>
#include <cstdlib>

#include "sim_kernels_ptx.h"  // kSimKernelsPtx, generated from samples/kernels/sim_kernels.ptx

#define SAMPLE_CHECK(call)                                                      \
  do {                                                                          \
    CUresult sample_result_ = (call);                                           \
    if (sample_result_ != CUDA_SUCCESS) {                                       \
      const char* sample_name_ = nullptr;                                       \
      cuGetErrorName(sample_result_, &sample_name_);                            \
      std::fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call, \
                   sample_name_ ? sample_name_ : "unknown error");              \
      std::exit(1);                                                             \
    }                                                                           \
  } while (0)

// Initialises the driver and makes the primary context of `ordinal` current.
inline CUcontext SampleOpenDevice(int ordinal, CUdevice* device) {
  SAMPLE_CHECK(cuInit(0));
  SAMPLE_CHECK(cuDeviceGet(device, ordinal));
  CUcontext ctx = nullptr;
  SAMPLE_CHECK(cuDevicePrimaryCtxRetain(&ctx, *device));
  SAMPLE_CHECK(cuCtxSetCurrent(ctx));
  return ctx;
}
