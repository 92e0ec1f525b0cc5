// The virtual memory management API: physical allocations, address ranges, mappings.
#include <cstring>

#include "remote/worker/session.h"

namespace vxpu::remote {

namespace {

// The allocation properties a request carries, placed on the session's device.
bool PropsFrom(const std::string& blob, CUdevice device, CUmemAllocationProp* props) {
  if (blob.size() != sizeof(CUmemAllocationProp)) return false;
  std::memcpy(props, blob.data(), sizeof(*props));
  if (props->location.type != CU_MEM_LOCATION_TYPE_DEVICE || props->location.id != 0) return false;
  props->location.id = device;
  return true;
}

}  // namespace

CUresult Session::OnMemGetAllocationGranularity(Call& call) {
  CUmemAllocationProp props;
  if (!PropsFrom(call.blob, device_, &props)) return CUDA_ERROR_INVALID_VALUE;
  size_t granularity = 0;
  CUresult result =
      cuMemGetAllocationGranularity(&granularity, &props, static_cast<CUmemAllocationGranularity_flags>(call.arg(0)));
  call.outs = {granularity};
  return result;
}

CUresult Session::OnMemCreate(Call& call) {
  uint64_t id = call.arg(0);
  CUmemAllocationProp props;
  if (!NewId(handles_, id) || !PropsFrom(call.blob, device_, &props)) return CUDA_ERROR_INVALID_VALUE;
  CUmemGenericAllocationHandle handle = 0;
  CUresult result = cuMemCreate(&handle, call.arg(1), &props, call.arg(2));
  if (result == CUDA_SUCCESS) handles_[id] = handle;
  return result;
}

CUresult Session::OnMemRelease(Call& call) {
  auto it = handles_.find(call.arg(0));
  if (it == handles_.end()) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = cuMemRelease(it->second);
  if (result == CUDA_SUCCESS) handles_.erase(it);
  return result;
}

CUresult Session::OnMemAddressReserve(Call& call) {
  CUdeviceptr ptr = 0;
  CUresult result = cuMemAddressReserve(&ptr, call.arg(0), call.arg(1), call.arg(2), call.arg(3));
  if (result == CUDA_SUCCESS) reserved_[ptr] = call.arg(0);
  call.outs = {ptr};
  return result;
}

CUresult Session::OnMemAddressFree(Call& call) {
  auto it = reserved_.find(call.arg(0));
  if (it == reserved_.end() || it->second != call.arg(1)) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = cuMemAddressFree(it->first, it->second);
  if (result == CUDA_SUCCESS) reserved_.erase(it);
  return result;
}

CUresult Session::OnMemMap(Call& call) {
  uint64_t ptr = call.arg(0), size = call.arg(1);
  auto handle = handles_.find(call.arg(3));
  if (handle == handles_.end() || !Reserved(ptr, size) || Owns(ptr, 1)) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = cuMemMap(ptr, size, call.arg(2), handle->second, call.arg(4));
  if (result == CUDA_SUCCESS) memory_[ptr] = size;
  return result;
}

CUresult Session::OnMemUnmap(Call& call) {
  auto it = memory_.find(call.arg(0));
  if (it == memory_.end() || it->second != call.arg(1) || !Reserved(it->first, it->second))
    return CUDA_ERROR_INVALID_VALUE;
  CUresult result = cuMemUnmap(it->first, it->second);
  if (result == CUDA_SUCCESS) memory_.erase(it);
  return result;
}

CUresult Session::OnMemSetAccess(Call& call) {
  uint64_t ptr = call.arg(0), size = call.arg(1), count = call.arg(2);
  if (count == 0 || count > 64 || call.blob.size() != count * sizeof(CUmemAccessDesc) || !Reserved(ptr, size))
    return CUDA_ERROR_INVALID_VALUE;
  std::vector<CUmemAccessDesc> descs(count);
  std::memcpy(descs.data(), call.blob.data(), call.blob.size());
  for (CUmemAccessDesc& d : descs) {
    if (d.location.type != CU_MEM_LOCATION_TYPE_DEVICE || d.location.id != 0) return CUDA_ERROR_INVALID_DEVICE;
    d.location.id = device_;
  }
  return cuMemSetAccess(ptr, size, descs.data(), count);
}

CUresult Session::OnMemRetainAllocationHandle(Call& call) {
  uint64_t proposed = call.arg(0), addr = call.arg(1);
  if (!Owns(addr, 1) || !Reserved(addr, 1)) return CUDA_ERROR_INVALID_VALUE;
  CUmemGenericAllocationHandle handle = 0;
  CUresult result = cuMemRetainAllocationHandle(&handle, reinterpret_cast<void*>(addr));
  if (result != CUDA_SUCCESS) return result;
  // Each retain is a reference of its own, released by its own cuMemRelease.
  if (!NewId(handles_, proposed)) {
    cuMemRelease(handle);
    return CUDA_ERROR_INVALID_VALUE;
  }
  handles_[proposed] = handle;
  call.outs = {proposed};
  return CUDA_SUCCESS;
}

CUresult Session::OnMemGetAllocationProperties(Call& call) {
  auto it = handles_.find(call.arg(0));
  if (it == handles_.end()) return CUDA_ERROR_INVALID_VALUE;
  CUmemAllocationProp props{};
  CUresult result = cuMemGetAllocationPropertiesFromHandle(&props, it->second);
  props.location.id = 0;  // the session's device is its device 0
  call.out_blob.assign(reinterpret_cast<const char*>(&props), sizeof(props));
  return result;
}

}  // namespace vxpu::remote
