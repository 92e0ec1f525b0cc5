// The object model of the simulated driver inside one process: devices, contexts, streams, graphs,
// events, modules, memory, and the helpers every entry point uses to validate its arguments.
//
// Locking: Driver::mu guards every table here. An entry point never waits for the executor
// while holding it, because executor work (kernels checking addresses, stream-ordered frees)
// takes it too.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "simgpu/cuda_api.h"
#include "simgpu/device_config.h"
#include "simgpu/executor.h"
#include "simgpu/kernels.h"
#include "simgpu/lazy_memory.h"
#include "simgpu/shared_device.h"

namespace simgpu {

struct Device;
struct Stream;
struct Context;

// One operation of a CUDA graph: what a stream would have queued for it.
struct GraphNode {
  uint64_t device_ns = 0;
  Executor::Work work;
};

// A graph made by stream capture (or cuGraphCreate): its nodes in capture order, each
// depending on the one before (capture into one stream yields a chain).
struct Graph {
  Context* ctx = nullptr;
  std::vector<std::unique_ptr<GraphNode>> nodes;
};

// An instantiated graph: a snapshot of the graph's nodes, replayed by each cuGraphLaunch.
struct GraphExec {
  Context* ctx = nullptr;
  std::vector<GraphNode> nodes;
};

// A stream capture in progress: work queued into the stream is recorded into `graph`.
struct Capture {
  uint64_t id = 0;  // unique over the process's life
  CUstreamCaptureMode mode = CU_STREAM_CAPTURE_MODE_GLOBAL;
  std::thread::id thread;  // that began it (non-relaxed captures must end there)
  bool invalidated = false;
  std::unique_ptr<Graph> graph;
  CUgraphNode last_node = nullptr;  // what the next captured node depends on
  CUgraphEdgeData last_edge{};      // its edge: a plain (full) dependency
};

struct Context {
  Device* device = nullptr;
  unsigned flags = 0;
  bool primary = false;
  Stream* legacy_stream = nullptr;  // the NULL / CU_STREAM_LEGACY stream
  uint64_t last_seq = 0;            // last operation issued in this context
  int blocking_captures = 0;        // captures in progress in its blocking streams
  int captures = 0;                 // captures in progress in all its streams
};

struct Stream {
  Context* ctx = nullptr;
  unsigned flags = 0;
  int priority = 0;
  uint64_t last_seq = 0;
  std::unique_ptr<Capture> capture = nullptr;  // while capturing (cuStreamBeginCapture .. EndCapture)
};

struct EventState {
  uint64_t seq = 0;           // operation that completes the latest record; 0 = never recorded
  uint64_t timestamp_ns = 0;  // when it completed
};

struct Event {
  Context* ctx = nullptr;
  unsigned flags = 0;
  std::shared_ptr<EventState> state = std::make_shared<EventState>();
};

struct Function;
struct Module {
  Context* ctx = nullptr;
  std::vector<std::string> entries;
  std::vector<std::unique_ptr<Function>> functions;
};

struct Function {
  Module* module = nullptr;
  std::string name;
  const BuiltinKernel* kernel = nullptr;
};

// A library (cuLibraryLoadData, what the CUDA runtime loads its fatbins with): context-free; in
// each context that launches one of its kernels it gets a module of its own.
struct Library;
struct Kernel {
  Library* library = nullptr;
  std::string name;
  const BuiltinKernel* builtin = nullptr;
};
struct Library {
  std::string image;  // the fatbin (or text module) as loaded
  std::vector<std::unique_ptr<Kernel>> kernels;
  std::map<Context*, Module*> modules;
};

struct MemPool {
  Device* device = nullptr;
  uint64_t release_threshold = 0;
  uint64_t reserved = 0, reserved_high = 0;
  uint64_t used = 0, used_high = 0;
  std::map<uintptr_t, uint64_t> blocks;            // every block the pool holds
  std::multimap<uint64_t, uintptr_t> free_blocks;  // size -> address, reusable
};

// Physical memory of the VMM API: a memfd mapped wherever cuMemMap puts it.
struct PhysicalAllocation {
  Device* device = nullptr;
  uint64_t size = 0;
  int fd = -1;
  int mappings = 0;
  int handle_refs = 1;  // cuMemCreate/cuMemRetainAllocationHandle minus cuMemRelease
  // Freed once no handle reference and no mapping remains.
};

struct SimArray {
  Device* device = nullptr;
  uint64_t bytes = 0;
};

enum class AllocKind { kLinear, kManaged, kPool, kMapped };

// A range of device addresses the process may touch.
struct Allocation {
  uint64_t size = 0;
  uint64_t charged = 0;  // bytes charged to the device for it (0 for pool and mapped ranges)
  AllocKind kind = AllocKind::kLinear;
  Device* device = nullptr;
  Context* ctx = nullptr;
  PhysicalAllocation* physical = nullptr;  // kMapped only
  bool accessible = true;                  // kMapped: after cuMemSetAccess
};

struct Device {
  int ordinal = 0;
  DeviceSpec spec;
  std::unique_ptr<SharedDevice> shared;
  int slot = -1;  // this process's client slot, once it has a context
  std::unique_ptr<Executor> executor;
  Context* primary = nullptr;
  int primary_refs = 0;
  unsigned primary_flags = 0;
  MemPool* default_pool = nullptr;
  MemPool* current_pool = nullptr;
};

struct Driver {
  std::mutex mu;
  bool initialized = false;
  std::vector<std::unique_ptr<Device>> devices;
  std::set<Context*> contexts;
  std::set<Stream*> streams;
  std::set<Event*> events;
  std::set<Module*> modules;
  std::set<Function*> functions;
  std::set<Library*> libraries;
  std::set<Kernel*> kernels;
  std::set<MemPool*> pools;
  std::set<PhysicalAllocation*> physical;
  std::set<SimArray*> arrays;
  std::set<Graph*> graphs;
  std::set<GraphExec*> graph_execs;
  std::set<void*> host_allocations;
  std::map<uintptr_t, Allocation> allocations;  // by base address
  std::map<uintptr_t, uint64_t> reservations;   // VMM address ranges: base -> size
};

Driver& TheDriver();

// ---- helpers for entry points; "Locked" ones expect Driver::mu held ----

CUresult CheckInit();  // takes Driver::mu
CUresult InitializedLocked();
// The calling thread's context stack (top = current context).
std::vector<Context*>& ThreadContextStack();
CUresult DeviceLocked(CUdevice ordinal, Device** out);
CUresult CurrentContextLocked(Context** out);
// Registers this process as a client of the device (first context on it).
CUresult AttachLocked(Device* device);
CUresult CreateContextLocked(Device* device, unsigned flags, bool primary, Context** out);
void DestroyContextLocked(Context* ctx);
CUresult ResolveStreamLocked(CUstream handle, Context* current, Stream** out);
// The function `handle` names in `ctx`: a CUfunction, or a CUkernel (made a function of its
// library's module in that context on first use). nullptr if it is neither.
Function* FunctionOfLocked(void* handle, Context* ctx);
// Removes `module` and its functions from the driver and deletes it.
void DeleteModuleLocked(Module* module);
// The built-in that runs kernel `name`, or nullptr, said on stderr: a kernel simgpu cannot run
// must never pass silently.
const BuiltinKernel* RunnableKernel(const char* name);
// Forgets what libraries and the runtime's storage kept for `ctx`, which is going away.
void ForgetContextLocked(Context* ctx);
// The stream `handle` names for the calling thread: its NULL and per-thread streams are those
// of the current context; an explicit handle needs none.
CUresult StreamLocked(CUstream handle, Stream** out);

// Queues work on the stream's device; returns the operation's sequence number. Into a
// capturing stream the work is recorded instead (CaptureLocked) and 0 returned.
uint64_t EnqueueLocked(Stream* stream, uint64_t device_ns, Executor::Work work);
// Waits (without the lock) for `seq` on `device`, then releases pool memory above thresholds.
CUresult WaitDevice(Device* device, uint64_t seq);

// ---- stream capture (driver_graph.cc) ----

// Records `work` into the stream's capture (dropped if the capture was invalidated).
void CaptureLocked(Stream* stream, uint64_t device_ns, Executor::Work work);
// Whether work may be queued into `stream`: CUDA_ERROR_STREAM_CAPTURE_INVALIDATED into an
// invalidated capture; CUDA_ERROR_STREAM_CAPTURE_IMPLICIT into the legacy stream while a
// blocking stream of its context captures (which invalidates those captures).
CUresult CapturableLocked(Stream* stream);
// Whether `stream` may be waited for (synchronized, queried): not while it captures
// (CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, and the capture is invalidated), nor the legacy
// stream while a blocking stream captures (CUDA_ERROR_STREAM_CAPTURE_IMPLICIT, likewise).
CUresult WaitableLocked(Stream* stream);
// Whether the whole context may be waited for (cuCtxSynchronize): not while any of its streams
// captures, whichever thread began the capture and in whichever mode
// (CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, and every such capture is invalidated).
CUresult ContextWaitableLocked(Context* ctx);
// Takes the stream out of capture mode; returns the graph captured so far (nullptr if the
// stream was not capturing).
std::unique_ptr<Graph> EndCaptureLocked(Stream* stream);

// Device memory bookkeeping.
bool ChargeLocked(Device* device, uint64_t bytes);
void UnchargeLocked(Device* device, uint64_t bytes);
// The allocation containing [addr, addr+bytes), or nullptr.
Allocation* FindAllocationLocked(uint64_t addr, uint64_t bytes);
bool AccessibleLocked(uint64_t addr, uint64_t bytes);
void TrimPoolLocked(MemPool* pool, uint64_t keep);
void DestroyPoolLocked(MemPool* pool);

constexpr uint64_t kAllocAlignment = 512;
constexpr uint64_t kVmmGranularity = 2ull << 20;
inline uint64_t RoundUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

// Marks the calling thread as using per-thread default streams for the current call (set by
// the _ptsz/_ptds variants that cuGetProcAddress hands out).
struct PerThreadDefaultStreamScope {
  PerThreadDefaultStreamScope();
  ~PerThreadDefaultStreamScope();
  PerThreadDefaultStreamScope(const PerThreadDefaultStreamScope&) = delete;
  PerThreadDefaultStreamScope& operator=(const PerThreadDefaultStreamScope&) = delete;
};

}  // namespace simgpu

#define SIM_TRY(expr)                                            \
  do {                                                           \
    CUresult sim_try_result_ = (expr);                           \
    if (sim_try_result_ != CUDA_SUCCESS) return sim_try_result_; \
  } while (0)
