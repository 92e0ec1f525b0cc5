// cuda.h as simgpu sees it, plus the legacy entry points that current headers no longer
// declare but real drivers still export. What leaves the library is decided by libcuda.map.
#pragma once

#include <cuda.h>
extern "C" {
CUresult CUDAAPI cuCtxCreate_v2(CUcontext* pctx, unsigned int flags, CUdevice dev);
CUresult CUDAAPI cuCtxCreate_v3(CUcontext* pctx, CUexecAffinityParam* params, int num_params, unsigned int flags,
                                CUdevice dev);
CUresult CUDAAPI simgpu_cuGetProcAddress_v1(const char* symbol, void** pfn, int cuda_version,
                                            cuuint64_t flags) __asm__("cuGetProcAddress");
CUresult CUDAAPI simgpu_cuEventElapsedTime_v1(float* ms, CUevent start, CUevent end) __asm__("cuEventElapsedTime");
CUresult CUDAAPI simgpu_cuDeviceGetUuid_v1(CUuuid* uuid, CUdevice dev) __asm__("cuDeviceGetUuid");
// CUDA 2.x: 32-bit sizes (a larger device reports 4 GiB - 1, as the v1 ABI can hold no more).
CUresult CUDAAPI simgpu_cuDeviceTotalMem_v1(unsigned int* bytes, CUdevice dev) __asm__("cuDeviceTotalMem");
CUresult CUDAAPI simgpu_cuStreamDestroy_v1(CUstream stream) __asm__("cuStreamDestroy");
CUresult CUDAAPI simgpu_cuEventDestroy_v1(CUevent event) __asm__("cuEventDestroy");
CUresult CUDAAPI simgpu_cuCtxDestroy_v1(CUcontext ctx) __asm__("cuCtxDestroy");
CUresult CUDAAPI simgpu_cuDevicePrimaryCtxRelease_v1(CUdevice dev) __asm__("cuDevicePrimaryCtxRelease");
// Stream capture and graphs as CUDA 10.x and 11.x defined them.
CUresult CUDAAPI simgpu_cuStreamBeginCapture_v1(CUstream stream) __asm__("cuStreamBeginCapture");
CUresult CUDAAPI simgpu_cuStreamGetCaptureInfo_v1(CUstream stream, CUstreamCaptureStatus* status,
                                                  cuuint64_t* id) __asm__("cuStreamGetCaptureInfo");
CUresult CUDAAPI cuStreamGetCaptureInfo_v2(CUstream stream, CUstreamCaptureStatus* status, cuuint64_t* id,
                                           CUgraph* graph, const CUgraphNode** dependencies, size_t* count);
CUresult CUDAAPI simgpu_cuGraphInstantiate_v1(CUgraphExec* exec, CUgraph graph, CUgraphNode* error_node, char* log,
                                              size_t log_size) __asm__("cuGraphInstantiate");
CUresult CUDAAPI cuGraphInstantiate_v2(CUgraphExec* exec, CUgraph graph, CUgraphNode* error_node, char* log,
                                       size_t log_size);
}
