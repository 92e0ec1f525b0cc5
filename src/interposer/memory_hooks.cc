// The memory hooks: every allocation path reserves its bytes in the slice's ledger first and
// is refused with CUDA_ERROR_OUT_OF_MEMORY when the slice is full; every free releases them;
// the memory queries report the slice as if it were the device.
//
// Context overhead (the driver's own memory per context) is not counted against the slice:
// it is not allocated by the workload and is the same with or without vxpu.
#include <algorithm>

#include "common/array_bytes.h"
#include "interposer/hooks.h"
#include "interposer/memory_quota.h"
#include "interposer/real_driver.h"

namespace vxpu::interposer {
namespace {

CUresult CurrentDevice(CUdevice* device) {
  static const auto get = RealSymbolAs<decltype(&cuCtxGetDevice)>("cuCtxGetDevice");
  return get != nullptr ? get(device) : CUDA_ERROR_NOT_INITIALIZED;
}

// Reserves `bytes` on `device`, runs `allocate` (which returns its result and sets the key
// of what it allocated), and tracks the allocation, or gives the reservation back.
template <typename Allocate>
CUresult Charged(AllocationKind kind, CUdevice device, uint64_t bytes, Allocate allocate) {
  if (!ReserveMemory(device, bytes)) return CUDA_ERROR_OUT_OF_MEMORY;
  uint64_t key = 0;
  CUresult result = allocate(&key);
  if (result == CUDA_SUCCESS) {
    TrackAllocation(kind, key, device, bytes);
  } else {
    ReleaseMemory(device, bytes);
  }
  return result;
}

// An allocation in the current context's device: the common case of the linear paths.
template <typename Allocate>
CUresult ChargedOnCurrentDevice(AllocationKind kind, uint64_t bytes, Allocate allocate) {
  CUdevice device = 0;
  if (CUresult r = CurrentDevice(&device); r != CUDA_SUCCESS) return r;
  return Charged(kind, device, bytes, allocate);
}

// Runs a free and, if the driver accepted it, releases what the allocation held.
CUresult Released(AllocationKind kind, uint64_t key, CUresult result) {
  if (result == CUDA_SUCCESS && QuotaEnabled()) ReleaseAllocation(kind, key);
  return result;
}

// A linear allocation at *dptr made by `call` (the driver's function with its arguments).
template <typename Call>
CUresult LinearAllocation(CUdeviceptr* dptr, size_t bytes, Call call) {
  if (!QuotaEnabled() || dptr == nullptr || bytes == 0) return call();
  return ChargedOnCurrentDevice(AllocationKind::kLinear, bytes, [&](uint64_t* key) {
    CUresult r = call();
    *key = static_cast<uint64_t>(*dptr);
    return r;
  });
}

// An array of `bytes` (0: invalid descriptor, left to the driver) made at *array by `call`.
template <typename Handle, typename Call>
CUresult ArrayAllocation(Handle* array, bool valid, uint64_t bytes, Call call) {
  if (!QuotaEnabled() || array == nullptr || !valid) return call();
  return ChargedOnCurrentDevice(AllocationKind::kArray, bytes, [&](uint64_t* key) {
    CUresult r = call();
    *key = reinterpret_cast<uint64_t>(*array);
    return r;
  });
}

// A free of a linear allocation or of a pool's block (pools keep freed blocks reserved, or
// give them back at synchronisation: the pools' charges are re-read).
CUresult ReleasedLinearOrPoolBlock(CUdeviceptr dptr, CUresult result) {
  if (result != CUDA_SUCCESS || !QuotaEnabled()) return result;
  if (!ReleaseAllocation(AllocationKind::kLinear, dptr)) SettleAllPools();
  return result;
}

// The pool a cuMemAllocAsync on the current device draws from, registered.
CUresult CurrentPool(CUmemoryPool* pool) {
  static const auto get = RealSymbolAs<decltype(&cuDeviceGetMemPool)>("cuDeviceGetMemPool");
  CUdevice device = 0;
  if (CUresult r = CurrentDevice(&device); r != CUDA_SUCCESS) return r;
  if (get == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  if (CUresult r = get(pool, device); r != CUDA_SUCCESS) return r;
  NotePool(*pool, device, true);
  return CUDA_SUCCESS;
}

// A block from `pool` (nullptr: the current device's) made at *dptr by `allocate` on `stream`.
// The pool is charged what it reserves: the growth it may need is reserved first; afterwards
// its charge is what the driver says it holds. Should the driver have grown the pool past the
// slice (it reserves in chunks), the block is given back and the call refused.
template <typename Allocate>
CUresult PoolAllocation(CUdeviceptr* dptr, size_t bytes, CUmemoryPool pool, CUstream stream, int flavor,
                        Allocate allocate) {
  if (!QuotaEnabled() || dptr == nullptr || bytes == 0) return allocate();
  if (pool == nullptr) {
    if (CUresult r = CurrentPool(&pool); r != CUDA_SUCCESS) return r;
  } else if (!PoolKnown(pool)) {
    CUdevice device = 0;  // not made through cuMemPoolCreate here: charge it to the current device
    if (CUresult r = CurrentDevice(&device); r != CUDA_SUCCESS) return r;
    NotePool(pool, device, true);
  }
  uint64_t growth = 0;
  if (!ReservePoolGrowth(pool, bytes, &growth)) return CUDA_ERROR_OUT_OF_MEMORY;
  CUresult r = allocate();
  if (SettlePool(pool, growth) || r != CUDA_SUCCESS) return r;
  VXPU_REAL_OR_FAIL(free_async, cuMemFreeAsync);
  free_async(*dptr, stream);
  if (auto sync = RealSymbolAs<decltype(&cuCtxSynchronize)>("cuCtxSynchronize")) sync();
  if (auto trim = RealSymbolAs<decltype(&cuMemPoolTrimTo)>("cuMemPoolTrimTo")) trim(pool, 0);
  SettlePool(pool, 0);
  ReportPoolRefusal(pool, bytes);
  return CUDA_ERROR_OUT_OF_MEMORY;
}

}  // namespace

CUresult Hook_cuMemAlloc_v2(int flavor, CUdeviceptr* dptr, size_t bytes) {
  VXPU_REAL_OR_FAIL(real, cuMemAlloc_v2);
  return LinearAllocation(dptr, bytes, [&] { return real(dptr, bytes); });
}

CUresult Hook_cuMemAllocManaged(int flavor, CUdeviceptr* dptr, size_t bytes, unsigned int flags) {
  VXPU_REAL_OR_FAIL(real, cuMemAllocManaged);
  return LinearAllocation(dptr, bytes, [&] { return real(dptr, bytes, flags); });
}

CUresult Hook_cuMemAllocPitch_v2(int flavor, CUdeviceptr* dptr, size_t* pitch, size_t width, size_t height,
                                 unsigned int element) {
  VXPU_REAL_OR_FAIL(real, cuMemAllocPitch_v2);
  if (!QuotaEnabled()) return real(dptr, pitch, width, height, element);
  // The pitch is the driver's choice: allocate, then charge what it really took.
  CUresult r = real(dptr, pitch, width, height, element);
  if (r != CUDA_SUCCESS) return r;
  CUdevice device = 0;
  uint64_t bytes = uint64_t{*pitch} * height;
  if (CurrentDevice(&device) != CUDA_SUCCESS || !ReserveMemory(device, bytes)) {
    if (auto free_real = RealSymbolAs<decltype(&cuMemFree_v2)>("cuMemFree_v2")) free_real(*dptr);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  TrackAllocation(AllocationKind::kLinear, static_cast<uint64_t>(*dptr), device, bytes);
  return r;
}

CUresult Hook_cuMemFree_v2(int flavor, CUdeviceptr dptr) {
  VXPU_REAL_OR_FAIL(real, cuMemFree_v2);
  return ReleasedLinearOrPoolBlock(dptr, real(dptr));
}

CUresult Hook_cuMemAllocAsync(int flavor, CUdeviceptr* dptr, size_t bytes, CUstream stream) {
  VXPU_REAL_OR_FAIL(real, cuMemAllocAsync);
  return PoolAllocation(dptr, bytes, nullptr, stream, flavor, [&] { return real(dptr, bytes, stream); });
}

CUresult Hook_cuMemAllocFromPoolAsync(int flavor, CUdeviceptr* dptr, size_t bytes, CUmemoryPool pool, CUstream stream) {
  VXPU_REAL_OR_FAIL(real, cuMemAllocFromPoolAsync);
  if (pool == nullptr) return real(dptr, bytes, pool, stream);
  return PoolAllocation(dptr, bytes, pool, stream, flavor, [&] { return real(dptr, bytes, pool, stream); });
}

CUresult Hook_cuMemFreeAsync(int flavor, CUdeviceptr dptr, CUstream stream) {
  VXPU_REAL_OR_FAIL(real, cuMemFreeAsync);
  return ReleasedLinearOrPoolBlock(dptr, real(dptr, stream));
}

CUresult Hook_cuMemPoolCreate(int flavor, CUmemoryPool* pool, const CUmemPoolProps* props) {
  VXPU_REAL_OR_FAIL(real, cuMemPoolCreate);
  CUresult r = real(pool, props);
  if (r == CUDA_SUCCESS && QuotaEnabled())
    NotePool(*pool, props->location.id, props->location.type == CU_MEM_LOCATION_TYPE_DEVICE);
  return r;
}

CUresult Hook_cuMemPoolDestroy(int flavor, CUmemoryPool pool) {
  VXPU_REAL_OR_FAIL(real, cuMemPoolDestroy);
  if (QuotaEnabled()) RetirePool(pool);
  return real(pool);
}

CUresult Hook_cuMemPoolTrimTo(int flavor, CUmemoryPool pool, size_t keep) {
  VXPU_REAL_OR_FAIL(real, cuMemPoolTrimTo);
  CUresult r = real(pool, keep);
  if (r == CUDA_SUCCESS && QuotaEnabled()) SettlePool(pool, 0);
  return r;
}

CUresult Hook_cuMemCreate(int flavor, CUmemGenericAllocationHandle* handle, size_t size,
                          const CUmemAllocationProp* prop, unsigned long long flags) {
  VXPU_REAL_OR_FAIL(real, cuMemCreate);
  if (!QuotaEnabled() || handle == nullptr || prop == nullptr || prop->location.type != CU_MEM_LOCATION_TYPE_DEVICE)
    return real(handle, size, prop, flags);
  return Charged(AllocationKind::kPhysical, prop->location.id, size, [&](uint64_t* key) {
    CUresult r = real(handle, size, prop, flags);
    *key = *handle;
    return r;
  });
}

CUresult Hook_cuMemRelease(int flavor, CUmemGenericAllocationHandle handle) {
  VXPU_REAL_OR_FAIL(real, cuMemRelease);
  return Released(AllocationKind::kPhysical, handle, real(handle));
}

CUresult Hook_cuArrayCreate_v2(int flavor, CUarray* array, const CUDA_ARRAY_DESCRIPTOR* desc) {
  VXPU_REAL_OR_FAIL(real, cuArrayCreate_v2);
  uint64_t bytes = desc != nullptr ? ArrayBytes(desc->Width, desc->Height, 0, desc->Format, desc->NumChannels) : 0;
  return ArrayAllocation(array, desc != nullptr, bytes, [&] { return real(array, desc); });
}

CUresult Hook_cuArray3DCreate_v2(int flavor, CUarray* array, const CUDA_ARRAY3D_DESCRIPTOR* desc) {
  VXPU_REAL_OR_FAIL(real, cuArray3DCreate_v2);
  uint64_t bytes =
      desc != nullptr ? ArrayBytes(desc->Width, desc->Height, desc->Depth, desc->Format, desc->NumChannels) : 0;
  return ArrayAllocation(array, desc != nullptr, bytes, [&] { return real(array, desc); });
}

CUresult Hook_cuArrayDestroy(int flavor, CUarray array) {
  VXPU_REAL_OR_FAIL(real, cuArrayDestroy);
  return Released(AllocationKind::kArray, reinterpret_cast<uint64_t>(array), real(array));
}

CUresult Hook_cuMipmappedArrayCreate(int flavor, CUmipmappedArray* array, const CUDA_ARRAY3D_DESCRIPTOR* desc,
                                     unsigned int levels) {
  VXPU_REAL_OR_FAIL(real, cuMipmappedArrayCreate);
  uint64_t bytes = desc != nullptr ? MipmappedArrayBytes(*desc, levels) : 0;
  return ArrayAllocation(array, desc != nullptr, bytes, [&] { return real(array, desc, levels); });
}

CUresult Hook_cuMipmappedArrayDestroy(int flavor, CUmipmappedArray array) {
  VXPU_REAL_OR_FAIL(real, cuMipmappedArrayDestroy);
  return Released(AllocationKind::kArray, reinterpret_cast<uint64_t>(array), real(array));
}

CUresult Hook_cuMemGetInfo_v2(int flavor, size_t* free_bytes, size_t* total_bytes) {
  VXPU_REAL_OR_FAIL(real, cuMemGetInfo_v2);
  CUresult r = real(free_bytes, total_bytes);
  CUdevice device = 0;
  uint64_t limit = 0, used = 0;
  if (r != CUDA_SUCCESS || CurrentDevice(&device) != CUDA_SUCCESS || !SliceView(device, &limit, &used)) return r;
  uint64_t slice_free = used >= limit ? 0 : limit - used;
  *total_bytes = limit;
  *free_bytes = std::min<uint64_t>(*free_bytes, slice_free);  // the device may be fuller than the slice
  return r;
}

CUresult Hook_cuDeviceTotalMem_v2(int flavor, size_t* bytes, CUdevice device) {
  VXPU_REAL_OR_FAIL(real, cuDeviceTotalMem_v2);
  CUresult r = real(bytes, device);
  uint64_t limit = 0, used = 0;
  if (r == CUDA_SUCCESS && SliceView(device, &limit, &used)) *bytes = limit;
  return r;
}

}  // namespace vxpu::interposer
