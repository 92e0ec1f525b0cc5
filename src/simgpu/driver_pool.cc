// Stream-ordered allocation: memory pools, cuMemAllocAsync and cuMemFreeAsync.
//
// A pool reserves device memory in 2 MiB blocks (charged to the device when reserved) and keeps
// freed blocks for reuse. At every synchronisation it releases free blocks until its reserved
// size is at most its release threshold (default 0), as the real driver does.
#include "simgpu/driver.h"

namespace simgpu {
namespace {

MemPool* NewPoolLocked(Device* device) {
  auto* pool = new MemPool;
  pool->device = device;
  TheDriver().pools.insert(pool);
  return pool;
}

MemPool* DefaultPoolLocked(Device* device) {
  if (device->default_pool == nullptr) device->default_pool = NewPoolLocked(device);
  if (device->current_pool == nullptr) device->current_pool = device->default_pool;
  return device->default_pool;
}

void ReleaseBlockLocked(MemPool* pool, uintptr_t addr, uint64_t size) {
  Driver& d = TheDriver();
  Unmap(reinterpret_cast<void*>(addr), size);
  UnchargeLocked(pool->device, size);
  d.allocations.erase(addr);
  pool->blocks.erase(addr);
  pool->reserved -= size;
}

bool TakeFreeBlockLocked(MemPool* pool, uint64_t size, uintptr_t* addr) {
  auto it = pool->free_blocks.lower_bound(size);
  if (it == pool->free_blocks.end()) return false;
  *addr = it->second;
  pool->free_blocks.erase(it);
  return true;
}

CUresult PoolAllocate(CUdeviceptr* dptr, size_t bytes, MemPool* pool_or_null, CUstream hstream) {
  if (dptr == nullptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  Driver& d = TheDriver();
  std::lock_guard<std::mutex> lock(d.mu);
  Context* ctx = nullptr;
  SIM_TRY(CurrentContextLocked(&ctx));
  Stream* stream = nullptr;
  SIM_TRY(ResolveStreamLocked(hstream, ctx, &stream));
  MemPool* pool = pool_or_null;
  if (pool == nullptr) {
    DefaultPoolLocked(stream->ctx->device);
    pool = stream->ctx->device->current_pool;
  } else if (d.pools.count(pool) == 0) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  uint64_t size = RoundUp(bytes, kVmmGranularity);
  uintptr_t addr = 0;
  if (!TakeFreeBlockLocked(pool, size, &addr)) {
    if (!ChargeLocked(pool->device, size)) {
      TrimPoolLocked(pool, 0);  // give back cached blocks, then try once more
      if (!ChargeLocked(pool->device, size)) return CUDA_ERROR_OUT_OF_MEMORY;
    }
    void* p = MapLazy(size);
    if (p == nullptr) {
      UnchargeLocked(pool->device, size);
      return CUDA_ERROR_OUT_OF_MEMORY;
    }
    addr = reinterpret_cast<uintptr_t>(p);
    pool->blocks[addr] = size;
    pool->reserved += size;
    pool->reserved_high = std::max(pool->reserved_high, pool->reserved);
    Allocation a;
    a.size = size;
    a.kind = AllocKind::kPool;
    a.device = pool->device;
    d.allocations[addr] = a;
  }
  d.allocations[addr].accessible = true;
  pool->used += pool->blocks[addr];
  pool->used_high = std::max(pool->used_high, pool->used);
  *dptr = addr;
  return CUDA_SUCCESS;
}

MemPool* PoolOfLocked(uintptr_t addr) {
  for (MemPool* pool : TheDriver().pools) {
    if (pool->blocks.count(addr)) return pool;
  }
  return nullptr;
}

bool ValidPoolProps(const CUmemPoolProps* props) {
  return props != nullptr && props->allocType == CU_MEM_ALLOCATION_TYPE_PINNED &&
         props->location.type == CU_MEM_LOCATION_TYPE_DEVICE;
}

}  // namespace

void TrimPoolLocked(MemPool* pool, uint64_t keep) {
  while (pool->reserved > keep && !pool->free_blocks.empty()) {
    auto largest = std::prev(pool->free_blocks.end());
    uintptr_t addr = largest->second;
    uint64_t size = largest->first;
    pool->free_blocks.erase(largest);
    ReleaseBlockLocked(pool, addr, size);
  }
}

void DestroyPoolLocked(MemPool* pool) {
  TrimPoolLocked(pool, 0);
  if (pool->used > 0) return;  // finished by the last cuMemFreeAsync
  TheDriver().pools.erase(pool);
  delete pool;
}

}  // namespace simgpu

using namespace simgpu;

namespace {
// Pools that cuMemPoolDestroy was called on while blocks were still in use.
std::set<MemPool*> g_destroyed_pools;
}  // namespace

extern "C" {

CUresult CUDAAPI cuMemAllocAsync(CUdeviceptr* dptr, size_t bytes, CUstream stream) {
  return PoolAllocate(dptr, bytes, nullptr, stream);
}

CUresult CUDAAPI cuMemAllocFromPoolAsync(CUdeviceptr* dptr, size_t bytes, CUmemoryPool pool, CUstream stream) {
  if (pool == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return PoolAllocate(dptr, bytes, reinterpret_cast<MemPool*>(pool), stream);
}

CUresult CUDAAPI cuMemFreeAsync(CUdeviceptr dptr, CUstream hstream) {
  Driver& d = TheDriver();
  std::lock_guard<std::mutex> lock(d.mu);
  Context* ctx = nullptr;
  SIM_TRY(CurrentContextLocked(&ctx));
  Stream* stream = nullptr;
  SIM_TRY(ResolveStreamLocked(hstream, ctx, &stream));
  auto it = d.allocations.find(dptr);
  MemPool* pool = PoolOfLocked(dptr);
  if (it == d.allocations.end() || pool == nullptr || !it->second.accessible) return CUDA_ERROR_INVALID_VALUE;
  it->second.accessible = false;  // the caller may no longer use it; the block returns in stream order
  EnqueueLocked(stream, 0, [pool, dptr] {
    Driver& drv = TheDriver();
    std::lock_guard<std::mutex> inner(drv.mu);
    uint64_t size = pool->blocks[dptr];
    pool->used -= size;
    pool->free_blocks.emplace(size, dptr);
    if (g_destroyed_pools.count(pool) && pool->used == 0) {
      g_destroyed_pools.erase(pool);
      DestroyPoolLocked(pool);
    }
    return 0;
  });
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetDefaultMemPool(CUmemoryPool* out, CUdevice ordinal) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Device* dev = nullptr;
  SIM_TRY(DeviceLocked(ordinal, &dev));
  SIM_TRY(AttachLocked(dev));
  *out = reinterpret_cast<CUmemoryPool>(DefaultPoolLocked(dev));
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetMemPool(CUmemoryPool* out, CUdevice ordinal) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Device* dev = nullptr;
  SIM_TRY(DeviceLocked(ordinal, &dev));
  SIM_TRY(AttachLocked(dev));
  DefaultPoolLocked(dev);
  *out = reinterpret_cast<CUmemoryPool>(dev->current_pool);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceSetMemPool(CUdevice ordinal, CUmemoryPool handle) {
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Device* dev = nullptr;
  SIM_TRY(DeviceLocked(ordinal, &dev));
  auto* pool = reinterpret_cast<MemPool*>(handle);
  if (TheDriver().pools.count(pool) == 0 || pool->device != dev) return CUDA_ERROR_INVALID_VALUE;
  DefaultPoolLocked(dev);
  dev->current_pool = pool;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemPoolCreate(CUmemoryPool* out, const CUmemPoolProps* props) {
  if (out == nullptr || !ValidPoolProps(props)) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Device* dev = nullptr;
  SIM_TRY(DeviceLocked(props->location.id, &dev));
  SIM_TRY(AttachLocked(dev));
  *out = reinterpret_cast<CUmemoryPool>(NewPoolLocked(dev));
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemPoolDestroy(CUmemoryPool handle) {
  Driver& d = TheDriver();
  std::lock_guard<std::mutex> lock(d.mu);
  auto* pool = reinterpret_cast<MemPool*>(handle);
  if (d.pools.count(pool) == 0 || pool == pool->device->default_pool || g_destroyed_pools.count(pool))
    return CUDA_ERROR_INVALID_VALUE;
  if (pool->device->current_pool == pool) pool->device->current_pool = pool->device->default_pool;
  if (pool->used > 0) g_destroyed_pools.insert(pool);
  DestroyPoolLocked(pool);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemPoolTrimTo(CUmemoryPool handle, size_t keep) {
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  auto* pool = reinterpret_cast<MemPool*>(handle);
  if (TheDriver().pools.count(pool) == 0) return CUDA_ERROR_INVALID_VALUE;
  TrimPoolLocked(pool, keep);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemPoolSetAttribute(CUmemoryPool handle, CUmemPool_attribute attr, void* value) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  auto* pool = reinterpret_cast<MemPool*>(handle);
  if (TheDriver().pools.count(pool) == 0) return CUDA_ERROR_INVALID_VALUE;
  cuuint64_t v64 = *static_cast<cuuint64_t*>(value);
  switch (attr) {
    case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD: pool->release_threshold = v64; return CUDA_SUCCESS;
    case CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH:
      if (v64 != 0) return CUDA_ERROR_INVALID_VALUE;
      pool->reserved_high = pool->reserved;
      return CUDA_SUCCESS;
    case CU_MEMPOOL_ATTR_USED_MEM_HIGH:
      if (v64 != 0) return CUDA_ERROR_INVALID_VALUE;
      pool->used_high = pool->used;
      return CUDA_SUCCESS;
    case CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES:
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC:
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES: return CUDA_SUCCESS;
    default: return CUDA_ERROR_INVALID_VALUE;
  }
}

CUresult CUDAAPI cuMemPoolGetAttribute(CUmemoryPool handle, CUmemPool_attribute attr, void* value) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  auto* pool = reinterpret_cast<MemPool*>(handle);
  if (TheDriver().pools.count(pool) == 0) return CUDA_ERROR_INVALID_VALUE;
  auto* out = static_cast<cuuint64_t*>(value);
  switch (attr) {
    case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD: *out = pool->release_threshold; return CUDA_SUCCESS;
    case CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT: *out = pool->reserved; return CUDA_SUCCESS;
    case CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH: *out = pool->reserved_high; return CUDA_SUCCESS;
    case CU_MEMPOOL_ATTR_USED_MEM_CURRENT: *out = pool->used; return CUDA_SUCCESS;
    case CU_MEMPOOL_ATTR_USED_MEM_HIGH: *out = pool->used_high; return CUDA_SUCCESS;
    case CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES:
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC:
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES: *static_cast<int*>(value) = 1; return CUDA_SUCCESS;
    default: return CUDA_ERROR_INVALID_VALUE;
  }
}

}  // extern "C"
