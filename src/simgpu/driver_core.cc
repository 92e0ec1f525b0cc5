// Initialisation, devices, contexts and the shared helpers of the simulated driver.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "simgpu/driver.h"

namespace simgpu {

namespace {

thread_local std::vector<Context*> tls_context_stack;
thread_local std::unordered_map<Context*, Stream*> tls_per_thread_streams;
thread_local int tls_per_thread_default = 0;

CUresult g_init_result = CUDA_ERROR_NOT_INITIALIZED;

void DetachAtExit() {
  Driver& d = TheDriver();
  for (auto& device : d.devices) {
    device->executor.reset();  // stops after the operation in progress
    if (device->slot >= 0) device->shared->Unregister(device->slot);
    device->slot = -1;
  }
}

CUresult InitLocked(Driver& d) {
  DeviceConfig config = LoadDeviceConfig();
  if (!config.error.empty()) {
    std::fprintf(stderr, "simgpu: %s\n", config.error.c_str());
    return CUDA_ERROR_SYSTEM_NOT_READY;
  }
  for (size_t i = 0; i < config.devices.size(); ++i) {
    auto device = std::make_unique<Device>();
    device->ordinal = static_cast<int>(i);
    device->spec = config.devices[i];
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

PerThreadDefaultStreamScope::PerThreadDefaultStreamScope() { ++tls_per_thread_default; }
PerThreadDefaultStreamScope::~PerThreadDefaultStreamScope() { --tls_per_thread_default; }

CUresult CheckInit() {
  Driver& d = TheDriver();
  std::lock_guard<std::mutex> lock(d.mu);
  return d.initialized ? CUDA_SUCCESS : g_init_result;
}

CUresult DeviceLocked(CUdevice ordinal, Device** out) {
  Driver& d = TheDriver();
  if (!d.initialized) return g_init_result;
  if (ordinal < 0 || static_cast<size_t>(ordinal) >= d.devices.size()) return CUDA_ERROR_INVALID_DEVICE;
  *out = d.devices[static_cast<size_t>(ordinal)].get();
  return CUDA_SUCCESS;
}

CUresult CurrentContextLocked(Context** out) {
  Driver& d = TheDriver();
  if (!d.initialized) return g_init_result;
  if (tls_context_stack.empty()) return CUDA_ERROR_INVALID_CONTEXT;
  Context* ctx = tls_context_stack.back();
  if (d.contexts.count(ctx) == 0) return CUDA_ERROR_CONTEXT_IS_DESTROYED;
  *out = ctx;
  return CUDA_SUCCESS;
}

CUresult AttachLocked(Device* device) {
  if (device->slot >= 0) return CUDA_SUCCESS;
  int slot = device->shared->Register();
  if (slot < 0) {
    std::fprintf(stderr, "simgpu: device %d has %d clients already\n", device->ordinal, kMaxClients);
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
  d.contexts.erase(ctx);
  delete ctx;
}

CUresult ResolveStreamLocked(CUstream handle, Context* current, Stream** out) {
  Driver& d = TheDriver();
  bool per_thread = handle == CU_STREAM_PER_THREAD || (handle == nullptr && tls_per_thread_default > 0);
  if (per_thread) {
    if (current == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
    Stream*& s = tls_per_thread_streams[current];
    if (s == nullptr || d.streams.count(s) == 0) {
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

void* MapLazy(uint64_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

void Unmap(void* addr, uint64_t bytes) { munmap(addr, bytes); }

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

CUresult CUDAAPI cuDeviceGetCount(int* count) {
  if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
  SIM_TRY(CheckInit());
  *count = static_cast<int>(TheDriver().devices.size());
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGet(CUdevice* device, int ordinal) {
  if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Device* dev = nullptr;
  SIM_TRY(DeviceLocked(ordinal, &dev));
  *device = ordinal;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetName(char* name, int len, CUdevice ordinal) {
  if (name == nullptr || len <= 0) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Device* dev = nullptr;
  SIM_TRY(DeviceLocked(ordinal, &dev));
  std::snprintf(name, static_cast<size_t>(len), "%s", dev->spec.name.c_str());
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetUuid_v2(CUuuid* uuid, CUdevice ordinal) {
  if (uuid == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Device* dev = nullptr;
  SIM_TRY(DeviceLocked(ordinal, &dev));
  std::memcpy(uuid->bytes, dev->spec.uuid_bytes, sizeof(uuid->bytes));
  return CUDA_SUCCESS;
}

CUresult CUDAAPI simgpu_cuDeviceGetUuid_v1(CUuuid* uuid, CUdevice ordinal) { return cuDeviceGetUuid_v2(uuid, ordinal); }

CUresult CUDAAPI cuDeviceTotalMem_v2(size_t* bytes, CUdevice ordinal) {
  if (bytes == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Device* dev = nullptr;
  SIM_TRY(DeviceLocked(ordinal, &dev));
  *bytes = dev->spec.total_memory;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceComputeCapability(int* major, int* minor, CUdevice ordinal) {
  if (major == nullptr || minor == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Device* dev = nullptr;
  SIM_TRY(DeviceLocked(ordinal, &dev));
  *major = dev->spec.cc_major;
  *minor = dev->spec.cc_minor;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetPCIBusId(char* bus_id, int len, CUdevice ordinal) {
  if (bus_id == nullptr || len <= 0) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Device* dev = nullptr;
  SIM_TRY(DeviceLocked(ordinal, &dev));
  std::snprintf(bus_id, static_cast<size_t>(len), "0000:%02x:00.0", 0x18 + dev->ordinal);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceCanAccessPeer(int* can_access, CUdevice dev, CUdevice peer) {
  if (can_access == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Device* a = nullptr;
  Device* b = nullptr;
  SIM_TRY(DeviceLocked(dev, &a));
  SIM_TRY(DeviceLocked(peer, &b));
  *can_access = 0;
  return CUDA_SUCCESS;
}

// ---- contexts ----

CUresult CUDAAPI cuDevicePrimaryCtxRetain(CUcontext* pctx, CUdevice ordinal) {
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Device* dev = nullptr;
  SIM_TRY(DeviceLocked(ordinal, &dev));
  if (dev->primary == nullptr) SIM_TRY(CreateContextLocked(dev, dev->primary_flags, true, &dev->primary));
  ++dev->primary_refs;
  *pctx = reinterpret_cast<CUcontext>(dev->primary);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDevicePrimaryCtxRelease_v2(CUdevice ordinal) {
  Driver& d = TheDriver();
  Device* dev = nullptr;
  uint64_t seq = 0;
  {
    std::lock_guard<std::mutex> lock(d.mu);
    SIM_TRY(DeviceLocked(ordinal, &dev));
    if (dev->primary == nullptr || dev->primary_refs <= 0) return CUDA_ERROR_INVALID_CONTEXT;
    if (dev->primary_refs > 1) {
      --dev->primary_refs;
      return CUDA_SUCCESS;
    }
    seq = dev->primary->last_seq;
  }
  WaitDevice(dev, seq);
  std::lock_guard<std::mutex> lock(d.mu);
  if (dev->primary != nullptr && --dev->primary_refs == 0) DestroyContextLocked(dev->primary);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI simgpu_cuDevicePrimaryCtxRelease_v1(CUdevice ordinal) { return cuDevicePrimaryCtxRelease_v2(ordinal); }

CUresult CUDAAPI cuDevicePrimaryCtxGetState(CUdevice ordinal, unsigned int* flags, int* active) {
  if (flags == nullptr || active == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Device* dev = nullptr;
  SIM_TRY(DeviceLocked(ordinal, &dev));
  *flags = dev->primary_flags;
  *active = dev->primary != nullptr ? 1 : 0;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDevicePrimaryCtxSetFlags_v2(CUdevice ordinal, unsigned int flags) {
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Device* dev = nullptr;
  SIM_TRY(DeviceLocked(ordinal, &dev));
  if (flags & ~static_cast<unsigned>(CU_CTX_FLAGS_MASK)) return CUDA_ERROR_INVALID_VALUE;
  dev->primary_flags = flags;
  if (dev->primary != nullptr) dev->primary->flags = flags;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDevicePrimaryCtxReset_v2(CUdevice ordinal) {
  Driver& d = TheDriver();
  Device* dev = nullptr;
  uint64_t seq = 0;
  {
    std::lock_guard<std::mutex> lock(d.mu);
    SIM_TRY(DeviceLocked(ordinal, &dev));
    if (dev->primary == nullptr) return CUDA_SUCCESS;
    seq = dev->primary->last_seq;
  }
  WaitDevice(dev, seq);
  std::lock_guard<std::mutex> lock(d.mu);
  if (dev->primary != nullptr) DestroyContextLocked(dev->primary);
  dev->primary_refs = 0;
  return CUDA_SUCCESS;
}

static CUresult CreateAndPush(CUcontext* pctx, unsigned int flags, CUdevice ordinal) {
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (flags & ~static_cast<unsigned>(CU_CTX_FLAGS_MASK)) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Device* dev = nullptr;
  SIM_TRY(DeviceLocked(ordinal, &dev));
  Context* ctx = nullptr;
  SIM_TRY(CreateContextLocked(dev, flags, false, &ctx));
  tls_context_stack.push_back(ctx);
  *pctx = reinterpret_cast<CUcontext>(ctx);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxCreate_v2(CUcontext* pctx, unsigned int flags, CUdevice dev) {
  return CreateAndPush(pctx, flags, dev);
}

CUresult CUDAAPI cuCtxCreate_v3(CUcontext* pctx, CUexecAffinityParam*, int num_params, unsigned int flags,
                                CUdevice dev) {
  if (num_params < 0) return CUDA_ERROR_INVALID_VALUE;
  return CreateAndPush(pctx, flags, dev);
}

CUresult CUDAAPI cuCtxCreate_v4(CUcontext* pctx, CUctxCreateParams*, unsigned int flags, CUdevice dev) {
  return CreateAndPush(pctx, flags, dev);
}

CUresult CUDAAPI cuCtxDestroy_v2(CUcontext handle) {
  Driver& d = TheDriver();
  Context* ctx = reinterpret_cast<Context*>(handle);
  uint64_t seq = 0;
  {
    std::lock_guard<std::mutex> lock(d.mu);
    SIM_TRY(d.initialized ? CUDA_SUCCESS : g_init_result);
    if (d.contexts.count(ctx) == 0 || ctx->primary) return CUDA_ERROR_INVALID_CONTEXT;
    seq = ctx->last_seq;
  }
  WaitDevice(ctx->device, seq);
  std::lock_guard<std::mutex> lock(d.mu);
  if (d.contexts.count(ctx) != 0) DestroyContextLocked(ctx);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI simgpu_cuCtxDestroy_v1(CUcontext ctx) { return cuCtxDestroy_v2(ctx); }

CUresult CUDAAPI cuCtxSetCurrent(CUcontext handle) {
  Driver& d = TheDriver();
  std::lock_guard<std::mutex> lock(d.mu);
  SIM_TRY(d.initialized ? CUDA_SUCCESS : g_init_result);
  Context* ctx = reinterpret_cast<Context*>(handle);
  if (ctx == nullptr) {
    if (!tls_context_stack.empty()) tls_context_stack.pop_back();
    return CUDA_SUCCESS;
  }
  if (d.contexts.count(ctx) == 0) return CUDA_ERROR_INVALID_CONTEXT;
  if (tls_context_stack.empty()) {
    tls_context_stack.push_back(ctx);
  } else {
    tls_context_stack.back() = ctx;
  }
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxGetCurrent(CUcontext* pctx) {
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  SIM_TRY(TheDriver().initialized ? CUDA_SUCCESS : g_init_result);
  *pctx = tls_context_stack.empty() ? nullptr : reinterpret_cast<CUcontext>(tls_context_stack.back());
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxPushCurrent_v2(CUcontext handle) {
  Driver& d = TheDriver();
  std::lock_guard<std::mutex> lock(d.mu);
  SIM_TRY(d.initialized ? CUDA_SUCCESS : g_init_result);
  Context* ctx = reinterpret_cast<Context*>(handle);
  if (d.contexts.count(ctx) == 0) return CUDA_ERROR_INVALID_CONTEXT;
  tls_context_stack.push_back(ctx);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxPopCurrent_v2(CUcontext* pctx) {
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  SIM_TRY(TheDriver().initialized ? CUDA_SUCCESS : g_init_result);
  if (tls_context_stack.empty()) return CUDA_ERROR_INVALID_CONTEXT;
  if (pctx != nullptr) *pctx = reinterpret_cast<CUcontext>(tls_context_stack.back());
  tls_context_stack.pop_back();
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxGetDevice(CUdevice* device) {
  if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Context* ctx = nullptr;
  SIM_TRY(CurrentContextLocked(&ctx));
  *device = ctx->device->ordinal;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxGetFlags(unsigned int* flags) {
  if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Context* ctx = nullptr;
  SIM_TRY(CurrentContextLocked(&ctx));
  *flags = ctx->flags;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxGetApiVersion(CUcontext handle, unsigned int* version) {
  if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Context* ctx = reinterpret_cast<Context*>(handle);
  if (ctx == nullptr) SIM_TRY(CurrentContextLocked(&ctx));
  if (TheDriver().contexts.count(ctx) == 0) return CUDA_ERROR_INVALID_CONTEXT;
  *version = 3020;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxGetStreamPriorityRange(int* least, int* greatest) {
  std::lock_guard<std::mutex> lock(TheDriver().mu);
  Context* ctx = nullptr;
  SIM_TRY(CurrentContextLocked(&ctx));
  if (least != nullptr) *least = 0;
  if (greatest != nullptr) *greatest = -5;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxSynchronize(void) {
  Context* ctx = nullptr;
  uint64_t seq = 0;
  {
    std::lock_guard<std::mutex> lock(TheDriver().mu);
    SIM_TRY(CurrentContextLocked(&ctx));
    seq = ctx->last_seq;
  }
  return WaitDevice(ctx->device, seq);
}

}  // extern "C"
