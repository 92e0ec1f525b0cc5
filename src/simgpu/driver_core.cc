// Initialisation and the shared helpers of the simulated driver.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/state_dir.h"
#include "simgpu/driver.h"

namespace simgpu {

namespace {

thread_local std::vector<Context*> tls_context_stack;  // cuCtxPush/Pop, cuCtxSetCurrent
thread_local std::unordered_map<Context*, Stream*> tls_per_thread_streams;
thread_local int tls_per_thread_default = 0;

CUresult g_init_result = CUDA_ERROR_NOT_INITIALIZED;

void DetachAtExit() {
  Driver& d = TheDriver();
  for (auto& device : d.devices) {
    device->executor.reset();                // stops after the operation in progress
    std::lock_guard<std::mutex> lock(d.mu);  // a call still running elsewhere may charge the slot
    if (device->slot >= 0) device->shared->Unregister(device->slot);
    device->slot = -1;
  }
}

CUresult InitLocked(Driver& d) {
  std::string state_dir, state_error;
  if (!vxpu::StateDir(&state_dir, &state_error)) {  // where the devices' shared state lives
    std::fprintf(stderr, "simgpu: %s\n", state_error.c_str());
    return CUDA_ERROR_SYSTEM_NOT_READY;
  }
  DeviceConfig config = LoadDeviceConfig();
  if (!config.error.empty()) {
    std::fprintf(stderr, "simgpu: %s\n", config.error.c_str());
    return CUDA_ERROR_SYSTEM_NOT_READY;
  }
  std::vector<DeviceSpec> visible = VisibleDevices(config.devices, std::getenv("CUDA_VISIBLE_DEVICES"));
  if (visible.empty()) return CUDA_ERROR_NO_DEVICE;
  for (size_t i = 0; i < visible.size(); ++i) {
    auto device = std::make_unique<Device>();
    device->ordinal = static_cast<int>(i);
    device->spec = visible[i];
    std::string error;
    device->shared = SharedDevice::Open(device->spec, &error);
    if (!device->shared) {
      std::fprintf(stderr, "simgpu: device %zu: %s\n", i, error.c_str());
      d.devices.clear();
      return CUDA_ERROR_SYSTEM_NOT_READY;
    }
    d.devices.push_back(std::move(device));
  }
  std::atexit(DetachAtExit);
  return CUDA_SUCCESS;
}

void EraseAllocationsOf(Driver& d, Context* ctx) {
  for (auto it = d.allocations.begin(); it != d.allocations.end();) {
    Allocation& a = it->second;
    if (a.ctx == ctx && (a.kind == AllocKind::kLinear || a.kind == AllocKind::kManaged)) {
      UnchargeLocked(a.device, a.charged);
      Unmap(reinterpret_cast<void*>(it->first), a.size);
      it = d.allocations.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace

Driver& TheDriver() {
  static Driver* driver = new Driver;  // never destroyed: executor threads may outlive main
  return *driver;
}

std::vector<Context*>& ThreadContextStack() { return tls_context_stack; }

CUresult InitializedLocked() { return TheDriver().initialized ? CUDA_SUCCESS : g_init_result; }

PerThreadDefaultStreamScope::PerThreadDefaultStreamScope() { ++tls_per_thread_default; }
PerThreadDefaultStreamScope::~PerThreadDefaultStreamScope() { --tls_per_thread_default; }

CUresult CheckInit() {
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  return InitializedLocked();
}

CUresult DeviceLocked(CUdevice ordinal, Device** out) {
  Driver& d = TheDriver();
  SIM_TRY(InitializedLocked());
  if (ordinal < 0 || static_cast<size_t>(ordinal) >= d.devices.size()) return CUDA_ERROR_INVALID_DEVICE;
  *out = d.devices[static_cast<size_t>(ordinal)].get();
  return CUDA_SUCCESS;
}

CUresult CurrentContextLocked(Context** out) {
  Driver& d = TheDriver();
  SIM_TRY(InitializedLocked());
  if (tls_context_stack.empty()) return CUDA_ERROR_INVALID_CONTEXT;
  Context* ctx = tls_context_stack.back();
  if (d.contexts.count(ctx) == 0) return CUDA_ERROR_CONTEXT_IS_DESTROYED;
  *out = ctx;
  return CUDA_SUCCESS;
}

CUresult AttachLocked(Device* device) {
  if (device->slot >= 0) return CUDA_SUCCESS;
  std::string error;
  int slot = device->shared->Register(&error);
  if (slot < 0) {
    std::fprintf(stderr, "simgpu: device %d: %s\n", device->ordinal, error.c_str());
    return CUDA_ERROR_DEVICE_UNAVAILABLE;
  }
  device->slot = slot;
  device->executor = std::make_unique<Executor>(device->shared.get(), slot);
  return CUDA_SUCCESS;
}

CUresult CreateContextLocked(Device* device, unsigned flags, bool primary, Context** out) {
  SIM_TRY(AttachLocked(device));
  if (!ChargeLocked(device, device->spec.context_overhead)) return CUDA_ERROR_OUT_OF_MEMORY;
  Driver& d = TheDriver();
  auto* ctx = new Context{device, flags, primary, nullptr, 0};
  ctx->legacy_stream = new Stream{ctx, 0, 0, 0};
  d.contexts.insert(ctx);
  d.streams.insert(ctx->legacy_stream);
  *out = ctx;
  return CUDA_SUCCESS;
}

void DestroyContextLocked(Context* ctx) {
  Driver& d = TheDriver();
  for (auto it = d.streams.begin(); it != d.streams.end();) {
    if ((*it)->ctx == ctx) {
      delete *it;
      it = d.streams.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = d.events.begin(); it != d.events.end();) {
    if ((*it)->ctx == ctx) {
      delete *it;
      it = d.events.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = d.modules.begin(); it != d.modules.end();) {
    if ((*it)->ctx == ctx) {
      for (auto& f : (*it)->functions) d.functions.erase(f.get());
      delete *it;
      it = d.modules.erase(it);
    } else {
      ++it;
    }
  }
  EraseAllocationsOf(d, ctx);
  UnchargeLocked(ctx->device, ctx->device->spec.context_overhead);
  if (ctx->device->primary == ctx) ctx->device->primary = nullptr;
  tls_per_thread_streams.erase(ctx);
  std::erase(tls_context_stack, ctx);
  ForgetContextLocked(ctx);
  d.contexts.erase(ctx);
  delete ctx;
}

CUresult ResolveStreamLocked(CUstream handle, Context* current, Stream** out) {
  Driver& d = TheDriver();
  bool per_thread = handle == CU_STREAM_PER_THREAD || (handle == nullptr && tls_per_thread_default > 0);
  if (per_thread) {
    if (current == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
    Stream*& s = tls_per_thread_streams[current];
    if (s == nullptr || d.streams.count(s) == 0 || s->ctx != current) {  // gone, or its address reused
      s = new Stream{current, CU_STREAM_NON_BLOCKING, 0, 0};
      d.streams.insert(s);
    }
    *out = s;
    return CUDA_SUCCESS;
  }
  if (handle == nullptr || handle == CU_STREAM_LEGACY) {
    if (current == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
    *out = current->legacy_stream;
    return CUDA_SUCCESS;
  }
  Stream* s = reinterpret_cast<Stream*>(handle);
  if (d.streams.count(s) == 0) return CUDA_ERROR_INVALID_HANDLE;
  *out = s;
  return CUDA_SUCCESS;
}

uint64_t EnqueueLocked(Stream* stream, uint64_t device_ns, Executor::Work work) {
  if (stream->capture != nullptr) {
    CaptureLocked(stream, device_ns, std::move(work));  // recorded into a graph, not run
    return 0;
  }
  uint64_t seq = stream->ctx->device->executor->Submit(device_ns, std::move(work));
  stream->last_seq = seq;
  stream->ctx->last_seq = seq;
  return seq;
}

CUresult WaitDevice(Device* device, uint64_t seq) {
  int error = device->executor->Wait(seq);
  Driver& d = TheDriver();
  std::lock_guard<std::mutex> lock(d.mu);
  for (MemPool* pool : d.pools) {
    if (pool->device == device) TrimPoolLocked(pool, pool->release_threshold);
  }
  return static_cast<CUresult>(error);
}

bool ChargeLocked(Device* device, uint64_t bytes) {
  return device->slot >= 0 && device->shared->Charge(device->slot, bytes);
}

void UnchargeLocked(Device* device, uint64_t bytes) {
  if (device->slot >= 0) device->shared->Uncharge(device->slot, bytes);
}

Allocation* FindAllocationLocked(uint64_t addr, uint64_t bytes) {
  Driver& d = TheDriver();
  auto it = d.allocations.upper_bound(addr);
  if (it == d.allocations.begin()) return nullptr;
  --it;
  uint64_t base = it->first;
  if (addr < base || addr + bytes > base + it->second.size || addr + bytes < addr) return nullptr;
  return &it->second;
}

bool AccessibleLocked(uint64_t addr, uint64_t bytes) {
  Allocation* a = FindAllocationLocked(addr, bytes);
  return a != nullptr && a->accessible;
}

}  // namespace simgpu

using namespace simgpu;

extern "C" {

CUresult CUDAAPI cuInit(unsigned int flags) {
  if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
  Driver& d = TheDriver();
  std::lock_guard<std::mutex> lock(d.mu);
  if (d.initialized) return CUDA_SUCCESS;
  if (g_init_result != CUDA_ERROR_NOT_INITIALIZED) return g_init_result;  // failed before: stay failed
  g_init_result = InitLocked(d);
  d.initialized = g_init_result == CUDA_SUCCESS;
  return g_init_result;
}

CUresult CUDAAPI cuDriverGetVersion(int* version) {
  if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *version = CUDA_VERSION;
  return CUDA_SUCCESS;
}

}  // extern "C"
