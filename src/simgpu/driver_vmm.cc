// Virtual memory management: physical allocations (cuMemCreate) mapped into reserved address
// ranges (cuMemAddressReserve + cuMemMap), accessible after cuMemSetAccess.
//
// Physical memory is a memfd, so it is backed lazily and the same physical allocation mapped
// at two addresses really aliases, as on a GPU. It is charged to the device at cuMemCreate and
// freed once it has been released and its last mapping is gone.
#include <sys/mman.h>
#include <unistd.h>

#include "simgpu/driver.h"

namespace simgpu {
namespace {

bool ValidProps(const CUmemAllocationProp* prop) {
  return prop != nullptr && prop->type == CU_MEM_ALLOCATION_TYPE_PINNED &&
         prop->location.type == CU_MEM_LOCATION_TYPE_DEVICE;
}

void FreePhysicalIfUnusedLocked(PhysicalAllocation* phys) {
  if (phys->handle_refs > 0 || phys->mappings > 0) return;
  close(phys->fd);
  UnchargeLocked(phys->device, phys->size);
  TheDriver().physical.erase(phys);
  delete phys;
}

bool InsideReservationLocked(uint64_t ptr, uint64_t size) {
  Driver& d = TheDriver();
  auto it = d.reservations.upper_bound(ptr);
  if (it == d.reservations.begin()) return false;
  --it;
  return ptr >= it->first && ptr + size <= it->first + it->second && ptr + size > ptr;
}

// Mapped allocations lying inside [ptr, ptr+size), and whether they cover it exactly.
std::vector<std::map<uintptr_t, Allocation>::iterator> MappingsInLocked(uint64_t ptr, uint64_t size, bool* covers) {
  Driver& d = TheDriver();
  std::vector<std::map<uintptr_t, Allocation>::iterator> found;
  uint64_t next = ptr;
  for (auto it = d.allocations.lower_bound(ptr); it != d.allocations.end() && it->first < ptr + size; ++it) {
    if (it->second.kind != AllocKind::kMapped) continue;
    if (it->first + it->second.size > ptr + size) break;
    if (it->first != next) next = UINT64_MAX;
    if (next != UINT64_MAX) next = it->first + it->second.size;
    found.push_back(it);
  }
  *covers = next == ptr + size && !found.empty();
  return found;
}

}  // namespace
}  // namespace simgpu

using namespace simgpu;

extern "C" {

CUresult CUDAAPI cuMemGetAllocationGranularity(size_t* granularity, const CUmemAllocationProp* prop,
                                               CUmemAllocationGranularity_flags) {
  if (granularity == nullptr || !ValidProps(prop)) return CUDA_ERROR_INVALID_VALUE;
  SIM_TRY(CheckInit());
  *granularity = kVmmGranularity;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemCreate(CUmemGenericAllocationHandle* handle, size_t size, const CUmemAllocationProp* prop,
                             unsigned long long flags) {
  if (handle == nullptr || !ValidProps(prop) || flags != 0 || size == 0 || size % kVmmGranularity != 0)
    return CUDA_ERROR_INVALID_VALUE;
  Driver& d = TheDriver();
  std::lock_guard<std::mutex> lock(d.mu);
  Device* dev = nullptr;
  SIM_TRY(DeviceLocked(prop->location.id, &dev));
  SIM_TRY(AttachLocked(dev));
  if (!ChargeLocked(dev, size)) return CUDA_ERROR_OUT_OF_MEMORY;
  int fd = memfd_create("simgpu-vmm", MFD_CLOEXEC);
  if (fd < 0 || ftruncate(fd, static_cast<off_t>(size)) != 0) {
    if (fd >= 0) close(fd);
    UnchargeLocked(dev, size);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  auto* phys = new PhysicalAllocation{dev, size, fd, 0, 1};
  d.physical.insert(phys);
  *handle = reinterpret_cast<CUmemGenericAllocationHandle>(phys);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemRelease(CUmemGenericAllocationHandle handle) {
  Driver& d = TheDriver();
  std::lock_guard<std::mutex> lock(d.mu);
  auto* phys = reinterpret_cast<PhysicalAllocation*>(handle);
  if (d.physical.count(phys) == 0 || phys->handle_refs <= 0) return CUDA_ERROR_INVALID_VALUE;
  --phys->handle_refs;
  FreePhysicalIfUnusedLocked(phys);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemAddressReserve(CUdeviceptr* ptr, size_t size, size_t alignment, CUdeviceptr,
                                     unsigned long long flags) {
  if (ptr == nullptr || size == 0 || size % kVmmGranularity != 0 || flags != 0) return CUDA_ERROR_INVALID_VALUE;
  if (alignment != 0 && (alignment & (alignment - 1)) != 0) return CUDA_ERROR_INVALID_VALUE;
  SIM_TRY(CheckInit());
  uint64_t align = std::max<uint64_t>(alignment, kVmmGranularity);
  uint64_t span = size + align;
  void* raw = mmap(nullptr, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (raw == MAP_FAILED) return CUDA_ERROR_OUT_OF_MEMORY;
  uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  uintptr_t base = RoundUp(start, align);
  if (base > start) munmap(raw, base - start);
  if (start + span > base + size) munmap(reinterpret_cast<void*>(base + size), start + span - (base + size));
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  TheDriver().reservations[base] = size;
  *ptr = base;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemAddressFree(CUdeviceptr ptr, size_t size) {
  Driver& d = TheDriver();
  std::lock_guard<std::mutex> lock(d.mu);
  auto it = d.reservations.find(ptr);
  if (it == d.reservations.end() || it->second != size) return CUDA_ERROR_INVALID_VALUE;
  bool covers = false;
  if (!MappingsInLocked(ptr, size, &covers).empty()) return CUDA_ERROR_INVALID_VALUE;  // unmap first
  munmap(reinterpret_cast<void*>(ptr), size);
  d.reservations.erase(it);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemMap(CUdeviceptr ptr, size_t size, size_t offset, CUmemGenericAllocationHandle handle,
                          unsigned long long flags) {
  if (flags != 0 || size == 0 || size % kVmmGranularity != 0 || offset % kVmmGranularity != 0)
    return CUDA_ERROR_INVALID_VALUE;
  Driver& d = TheDriver();
  std::lock_guard<std::mutex> lock(d.mu);
  SIM_TRY(InitializedLocked());
  auto* phys = reinterpret_cast<PhysicalAllocation*>(handle);
  if (d.physical.count(phys) == 0 || phys->handle_refs <= 0) return CUDA_ERROR_INVALID_HANDLE;
  if (offset + size > phys->size || !InsideReservationLocked(ptr, size)) return CUDA_ERROR_INVALID_VALUE;
  bool covers = false;
  auto before = d.allocations.lower_bound(ptr);
  if (!MappingsInLocked(ptr, size, &covers).empty() || FindAllocationLocked(ptr, 1) != nullptr ||
      (before != d.allocations.end() && before->first < ptr + size))
    return CUDA_ERROR_INVALID_VALUE;  // already mapped
  void* p =
      mmap(reinterpret_cast<void*>(ptr), size, PROT_NONE, MAP_SHARED | MAP_FIXED, phys->fd, static_cast<off_t>(offset));
  if (p == MAP_FAILED) return CUDA_ERROR_OUT_OF_MEMORY;
  Allocation a;
  a.size = size;
  a.kind = AllocKind::kMapped;
  a.device = phys->device;
  a.physical = phys;
  a.accessible = false;
  d.allocations[ptr] = a;
  ++phys->mappings;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemSetAccess(CUdeviceptr ptr, size_t size, const CUmemAccessDesc* desc, size_t count) {
  if (desc == nullptr || count == 0) return CUDA_ERROR_INVALID_VALUE;
  Driver& d = TheDriver();
  std::lock_guard<std::mutex> lock(d.mu);
  SIM_TRY(InitializedLocked());
  bool covers = false;
  auto mappings = MappingsInLocked(ptr, size, &covers);
  if (!covers) return CUDA_ERROR_INVALID_VALUE;
  for (size_t i = 0; i < count; ++i) {
    if (desc[i].location.type != CU_MEM_LOCATION_TYPE_DEVICE || desc[i].location.id < 0 ||
        static_cast<size_t>(desc[i].location.id) >= d.devices.size())
      return CUDA_ERROR_INVALID_DEVICE;
    int prot = desc[i].flags == CU_MEM_ACCESS_FLAGS_PROT_READWRITE ? PROT_READ | PROT_WRITE
               : desc[i].flags == CU_MEM_ACCESS_FLAGS_PROT_READ    ? PROT_READ
               : desc[i].flags == CU_MEM_ACCESS_FLAGS_PROT_NONE    ? PROT_NONE
                                                                   : -1;
    if (prot < 0) return CUDA_ERROR_INVALID_VALUE;
    if (mprotect(reinterpret_cast<void*>(ptr), size, prot) != 0) return CUDA_ERROR_INVALID_VALUE;
    for (auto& it : mappings) it->second.accessible = prot != PROT_NONE;
  }
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemUnmap(CUdeviceptr ptr, size_t size) {
  Driver& d = TheDriver();
  Device* device = nullptr;
  {
    std::lock_guard<std::mutex> lock(d.mu);
    SIM_TRY(InitializedLocked());
    bool covers = false;
    auto mappings = MappingsInLocked(ptr, size, &covers);
    if (!covers) return CUDA_ERROR_INVALID_VALUE;
    device = mappings.front()->second.device;
  }
  if (device->executor) WaitDevice(device, device->executor->last_submitted());  // work in flight may use it
  std::lock_guard<std::mutex> lock(d.mu);
  bool covers = false;
  auto mappings = MappingsInLocked(ptr, size, &covers);
  if (!covers) return CUDA_ERROR_INVALID_VALUE;
  mmap(reinterpret_cast<void*>(ptr), size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
  for (auto& it : mappings) {
    PhysicalAllocation* phys = it->second.physical;
    d.allocations.erase(it);
    --phys->mappings;
    FreePhysicalIfUnusedLocked(phys);
  }
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemRetainAllocationHandle(CUmemGenericAllocationHandle* handle, void* addr) {
  if (handle == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Allocation* a = FindAllocationLocked(reinterpret_cast<uint64_t>(addr), 1);
  if (a == nullptr || a->kind != AllocKind::kMapped) return CUDA_ERROR_INVALID_VALUE;
  ++a->physical->handle_refs;
  *handle = reinterpret_cast<CUmemGenericAllocationHandle>(a->physical);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemGetAllocationPropertiesFromHandle(CUmemAllocationProp* prop,
                                                        CUmemGenericAllocationHandle handle) {
  if (prop == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  auto* phys = reinterpret_cast<PhysicalAllocation*>(handle);
  if (TheDriver().physical.count(phys) == 0) return CUDA_ERROR_INVALID_VALUE;
  *prop = CUmemAllocationProp{};
  prop->type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop->location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop->location.id = phys->device->ordinal;
  return CUDA_SUCCESS;
}

}  // extern "C"
