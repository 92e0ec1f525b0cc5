// cuda.h as the remote client sees it, plus the older symbol versions a driver still exports
// under the base name. What leaves the library is decided by libcuda.map.
#pragma once

#include <cuda.h>
extern "C" {
CUresult CUDAAPI cuCtxCreate_v2(CUcontext* pctx, unsigned int flags, CUdevice dev);
CUresult CUDAAPI cuCtxCreate_v3(CUcontext* pctx, CUexecAffinityParam* params, int num_params, unsigned int flags,
                                CUdevice dev);
CUresult CUDAAPI remote_cuGetProcAddress_v1(const char* symbol, void** pfn, int cuda_version,
                                            cuuint64_t flags) __asm__("cuGetProcAddress");
CUresult CUDAAPI remote_cuEventElapsedTime_v1(float* ms, CUevent start, CUevent end) __asm__("cuEventElapsedTime");
CUresult CUDAAPI remote_cuDeviceGetUuid_v1(CUuuid* uuid, CUdevice dev) __asm__("cuDeviceGetUuid");
CUresult CUDAAPI remote_cuDeviceTotalMem_v1(unsigned int* bytes, CUdevice dev) __asm__("cuDeviceTotalMem");
CUresult CUDAAPI remote_cuStreamDestroy_v1(CUstream stream) __asm__("cuStreamDestroy");
CUresult CUDAAPI remote_cuEventDestroy_v1(CUevent event) __asm__("cuEventDestroy");
CUresult CUDAAPI remote_cuCtxDestroy_v1(CUcontext ctx) __asm__("cuCtxDestroy");
CUresult CUDAAPI remote_cuDevicePrimaryCtxRelease_v1(CUdevice dev) __asm__("cuDevicePrimaryCtxRelease");
CUresult CUDAAPI remote_cuStreamBeginCapture_v1(CUstream stream) __asm__("cuStreamBeginCapture");
CUresult CUDAAPI cuStreamGetCaptureInfo_v2(CUstream stream, CUstreamCaptureStatus* status, cuuint64_t* id,
                                           CUgraph* graph, const CUgraphNode** dependencies, size_t* count);
CUresult CUDAAPI cuGraphInstantiate_v2(CUgraphExec* exec, CUgraph graph, CUgraphNode* error_node, char* log,
                                       size_t log_bytes);
}
