// Streams and events: minted here and sent without waiting; only what must wait for the
// device (synchronize, query, elapsed time) is a round trip.
#include <cstring>

#include "remote/client/client.h"
#include "remote/client/cuda_api.h"

using namespace vxpu::remote;

namespace {

Connection& Wire() { return Client::Get().connection(); }

CUresult CreateStream(CUstream* stream, unsigned flags, int priority) {
  if (stream == nullptr || (flags & ~CU_STREAM_NON_BLOCKING)) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = NeedContext();
  if (result != CUDA_SUCCESS) return result;
  Client& c = Client::Get();
  uint64_t id = c.Mint();
  result = Wire().Post(Op::kStreamCreate, CurrentContext(), {id, flags, static_cast<uint64_t>(int64_t{priority})});
  if (result != CUDA_SUCCESS) return result;
  std::lock_guard<std::mutex> lock(c.mu);
  c.streams[id] = StreamInfo{CurrentContext(), flags, priority};
  *stream = HandleOf<CUstream>(id);
  return CUDA_SUCCESS;
}

CUresult StreamCall(Op op, CUstream stream) {
  CUresult result = NeedContext();
  uint64_t id = 0;
  if (result == CUDA_SUCCESS) result = StreamId(stream, &id);
  if (result != CUDA_SUCCESS) return result;
  Reply reply;
  return Wire().Call(op, CurrentContext(), {id}, &reply);
}

bool KnownEvent(CUevent event) {
  Client& c = Client::Get();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.events.count(IdOf(event)) != 0;
}

CUresult EventCall(Op op, CUevent event, std::initializer_list<uint64_t> args, Reply* reply) {
  CUresult ready = Client::Get().Ready();
  if (ready != CUDA_SUCCESS) return ready;
  if (!KnownEvent(event)) return CUDA_ERROR_INVALID_HANDLE;
  return Wire().Call(op, CurrentContext(), args, reply);
}

// A stream made here, with what is known of it.
CUresult InfoOf(CUstream stream, StreamInfo* info) {
  CUresult ready = Client::Get().Ready();
  if (ready != CUDA_SUCCESS) return ready;
  if (stream == nullptr || stream == CU_STREAM_LEGACY || stream == CU_STREAM_PER_THREAD) {
    if (CurrentContext() == 0) return CUDA_ERROR_INVALID_CONTEXT;
    *info = StreamInfo{CurrentContext(), 0, 0};
    return CUDA_SUCCESS;
  }
  Client& c = Client::Get();
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = c.streams.find(IdOf(stream));
  if (it == c.streams.end()) return CUDA_ERROR_INVALID_HANDLE;
  *info = it->second;
  return CUDA_SUCCESS;
}

}  // namespace

extern "C" {

CUresult CUDAAPI cuStreamCreate(CUstream* stream, unsigned int flags) { return CreateStream(stream, flags, 0); }

CUresult CUDAAPI cuStreamCreateWithPriority(CUstream* stream, unsigned int flags, int priority) {
  return CreateStream(stream, flags, priority);
}

CUresult CUDAAPI cuStreamDestroy_v2(CUstream stream) {
  CUresult ready = Client::Get().Ready();
  if (ready != CUDA_SUCCESS) return ready;
  Client& c = Client::Get();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    if (c.streams.erase(IdOf(stream)) == 0) return CUDA_ERROR_INVALID_HANDLE;
  }
  return Wire().Post(Op::kStreamDestroy, CurrentContext(), {IdOf(stream)});
}

CUresult CUDAAPI remote_cuStreamDestroy_v1(CUstream stream) { return cuStreamDestroy_v2(stream); }

CUresult CUDAAPI cuStreamSynchronize(CUstream stream) { return AfterSync(StreamCall(Op::kStreamSynchronize, stream)); }
CUresult CUDAAPI cuStreamQuery(CUstream stream) { return StreamCall(Op::kStreamQuery, stream); }

CUresult CUDAAPI cuStreamWaitEvent(CUstream stream, CUevent event, unsigned int flags) {
  CUresult result = NeedContext();
  uint64_t id = 0;
  if (result == CUDA_SUCCESS) result = StreamId(stream, &id);
  if (result != CUDA_SUCCESS) return result;
  if (!KnownEvent(event)) return CUDA_ERROR_INVALID_HANDLE;
  return Wire().Post(Op::kStreamWaitEvent, CurrentContext(), {id, IdOf(event), flags});
}

CUresult CUDAAPI cuStreamGetPriority(CUstream stream, int* priority) {
  StreamInfo info;
  if (priority == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = InfoOf(stream, &info);
  if (result == CUDA_SUCCESS) *priority = info.priority;
  return result;
}

CUresult CUDAAPI cuStreamGetFlags(CUstream stream, unsigned int* flags) {
  StreamInfo info;
  if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = InfoOf(stream, &info);
  if (result == CUDA_SUCCESS) *flags = info.flags;
  return result;
}

CUresult CUDAAPI cuStreamGetCtx(CUstream stream, CUcontext* ctx) {
  StreamInfo info;
  if (ctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = InfoOf(stream, &info);
  if (result == CUDA_SUCCESS) *ctx = HandleOf<CUcontext>(info.ctx);
  return result;
}

// Stream capture is not forwarded (docs/remote.md): no stream is ever capturing.
// Host functions would run on this side while the stream waits on the other: not forwarded.
CUresult CUDAAPI cuStreamAddCallback(CUstream, CUstreamCallback, void*, unsigned int) {
  return CUDA_ERROR_NOT_SUPPORTED;
}
CUresult CUDAAPI cuLaunchHostFunc(CUstream, CUhostFn, void*) { return CUDA_ERROR_NOT_SUPPORTED; }

CUresult CUDAAPI cuEventCreate(CUevent* event, unsigned int flags) {
  if (event == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = NeedContext();
  if (result != CUDA_SUCCESS) return result;
  Client& c = Client::Get();
  uint64_t id = c.Mint();
  result = Wire().Post(Op::kEventCreate, CurrentContext(), {id, flags});
  if (result != CUDA_SUCCESS) return result;
  std::lock_guard<std::mutex> lock(c.mu);
  c.events[id] = flags;
  *event = HandleOf<CUevent>(id);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuEventDestroy_v2(CUevent event) {
  CUresult ready = Client::Get().Ready();
  if (ready != CUDA_SUCCESS) return ready;
  Client& c = Client::Get();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    if (c.events.erase(IdOf(event)) == 0) return CUDA_ERROR_INVALID_HANDLE;
  }
  return Wire().Post(Op::kEventDestroy, CurrentContext(), {IdOf(event)});
}

CUresult CUDAAPI remote_cuEventDestroy_v1(CUevent event) { return cuEventDestroy_v2(event); }

CUresult CUDAAPI cuEventRecordWithFlags(CUevent event, CUstream stream, unsigned int flags) {
  CUresult result = NeedContext();
  uint64_t id = 0;
  if (result == CUDA_SUCCESS) result = StreamId(stream, &id);
  if (result != CUDA_SUCCESS) return result;
  if (!KnownEvent(event)) return CUDA_ERROR_INVALID_HANDLE;
  return Wire().Post(Op::kEventRecord, CurrentContext(), {IdOf(event), id, flags});
}

CUresult CUDAAPI cuEventRecord(CUevent event, CUstream stream) { return cuEventRecordWithFlags(event, stream, 0); }

CUresult CUDAAPI cuEventQuery(CUevent event) {
  Reply reply;
  return EventCall(Op::kEventQuery, event, {IdOf(event)}, &reply);
}

CUresult CUDAAPI cuEventSynchronize(CUevent event) {
  Reply reply;
  return AfterSync(EventCall(Op::kEventSynchronize, event, {IdOf(event)}, &reply));
}

CUresult CUDAAPI cuEventElapsedTime_v2(float* ms, CUevent start, CUevent end) {
  if (ms == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (!KnownEvent(end)) return CUDA_ERROR_INVALID_HANDLE;
  Reply reply;
  CUresult result = EventCall(Op::kEventElapsedTime, start, {IdOf(start), IdOf(end)}, &reply);
  if (result != CUDA_SUCCESS) return result;
  if (reply.outs.size() != 1) return CUDA_ERROR_UNKNOWN;
  uint32_t bits = static_cast<uint32_t>(reply.outs[0]);
  std::memcpy(ms, &bits, sizeof(bits));
  return CUDA_SUCCESS;
}

CUresult CUDAAPI remote_cuEventElapsedTime_v1(float* ms, CUevent start, CUevent end) {
  return cuEventElapsedTime_v2(ms, start, end);
}

}  // extern "C"
