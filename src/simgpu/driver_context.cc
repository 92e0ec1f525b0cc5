// Contexts: primary contexts, created contexts and each thread's current-context stack.
#include "simgpu/driver.h"

namespace simgpu {
namespace {

CUresult CreateAndPush(CUcontext* pctx, unsigned int flags, CUdevice ordinal) {
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (flags & ~static_cast<unsigned>(CU_CTX_FLAGS_MASK)) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Device* dev = nullptr;
  SIM_TRY(DeviceLocked(ordinal, &dev));
  Context* ctx = nullptr;
  SIM_TRY(CreateContextLocked(dev, flags, false, &ctx));
  ThreadContextStack().push_back(ctx);
  *pctx = reinterpret_cast<CUcontext>(ctx);
  return CUDA_SUCCESS;
}

}  // namespace
}  // namespace simgpu

using namespace simgpu;

extern "C" {

CUresult CUDAAPI cuDevicePrimaryCtxRetain(CUcontext* pctx, CUdevice ordinal) {
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Device* dev = nullptr;
  SIM_TRY(DeviceLocked(ordinal, &dev));
  if (dev->primary == nullptr) SIM_TRY(CreateContextLocked(dev, dev->primary_flags, true, &dev->primary));
  ++dev->primary_refs;
  *pctx = reinterpret_cast<CUcontext>(dev->primary);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDevicePrimaryCtxRelease_v2(CUdevice ordinal) {
  Driver& d = TheDriver();
  Device* dev = nullptr;
  uint64_t seq = 0;
  {
    std::lock_guard<std::mutex> lock(d.mu);
    SIM_TRY(DeviceLocked(ordinal, &dev));
    if (dev->primary == nullptr || dev->primary_refs <= 0) return CUDA_ERROR_INVALID_CONTEXT;
    if (dev->primary_refs > 1) {
      --dev->primary_refs;
      return CUDA_SUCCESS;
    }
    seq = dev->primary->last_seq;
  }
  WaitDevice(dev, seq);
  std::lock_guard<std::mutex> lock(d.mu);
  if (dev->primary != nullptr && --dev->primary_refs == 0) DestroyContextLocked(dev->primary);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI simgpu_cuDevicePrimaryCtxRelease_v1(CUdevice ordinal) { return cuDevicePrimaryCtxRelease_v2(ordinal); }

CUresult CUDAAPI cuDevicePrimaryCtxGetState(CUdevice ordinal, unsigned int* flags, int* active) {
  if (flags == nullptr || active == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Device* dev = nullptr;
  SIM_TRY(DeviceLocked(ordinal, &dev));
  *flags = dev->primary_flags;
  *active = dev->primary != nullptr ? 1 : 0;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDevicePrimaryCtxSetFlags_v2(CUdevice ordinal, unsigned int flags) {
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Device* dev = nullptr;
  SIM_TRY(DeviceLocked(ordinal, &dev));
  if (flags & ~static_cast<unsigned>(CU_CTX_FLAGS_MASK)) return CUDA_ERROR_INVALID_VALUE;
  dev->primary_flags = flags;
  if (dev->primary != nullptr) dev->primary->flags = flags;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDevicePrimaryCtxReset_v2(CUdevice ordinal) {
  Driver& d = TheDriver();
  Device* dev = nullptr;
  uint64_t seq = 0;
  {
    std::lock_guard<std::mutex> lock(d.mu);
    SIM_TRY(DeviceLocked(ordinal, &dev));
    if (dev->primary == nullptr) return CUDA_SUCCESS;
    seq = dev->primary->last_seq;
  }
  WaitDevice(dev, seq);
  std::lock_guard<std::mutex> lock(d.mu);
  if (dev->primary != nullptr) DestroyContextLocked(dev->primary);
  dev->primary_refs = 0;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxCreate_v2(CUcontext* pctx, unsigned int flags, CUdevice dev) {
  return CreateAndPush(pctx, flags, dev);
}

CUresult CUDAAPI cuCtxCreate_v3(CUcontext* pctx, CUexecAffinityParam*, int num_params, unsigned int flags,
                                CUdevice dev) {
  if (num_params < 0) return CUDA_ERROR_INVALID_VALUE;
  return CreateAndPush(pctx, flags, dev);
}

CUresult CUDAAPI cuCtxCreate_v4(CUcontext* pctx, CUctxCreateParams*, unsigned int flags, CUdevice dev) {
  return CreateAndPush(pctx, flags, dev);
}

CUresult CUDAAPI cuCtxDestroy_v2(CUcontext handle) {
  Driver& d = TheDriver();
  Context* ctx = reinterpret_cast<Context*>(handle);
  uint64_t seq = 0;
  {
    std::lock_guard<std::mutex> lock(d.mu);
    SIM_TRY(InitializedLocked());
    if (d.contexts.count(ctx) == 0 || ctx->primary) return CUDA_ERROR_INVALID_CONTEXT;
    seq = ctx->last_seq;
  }
  WaitDevice(ctx->device, seq);
  std::lock_guard<std::mutex> lock(d.mu);
  if (d.contexts.count(ctx) != 0) DestroyContextLocked(ctx);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI simgpu_cuCtxDestroy_v1(CUcontext ctx) { return cuCtxDestroy_v2(ctx); }

CUresult CUDAAPI cuCtxSetCurrent(CUcontext handle) {
  Driver& d = TheDriver();
  std::lock_guard<std::mutex> lock(d.mu);
  SIM_TRY(InitializedLocked());
  Context* ctx = reinterpret_cast<Context*>(handle);
  if (ctx == nullptr) {
    if (!ThreadContextStack().empty()) ThreadContextStack().pop_back();
    return CUDA_SUCCESS;
  }
  if (d.contexts.count(ctx) == 0) return CUDA_ERROR_INVALID_CONTEXT;
  if (ThreadContextStack().empty()) {
    ThreadContextStack().push_back(ctx);
  } else {
    ThreadContextStack().back() = ctx;
  }
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxGetCurrent(CUcontext* pctx) {
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  SIM_TRY(InitializedLocked());
  *pctx = ThreadContextStack().empty() ? nullptr : reinterpret_cast<CUcontext>(ThreadContextStack().back());
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxPushCurrent_v2(CUcontext handle) {
  Driver& d = TheDriver();
  std::lock_guard<std::mutex> lock(d.mu);
  SIM_TRY(InitializedLocked());
  Context* ctx = reinterpret_cast<Context*>(handle);
  if (d.contexts.count(ctx) == 0) return CUDA_ERROR_INVALID_CONTEXT;
  ThreadContextStack().push_back(ctx);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxPopCurrent_v2(CUcontext* pctx) {
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  SIM_TRY(InitializedLocked());
  if (ThreadContextStack().empty()) return CUDA_ERROR_INVALID_CONTEXT;
  if (pctx != nullptr) *pctx = reinterpret_cast<CUcontext>(ThreadContextStack().back());
  ThreadContextStack().pop_back();
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxGetDevice(CUdevice* device) {
  if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Context* ctx = nullptr;
  SIM_TRY(CurrentContextLocked(&ctx));
  *device = ctx->device->ordinal;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxGetFlags(unsigned int* flags) {
  if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Context* ctx = nullptr;
  SIM_TRY(CurrentContextLocked(&ctx));
  *flags = ctx->flags;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxGetApiVersion(CUcontext handle, unsigned int* version) {
  if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Context* ctx = reinterpret_cast<Context*>(handle);
  if (ctx == nullptr) SIM_TRY(CurrentContextLocked(&ctx));
  if (TheDriver().contexts.count(ctx) == 0) return CUDA_ERROR_INVALID_CONTEXT;
  *version = 3020;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxGetStreamPriorityRange(int* least, int* greatest) {
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Context* ctx = nullptr;
  SIM_TRY(CurrentContextLocked(&ctx));
  if (least != nullptr) *least = 0;
  if (greatest != nullptr) *greatest = -5;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxSynchronize(void) {
  Context* ctx = nullptr;
  uint64_t seq = 0;
  {
    std::lock_guard<std::mutex> lock(TheDriver().mu);
    SIM_TRY(CurrentContextLocked(&ctx));
    SIM_TRY(ContextWaitableLocked(ctx));
    seq = ctx->last_seq;
  }
  return WaitDevice(ctx->device, seq);
}

}  // extern "C"
