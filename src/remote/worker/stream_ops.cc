// Streams and events. Their handles are minted by the client; the worker maps them.
#include <cstring>

#include "remote/worker/session.h"

namespace vxpu::remote {

CUresult Session::OnStreamCreate(Call& call) {
  uint64_t id = call.arg(0);
  if (!NewId(streams_, id)) return CUDA_ERROR_INVALID_VALUE;
  CUstream stream = nullptr;
  CUresult result = cuStreamCreateWithPriority(&stream, static_cast<unsigned>(call.arg(1)),
                                               static_cast<int>(static_cast<int64_t>(call.arg(2))));
  if (result != CUDA_SUCCESS) return result;
  streams_[id] = stream;
  Own(id);
  return CUDA_SUCCESS;
}

CUresult Session::OnStreamDestroy(Call& call) {
  auto it = streams_.find(call.arg(0));
  if (it == streams_.end()) return CUDA_ERROR_INVALID_HANDLE;
  CUresult result = cuStreamDestroy(it->second);
  if (result == CUDA_SUCCESS) {
    owner_.erase(it->first);
    streams_.erase(it);
  }
  return result;
}

CUresult Session::OnStreamSynchronize(Call& call) {
  CUstream stream = nullptr;
  CUresult result = StreamOf(call.arg(0), &stream);
  return result == CUDA_SUCCESS ? cuStreamSynchronize(stream) : result;
}

CUresult Session::OnStreamQuery(Call& call) {
  CUstream stream = nullptr;
  CUresult result = StreamOf(call.arg(0), &stream);
  return result == CUDA_SUCCESS ? cuStreamQuery(stream) : result;
}

CUresult Session::OnStreamWaitEvent(Call& call) {
  CUstream stream = nullptr;
  CUevent event = nullptr;
  CUresult result = StreamOf(call.arg(0), &stream);
  if (result == CUDA_SUCCESS) result = EventOf(call.arg(1), &event);
  return result == CUDA_SUCCESS ? cuStreamWaitEvent(stream, event, static_cast<unsigned>(call.arg(2))) : result;
}

CUresult Session::OnEventCreate(Call& call) {
  uint64_t id = call.arg(0);
  if (!NewId(events_, id)) return CUDA_ERROR_INVALID_VALUE;
  CUevent event = nullptr;
  CUresult result = cuEventCreate(&event, static_cast<unsigned>(call.arg(1)));
  if (result != CUDA_SUCCESS) return result;
  events_[id] = event;
  Own(id);
  return CUDA_SUCCESS;
}

CUresult Session::OnEventDestroy(Call& call) {
  auto it = events_.find(call.arg(0));
  if (it == events_.end()) return CUDA_ERROR_INVALID_HANDLE;
  CUresult result = cuEventDestroy(it->second);
  if (result == CUDA_SUCCESS) {
    owner_.erase(it->first);
    events_.erase(it);
  }
  return result;
}

CUresult Session::OnEventRecord(Call& call) {
  CUstream stream = nullptr;
  CUevent event = nullptr;
  CUresult result = EventOf(call.arg(0), &event);
  if (result == CUDA_SUCCESS) result = StreamOf(call.arg(1), &stream);
  if (result != CUDA_SUCCESS) return result;
  unsigned flags = static_cast<unsigned>(call.arg(2));
  return flags == 0 ? cuEventRecord(event, stream) : cuEventRecordWithFlags(event, stream, flags);
}

CUresult Session::OnEventQuery(Call& call) {
  CUevent event = nullptr;
  CUresult result = EventOf(call.arg(0), &event);
  return result == CUDA_SUCCESS ? cuEventQuery(event) : result;
}

CUresult Session::OnEventSynchronize(Call& call) {
  CUevent event = nullptr;
  CUresult result = EventOf(call.arg(0), &event);
  return result == CUDA_SUCCESS ? cuEventSynchronize(event) : result;
}

CUresult Session::OnEventElapsedTime(Call& call) {
  CUevent start = nullptr, end = nullptr;
  CUresult result = EventOf(call.arg(0), &start);
  if (result == CUDA_SUCCESS) result = EventOf(call.arg(1), &end);
  if (result != CUDA_SUCCESS) return result;
  float ms = 0;
  result = worker_cuEventElapsedTime_v1(&ms, start, end);
  uint32_t bits = 0;
  std::memcpy(&bits, &ms, sizeof(bits));
  call.outs = {bits};
  return result;
}

}  // namespace vxpu::remote
