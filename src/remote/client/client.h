// What the remote client knows in one process: the session (opened by cuInit), the device view
// the server sent, and the handles this process minted. Streams, events, modules, functions,
// contexts, pools, arrays and VMM handles are numbers chosen here (the handle's value is its
// id), so making one costs no round trip; the worker maps each id to its real object.
#pragma once

#include <cuda.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "remote/client/connection.h"

namespace vxpu::remote {

struct DeviceView {
  std::string name;
  CUuuid uuid{};
  std::string bus_id;
  uint64_t total_memory = 0;
  int driver_version = 0, cc_major = 0, cc_minor = 0;
  std::vector<int> attributes;  // by CU_DEVICE_ATTRIBUTE_*
};

struct ContextInfo {
  unsigned flags = 0;
  bool primary = false;
};

struct StreamInfo {
  uint64_t ctx = 0;
  unsigned flags = 0;
  int priority = 0;
};

struct FunctionInfo {
  uint64_t module = 0;  // or library, for a kernel
  bool kernel = false;  // a library's CUkernel (cuLibraryGetKernel), not a module's function
  std::string name;
  std::vector<std::pair<size_t, size_t>> params;  // offset, size
  size_t buffer_bytes = 0;
  std::map<int, int> attributes;  // fetched once
};

class Client {
 public:
  static Client& Get();

  // cuInit: opens the session once; later calls return the first one's result.
  CUresult Init();
  // CUDA_SUCCESS once Init succeeded; CUDA_ERROR_NOT_INITIALIZED before.
  CUresult Ready() const { return ready_ ? CUDA_SUCCESS : CUDA_ERROR_NOT_INITIALIZED; }
  Connection& connection() { return connection_; }
  const DeviceView& device() const { return device_; }
  uint64_t Mint();

  std::mutex mu;  // guards the tables
  std::unordered_map<uint64_t, ContextInfo> contexts;
  std::unordered_map<uint64_t, StreamInfo> streams;
  std::unordered_map<uint64_t, uint64_t> events;       // id -> flags
  std::unordered_map<uint64_t, uint64_t> modules;      // id -> context
  std::unordered_map<uint64_t, uint64_t> libraries;    // id -> 0 (a library belongs to no context)
  std::unordered_map<uint64_t, uint64_t> graphs;       // id -> 0 (a graph belongs to no context)
  std::unordered_map<uint64_t, uint64_t> graph_execs;  // id -> context
  std::unordered_map<uint64_t, uint64_t> capturing;    // stream wire id -> capture id, while it captures
  std::unordered_map<uint64_t, FunctionInfo> functions;
  std::unordered_map<uint64_t, uint64_t> pools, arrays, mipmapped, vmm_handles;  // id -> 0
  std::map<uint64_t, uint64_t> device_memory;  // base -> bytes (allocations and mappings)
  std::map<uint64_t, uint64_t> host_memory;    // pinned host allocations, kept on this side
  std::mutex primary_mu;                       // guards the primary context's state below (taken before mu)
  uint64_t primary_ctx = 0;                    // id of device 0's primary context, once minted
  int primary_refs = 0;
  unsigned primary_flags = 0;

 private:
  Client() = default;
  bool ready_ = false;
  bool tried_ = false;
  CUresult init_result_ = CUDA_ERROR_NOT_INITIALIZED;
  std::mutex init_mu_;
  std::atomic<uint64_t> next_id_{kFirstMintedId};
  Connection connection_;
  DeviceView device_;
};

// The calling thread's current context (0: none) and its stack.
std::vector<uint64_t>& ContextStack();
uint32_t CurrentContext();

// A NULL stream means the per-thread default stream inside one (the _ptsz/_ptds variants).
struct PerThreadScope {
  PerThreadScope();
  ~PerThreadScope();
  PerThreadScope(const PerThreadScope&) = delete;
  PerThreadScope& operator=(const PerThreadScope&) = delete;
};

// The wire id of `stream`; CUDA_ERROR_INVALID_HANDLE if this process did not make it.
CUresult StreamId(CUstream stream, uint64_t* id);

// Whether the stream with this wire id captures into a graph (cuStreamBeginCapture).
bool Capturing(uint64_t stream_id);

// Common preconditions of a call: initialised and a context current; initialised and the
// session's one device (ordinal 0).
CUresult NeedContext();
CUresult CheckDevice(CUdevice ordinal);

// True if [ptr, ptr+bytes) lies in device memory this process allocated or mapped.
bool IsDeviceMemory(uint64_t ptr, uint64_t bytes);
// Device memory made or unmade (allocations and mappings); Forget: false if it was not known.
void RememberDeviceMemory(uint64_t base, uint64_t bytes);
bool ForgetDeviceMemory(uint64_t base);
// An allocating call's answer: on success *dptr = its address (outs[0]), remembered.
CUresult Allocated(CUresult result, const Reply& reply, CUdeviceptr* dptr, uint64_t bytes);

// Loads image `id` on the worker: by its SHA-256 with `by_digest` if it is large enough
// (kImageByDigestBytes) and the server kept it from an earlier session, so that it does not
// cross the link again; else whole with `whole`.
CUresult SendImage(Op by_digest, Op whole, uint64_t id, const void* image, size_t bytes);
// The function's entry, copied; CUDA_ERROR_INVALID_HANDLE if this process did not get it.
CUresult FunctionInfoOf(CUfunction f, FunctionInfo* info);
// The parameter layout the worker answered (ModuleGetFunction, LibraryGetKernel) into *info.
CUresult ParseLayout(const Reply& reply, FunctionInfo* info);

// Managed memory mirrored on the host (managed_memory.cc): mapped at the allocation's address
// (false, said on stderr, if the address is taken here), unmapped when freed; handed to the
// device before work is sent, and back to the host when the program synchronises.
bool MirrorManaged(uint64_t base, uint64_t bytes);
void UnmirrorManaged(uint64_t base);
CUresult HandManagedToDevice();
CUresult HandManagedToHost();
// A synchronising call's `result`, the mirrors handed back to the host after it succeeded.
CUresult AfterSync(CUresult result);

template <typename Handle>
Handle HandleOf(uint64_t id) {
  return reinterpret_cast<Handle>(static_cast<uintptr_t>(id));
}
template <typename Handle>
uint64_t IdOf(Handle handle) {
  return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(handle));
}

}  // namespace vxpu::remote
