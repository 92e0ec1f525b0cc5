// simnpu's runtime layer (libruntime.so) inside one process: its devices, contexts, streams,
// events, binaries and memory, on the engine simgpu's devices run on (simgpu/shared_device.h,
// simgpu/executor.h): memory charged to a ledger every process of the device shares, lazily
// backed; work queued per device and time-sliced between processes.
//
// Locking: Runtime::mu guards every table; no call waits for the executor while holding it.
// Codes are AscendCL's (ACL_ERROR_RT_*), as the runtime returns them since CANN 6.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/ascend_api.h"
#include "simgpu/device_config.h"
#include "simgpu/executor.h"
#include "simgpu/kernels.h"
#include "simgpu/shared_device.h"

namespace simnpu {

using simgpu::DeviceSpec;
using simgpu::Executor;

struct Context;
struct Device {
  int ordinal = 0;   // the logical id this process sees
  uint32_t phy = 0;  // the chip's physical id (its place in the config)
  DeviceSpec spec;
  std::unique_ptr<simgpu::SharedDevice> shared;
  int slot = -1;  // this process's client slot, once it has a context
  std::unique_ptr<Executor> executor;
  Context* primary = nullptr;  // rtSetDevice's context
  int primary_refs = 0;
};

struct Stream;
struct Context {
  Device* device = nullptr;
  Stream* default_stream = nullptr;
  uint64_t charged = 0;  // the context's own device memory
};

struct Stream {
  Context* ctx = nullptr;
  uint64_t last_seq = 0;
};

struct EventState {
  uint64_t seq = 0;  // the operation that completes the latest record; 0: never recorded
  uint64_t timestamp_ns = 0;
};

struct Event {
  Device* device = nullptr;
  std::shared_ptr<EventState> state = std::make_shared<EventState>();
};

struct Function;
struct Binary {
  std::vector<std::string> entries;
  std::vector<std::unique_ptr<Function>> functions;
};

struct Function {
  Binary* binary = nullptr;
  const simgpu::BuiltinKernel* kernel = nullptr;
};

// Physical memory of the VMM calls: a memfd mapped wherever rtMapMem puts it.
struct Physical {
  Device* device = nullptr;
  uint64_t size = 0;
  int fd = -1;
  int mappings = 0;
  bool freed = false;  // rtFreePhysical called; released once unmapped too
};

// A range of device addresses the process may touch.
struct Allocation {
  uint64_t size = 0;
  Device* device = nullptr;
  Physical* physical = nullptr;  // a mapping of physical memory; else rtMalloc's own
};

struct Runtime {
  std::mutex mu;
  bool initialized = false;
  rtError_t init_result = ACL_ERROR_RT_NO_DEVICE;
  std::vector<std::unique_ptr<Device>> devices;
  std::set<Context*> contexts;
  std::set<Stream*> streams;
  std::set<Event*> events;
  std::set<Binary*> binaries;
  std::set<Function*> functions;
  std::set<Physical*> physical;
  std::set<void*> host_allocations;
  std::map<uintptr_t, Allocation> allocations;  // by base address
  std::map<uintptr_t, uint64_t> reservations;   // VMM address ranges: base -> size
};

Runtime& TheRuntime();

// ---- helpers; "Locked" ones expect Runtime::mu held ----

// Loads the devices on first use (ASCEND_RT_VISIBLE_DEVICES lists the physical ids a process
// sees); ACL_ERROR_RT_NO_DEVICE (and one line) if the config is bad or lists none.
rtError_t InitLocked();
rtError_t DeviceLocked(int32_t ordinal, Device** out);
rtError_t CurrentContextLocked(Context** out);
Context*& ThreadContext();
// The stream `handle` names (nullptr: the current context's default stream).
rtError_t StreamLocked(rtStream_t handle, Stream** out);

bool ChargeLocked(Device* device, uint64_t bytes);
void UnchargeLocked(Device* device, uint64_t bytes);
// Whether [addr, addr+bytes) lies in device memory of the process.
bool AccessibleLocked(uint64_t addr, uint64_t bytes);

// Queues `work` with `device_ns` of device time on the stream's device; its sequence number.
uint64_t EnqueueLocked(Stream* stream, uint64_t device_ns, Executor::Work work);
// Waits (without the lock) for operation `seq` of `device`.
rtError_t WaitDevice(Device* device, uint64_t seq);

constexpr uint64_t kAlignment = 512;
constexpr uint64_t kGranularity = 2ull << 20;
inline uint64_t RoundUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

}  // namespace simnpu

#define NPU_TRY(expr)                                           \
  do {                                                          \
    rtError_t npu_try_result_ = (expr);                         \
    if (npu_try_result_ != ACL_SUCCESS) return npu_try_result_; \
  } while (0)
