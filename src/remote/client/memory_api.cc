// Device memory, copies and memsets, arrays, and pinned host memory (which stays here: the
// server never sees the client's host addresses, only the data copied from or to them).
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "remote/client/client.h"
#include "remote/client/cuda_api.h"

using namespace vxpu::remote;

namespace {

Connection& Wire() { return Client::Get().connection(); }

// A copy between host and device on a capturing stream: its host data would be needed at every
// launch of the graph, and it crosses the link only once.
CUresult HostCopyCaptured() {
  std::fprintf(stderr,
               "vxpu remote: a copy between host and device was captured into a graph, which is not forwarded\n");
  return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
}

CUresult CopyHtoD(CUdeviceptr dst, const void* src, size_t bytes, const CUstream* stream) {
  CUresult result = NeedContext();
  if (result != CUDA_SUCCESS) return result;
  if (src == nullptr || !IsDeviceMemory(dst, bytes)) return CUDA_ERROR_INVALID_VALUE;
  if (bytes == 0) return CUDA_SUCCESS;
  if ((result = HandManagedToDevice()) != CUDA_SUCCESS) return result;
  if (stream == nullptr) {
    Reply reply;
    return AfterSync(Wire().Call(Op::kMemcpyHtoD, CurrentContext(), {dst, bytes}, &reply, src, bytes));
  }
  uint64_t id = 0;
  result = StreamId(*stream, &id);
  if (result != CUDA_SUCCESS) return result;
  if (Capturing(id)) return HostCopyCaptured();
  return Wire().Post(Op::kMemcpyHtoDAsync, CurrentContext(), {dst, bytes, id}, src, bytes);
}

CUresult CopyDtoH(void* dst, CUdeviceptr src, size_t bytes, const CUstream* stream) {
  CUresult result = NeedContext();
  if (result != CUDA_SUCCESS) return result;
  if (dst == nullptr || !IsDeviceMemory(src, bytes)) return CUDA_ERROR_INVALID_VALUE;
  if (bytes == 0) return CUDA_SUCCESS;
  if ((result = HandManagedToDevice()) != CUDA_SUCCESS) return result;
  if (stream == nullptr) {
    Reply reply;
    reply.into = dst;
    reply.into_bytes = bytes;
    return AfterSync(Wire().Call(Op::kMemcpyDtoH, CurrentContext(), {src, bytes}, &reply));
  }
  uint64_t stream_id = 0;
  result = StreamId(*stream, &stream_id);
  if (result != CUDA_SUCCESS) return result;
  if (Capturing(stream_id)) return HostCopyCaptured();
  // In pieces the worker holds whole (one answer blob each), in stream order.
  for (uint64_t offset = 0; offset < bytes && result == CUDA_SUCCESS; offset += kMaxBlobBytes) {
    uint64_t piece = bytes - offset < kMaxBlobBytes ? bytes - offset : kMaxBlobBytes;
    uint64_t copy = Client::Get().Mint();
    Wire().ExpectCopy(copy, static_cast<char*>(dst) + offset, piece);
    result = Wire().Post(Op::kMemcpyDtoHAsync, CurrentContext(), {copy, src + offset, piece, stream_id});
  }
  return result;
}

CUresult CopyDtoD(CUdeviceptr dst, CUdeviceptr src, size_t bytes, const CUstream* stream) {
  CUresult result = NeedContext();
  if (result != CUDA_SUCCESS) return result;
  if (!IsDeviceMemory(dst, bytes) || !IsDeviceMemory(src, bytes)) return CUDA_ERROR_INVALID_VALUE;
  uint64_t id = kNullStream;
  if (stream != nullptr && (result = StreamId(*stream, &id)) != CUDA_SUCCESS) return result;
  if ((result = HandManagedToDevice()) != CUDA_SUCCESS) return result;
  return Wire().Post(Op::kMemcpyDtoD, CurrentContext(), {dst, src, bytes, id});
}

// cuMemcpy and cuMemcpyAsync: the direction follows from which side owns each address.
CUresult CopyUnified(CUdeviceptr dst, CUdeviceptr src, size_t bytes, const CUstream* stream) {
  bool dst_device = IsDeviceMemory(dst, 0), src_device = IsDeviceMemory(src, 0);
  if (dst_device && src_device) return CopyDtoD(dst, src, bytes, stream);
  if (dst_device) return CopyHtoD(dst, reinterpret_cast<const void*>(src), bytes, stream);
  if (src_device) return CopyDtoH(reinterpret_cast<void*>(dst), src, bytes, stream);
  CUresult result = NeedContext();
  if (result != CUDA_SUCCESS) return result;
  if (dst == 0 || src == 0) return CUDA_ERROR_INVALID_VALUE;
  std::memmove(reinterpret_cast<void*>(dst), reinterpret_cast<const void*>(src), bytes);
  return CUDA_SUCCESS;
}

CUresult Set(CUdeviceptr dst, uint32_t value, uint32_t element, size_t count, const CUstream* stream) {
  CUresult result = NeedContext();
  if (result != CUDA_SUCCESS) return result;
  if (count > UINT64_MAX / element || !IsDeviceMemory(dst, count * element)) return CUDA_ERROR_INVALID_VALUE;
  uint64_t id = kNullStream;
  if (stream != nullptr && (result = StreamId(*stream, &id)) != CUDA_SUCCESS) return result;
  if ((result = HandManagedToDevice()) != CUDA_SUCCESS) return result;
  return Wire().Post(Op::kMemset, CurrentContext(), {dst, value, element, count, id});
}

CUresult HostAllocate(void** pp, size_t bytes) {
  CUresult result = NeedContext();
  if (result != CUDA_SUCCESS) return result;
  if (pp == nullptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  void* p = nullptr;
  if (posix_memalign(&p, 4096, bytes) != 0) return CUDA_ERROR_OUT_OF_MEMORY;
  Client& c = Client::Get();
  std::lock_guard<std::mutex> lock(c.mu);
  c.host_memory[reinterpret_cast<uintptr_t>(p)] = bytes;
  *pp = p;
  return CUDA_SUCCESS;
}

template <typename Descriptor>
CUresult CreateArray(Op op, uint64_t kind, const Descriptor* desc, uint64_t levels,
                     std::unordered_map<uint64_t, uint64_t> Client::*table, uint64_t* out) {
  CUresult result = NeedContext();
  if (result != CUDA_SUCCESS) return result;
  if (desc == nullptr || out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Client& c = Client::Get();
  uint64_t id = c.Mint();
  Reply reply;
  result = Wire().Call(op, CurrentContext(), {id, kind == 2 ? levels : kind}, &reply, desc, sizeof(*desc));
  if (result != CUDA_SUCCESS) return result;
  std::lock_guard<std::mutex> lock(c.mu);
  (c.*table)[id] = 0;
  *out = id;
  return CUDA_SUCCESS;
}

CUresult DestroyArray(Op op, uint64_t id, std::unordered_map<uint64_t, uint64_t> Client::*table) {
  CUresult ready = Client::Get().Ready();
  if (ready != CUDA_SUCCESS) return ready;
  Client& c = Client::Get();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    if ((c.*table).count(id) == 0) return CUDA_ERROR_INVALID_HANDLE;
  }
  Reply reply;
  CUresult result = Wire().Call(op, CurrentContext(), {id}, &reply);
  if (result == CUDA_SUCCESS) {
    std::lock_guard<std::mutex> lock(c.mu);
    (c.*table).erase(id);
  }
  return result;
}

}  // namespace

extern "C" {

CUresult CUDAAPI cuMemGetInfo_v2(size_t* free_bytes, size_t* total) {
  if (free_bytes == nullptr || total == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = NeedContext();
  if (result != CUDA_SUCCESS) return result;
  Reply reply;
  result = Wire().Call(Op::kMemGetInfo, CurrentContext(), {}, &reply);
  if (result == CUDA_SUCCESS && reply.outs.size() == 2) {
    *free_bytes = reply.outs[0];
    *total = reply.outs[1];
  }
  return result;
}

CUresult CUDAAPI cuMemAlloc_v2(CUdeviceptr* dptr, size_t bytes) {
  if (dptr == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = NeedContext();
  if (result != CUDA_SUCCESS) return result;
  Reply reply;
  return Allocated(Wire().Call(Op::kMemAlloc, CurrentContext(), {bytes}, &reply), reply, dptr, bytes);
}

CUresult CUDAAPI cuMemAllocPitch_v2(CUdeviceptr* dptr, size_t* pitch, size_t width, size_t height,
                                    unsigned int element) {
  if (dptr == nullptr || pitch == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = NeedContext();
  if (result != CUDA_SUCCESS) return result;
  Reply reply;
  result = Wire().Call(Op::kMemAllocPitch, CurrentContext(), {width, height, element}, &reply);
  if (result != CUDA_SUCCESS || reply.outs.size() != 2) return result != CUDA_SUCCESS ? result : CUDA_ERROR_UNKNOWN;
  *pitch = reply.outs[1];
  return Allocated(result, reply, dptr, reply.outs[1] * height);
}

CUresult CUDAAPI cuMemAllocManaged(CUdeviceptr* dptr, size_t bytes, unsigned int flags) {
  if (dptr == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = NeedContext();
  if (result != CUDA_SUCCESS) return result;
  Reply reply;
  result = Allocated(Wire().Call(Op::kMemAllocManaged, CurrentContext(), {bytes, flags}, &reply), reply, dptr, bytes);
  if (result != CUDA_SUCCESS || MirrorManaged(*dptr, bytes)) return result;
  cuMemFree_v2(*dptr);
  *dptr = 0;
  return CUDA_ERROR_NOT_SUPPORTED;
}

CUresult CUDAAPI cuMemFree_v2(CUdeviceptr dptr) {
  CUresult result = NeedContext();
  if (result != CUDA_SUCCESS) return result;
  if (dptr == 0) return CUDA_SUCCESS;
  if (!ForgetDeviceMemory(dptr)) return CUDA_ERROR_INVALID_VALUE;
  UnmirrorManaged(dptr);
  return Wire().Post(Op::kMemFree, CurrentContext(), {dptr});
}

CUresult CUDAAPI cuMemGetAddressRange_v2(CUdeviceptr* base, size_t* size, CUdeviceptr dptr) {
  CUresult result = NeedContext();
  if (result != CUDA_SUCCESS) return result;
  Client& c = Client::Get();
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = c.device_memory.upper_bound(dptr);
  if (it == c.device_memory.begin()) return CUDA_ERROR_NOT_FOUND;
  --it;
  if (dptr - it->first >= it->second) return CUDA_ERROR_NOT_FOUND;
  if (base != nullptr) *base = it->first;
  if (size != nullptr) *size = it->second;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemAllocHost_v2(void** pp, size_t bytes) { return HostAllocate(pp, bytes); }

CUresult CUDAAPI cuMemHostAlloc(void** pp, size_t bytes, unsigned int flags) {
  // A device pointer to client memory cannot exist remotely.
  if (flags & CU_MEMHOSTALLOC_DEVICEMAP) return CUDA_ERROR_NOT_SUPPORTED;
  return HostAllocate(pp, bytes);
}

CUresult CUDAAPI cuMemFreeHost(void* p) {
  CUresult ready = Client::Get().Ready();
  if (ready != CUDA_SUCCESS) return ready;
  Client& c = Client::Get();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    if (c.host_memory.erase(reinterpret_cast<uintptr_t>(p)) == 0) return CUDA_ERROR_INVALID_VALUE;
  }
  std::free(p);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t bytes) {
  return CopyUnified(dst, src, bytes, nullptr);
}
CUresult CUDAAPI cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream stream) {
  return CopyUnified(dst, src, bytes, &stream);
}
CUresult CUDAAPI cuMemcpyHtoD_v2(CUdeviceptr dst, const void* src, size_t bytes) {
  return CopyHtoD(dst, src, bytes, nullptr);
}
CUresult CUDAAPI cuMemcpyDtoH_v2(void* dst, CUdeviceptr src, size_t bytes) {
  return CopyDtoH(dst, src, bytes, nullptr);
}
CUresult CUDAAPI cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t bytes) {
  return CopyDtoD(dst, src, bytes, nullptr);
}
CUresult CUDAAPI cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void* src, size_t bytes, CUstream stream) {
  return CopyHtoD(dst, src, bytes, &stream);
}
CUresult CUDAAPI cuMemcpyDtoHAsync_v2(void* dst, CUdeviceptr src, size_t bytes, CUstream stream) {
  return CopyDtoH(dst, src, bytes, &stream);
}
CUresult CUDAAPI cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream stream) {
  return CopyDtoD(dst, src, bytes, &stream);
}

CUresult CUDAAPI cuMemsetD8_v2(CUdeviceptr dst, unsigned char value, size_t count) {
  return Set(dst, value, 1, count, nullptr);
}
CUresult CUDAAPI cuMemsetD16_v2(CUdeviceptr dst, unsigned short value, size_t count) {
  return Set(dst, value, 2, count, nullptr);
}
CUresult CUDAAPI cuMemsetD32_v2(CUdeviceptr dst, unsigned int value, size_t count) {
  return Set(dst, value, 4, count, nullptr);
}
CUresult CUDAAPI cuMemsetD8Async(CUdeviceptr dst, unsigned char value, size_t count, CUstream stream) {
  return Set(dst, value, 1, count, &stream);
}
CUresult CUDAAPI cuMemsetD16Async(CUdeviceptr dst, unsigned short value, size_t count, CUstream stream) {
  return Set(dst, value, 2, count, &stream);
}
CUresult CUDAAPI cuMemsetD32Async(CUdeviceptr dst, unsigned int value, size_t count, CUstream stream) {
  return Set(dst, value, 4, count, &stream);
}

CUresult CUDAAPI cuArrayCreate_v2(CUarray* array, const CUDA_ARRAY_DESCRIPTOR* desc) {
  uint64_t id = 0;
  if (array == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = CreateArray(Op::kArrayCreate, 0, desc, 0, &Client::arrays, &id);
  if (result == CUDA_SUCCESS) *array = HandleOf<CUarray>(id);
  return result;
}

CUresult CUDAAPI cuArray3DCreate_v2(CUarray* array, const CUDA_ARRAY3D_DESCRIPTOR* desc) {
  uint64_t id = 0;
  if (array == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = CreateArray(Op::kArrayCreate, 1, desc, 0, &Client::arrays, &id);
  if (result == CUDA_SUCCESS) *array = HandleOf<CUarray>(id);
  return result;
}

CUresult CUDAAPI cuArrayDestroy(CUarray array) { return DestroyArray(Op::kArrayDestroy, IdOf(array), &Client::arrays); }

CUresult CUDAAPI cuMipmappedArrayCreate(CUmipmappedArray* array, const CUDA_ARRAY3D_DESCRIPTOR* desc,
                                        unsigned int levels) {
  uint64_t id = 0;
  if (array == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = CreateArray(Op::kMipmappedArrayCreate, 2, desc, levels, &Client::mipmapped, &id);
  if (result == CUDA_SUCCESS) *array = HandleOf<CUmipmappedArray>(id);
  return result;
}

CUresult CUDAAPI cuMipmappedArrayDestroy(CUmipmappedArray array) {
  return DestroyArray(Op::kMipmappedArrayDestroy, IdOf(array), &Client::mipmapped);
}

}  // extern "C"
