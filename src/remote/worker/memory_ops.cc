// Device memory: allocations, copies in both directions, memsets, arrays. Every pointer is
// checked against the session's own allocations before the driver sees it.
#include <cstring>

#include "remote/wire.h"
#include "remote/worker/session.h"

namespace vxpu::remote {

namespace {

constexpr uint64_t kChunkBytes = 4ull << 20;
constexpr uint64_t kMaxPendingCopyBytes = 1ull << 30;

}  // namespace

CUresult Session::OnMemGetInfo(Call& call) {
  size_t free_bytes = 0, total = 0;
  CUresult result = cuMemGetInfo(&free_bytes, &total);
  call.outs = {free_bytes, total};
  return result;
}

CUresult Session::OnMemAlloc(Call& call) {
  CUdeviceptr ptr = 0;
  CUresult result = cuMemAlloc(&ptr, call.arg(0));
  if (result == CUDA_SUCCESS) RememberContextMemory(ptr, call.arg(0));
  call.outs = {ptr};
  return result;
}

CUresult Session::OnMemAllocPitch(Call& call) {
  CUdeviceptr ptr = 0;
  size_t pitch = 0;
  if (call.arg(2) > UINT32_MAX) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = cuMemAllocPitch(&ptr, &pitch, call.arg(0), call.arg(1), static_cast<unsigned>(call.arg(2)));
  if (result == CUDA_SUCCESS) RememberContextMemory(ptr, pitch * call.arg(1));
  call.outs = {ptr, pitch};
  return result;
}

CUresult Session::OnMemAllocManaged(Call& call) {
  CUdeviceptr ptr = 0;
  CUresult result = cuMemAllocManaged(&ptr, call.arg(0), static_cast<unsigned>(call.arg(1)));
  if (result == CUDA_SUCCESS) RememberContextMemory(ptr, call.arg(0));
  call.outs = {ptr};
  return result;
}

CUresult Session::OnMemFree(Call& call) {
  auto it = memory_.find(call.arg(0));
  if (it == memory_.end() || reserved_.count(it->first)) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = cuMemFree(it->first);
  if (result == CUDA_SUCCESS) {
    memory_ctx_.erase(it->first);
    memory_.erase(it);
  }
  return result;
}

CUresult Session::OnMemcpyHtoD(Call& call) {
  uint64_t dst = call.arg(0), bytes = call.arg(1);
  if (bytes != call.request.header.blob || !Owns(dst, bytes)) {
    if (!Discard(call.request.header.blob)) broken_ = true;
    return CUDA_ERROR_INVALID_VALUE;
  }
  return CopyIn(dst, bytes, nullptr, /*async=*/false);
}

CUresult Session::OnMemcpyHtoDAsync(Call& call) {
  uint64_t dst = call.arg(0), bytes = call.arg(1);
  CUstream stream = nullptr;
  CUresult result = StreamOf(call.arg(2), &stream);
  if (result == CUDA_SUCCESS && (bytes != call.request.header.blob || !Owns(dst, bytes)))
    result = CUDA_ERROR_INVALID_VALUE;
  if (result != CUDA_SUCCESS) {
    if (!Discard(call.request.header.blob)) broken_ = true;
    return result;
  }
  return CopyIn(dst, bytes, stream, /*async=*/true);
}

CUresult Session::OnMemcpyDtoH(Call& call) {
  uint64_t src = call.arg(0), bytes = call.arg(1);
  if (!Owns(src, bytes) || bytes > kMaxCopyBytes) return CUDA_ERROR_INVALID_VALUE;
  if (bytes <= kChunkBytes) {
    call.out_blob.resize(bytes);
    return cuMemcpyDtoH(call.out_blob.data(), src, bytes);
  }
  return StreamOut(src, bytes);
}

// A large device-to-host copy goes out in chunks, the next one copied while this one is sent.
CUresult Session::StreamOut(uint64_t src, uint64_t bytes) {
  CUevent done[2] = {nullptr, nullptr};
  auto start = [&](uint64_t k) {
    uint64_t offset = k * kChunkBytes, n = bytes - offset < kChunkBytes ? bytes - offset : kChunkBytes;
    CUresult r = cuMemcpyDtoHAsync(staging_[k % 2].data(), src + offset, n, nullptr);
    if (r == CUDA_SUCCESS && done[k % 2] == nullptr) r = cuEventCreate(&done[k % 2], CU_EVENT_DISABLE_TIMING);
    if (r == CUDA_SUCCESS) r = cuEventRecord(done[k % 2], nullptr);
    return r;
  };
  if (deferred_ != CUDA_SUCCESS) {  // an earlier request's failure is this call's answer, once
    CUresult earlier = deferred_;
    deferred_ = CUDA_SUCCESS;
    return earlier;
  }
  CUresult result = start(0);
  if (result == CUDA_SUCCESS) result = cuEventSynchronize(done[0]);
  if (result != CUDA_SUCCESS || !SendFinishedCopies()) {
    for (CUevent e : done)
      if (e != nullptr) cuEventDestroy(e);
    return result;
  }
  std::string head;
  AppendAnswer(&head, kReply, CUDA_SUCCESS, nullptr, 0, bytes);
  std::lock_guard<std::mutex> lock(write_mu_);  // no keepalive in the middle of the data
  bool sent = SendLocked(head, nullptr, 0);
  uint64_t chunks = (bytes + kChunkBytes - 1) / kChunkBytes;
  for (uint64_t k = 0; sent && k < chunks; ++k) {
    if (k + 1 < chunks && result == CUDA_SUCCESS) result = start(k + 1);
    uint64_t n = k + 1 < chunks ? kChunkBytes : bytes - k * kChunkBytes;
    if (result != CUDA_SUCCESS) std::memset(staging_[k % 2].data(), 0, n);  // reported at the next sync
    sent = SendLocked(std::string(), staging_[k % 2].data(), n);
    if (k + 1 < chunks && result == CUDA_SUCCESS) result = cuEventSynchronize(done[(k + 1) % 2]);
  }
  for (CUevent e : done)
    if (e != nullptr) cuEventDestroy(e);
  if (!sent) broken_ = true;
  if (result != CUDA_SUCCESS) deferred_ = result;
  answered_ = true;
  return CUDA_SUCCESS;
}

CUresult Session::OnMemcpyDtoHAsync(Call& call) {
  uint64_t src = call.arg(1), bytes = call.arg(2);
  CUstream stream = nullptr;
  CUresult result = StreamOf(call.arg(3), &stream);
  if (result != CUDA_SUCCESS) return result;
  if (!Owns(src, bytes) || bytes > kMaxBlobBytes) return CUDA_ERROR_INVALID_VALUE;
  // Host memory here is the server's: data not yet collected by a synchronising call is bounded.
  if (pending_copy_bytes_ + bytes > kMaxPendingCopyBytes) return CUDA_ERROR_OUT_OF_MEMORY;
  PendingCopy copy{call.arg(0), Buffer(bytes), nullptr, current_ctx_};
  result = Track(cuMemcpyDtoHAsync(copy.data.data(), src, bytes, stream), stream, &copy);
  if (result != CUDA_SUCCESS) return result;
  pending_copy_bytes_ += bytes;
  copies_.push_back(std::move(copy));
  return CUDA_SUCCESS;
}

CUresult Session::OnMemcpyDtoD(Call& call) {
  uint64_t dst = call.arg(0), src = call.arg(1), bytes = call.arg(2);
  CUstream stream = nullptr;
  CUresult result = StreamOf(call.arg(3), &stream);
  if (result != CUDA_SUCCESS) return result;
  if (!Owns(dst, bytes) || !Owns(src, bytes)) return CUDA_ERROR_INVALID_VALUE;
  return cuMemcpyDtoDAsync(dst, src, bytes, stream);
}

CUresult Session::OnMemset(Call& call) {
  uint64_t dst = call.arg(0), value = call.arg(1), element = call.arg(2), count = call.arg(3);
  CUstream stream = nullptr;
  CUresult result = StreamOf(call.arg(4), &stream);
  if (result != CUDA_SUCCESS) return result;
  if ((element != 1 && element != 2 && element != 4) || count > kMaxCopyBytes || !Owns(dst, count * element))
    return CUDA_ERROR_INVALID_VALUE;
  switch (element) {
    case 1: return cuMemsetD8Async(dst, static_cast<unsigned char>(value), count, stream);
    case 2: return cuMemsetD16Async(dst, static_cast<unsigned short>(value), count, stream);
    default: return cuMemsetD32Async(dst, static_cast<unsigned>(value), count, stream);
  }
}

CUresult Session::OnArrayCreate(Call& call) {
  uint64_t id = call.arg(0);
  if (!NewId(arrays_, id)) return CUDA_ERROR_INVALID_VALUE;
  CUarray array = nullptr;
  CUresult result;
  if (call.arg(1) == 0 && call.blob.size() == sizeof(CUDA_ARRAY_DESCRIPTOR)) {
    CUDA_ARRAY_DESCRIPTOR desc;
    std::memcpy(&desc, call.blob.data(), sizeof(desc));
    result = cuArrayCreate(&array, &desc);
  } else if (call.arg(1) == 1 && call.blob.size() == sizeof(CUDA_ARRAY3D_DESCRIPTOR)) {
    CUDA_ARRAY3D_DESCRIPTOR desc;
    std::memcpy(&desc, call.blob.data(), sizeof(desc));
    result = cuArray3DCreate(&array, &desc);
  } else {
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (result == CUDA_SUCCESS) arrays_[id] = array;
  return result;
}

CUresult Session::OnArrayDestroy(Call& call) {
  auto it = arrays_.find(call.arg(0));
  if (it == arrays_.end()) return CUDA_ERROR_INVALID_HANDLE;
  CUresult result = cuArrayDestroy(it->second);
  if (result == CUDA_SUCCESS) arrays_.erase(it);
  return result;
}

CUresult Session::OnMipmappedArrayCreate(Call& call) {
  uint64_t id = call.arg(0);
  if (!NewId(mipmapped_, id) || call.blob.size() != sizeof(CUDA_ARRAY3D_DESCRIPTOR) || call.arg(1) > 64)
    return CUDA_ERROR_INVALID_VALUE;
  CUDA_ARRAY3D_DESCRIPTOR desc;
  std::memcpy(&desc, call.blob.data(), sizeof(desc));
  CUmipmappedArray array = nullptr;
  CUresult result = cuMipmappedArrayCreate(&array, &desc, static_cast<unsigned>(call.arg(1)));
  if (result == CUDA_SUCCESS) mipmapped_[id] = array;
  return result;
}

CUresult Session::OnMipmappedArrayDestroy(Call& call) {
  auto it = mipmapped_.find(call.arg(0));
  if (it == mipmapped_.end()) return CUDA_ERROR_INVALID_HANDLE;
  CUresult result = cuMipmappedArrayDestroy(it->second);
  if (result == CUDA_SUCCESS) mipmapped_.erase(it);
  return result;
}

}  // namespace vxpu::remote
