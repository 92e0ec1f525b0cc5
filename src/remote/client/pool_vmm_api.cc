// Stream-ordered allocation, memory pools and the virtual memory management API. Allocations
// answer with the address (one round trip each, as they must); frees are sent without waiting.
#include <cstring>

#include "remote/client/client.h"
#include "remote/client/cuda_api.h"
#include "remote/cuda_values.h"

using namespace vxpu::remote;

namespace {

Connection& Wire() { return Client::Get().connection(); }

bool Known(const std::unordered_map<uint64_t, uint64_t>& table, uint64_t id) {
  Client& c = Client::Get();
  std::lock_guard<std::mutex> lock(c.mu);
  return table.count(id) != 0;
}

void Add(std::unordered_map<uint64_t, uint64_t>& table, uint64_t id) {
  Client& c = Client::Get();
  std::lock_guard<std::mutex> lock(c.mu);
  table[id] = 0;
}

CUresult AllocAsync(Op op, CUdeviceptr* dptr, size_t bytes, std::initializer_list<uint64_t> args) {
  if (dptr == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Reply reply;
  return Allocated(Wire().Call(op, CurrentContext(), args, &reply), reply, dptr, bytes);
}

// A pool the server reported by id (the default one, or the device's current one).
CUresult PoolFromServer(Op op, CUmemoryPool* pool, CUdevice dev) {
  if (pool == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult ready = Client::Get().Ready();
  if (ready != CUDA_SUCCESS) return ready;
  if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
  Reply reply;
  CUresult result = Wire().Call(op, CurrentContext(), {Client::Get().Mint(), 0}, &reply);
  if (result != CUDA_SUCCESS) return result;
  if (reply.outs.size() != 1) return CUDA_ERROR_UNKNOWN;
  Add(Client::Get().pools, reply.outs[0]);
  *pool = HandleOf<CUmemoryPool>(reply.outs[0]);
  return CUDA_SUCCESS;
}

CUresult PoolCall(Op op, CUmemoryPool pool, std::initializer_list<uint64_t> args, Reply* reply) {
  CUresult ready = Client::Get().Ready();
  if (ready != CUDA_SUCCESS) return ready;
  if (!Known(Client::Get().pools, IdOf(pool))) return CUDA_ERROR_INVALID_VALUE;
  return Wire().Call(op, CurrentContext(), args, reply);
}

bool OnDevice0(const CUmemLocation& location) {
  return location.type == CU_MEM_LOCATION_TYPE_DEVICE && location.id == 0;
}

}  // namespace

extern "C" {

CUresult CUDAAPI cuMemAllocAsync(CUdeviceptr* dptr, size_t bytes, CUstream stream) {
  CUresult result = NeedContext();
  uint64_t id = 0;
  if (result == CUDA_SUCCESS) result = StreamId(stream, &id);
  return result == CUDA_SUCCESS ? AllocAsync(Op::kMemAllocAsync, dptr, bytes, {bytes, id}) : result;
}

CUresult CUDAAPI cuMemAllocFromPoolAsync(CUdeviceptr* dptr, size_t bytes, CUmemoryPool pool, CUstream stream) {
  CUresult result = NeedContext();
  uint64_t id = 0;
  if (result == CUDA_SUCCESS) result = StreamId(stream, &id);
  if (result != CUDA_SUCCESS) return result;
  if (!Known(Client::Get().pools, IdOf(pool))) return CUDA_ERROR_INVALID_VALUE;
  return AllocAsync(Op::kMemAllocFromPoolAsync, dptr, bytes, {bytes, IdOf(pool), id});
}

CUresult CUDAAPI cuMemFreeAsync(CUdeviceptr dptr, CUstream stream) {
  CUresult result = NeedContext();
  uint64_t id = 0;
  if (result == CUDA_SUCCESS) result = StreamId(stream, &id);
  if (result != CUDA_SUCCESS) return result;
  if (!ForgetDeviceMemory(dptr)) return CUDA_ERROR_INVALID_VALUE;
  return Wire().Post(Op::kMemFreeAsync, CurrentContext(), {dptr, id});
}

CUresult CUDAAPI cuDeviceGetDefaultMemPool(CUmemoryPool* pool, CUdevice dev) {
  return PoolFromServer(Op::kDeviceGetDefaultMemPool, pool, dev);
}

CUresult CUDAAPI cuDeviceGetMemPool(CUmemoryPool* pool, CUdevice dev) {
  return PoolFromServer(Op::kDeviceGetMemPool, pool, dev);
}

CUresult CUDAAPI cuDeviceSetMemPool(CUdevice dev, CUmemoryPool pool) {
  if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
  Reply reply;
  return PoolCall(Op::kDeviceSetMemPool, pool, {0, IdOf(pool)}, &reply);
}

CUresult CUDAAPI cuMemPoolCreate(CUmemoryPool* pool, const CUmemPoolProps* props) {
  if (pool == nullptr || props == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult ready = Client::Get().Ready();
  if (ready != CUDA_SUCCESS) return ready;
  if (!OnDevice0(props->location)) return CUDA_ERROR_INVALID_DEVICE;
  uint64_t id = Client::Get().Mint();
  Reply reply;
  CUresult result = Wire().Call(Op::kMemPoolCreate, CurrentContext(), {id}, &reply, props, sizeof(*props));
  if (result != CUDA_SUCCESS) return result;
  Add(Client::Get().pools, id);
  *pool = HandleOf<CUmemoryPool>(id);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemPoolDestroy(CUmemoryPool pool) {
  Reply reply;
  CUresult result = PoolCall(Op::kMemPoolDestroy, pool, {IdOf(pool)}, &reply);
  if (result == CUDA_SUCCESS) {
    Client& c = Client::Get();
    std::lock_guard<std::mutex> lock(c.mu);
    c.pools.erase(IdOf(pool));
  }
  return result;
}

CUresult CUDAAPI cuMemPoolTrimTo(CUmemoryPool pool, size_t keep) {
  Reply reply;
  return PoolCall(Op::kMemPoolTrimTo, pool, {IdOf(pool), keep}, &reply);
}

CUresult CUDAAPI cuMemPoolSetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void* value) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  uint64_t v =
      PoolAttributeIsInt(attr) ? static_cast<uint32_t>(*static_cast<int*>(value)) : *static_cast<cuuint64_t*>(value);
  Reply reply;
  return PoolCall(Op::kMemPoolSetAttribute, pool, {IdOf(pool), static_cast<uint64_t>(attr), v}, &reply);
}

CUresult CUDAAPI cuMemPoolGetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void* value) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Reply reply;
  CUresult result = PoolCall(Op::kMemPoolGetAttribute, pool, {IdOf(pool), static_cast<uint64_t>(attr)}, &reply);
  if (result != CUDA_SUCCESS) return result;
  if (reply.outs.size() != 1) return CUDA_ERROR_UNKNOWN;
  if (PoolAttributeIsInt(attr)) {
    *static_cast<int*>(value) = static_cast<int>(reply.outs[0]);
  } else {
    *static_cast<cuuint64_t*>(value) = reply.outs[0];
  }
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemGetAllocationGranularity(size_t* granularity, const CUmemAllocationProp* prop,
                                               CUmemAllocationGranularity_flags option) {
  if (granularity == nullptr || prop == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult ready = Client::Get().Ready();
  if (ready != CUDA_SUCCESS) return ready;
  if (!OnDevice0(prop->location)) return CUDA_ERROR_INVALID_DEVICE;
  Reply reply;
  CUresult result = Wire().Call(Op::kMemGetAllocationGranularity, CurrentContext(), {static_cast<uint64_t>(option)},
                                &reply, prop, sizeof(*prop));
  if (result == CUDA_SUCCESS && reply.outs.size() == 1) *granularity = reply.outs[0];
  return result;
}

CUresult CUDAAPI cuMemCreate(CUmemGenericAllocationHandle* handle, size_t size, const CUmemAllocationProp* prop,
                             unsigned long long flags) {
  if (handle == nullptr || prop == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult ready = Client::Get().Ready();
  if (ready != CUDA_SUCCESS) return ready;
  if (!OnDevice0(prop->location)) return CUDA_ERROR_INVALID_DEVICE;
  uint64_t id = Client::Get().Mint();
  Reply reply;
  CUresult result = Wire().Call(Op::kMemCreate, CurrentContext(), {id, size, flags}, &reply, prop, sizeof(*prop));
  if (result != CUDA_SUCCESS) return result;
  Add(Client::Get().vmm_handles, id);
  *handle = id;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemRelease(CUmemGenericAllocationHandle handle) {
  CUresult ready = Client::Get().Ready();
  if (ready != CUDA_SUCCESS) return ready;
  if (!Known(Client::Get().vmm_handles, handle)) return CUDA_ERROR_INVALID_VALUE;
  Reply reply;
  CUresult result = Wire().Call(Op::kMemRelease, CurrentContext(), {handle}, &reply);
  if (result == CUDA_SUCCESS) {
    Client& c = Client::Get();
    std::lock_guard<std::mutex> lock(c.mu);
    c.vmm_handles.erase(handle);
  }
  return result;
}

CUresult CUDAAPI cuMemAddressReserve(CUdeviceptr* ptr, size_t size, size_t alignment, CUdeviceptr addr,
                                     unsigned long long flags) {
  if (ptr == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult ready = Client::Get().Ready();
  if (ready != CUDA_SUCCESS) return ready;
  Reply reply;
  CUresult result = Wire().Call(Op::kMemAddressReserve, CurrentContext(), {size, alignment, addr, flags}, &reply);
  if (result != CUDA_SUCCESS) return result;
  if (reply.outs.size() != 1) return CUDA_ERROR_UNKNOWN;
  *ptr = reply.outs[0];
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemAddressFree(CUdeviceptr ptr, size_t size) {
  CUresult ready = Client::Get().Ready();
  if (ready != CUDA_SUCCESS) return ready;
  Reply reply;
  return Wire().Call(Op::kMemAddressFree, CurrentContext(), {ptr, size}, &reply);
}

CUresult CUDAAPI cuMemMap(CUdeviceptr ptr, size_t size, size_t offset, CUmemGenericAllocationHandle handle,
                          unsigned long long flags) {
  CUresult ready = Client::Get().Ready();
  if (ready != CUDA_SUCCESS) return ready;
  if (!Known(Client::Get().vmm_handles, handle)) return CUDA_ERROR_INVALID_VALUE;
  Reply reply;
  CUresult result = Wire().Call(Op::kMemMap, CurrentContext(), {ptr, size, offset, handle, flags}, &reply);
  if (result == CUDA_SUCCESS) RememberDeviceMemory(ptr, size);
  return result;
}

CUresult CUDAAPI cuMemUnmap(CUdeviceptr ptr, size_t size) {
  CUresult ready = Client::Get().Ready();
  if (ready != CUDA_SUCCESS) return ready;
  Reply reply;
  CUresult result = Wire().Call(Op::kMemUnmap, CurrentContext(), {ptr, size}, &reply);
  if (result == CUDA_SUCCESS) ForgetDeviceMemory(ptr);
  return result;
}

CUresult CUDAAPI cuMemSetAccess(CUdeviceptr ptr, size_t size, const CUmemAccessDesc* desc, size_t count) {
  if (desc == nullptr || count == 0) return CUDA_ERROR_INVALID_VALUE;
  CUresult ready = Client::Get().Ready();
  if (ready != CUDA_SUCCESS) return ready;
  Reply reply;
  return Wire().Call(Op::kMemSetAccess, CurrentContext(), {ptr, size, count}, &reply, desc, count * sizeof(*desc));
}

CUresult CUDAAPI cuMemRetainAllocationHandle(CUmemGenericAllocationHandle* handle, void* addr) {
  if (handle == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult ready = Client::Get().Ready();
  if (ready != CUDA_SUCCESS) return ready;
  Reply reply;
  CUresult result = Wire().Call(Op::kMemRetainAllocationHandle, CurrentContext(),
                                {Client::Get().Mint(), reinterpret_cast<uintptr_t>(addr)}, &reply);
  if (result != CUDA_SUCCESS) return result;
  if (reply.outs.size() != 1) return CUDA_ERROR_UNKNOWN;
  Add(Client::Get().vmm_handles, reply.outs[0]);
  *handle = reply.outs[0];
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemGetAllocationPropertiesFromHandle(CUmemAllocationProp* prop,
                                                        CUmemGenericAllocationHandle handle) {
  if (prop == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult ready = Client::Get().Ready();
  if (ready != CUDA_SUCCESS) return ready;
  if (!Known(Client::Get().vmm_handles, handle)) return CUDA_ERROR_INVALID_VALUE;
  Reply reply;
  CUresult result = Wire().Call(Op::kMemGetAllocationProperties, CurrentContext(), {handle}, &reply);
  if (result != CUDA_SUCCESS) return result;
  if (reply.blob.size() != sizeof(*prop)) return CUDA_ERROR_UNKNOWN;
  std::memcpy(prop, reply.blob.data(), sizeof(*prop));
  return CUDA_SUCCESS;
}

}  // extern "C"
