// The runtime's devices, contexts, streams and events, and the helpers every call shares.
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "common/state_dir.h"
#include "simnpu/runtime.h"

namespace simnpu {
namespace {

thread_local Context* t_context = nullptr;

void DetachAtExit() {
  Runtime& r = TheRuntime();
  for (auto& device : r.devices) {
    device->executor.reset();  // stops after the operation in progress
    std::lock_guard<std::mutex> lock(r.mu);
    if (device->slot >= 0) device->shared->Unregister(device->slot);
    device->slot = -1;
  }
}

// The physical ids ASCEND_RT_VISIBLE_DEVICES lists, in its order; all of them when unset. An
// entry that names no device is an error, as on a real machine.
bool VisibleDevices(const std::vector<DeviceSpec>& all, std::vector<uint32_t>* out) {
  const char* visible = std::getenv("ASCEND_RT_VISIBLE_DEVICES");
  if (visible == nullptr) {
    for (uint32_t i = 0; i < all.size(); ++i) out->push_back(i);
    return true;
  }
  std::stringstream list(visible);
  std::string entry;
  while (std::getline(list, entry, ',')) {
    char* end = nullptr;
    unsigned long phy = std::strtoul(entry.c_str(), &end, 10);
    if (entry.empty() || *end != '\0' || phy >= all.size()) {
      std::fprintf(stderr, "simnpu: ASCEND_RT_VISIBLE_DEVICES=%s: no device \"%s\"\n", visible, entry.c_str());
      return false;
    }
    out->push_back(static_cast<uint32_t>(phy));
  }
  return true;
}

rtError_t LoadDevices(Runtime& r) {
  std::string state_dir, error;
  if (!vxpu::StateDir(&state_dir, &error)) {  // where the devices' shared state lives
    std::fprintf(stderr, "simnpu: %s\n", error.c_str());
    return ACL_ERROR_RT_NO_DEVICE;
  }
  simgpu::DeviceConfig config = simgpu::LoadDeviceConfig(simgpu::SimKind::kNpu);
  if (!config.error.empty()) {
    std::fprintf(stderr, "simnpu: %s\n", config.error.c_str());
    return ACL_ERROR_RT_NO_DEVICE;
  }
  std::vector<uint32_t> visible;
  if (!VisibleDevices(config.devices, &visible) || visible.empty()) return ACL_ERROR_RT_NO_DEVICE;
  for (uint32_t phy : visible) {
    auto device = std::make_unique<Device>();
    device->ordinal = static_cast<int>(r.devices.size());
    device->phy = phy;
    device->spec = config.devices[phy];
    device->shared = simgpu::SharedDevice::Open(device->spec, &error);
    if (!device->shared) {
      std::fprintf(stderr, "simnpu: device %u: %s\n", phy, error.c_str());
      r.devices.clear();
      return ACL_ERROR_RT_NO_DEVICE;
    }
    r.devices.push_back(std::move(device));
  }
  std::atexit(DetachAtExit);
  return ACL_SUCCESS;
}

// Joins the device's shared state (its first context in this process).
rtError_t AttachLocked(Device* device) {
  if (device->slot >= 0) return ACL_SUCCESS;
  std::string error;
  int slot = device->shared->Register(&error);
  if (slot < 0) {
    std::fprintf(stderr, "simnpu: device %d: %s\n", device->ordinal, error.c_str());
    return ACL_ERROR_RT_DRV_INTERNAL_ERROR;
  }
  device->slot = slot;
  device->executor = std::make_unique<Executor>(device->shared.get(), slot);
  return ACL_SUCCESS;
}

rtError_t CreateContextLocked(Device* device, Context** out) {
  NPU_TRY(AttachLocked(device));
  uint64_t overhead = device->spec.context_overhead;
  if (overhead > 0 && !ChargeLocked(device, overhead)) return ACL_ERROR_RT_MEMORY_ALLOCATION;
  Runtime& r = TheRuntime();
  auto* ctx = new Context{device, nullptr, overhead};
  ctx->default_stream = new Stream{ctx, 0};
  r.contexts.insert(ctx);
  r.streams.insert(ctx->default_stream);
  *out = ctx;
  return ACL_SUCCESS;
}

void DestroyContextLocked(Context* ctx) {
  Runtime& r = TheRuntime();
  for (auto it = r.streams.begin(); it != r.streams.end();) {
    if ((*it)->ctx == ctx) {
      delete *it;
      it = r.streams.erase(it);
    } else {
      ++it;
    }
  }
  UnchargeLocked(ctx->device, ctx->charged);
  r.contexts.erase(ctx);
  if (t_context == ctx) t_context = nullptr;
  delete ctx;
}

// Waits for everything queued on the current context's device (from `stream` if not null).
rtError_t Synchronize(bool whole_device, rtStream_t handle) {
  Device* device = nullptr;
  uint64_t seq = 0;
  {
    Runtime& r = TheRuntime();
    std::lock_guard<std::mutex> lock(r.mu);
    Stream* stream = nullptr;
    NPU_TRY(StreamLocked(handle, &stream));
    device = stream->ctx->device;
    seq = whole_device ? device->executor->last_submitted() : stream->last_seq;
  }
  return WaitDevice(device, seq);
}

}  // namespace

Runtime& TheRuntime() {
  static Runtime* runtime = new Runtime;  // never destroyed: executor threads may outlive main
  return *runtime;
}

Context*& ThreadContext() { return t_context; }

rtError_t InitLocked() {
  Runtime& r = TheRuntime();
  if (!r.initialized) {
    r.init_result = LoadDevices(r);
    r.initialized = true;
  }
  return r.init_result;
}

rtError_t DeviceLocked(int32_t ordinal, Device** out) {
  NPU_TRY(InitLocked());
  Runtime& r = TheRuntime();
  if (ordinal < 0 || static_cast<size_t>(ordinal) >= r.devices.size()) return ACL_ERROR_RT_INVALID_DEVICEID;
  *out = r.devices[static_cast<size_t>(ordinal)].get();
  return ACL_SUCCESS;
}

rtError_t CurrentContextLocked(Context** out) {
  NPU_TRY(InitLocked());
  if (t_context == nullptr || TheRuntime().contexts.count(t_context) == 0) return ACL_ERROR_RT_CONTEXT_NULL;
  *out = t_context;
  return ACL_SUCCESS;
}

rtError_t StreamLocked(rtStream_t handle, Stream** out) {
  if (handle == nullptr) {
    Context* ctx = nullptr;
    NPU_TRY(CurrentContextLocked(&ctx));
    *out = ctx->default_stream;
    return ACL_SUCCESS;
  }
  auto* stream = static_cast<Stream*>(handle);
  if (TheRuntime().streams.count(stream) == 0) return ACL_ERROR_RT_PARAM_INVALID;
  *out = stream;
  return ACL_SUCCESS;
}

bool ChargeLocked(Device* device, uint64_t bytes) {
  return device->slot >= 0 && device->shared->Charge(device->slot, bytes);
}

void UnchargeLocked(Device* device, uint64_t bytes) {
  if (device->slot >= 0 && bytes > 0) device->shared->Uncharge(device->slot, bytes);
}

bool AccessibleLocked(uint64_t addr, uint64_t bytes) {
  Runtime& r = TheRuntime();
  auto it = r.allocations.upper_bound(addr);
  if (it == r.allocations.begin()) return false;
  --it;
  return addr >= it->first && addr + bytes >= addr && addr + bytes <= it->first + it->second.size;
}

uint64_t EnqueueLocked(Stream* stream, uint64_t device_ns, Executor::Work work) {
  uint64_t seq = stream->ctx->device->executor->Submit(device_ns, std::move(work));
  stream->last_seq = seq;
  return seq;
}

rtError_t WaitDevice(Device* device, uint64_t seq) {
  return device->executor->Wait(seq) == 0 ? ACL_SUCCESS : ACL_ERROR_RT_INTERNAL_ERROR;
}

}  // namespace simnpu

using namespace simnpu;

extern "C" {

rtError_t rtGetDeviceCount(int32_t* count) {
  if (count == nullptr) return ACL_ERROR_RT_PARAM_INVALID;
  Runtime& r = TheRuntime();
  std::lock_guard<std::mutex> lock(r.mu);
  NPU_TRY(InitLocked());
  *count = static_cast<int32_t>(r.devices.size());
  return ACL_SUCCESS;
}

rtError_t rtGetDevicePhyIdByIndex(uint32_t index, uint32_t* phy_id) {
  if (phy_id == nullptr) return ACL_ERROR_RT_PARAM_INVALID;
  std::lock_guard<std::mutex> lock(TheRuntime().mu);
  Device* device = nullptr;
  NPU_TRY(DeviceLocked(static_cast<int32_t>(index), &device));
  *phy_id = device->phy;
  return ACL_SUCCESS;
}

rtError_t rtSetDevice(int32_t ordinal) {
  std::lock_guard<std::mutex> lock(TheRuntime().mu);
  Device* device = nullptr;
  NPU_TRY(DeviceLocked(ordinal, &device));
  if (device->primary == nullptr) NPU_TRY(CreateContextLocked(device, &device->primary));
  ++device->primary_refs;
  t_context = device->primary;
  return ACL_SUCCESS;
}

rtError_t rtDeviceReset(int32_t ordinal) {
  Device* device = nullptr;
  {
    std::lock_guard<std::mutex> lock(TheRuntime().mu);
    NPU_TRY(DeviceLocked(ordinal, &device));
    if (device->primary == nullptr) return ACL_SUCCESS;
  }
  WaitDevice(device, device->executor->last_submitted());
  std::lock_guard<std::mutex> lock(TheRuntime().mu);
  if (device->primary != nullptr && --device->primary_refs <= 0) {
    DestroyContextLocked(device->primary);
    device->primary = nullptr;
    device->primary_refs = 0;
  }
  return ACL_SUCCESS;
}

rtError_t rtGetDevice(int32_t* ordinal) { return rtCtxGetDevice(ordinal); }

rtError_t rtCtxGetDevice(int32_t* ordinal) {
  if (ordinal == nullptr) return ACL_ERROR_RT_PARAM_INVALID;
  std::lock_guard<std::mutex> lock(TheRuntime().mu);
  Context* ctx = nullptr;
  NPU_TRY(CurrentContextLocked(&ctx));
  *ordinal = ctx->device->ordinal;
  return ACL_SUCCESS;
}

rtError_t rtCtxCreate(rtContext_t* out, uint32_t, int32_t ordinal) {
  if (out == nullptr) return ACL_ERROR_RT_PARAM_INVALID;
  std::lock_guard<std::mutex> lock(TheRuntime().mu);
  Device* device = nullptr;
  NPU_TRY(DeviceLocked(ordinal, &device));
  Context* ctx = nullptr;
  NPU_TRY(CreateContextLocked(device, &ctx));
  t_context = ctx;
  *out = ctx;
  return ACL_SUCCESS;
}

rtError_t rtCtxDestroy(rtContext_t handle) {
  auto* ctx = static_cast<Context*>(handle);
  Device* device = nullptr;
  {
    std::lock_guard<std::mutex> lock(TheRuntime().mu);
    if (TheRuntime().contexts.count(ctx) == 0 || ctx == ctx->device->primary) return ACL_ERROR_RT_CONTEXT_NULL;
    device = ctx->device;
  }
  WaitDevice(device, device->executor->last_submitted());
  std::lock_guard<std::mutex> lock(TheRuntime().mu);
  if (TheRuntime().contexts.count(ctx) != 0) DestroyContextLocked(ctx);
  return ACL_SUCCESS;
}

rtError_t rtCtxSetCurrent(rtContext_t handle) {
  std::lock_guard<std::mutex> lock(TheRuntime().mu);
  NPU_TRY(InitLocked());
  auto* ctx = static_cast<Context*>(handle);
  if (TheRuntime().contexts.count(ctx) == 0) return ACL_ERROR_RT_CONTEXT_NULL;
  t_context = ctx;
  return ACL_SUCCESS;
}

rtError_t rtCtxGetCurrent(rtContext_t* out) {
  if (out == nullptr) return ACL_ERROR_RT_PARAM_INVALID;
  std::lock_guard<std::mutex> lock(TheRuntime().mu);
  Context* ctx = nullptr;
  NPU_TRY(CurrentContextLocked(&ctx));
  *out = ctx;
  return ACL_SUCCESS;
}

rtError_t rtCtxSynchronize(void) { return Synchronize(true, nullptr); }
rtError_t rtDeviceSynchronize(void) { return Synchronize(true, nullptr); }

rtError_t rtStreamCreate(rtStream_t* out, int32_t) {
  if (out == nullptr) return ACL_ERROR_RT_PARAM_INVALID;
  Runtime& r = TheRuntime();
  std::lock_guard<std::mutex> lock(r.mu);
  Context* ctx = nullptr;
  NPU_TRY(CurrentContextLocked(&ctx));
  auto* stream = new Stream{ctx, 0};
  r.streams.insert(stream);
  *out = stream;
  return ACL_SUCCESS;
}

rtError_t rtStreamDestroy(rtStream_t handle) {
  if (handle == nullptr) return ACL_ERROR_RT_PARAM_INVALID;
  NPU_TRY(Synchronize(false, handle));
  Runtime& r = TheRuntime();
  std::lock_guard<std::mutex> lock(r.mu);
  auto* stream = static_cast<Stream*>(handle);
  if (r.streams.count(stream) == 0 || stream == stream->ctx->default_stream) return ACL_ERROR_RT_PARAM_INVALID;
  r.streams.erase(stream);
  delete stream;
  return ACL_SUCCESS;
}

rtError_t rtStreamSynchronize(rtStream_t handle) { return Synchronize(false, handle); }

rtError_t rtEventCreate(rtEvent_t* out) {
  if (out == nullptr) return ACL_ERROR_RT_PARAM_INVALID;
  Runtime& r = TheRuntime();
  std::lock_guard<std::mutex> lock(r.mu);
  Context* ctx = nullptr;
  NPU_TRY(CurrentContextLocked(&ctx));
  auto* event = new Event{ctx->device};
  r.events.insert(event);
  *out = event;
  return ACL_SUCCESS;
}

rtError_t rtEventDestroy(rtEvent_t handle) {
  Runtime& r = TheRuntime();
  std::lock_guard<std::mutex> lock(r.mu);
  auto* event = static_cast<Event*>(handle);
  if (r.events.erase(event) == 0) return ACL_ERROR_RT_PARAM_INVALID;
  delete event;
  return ACL_SUCCESS;
}

rtError_t rtEventRecord(rtEvent_t handle, rtStream_t stream_handle) {
  Runtime& r = TheRuntime();
  std::lock_guard<std::mutex> lock(r.mu);
  auto* event = static_cast<Event*>(handle);
  if (r.events.count(event) == 0) return ACL_ERROR_RT_PARAM_INVALID;
  Stream* stream = nullptr;
  NPU_TRY(StreamLocked(stream_handle, &stream));
  std::shared_ptr<EventState> state = std::make_shared<EventState>();
  state->seq = EnqueueLocked(stream, 0, [state] {
    state->timestamp_ns = simgpu::MonotonicNs();
    return 0;
  });
  event->state = state;
  event->device = stream->ctx->device;
  return ACL_SUCCESS;
}

rtError_t rtEventSynchronize(rtEvent_t handle) {
  Device* device = nullptr;
  uint64_t seq = 0;
  {
    Runtime& r = TheRuntime();
    std::lock_guard<std::mutex> lock(r.mu);
    auto* event = static_cast<Event*>(handle);
    if (r.events.count(event) == 0) return ACL_ERROR_RT_PARAM_INVALID;
    device = event->device;
    seq = event->state->seq;
  }
  return seq == 0 ? ACL_SUCCESS : WaitDevice(device, seq);
}

rtError_t rtEventElapsedTime(float* ms, rtEvent_t start, rtEvent_t end) {
  if (ms == nullptr) return ACL_ERROR_RT_PARAM_INVALID;
  Runtime& r = TheRuntime();
  std::lock_guard<std::mutex> lock(r.mu);
  auto* a = static_cast<Event*>(start);
  auto* b = static_cast<Event*>(end);
  if (r.events.count(a) == 0 || r.events.count(b) == 0) return ACL_ERROR_RT_PARAM_INVALID;
  if (a->state->timestamp_ns == 0 || b->state->timestamp_ns == 0) return ACL_ERROR_RT_PARAM_INVALID;
  *ms = static_cast<float>(static_cast<double>(b->state->timestamp_ns) - static_cast<double>(a->state->timestamp_ns)) /
        1e6f;
  return ACL_SUCCESS;
}

}  // extern "C"
