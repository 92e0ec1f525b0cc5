// Streams, events and host callbacks (stream capture: driver_graph.cc).
#include "simgpu/driver.h"

namespace simgpu {

CUresult StreamLocked(CUstream handle, Stream** out) {
  Context* ctx = nullptr;
  CUresult current = CurrentContextLocked(&ctx);
  if (current != CUDA_SUCCESS && (handle == nullptr || handle == CU_STREAM_LEGACY || handle == CU_STREAM_PER_THREAD))
    return current;
  return ResolveStreamLocked(handle, ctx, out);
}

namespace {

CUresult EventLocked(CUevent handle, Event** out) {
  Driver& d = TheDriver();
  if (!d.initialized) return CUDA_ERROR_NOT_INITIALIZED;
  auto* event = reinterpret_cast<Event*>(handle);
  if (d.events.count(event) == 0) return CUDA_ERROR_INVALID_HANDLE;
  *out = event;
  return CUDA_SUCCESS;
}

CUresult CreateStream(CUstream* out, unsigned int flags, int priority) {
  if (out == nullptr || (flags & ~static_cast<unsigned>(CU_STREAM_NON_BLOCKING))) return CUDA_ERROR_INVALID_VALUE;
  Driver& d = TheDriver();
  std::lock_guard<std::mutex> lock(d.mu);
  Context* ctx = nullptr;
  SIM_TRY(CurrentContextLocked(&ctx));
  auto* stream = new Stream{ctx, flags, std::clamp(priority, -5, 0), 0};
  d.streams.insert(stream);
  *out = reinterpret_cast<CUstream>(stream);
  return CUDA_SUCCESS;
}

CUresult EnqueueCallback(CUstream hstream, Executor::Work work) {
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Stream* stream = nullptr;
  SIM_TRY(StreamLocked(hstream, &stream));
  SIM_TRY(CapturableLocked(stream));
  EnqueueLocked(stream, 0, std::move(work));
  return CUDA_SUCCESS;
}

CUresult RecordEvent(CUevent hevent, CUstream hstream) {
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Event* event = nullptr;
  SIM_TRY(EventLocked(hevent, &event));
  Stream* stream = nullptr;
  SIM_TRY(StreamLocked(hstream, &stream));
  if (stream->ctx != event->ctx) return CUDA_ERROR_INVALID_HANDLE;
  SIM_TRY(CapturableLocked(stream));
  // In a capture an event only orders streams; simgpu's one queue per device orders them all.
  if (stream->capture != nullptr) return CUDA_SUCCESS;
  std::shared_ptr<EventState> state = event->state;
  state->seq = EnqueueLocked(stream, 0, [state] {
    state->timestamp_ns = MonotonicNs();
    return 0;
  });
  return CUDA_SUCCESS;
}

CUresult ElapsedTime(float* ms, CUevent hstart, CUevent hend) {
  if (ms == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Event* start = nullptr;
  Event* end = nullptr;
  SIM_TRY(EventLocked(hstart, &start));
  SIM_TRY(EventLocked(hend, &end));
  if ((start->flags | end->flags) & CU_EVENT_DISABLE_TIMING) return CUDA_ERROR_INVALID_HANDLE;
  if (start->state->seq == 0 || end->state->seq == 0) return CUDA_ERROR_INVALID_HANDLE;
  Executor* a = start->ctx->device->executor.get();
  Executor* b = end->ctx->device->executor.get();
  if (!a->Done(start->state->seq) || !b->Done(end->state->seq)) return CUDA_ERROR_NOT_READY;
  double delta = static_cast<double>(end->state->timestamp_ns) - static_cast<double>(start->state->timestamp_ns);
  *ms = static_cast<float>(delta / 1e6);
  return CUDA_SUCCESS;
}

}  // namespace
}  // namespace simgpu

using namespace simgpu;

extern "C" {

CUresult CUDAAPI cuStreamCreate(CUstream* out, unsigned int flags) { return CreateStream(out, flags, 0); }

CUresult CUDAAPI cuStreamCreateWithPriority(CUstream* out, unsigned int flags, int priority) {
  return CreateStream(out, flags, priority);
}

CUresult CUDAAPI cuStreamDestroy_v2(CUstream handle) {
  Driver& d = TheDriver();
  std::lock_guard<std::mutex> lock(d.mu);
  SIM_TRY(InitializedLocked());
  auto* stream = reinterpret_cast<Stream*>(handle);
  // Work already queued still completes; only the handle goes.
  if (d.streams.count(stream) == 0 || stream == stream->ctx->legacy_stream) return CUDA_ERROR_INVALID_HANDLE;
  EndCaptureLocked(stream);  // a capture in progress goes with it
  d.streams.erase(stream);
  delete stream;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI simgpu_cuStreamDestroy_v1(CUstream handle) { return cuStreamDestroy_v2(handle); }

CUresult CUDAAPI cuStreamSynchronize(CUstream handle) {
  Device* device = nullptr;
  uint64_t seq = 0;
  {
    std::lock_guard<std::mutex> lock(TheDriver().mu);
    Stream* stream = nullptr;
    SIM_TRY(StreamLocked(handle, &stream));
    SIM_TRY(WaitableLocked(stream));
    device = stream->ctx->device;
    seq = stream->last_seq;
  }
  return WaitDevice(device, seq);
}

CUresult CUDAAPI cuStreamQuery(CUstream handle) {
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Stream* stream = nullptr;
  SIM_TRY(StreamLocked(handle, &stream));
  SIM_TRY(WaitableLocked(stream));
  Executor* executor = stream->ctx->device->executor.get();
  if (executor->sticky_error() != 0) return static_cast<CUresult>(executor->sticky_error());
  return executor->Done(stream->last_seq) ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
}

CUresult CUDAAPI cuStreamWaitEvent(CUstream handle, CUevent hevent, unsigned int flags) {
  if (flags & ~static_cast<unsigned>(CU_EVENT_WAIT_EXTERNAL)) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Stream* stream = nullptr;
  SIM_TRY(StreamLocked(handle, &stream));
  Event* event = nullptr;
  SIM_TRY(EventLocked(hevent, &event));
  SIM_TRY(CapturableLocked(stream));
  // One in-order queue per device already runs everything recorded before this call first;
  // an event of another device is ordered by waiting for it here.
  if (event->ctx->device != stream->ctx->device && event->state->seq != 0) {
    Executor* other = event->ctx->device->executor.get();
    uint64_t seq = event->state->seq;
    EnqueueLocked(stream, 0, [other, seq] { return other->Wait(seq); });
  }
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamGetPriority(CUstream handle, int* priority) {
  if (priority == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Stream* stream = nullptr;
  SIM_TRY(StreamLocked(handle, &stream));
  *priority = stream->priority;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamGetFlags(CUstream handle, unsigned int* flags) {
  if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Stream* stream = nullptr;
  SIM_TRY(StreamLocked(handle, &stream));
  *flags = stream->flags;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamGetCtx(CUstream handle, CUcontext* pctx) {
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Stream* stream = nullptr;
  SIM_TRY(StreamLocked(handle, &stream));
  *pctx = reinterpret_cast<CUcontext>(stream->ctx);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuLaunchHostFunc(CUstream handle, CUhostFn fn, void* user_data) {
  if (fn == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return EnqueueCallback(handle, [fn, user_data] {
    fn(user_data);
    return 0;
  });
}

CUresult CUDAAPI cuStreamAddCallback(CUstream handle, CUstreamCallback fn, void* user_data, unsigned int flags) {
  if (fn == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
  return EnqueueCallback(handle, [fn, handle, user_data] {
    fn(handle, CUDA_SUCCESS, user_data);
    return 0;
  });
}

// ---- events ----

CUresult CUDAAPI cuEventCreate(CUevent* out, unsigned int flags) {
  constexpr unsigned kKnown = CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING | CU_EVENT_INTERPROCESS;
  if (out == nullptr || (flags & ~kKnown)) return CUDA_ERROR_INVALID_VALUE;
  if ((flags & CU_EVENT_INTERPROCESS) && !(flags & CU_EVENT_DISABLE_TIMING)) return CUDA_ERROR_INVALID_VALUE;
  Driver& d = TheDriver();
  std::lock_guard<std::mutex> lock(d.mu);
  Context* ctx = nullptr;
  SIM_TRY(CurrentContextLocked(&ctx));
  auto* event = new Event;
  event->ctx = ctx;
  event->flags = flags;
  d.events.insert(event);
  *out = reinterpret_cast<CUevent>(event);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuEventDestroy_v2(CUevent handle) {
  Driver& d = TheDriver();
  std::lock_guard<std::mutex> lock(d.mu);
  Event* event = nullptr;
  SIM_TRY(EventLocked(handle, &event));
  d.events.erase(event);
  delete event;  // a pending record still completes: it holds the shared state
  return CUDA_SUCCESS;
}

CUresult CUDAAPI simgpu_cuEventDestroy_v1(CUevent handle) { return cuEventDestroy_v2(handle); }

CUresult CUDAAPI cuEventRecord(CUevent event, CUstream stream) { return RecordEvent(event, stream); }

CUresult CUDAAPI cuEventRecordWithFlags(CUevent event, CUstream stream, unsigned int flags) {
  if (flags & ~static_cast<unsigned>(CU_EVENT_RECORD_EXTERNAL)) return CUDA_ERROR_INVALID_VALUE;
  return RecordEvent(event, stream);
}

CUresult CUDAAPI cuEventQuery(CUevent handle) {
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Event* event = nullptr;
  SIM_TRY(EventLocked(handle, &event));
  if (event->state->seq == 0) return CUDA_SUCCESS;
  return event->ctx->device->executor->Done(event->state->seq) ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
}

CUresult CUDAAPI cuEventSynchronize(CUevent handle) {
  Device* device = nullptr;
  uint64_t seq = 0;
  {
    std::lock_guard<std::mutex> lock(TheDriver().mu);
    Event* event = nullptr;
    SIM_TRY(EventLocked(handle, &event));
    device = event->ctx->device;
    seq = event->state->seq;
  }
  return seq == 0 ? CUDA_SUCCESS : WaitDevice(device, seq);
}

CUresult CUDAAPI cuEventElapsedTime_v2(float* ms, CUevent start, CUevent end) { return ElapsedTime(ms, start, end); }
CUresult CUDAAPI simgpu_cuEventElapsedTime_v1(float* ms, CUevent start, CUevent end) {
  return ElapsedTime(ms, start, end);
}

}  // extern "C"
