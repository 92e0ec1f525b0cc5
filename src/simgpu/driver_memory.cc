// Linear device memory, host memory, copies, memsets and arrays.
//
// Device addresses are host addresses of lazily backed mappings (MAP_NORESERVE): an 80 GB
// device costs nothing until written. Capacity is enforced against the shared per-device
// ledger, so all processes on a device see the same free memory and the same OOM.
#include <cstdlib>
#include <cstring>

#include "common/array_bytes.h"
#include "simgpu/driver.h"

namespace simgpu {
namespace {

CUresult AllocateLinear(CUdeviceptr* dptr, uint64_t bytes, AllocKind kind) {
  if (dptr == nullptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  Driver& d = TheDriver();
  std::lock_guard<std::mutex> lock(d.mu);
  Context* ctx = nullptr;
  SIM_TRY(CurrentContextLocked(&ctx));
  uint64_t size = RoundUp(bytes, kAllocAlignment);
  if (size < bytes) return CUDA_ERROR_OUT_OF_MEMORY;
  if (!ChargeLocked(ctx->device, size)) return CUDA_ERROR_OUT_OF_MEMORY;
  void* p = MapLazy(size);
  if (p == nullptr) {
    UnchargeLocked(ctx->device, size);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  Allocation a;
  a.size = size;
  a.charged = size;
  a.kind = kind;
  a.device = ctx->device;
  a.ctx = ctx;
  d.allocations[reinterpret_cast<uintptr_t>(p)] = a;
  *dptr = reinterpret_cast<CUdeviceptr>(p);
  return CUDA_SUCCESS;
}

// Submits `work` on `hstream` after checking the device ranges; waits for it when `sync`.
CUresult SubmitTransfer(CUstream hstream, bool sync, std::initializer_list<std::pair<uint64_t, uint64_t>> ranges,
                        Executor::Work work) {
  Driver& d = TheDriver();
  Device* device = nullptr;
  uint64_t seq = 0;
  {
    std::lock_guard<std::mutex> lock(d.mu);
    Context* ctx = nullptr;
    SIM_TRY(CurrentContextLocked(&ctx));
    Stream* stream = nullptr;
    SIM_TRY(ResolveStreamLocked(hstream, ctx, &stream));
    for (const auto& [addr, bytes] : ranges) {
      if (bytes > 0 && !AccessibleLocked(addr, bytes)) return CUDA_ERROR_INVALID_VALUE;
    }
    device = stream->ctx->device;
    seq = EnqueueLocked(stream, 0, std::move(work));
  }
  return sync ? WaitDevice(device, seq) : CUDA_SUCCESS;
}

CUresult Copy(uint64_t dst, uint64_t src, size_t n, bool dst_device, bool src_device, CUstream stream, bool sync) {
  if (n == 0) return CheckInit();
  if (dst == 0 || src == 0) return CUDA_ERROR_INVALID_VALUE;
  return SubmitTransfer(stream, sync,
                        {{dst_device ? dst : 0, dst_device ? n : 0}, {src_device ? src : 0, src_device ? n : 0}},
                        [dst, src, n] {
                          std::memmove(reinterpret_cast<void*>(dst), reinterpret_cast<const void*>(src), n);
                          return 0;
                        });
}

template <typename T>
CUresult Memset(CUdeviceptr dst, T value, size_t count, CUstream stream, bool sync) {
  if (count == 0) return CheckInit();
  return SubmitTransfer(stream, sync, {{dst, count * sizeof(T)}}, [dst, value, count] {
    T* p = reinterpret_cast<T*>(dst);
    for (size_t i = 0; i < count; ++i) p[i] = value;
    return 0;
  });
}

// Unified addressing: a pointer is device memory if it lies in an allocation.
bool IsDevicePointer(uint64_t p) {
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  return FindAllocationLocked(p, 1) != nullptr;
}

CUresult CreateArray(void** out, uint64_t bytes) {
  if (out == nullptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  Driver& d = TheDriver();
  std::lock_guard<std::mutex> lock(d.mu);
  Context* ctx = nullptr;
  SIM_TRY(CurrentContextLocked(&ctx));
  if (!ChargeLocked(ctx->device, bytes)) return CUDA_ERROR_OUT_OF_MEMORY;
  auto* array = new SimArray{ctx->device, bytes};
  d.arrays.insert(array);
  *out = array;
  return CUDA_SUCCESS;
}

CUresult DestroyArray(void* handle) {
  Driver& d = TheDriver();
  std::lock_guard<std::mutex> lock(d.mu);
  auto* array = static_cast<SimArray*>(handle);
  if (d.arrays.erase(array) == 0) return CUDA_ERROR_INVALID_HANDLE;
  UnchargeLocked(array->device, array->bytes);
  delete array;
  return CUDA_SUCCESS;
}

}  // namespace
}  // namespace simgpu

using namespace simgpu;

extern "C" {

CUresult CUDAAPI cuMemAlloc_v2(CUdeviceptr* dptr, size_t bytes) {
  return AllocateLinear(dptr, bytes, AllocKind::kLinear);
}

CUresult CUDAAPI cuMemAllocManaged(CUdeviceptr* dptr, size_t bytes, unsigned int flags) {
  if (flags != CU_MEM_ATTACH_GLOBAL && flags != CU_MEM_ATTACH_HOST) return CUDA_ERROR_INVALID_VALUE;
  return AllocateLinear(dptr, bytes, AllocKind::kManaged);
}

CUresult CUDAAPI cuMemAllocPitch_v2(CUdeviceptr* dptr, size_t* pitch, size_t width, size_t height,
                                    unsigned int element_size) {
  if (pitch == nullptr || width == 0 || height == 0) return CUDA_ERROR_INVALID_VALUE;
  if (element_size != 4 && element_size != 8 && element_size != 16) return CUDA_ERROR_INVALID_VALUE;
  size_t row = RoundUp(width, kAllocAlignment);
  if (height > SIZE_MAX / row) return CUDA_ERROR_OUT_OF_MEMORY;
  SIM_TRY(AllocateLinear(dptr, row * height, AllocKind::kLinear));
  *pitch = row;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemFree_v2(CUdeviceptr dptr) {
  Driver& d = TheDriver();
  Device* device = nullptr;
  {
    std::lock_guard<std::mutex> lock(d.mu);
    SIM_TRY(InitializedLocked());
    if (dptr == 0) return CUDA_SUCCESS;
    auto it = d.allocations.find(dptr);
    if (it == d.allocations.end() || (it->second.kind != AllocKind::kLinear && it->second.kind != AllocKind::kManaged))
      return CUDA_ERROR_INVALID_VALUE;
    device = it->second.device;
  }
  // Like the real driver, freeing waits for work in flight that may still use the memory.
  WaitDevice(device, device->executor->last_submitted());
  std::lock_guard<std::mutex> lock(d.mu);
  auto it = d.allocations.find(dptr);
  if (it == d.allocations.end()) return CUDA_ERROR_INVALID_VALUE;
  UnchargeLocked(it->second.device, it->second.charged);
  Unmap(reinterpret_cast<void*>(it->first), it->second.size);
  d.allocations.erase(it);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemGetInfo_v2(size_t* free_bytes, size_t* total_bytes) {
  if (free_bytes == nullptr || total_bytes == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Context* ctx = nullptr;
  SIM_TRY(CurrentContextLocked(&ctx));
  uint64_t total = ctx->device->shared->total_memory();
  uint64_t used = ctx->device->shared->UsedMemory();
  *total_bytes = total;
  *free_bytes = used >= total ? 0 : total - used;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemGetAddressRange_v2(CUdeviceptr* base, size_t* size, CUdeviceptr dptr) {
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Context* ctx = nullptr;
  SIM_TRY(CurrentContextLocked(&ctx));
  Driver& d = TheDriver();
  auto it = d.allocations.upper_bound(dptr);
  if (it == d.allocations.begin()) return CUDA_ERROR_NOT_FOUND;
  --it;
  if (dptr >= it->first + it->second.size) return CUDA_ERROR_NOT_FOUND;
  if (base != nullptr) *base = it->first;
  if (size != nullptr) *size = it->second.size;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemHostAlloc(void** pp, size_t bytes, unsigned int) {
  if (pp == nullptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  Driver& d = TheDriver();
  std::lock_guard<std::mutex> lock(d.mu);
  Context* ctx = nullptr;
  SIM_TRY(CurrentContextLocked(&ctx));
  void* p = std::aligned_alloc(4096, RoundUp(bytes, 4096));
  if (p == nullptr) return CUDA_ERROR_OUT_OF_MEMORY;
  d.host_allocations.insert(p);
  *pp = p;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemAllocHost_v2(void** pp, size_t bytes) { return cuMemHostAlloc(pp, bytes, 0); }

CUresult CUDAAPI cuMemFreeHost(void* p) {
  Driver& d = TheDriver();
  std::lock_guard<std::mutex> lock(d.mu);
  if (d.host_allocations.erase(p) == 0) return CUDA_ERROR_INVALID_VALUE;
  std::free(p);
  return CUDA_SUCCESS;
}

// ---- copies: synchronous ones complete before returning, like pageable-memory copies ----

CUresult CUDAAPI cuMemcpyHtoD_v2(CUdeviceptr dst, const void* src, size_t n) {
  return Copy(dst, reinterpret_cast<uint64_t>(src), n, true, false, nullptr, true);
}
CUresult CUDAAPI cuMemcpyDtoH_v2(void* dst, CUdeviceptr src, size_t n) {
  return Copy(reinterpret_cast<uint64_t>(dst), src, n, false, true, nullptr, true);
}
CUresult CUDAAPI cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t n) {
  return Copy(dst, src, n, true, true, nullptr, true);
}
CUresult CUDAAPI cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void* src, size_t n, CUstream s) {
  return Copy(dst, reinterpret_cast<uint64_t>(src), n, true, false, s, false);
}
CUresult CUDAAPI cuMemcpyDtoHAsync_v2(void* dst, CUdeviceptr src, size_t n, CUstream s) {
  return Copy(reinterpret_cast<uint64_t>(dst), src, n, false, true, s, false);
}
CUresult CUDAAPI cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s) {
  return Copy(dst, src, n, true, true, s, false);
}
CUresult CUDAAPI cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t n) {
  return Copy(dst, src, n, IsDevicePointer(dst), IsDevicePointer(src), nullptr, true);
}
CUresult CUDAAPI cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s) {
  return Copy(dst, src, n, IsDevicePointer(dst), IsDevicePointer(src), s, false);
}

CUresult CUDAAPI cuMemsetD8_v2(CUdeviceptr dst, unsigned char v, size_t n) { return Memset(dst, v, n, nullptr, true); }
CUresult CUDAAPI cuMemsetD16_v2(CUdeviceptr dst, unsigned short v, size_t n) {
  return Memset(dst, v, n, nullptr, true);
}
CUresult CUDAAPI cuMemsetD32_v2(CUdeviceptr dst, unsigned int v, size_t n) { return Memset(dst, v, n, nullptr, true); }
CUresult CUDAAPI cuMemsetD8Async(CUdeviceptr dst, unsigned char v, size_t n, CUstream s) {
  return Memset(dst, v, n, s, false);
}
CUresult CUDAAPI cuMemsetD16Async(CUdeviceptr dst, unsigned short v, size_t n, CUstream s) {
  return Memset(dst, v, n, s, false);
}
CUresult CUDAAPI cuMemsetD32Async(CUdeviceptr dst, unsigned int v, size_t n, CUstream s) {
  return Memset(dst, v, n, s, false);
}

// ---- arrays: device memory without a linear address ----

CUresult CUDAAPI cuArrayCreate_v2(CUarray* out, const CUDA_ARRAY_DESCRIPTOR* desc) {
  if (desc == nullptr) return CUDA_ERROR_INVALID_VALUE;
  uint64_t bytes = vxpu::ArrayBytes(desc->Width, desc->Height, 0, desc->Format, desc->NumChannels);
  return CreateArray(reinterpret_cast<void**>(out), bytes);
}

CUresult CUDAAPI cuArray3DCreate_v2(CUarray* out, const CUDA_ARRAY3D_DESCRIPTOR* desc) {
  if (desc == nullptr) return CUDA_ERROR_INVALID_VALUE;
  uint64_t bytes = vxpu::ArrayBytes(desc->Width, desc->Height, desc->Depth, desc->Format, desc->NumChannels);
  return CreateArray(reinterpret_cast<void**>(out), bytes);
}

CUresult CUDAAPI cuArrayDestroy(CUarray array) { return DestroyArray(array); }

CUresult CUDAAPI cuMipmappedArrayCreate(CUmipmappedArray* out, const CUDA_ARRAY3D_DESCRIPTOR* desc,
                                        unsigned int levels) {
  if (desc == nullptr || levels == 0) return CUDA_ERROR_INVALID_VALUE;
  uint64_t bytes = vxpu::MipmappedArrayBytes(*desc, levels);
  return CreateArray(reinterpret_cast<void**>(out), bytes);
}

CUresult CUDAAPI cuMipmappedArrayDestroy(CUmipmappedArray array) { return DestroyArray(array); }

}  // extern "C"
