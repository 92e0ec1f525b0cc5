// Device memory: rtMalloc's, the VMM calls' (physical memory mapped into reserved addresses),
// host memory, copies, fills and the memory query.
//
// Device addresses are host addresses of lazily backed mappings (MAP_NORESERVE): a 64 GiB NPU
// costs nothing until written. Capacity is charged to the device's shared ledger, so every
// process of the device sees the same free memory and the same refusal (207001).
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "simgpu/lazy_memory.h"
#include "simnpu/runtime.h"

namespace simnpu {
namespace {

// Queues a copy or fill on `handle` after checking its device ranges; waits for it if `sync`.
rtError_t Transfer(rtStream_t handle, bool sync, std::initializer_list<std::pair<uint64_t, uint64_t>> device_ranges,
                   Executor::Work work) {
  Device* device = nullptr;
  uint64_t seq = 0;
  {
    std::lock_guard<std::mutex> lock(TheRuntime().mu);
    Stream* stream = nullptr;
    NPU_TRY(StreamLocked(handle, &stream));
    for (const auto& [addr, bytes] : device_ranges) {
      if (bytes > 0 && !AccessibleLocked(addr, bytes)) return ACL_ERROR_RT_PARAM_INVALID;
    }
    device = stream->ctx->device;
    seq = EnqueueLocked(stream, 0, std::move(work));
  }
  return sync ? WaitDevice(device, seq) : ACL_SUCCESS;
}

rtError_t Copy(void* dst, uint64_t dest_max, const void* src, uint64_t count, rtMemcpyKind_t kind, rtStream_t stream,
               bool sync) {
  if (dst == nullptr || src == nullptr || count > dest_max) return ACL_ERROR_RT_PARAM_INVALID;
  if (kind < 0 || kind > 3) return ACL_ERROR_RT_PARAM_INVALID;
  if (count == 0) return ACL_SUCCESS;
  bool dst_device = kind == 1 || kind == 3;
  bool src_device = kind == 2 || kind == 3;
  uint64_t d = reinterpret_cast<uint64_t>(dst), s = reinterpret_cast<uint64_t>(src);
  return Transfer(stream, sync,
                  {{dst_device ? d : 0, dst_device ? count : 0}, {src_device ? s : 0, src_device ? count : 0}},
                  [dst, src, count] {
                    std::memmove(dst, src, count);
                    return 0;
                  });
}

void ReleasePhysicalLocked(Physical* p) {
  if (!p->freed || p->mappings > 0) return;
  UnchargeLocked(p->device, p->size);
  close(p->fd);
  TheRuntime().physical.erase(p);
  delete p;
}

}  // namespace
}  // namespace simnpu

using namespace simnpu;

extern "C" {

rtError_t rtMalloc(void** ptr, uint64_t bytes, rtMemType_t, uint16_t) {
  if (ptr == nullptr || bytes == 0) return ACL_ERROR_RT_PARAM_INVALID;
  Runtime& r = TheRuntime();
  std::lock_guard<std::mutex> lock(r.mu);
  Context* ctx = nullptr;
  NPU_TRY(CurrentContextLocked(&ctx));
  uint64_t size = RoundUp(bytes, kAlignment);
  if (size < bytes || !ChargeLocked(ctx->device, size)) return ACL_ERROR_RT_MEMORY_ALLOCATION;
  void* p = simgpu::MapLazy(size);
  if (p == nullptr) {
    UnchargeLocked(ctx->device, size);
    return ACL_ERROR_RT_MEMORY_ALLOCATION;
  }
  r.allocations[reinterpret_cast<uintptr_t>(p)] = Allocation{size, ctx->device, nullptr};
  *ptr = p;
  return ACL_SUCCESS;
}

rtError_t rtFree(void* ptr) {
  Runtime& r = TheRuntime();
  Device* device = nullptr;
  {
    std::lock_guard<std::mutex> lock(r.mu);
    auto it = r.allocations.find(reinterpret_cast<uintptr_t>(ptr));
    if (it == r.allocations.end() || it->second.physical != nullptr) return ACL_ERROR_RT_MEMORY_FREE;
    device = it->second.device;
  }
  WaitDevice(device, device->executor->last_submitted());  // work in flight may still use it
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.allocations.find(reinterpret_cast<uintptr_t>(ptr));
  if (it == r.allocations.end()) return ACL_ERROR_RT_MEMORY_FREE;
  UnchargeLocked(it->second.device, it->second.size);
  simgpu::Unmap(ptr, it->second.size);
  r.allocations.erase(it);
  return ACL_SUCCESS;
}

rtError_t rtMallocHost(void** ptr, uint64_t bytes, uint16_t) {
  if (ptr == nullptr || bytes == 0) return ACL_ERROR_RT_PARAM_INVALID;
  void* p = std::malloc(bytes);
  if (p == nullptr) return ACL_ERROR_RT_MEMORY_ALLOCATION;
  std::lock_guard<std::mutex> lock(TheRuntime().mu);
  TheRuntime().host_allocations.insert(p);
  *ptr = p;
  return ACL_SUCCESS;
}

rtError_t rtFreeHost(void* ptr) {
  std::lock_guard<std::mutex> lock(TheRuntime().mu);
  if (TheRuntime().host_allocations.erase(ptr) == 0) return ACL_ERROR_RT_MEMORY_FREE;
  std::free(ptr);
  return ACL_SUCCESS;
}

rtError_t rtMemcpy(void* dst, uint64_t dest_max, const void* src, uint64_t count, rtMemcpyKind_t kind) {
  return Copy(dst, dest_max, src, count, kind, nullptr, true);
}

rtError_t rtMemcpyAsync(void* dst, uint64_t dest_max, const void* src, uint64_t count, rtMemcpyKind_t kind,
                        rtStream_t stream) {
  return Copy(dst, dest_max, src, count, kind, stream, false);
}

rtError_t rtMemset(void* ptr, uint64_t dest_max, uint32_t value, uint64_t count) {
  if (ptr == nullptr || count > dest_max) return ACL_ERROR_RT_PARAM_INVALID;
  if (count == 0) return ACL_SUCCESS;
  return Transfer(nullptr, true, {{reinterpret_cast<uint64_t>(ptr), count}}, [ptr, value, count] {
    std::memset(ptr, static_cast<int>(value & 0xff), count);
    return 0;
  });
}

rtError_t rtMemGetInfoEx(rtMemInfoType_t type, size_t* free_bytes, size_t* total_bytes) {
  if (free_bytes == nullptr || total_bytes == nullptr || type < 0 || type > ACL_HBM_MEM_P2P_HUGE1G)
    return ACL_ERROR_RT_PARAM_INVALID;
  std::lock_guard<std::mutex> lock(TheRuntime().mu);
  Context* ctx = nullptr;
  NPU_TRY(CurrentContextLocked(&ctx));
  uint64_t total = ctx->device->shared->total_memory();
  uint64_t used = ctx->device->shared->UsedMemory();
  *total_bytes = total;
  *free_bytes = used < total ? total - used : 0;
  return ACL_SUCCESS;
}

rtError_t rtMallocPhysical(rtDrvMemHandle* handle, size_t bytes, const rtDrvMemProp_t* prop, uint64_t flags) {
  if (handle == nullptr || prop == nullptr || flags != 0 || bytes == 0 || bytes % kGranularity != 0)
    return ACL_ERROR_RT_PARAM_INVALID;
  if (prop->location.type != 1) return ACL_ERROR_RT_PARAM_INVALID;  // device memory only
  Runtime& r = TheRuntime();
  std::lock_guard<std::mutex> lock(r.mu);
  Device* device = nullptr;
  NPU_TRY(DeviceLocked(static_cast<int32_t>(prop->location.id), &device));
  if (device->slot < 0) return ACL_ERROR_RT_CONTEXT_NULL;
  if (!ChargeLocked(device, bytes)) return ACL_ERROR_RT_MEMORY_ALLOCATION;
  int fd = memfd_create("simnpu-physical", MFD_CLOEXEC);
  if (fd < 0 || ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    if (fd >= 0) close(fd);
    UnchargeLocked(device, bytes);
    return ACL_ERROR_RT_MEMORY_ALLOCATION;
  }
  auto* p = new Physical{device, bytes, fd, 0, false};
  r.physical.insert(p);
  *handle = p;
  return ACL_SUCCESS;
}

rtError_t rtFreePhysical(rtDrvMemHandle handle) {
  std::lock_guard<std::mutex> lock(TheRuntime().mu);
  auto* p = static_cast<Physical*>(handle);
  if (TheRuntime().physical.count(p) == 0 || p->freed) return ACL_ERROR_RT_MEMORY_FREE;
  p->freed = true;
  ReleasePhysicalLocked(p);
  return ACL_SUCCESS;
}

rtError_t rtReserveMemAddress(void** virt, size_t size, size_t, void*, uint64_t flags) {
  if (virt == nullptr || size == 0 || size % kGranularity != 0 || flags != 0) return ACL_ERROR_RT_PARAM_INVALID;
  void* p = mmap(nullptr, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return ACL_ERROR_RT_MEMORY_ALLOCATION;
  std::lock_guard<std::mutex> lock(TheRuntime().mu);
  TheRuntime().reservations[reinterpret_cast<uintptr_t>(p)] = size;
  *virt = p;
  return ACL_SUCCESS;
}

rtError_t rtReleaseMemAddress(void* virt) {
  std::lock_guard<std::mutex> lock(TheRuntime().mu);
  Runtime& r = TheRuntime();
  auto it = r.reservations.find(reinterpret_cast<uintptr_t>(virt));
  if (it == r.reservations.end()) return ACL_ERROR_RT_PARAM_INVALID;
  auto mapped = r.allocations.lower_bound(it->first);
  if (mapped != r.allocations.end() && mapped->first < it->first + it->second) return ACL_ERROR_RT_PARAM_INVALID;
  munmap(virt, it->second);
  r.reservations.erase(it);
  return ACL_SUCCESS;
}

rtError_t rtMapMem(void* virt, size_t size, size_t offset, rtDrvMemHandle handle, uint64_t flags) {
  Runtime& r = TheRuntime();
  std::lock_guard<std::mutex> lock(r.mu);
  auto* p = static_cast<Physical*>(handle);
  auto addr = reinterpret_cast<uintptr_t>(virt);
  if (r.physical.count(p) == 0 || p->freed || flags != 0 || size == 0 || offset + size > p->size ||
      offset % kGranularity != 0 || size % kGranularity != 0)
    return ACL_ERROR_RT_PARAM_INVALID;
  auto range = r.reservations.upper_bound(addr);
  if (range == r.reservations.begin()) return ACL_ERROR_RT_PARAM_INVALID;
  --range;
  if (addr + size > range->first + range->second || AccessibleLocked(addr, 1) || AccessibleLocked(addr + size - 1, 1))
    return ACL_ERROR_RT_PARAM_INVALID;
  if (mmap(virt, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, p->fd, static_cast<off_t>(offset)) == MAP_FAILED)
    return ACL_ERROR_RT_MEMORY_ALLOCATION;
  ++p->mappings;
  r.allocations[addr] = Allocation{size, p->device, p};
  return ACL_SUCCESS;
}

rtError_t rtUnmapMem(void* virt) {
  Runtime& r = TheRuntime();
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.allocations.find(reinterpret_cast<uintptr_t>(virt));
  if (it == r.allocations.end() || it->second.physical == nullptr) return ACL_ERROR_RT_PARAM_INVALID;
  mmap(virt, it->second.size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
  Physical* p = it->second.physical;
  r.allocations.erase(it);
  --p->mappings;
  ReleasePhysicalLocked(p);
  return ACL_SUCCESS;
}

}  // extern "C"
