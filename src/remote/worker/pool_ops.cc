// Stream-ordered allocation and memory pools.
#include <cstring>

#include "remote/cuda_values.h"
#include "remote/worker/session.h"

namespace vxpu::remote {

CUresult Session::OnMemAllocAsync(Call& call) {
  CUstream stream = nullptr;
  CUresult result = StreamOf(call.arg(1), &stream);
  if (result != CUDA_SUCCESS) return result;
  CUdeviceptr ptr = 0;
  result = cuMemAllocAsync(&ptr, call.arg(0), stream);
  if (result == CUDA_SUCCESS) memory_[ptr] = call.arg(0);
  call.outs = {ptr};
  return result;
}

CUresult Session::OnMemAllocFromPoolAsync(Call& call) {
  CUstream stream = nullptr;
  CUmemoryPool pool = nullptr;
  CUresult result = PoolOf(call.arg(1), &pool);
  if (result == CUDA_SUCCESS) result = StreamOf(call.arg(2), &stream);
  if (result != CUDA_SUCCESS) return result;
  CUdeviceptr ptr = 0;
  result = cuMemAllocFromPoolAsync(&ptr, call.arg(0), pool, stream);
  if (result == CUDA_SUCCESS) memory_[ptr] = call.arg(0);
  call.outs = {ptr};
  return result;
}

CUresult Session::OnMemFreeAsync(Call& call) {
  CUstream stream = nullptr;
  CUresult result = StreamOf(call.arg(1), &stream);
  if (result != CUDA_SUCCESS) return result;
  auto it = memory_.find(call.arg(0));
  if (it == memory_.end() || reserved_.count(it->first)) return CUDA_ERROR_INVALID_VALUE;
  result = cuMemFreeAsync(it->first, stream);
  if (result == CUDA_SUCCESS) memory_.erase(it);
  return result;
}

// The id the session knows `pool` by, registering it under `proposed` if it is new.
CUresult Session::KnownPool(CUmemoryPool pool, uint64_t proposed, Call& call) {
  for (const auto& [id, known] : pools_) {
    if (known == pool) {
      call.outs = {id};
      return CUDA_SUCCESS;
    }
  }
  if (!NewId(pools_, proposed)) return CUDA_ERROR_INVALID_VALUE;
  pools_[proposed] = pool;
  call.outs = {proposed};
  return CUDA_SUCCESS;
}

CUresult Session::OnDeviceGetDefaultMemPool(Call& call) {
  if (call.arg(1) != 0) return CUDA_ERROR_INVALID_DEVICE;
  CUmemoryPool pool = nullptr;
  CUresult result = cuDeviceGetDefaultMemPool(&pool, device_);
  return result == CUDA_SUCCESS ? KnownPool(pool, call.arg(0), call) : result;
}

CUresult Session::OnDeviceGetMemPool(Call& call) {
  if (call.arg(1) != 0) return CUDA_ERROR_INVALID_DEVICE;
  CUmemoryPool pool = nullptr;
  CUresult result = cuDeviceGetMemPool(&pool, device_);
  return result == CUDA_SUCCESS ? KnownPool(pool, call.arg(0), call) : result;
}

CUresult Session::OnDeviceSetMemPool(Call& call) {
  if (call.arg(0) != 0) return CUDA_ERROR_INVALID_DEVICE;
  CUmemoryPool pool = nullptr;
  CUresult result = PoolOf(call.arg(1), &pool);
  return result == CUDA_SUCCESS ? cuDeviceSetMemPool(device_, pool) : result;
}

CUresult Session::OnMemPoolCreate(Call& call) {
  uint64_t id = call.arg(0);
  if (!NewId(pools_, id) || call.blob.size() != sizeof(CUmemPoolProps)) return CUDA_ERROR_INVALID_VALUE;
  CUmemPoolProps props;
  std::memcpy(&props, call.blob.data(), sizeof(props));
  if (props.location.type != CU_MEM_LOCATION_TYPE_DEVICE || props.location.id != 0) return CUDA_ERROR_INVALID_DEVICE;
  props.location.id = device_;
  CUmemoryPool pool = nullptr;
  CUresult result = cuMemPoolCreate(&pool, &props);
  if (result == CUDA_SUCCESS) pools_[id] = pool;
  return result;
}

CUresult Session::OnMemPoolDestroy(Call& call) {
  auto it = pools_.find(call.arg(0));
  if (it == pools_.end()) return CUDA_ERROR_INVALID_HANDLE;
  CUresult result = cuMemPoolDestroy(it->second);
  if (result == CUDA_SUCCESS) pools_.erase(it);
  return result;
}

CUresult Session::OnMemPoolTrimTo(Call& call) {
  CUmemoryPool pool = nullptr;
  CUresult result = PoolOf(call.arg(0), &pool);
  return result == CUDA_SUCCESS ? cuMemPoolTrimTo(pool, call.arg(1)) : result;
}

CUresult Session::OnMemPoolSetAttribute(Call& call) {
  CUmemoryPool pool = nullptr;
  CUresult result = PoolOf(call.arg(0), &pool);
  if (result != CUDA_SUCCESS) return result;
  auto attr = static_cast<CUmemPool_attribute>(call.arg(1));
  int small = static_cast<int>(call.arg(2));
  cuuint64_t wide = call.arg(2);
  return cuMemPoolSetAttribute(pool, attr, PoolAttributeIsInt(attr) ? static_cast<void*>(&small) : &wide);
}

CUresult Session::OnMemPoolGetAttribute(Call& call) {
  CUmemoryPool pool = nullptr;
  CUresult result = PoolOf(call.arg(0), &pool);
  if (result != CUDA_SUCCESS) return result;
  auto attr = static_cast<CUmemPool_attribute>(call.arg(1));
  int small = 0;
  cuuint64_t wide = 0;
  bool is_int = PoolAttributeIsInt(attr);
  result = cuMemPoolGetAttribute(pool, attr, is_int ? static_cast<void*>(&small) : &wide);
  call.outs = {is_int ? static_cast<uint64_t>(static_cast<uint32_t>(small)) : wide};
  return result;
}

}  // namespace vxpu::remote
