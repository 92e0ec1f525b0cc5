// One remote session, served by a worker process of its own: reads the client's requests from
// the socket, runs them on the real driver (under the slice the worker was started in) and
// answers. Every handle and pointer a request names is looked up in this session's own tables;
// what is not there is refused, so a session can only reach what it made.
//
// Requests sent without waiting (ops.def reply=0) that fail leave their error for the next
// synchronising request to report, as a driver reports an asynchronous error.
#pragma once

#include <cuda.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "remote/request_reader.h"
#include "remote/worker/image_cache.h"

// The oldest symbol versions of what the worker calls that newer headers renamed, so that it
// loads on any driver since CUDA 3.2 (cuda.h maps the plain names to CUDA 12.5/12.8 versions).
extern "C" {
CUresult CUDAAPI cuCtxCreate_v2(CUcontext* pctx, unsigned int flags, CUdevice dev);
CUresult CUDAAPI worker_cuEventElapsedTime_v1(float* ms, CUevent start, CUevent end) __asm__("cuEventElapsedTime");
CUresult CUDAAPI worker_cuGetProcAddress_v1(const char* symbol, void** pfn, int cuda_version,
                                            cuuint64_t flags) __asm__("cuGetProcAddress");
}

namespace vxpu::remote {

// The driver's `name` of CUDA `version`, cast to `Fn`; nullptr where it has none. For entry
// points newer than CUDA 3.2, so that the worker still starts on an older driver.
template <typename Fn>
Fn DriverEntry(const char* name, int version) {
  void* found = nullptr;
  if (worker_cuGetProcAddress_v1(name, &found, version, 0) != CUDA_SUCCESS) return nullptr;
  return reinterpret_cast<Fn>(found);
}

// A request being served: its arguments and blob, and what the reply carries.
struct Call {
  const Request& request;
  std::string blob;  // kBytes blobs; kCopyIn data is read by the handler itself
  std::vector<uint64_t> outs;
  std::string out_blob;
  uint64_t arg(uint32_t i) const { return request.arg(i); }
};

class Session {
 public:
  // `images`: where module and library images are kept between sessions.
  Session(int fd, uint32_t timeout_ms, ImageCache images);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Sends the device view (Hello's reply), then serves requests until the client leaves or
  // breaks the protocol. Returns the worker's exit code.
  int Serve();

#define VXPU_REMOTE_OP(name, code, reply, args, blob) CUresult On##name(Call& call);
#include "remote/ops.def"
#undef VXPU_REMOTE_OP

 private:
  class SocketSource;
  struct PendingCopy {
    uint64_t id;
    std::vector<uint8_t> data;
    CUevent done;
    uint32_t ctx = 0;  // the context its event belongs to
  };

  CUresult Dispatch(Call& call);
  bool SendWelcome();
  bool Answer(const Call& call, CUresult result);
  bool SendFinishedCopies();
  void KeepaliveLoop();
  bool Send(const std::string& head, const void* blob, uint64_t blob_bytes);
  bool SendLocked(const std::string& head, const void* blob, uint64_t blob_bytes);  // write_mu_ held

  // Lookups: CUDA_ERROR_INVALID_HANDLE for an id this session never made.
  CUresult StreamOf(uint64_t id, CUstream* out) const;
  CUresult EventOf(uint64_t id, CUevent* out) const;
  CUresult FunctionOf(uint64_t id, CUfunction* out) const;
  CUresult PoolOf(uint64_t id, CUmemoryPool* out) const;
  CUresult SetContext(uint32_t id);
  // True if [ptr, ptr+bytes) lies inside one of `ranges` (base -> bytes).
  static bool Within(const std::map<uint64_t, uint64_t>& ranges, uint64_t ptr, uint64_t bytes);
  // ... of this session's allocations or mappings; of its reserved address ranges.
  bool Owns(uint64_t ptr, uint64_t bytes) const { return Within(memory_, ptr, bytes); }
  bool Reserved(uint64_t ptr, uint64_t bytes) const { return Within(reserved_, ptr, bytes); }
  CUresult KnownPool(CUmemoryPool pool, uint64_t proposed, Call& call);
  // Reads a kCopyIn blob into device memory at `dst` in chunks, on `stream` (async) or not.
  CUresult CopyIn(uint64_t dst, uint64_t bytes, CUstream stream, bool async);
  bool Discard(uint64_t bytes);
  // Answers a large device-to-host copy itself, sending chunks as they arrive.
  CUresult StreamOut(uint64_t src, uint64_t bytes);
  void ReleaseFinishedBuffers();
  // After an asynchronous copy to or from copy->data was queued (`queued`: how that went),
  // records the event that says it is done; on failure waits for the stream instead (the copy
  // may still use the buffer) and returns the failure.
  CUresult Track(CUresult queued, CUstream stream, PendingCopy* copy);
  // Host buffers for copies' data, reused by size (a training step copies the same sizes).
  std::vector<uint8_t> Buffer(uint64_t bytes);
  void Recycle(std::vector<uint8_t> buffer);
  // Before a context goes (destroyed, its last primary reference released, reset): waits for
  // its copies in flight, then drops the streams, events, modules, functions and allocations
  // it takes with it.
  void DrainCopiesOf(uint64_t ctx);
  void ForgetObjectsOf(uint64_t ctx);
  // An allocation that belongs to the current context (cuMemAlloc, pitch, managed).
  void RememberContextMemory(uint64_t ptr, uint64_t bytes);
  void Own(uint64_t id) { owner_[id] = current_ctx_; }
  // Drops the functions (or kernels) of module (or library) `parent`, which is going.
  void ForgetFunctionsOf(uint64_t parent);
  // Loads `image` as module or library `id` (a new id); a binary image must be whole.
  CUresult LoadModule(uint64_t id, std::string image);
  CUresult LoadLibrary(uint64_t id, const std::string& image);
  // The kept image whose SHA-256 is `digest` (32 bytes); false if none is kept.
  bool KeptImage(const std::string& digest, std::string* image) const;
  // Answers a function's or kernel's parameter layout (`info` as cuFuncGetParamInfo) in
  // call.outs, and keeps it for its launches; CUDA_ERROR_NOT_SUPPORTED past kMaxKernelParams.
  CUresult AnswerLayout(uint64_t id, const std::string& name,
                        const std::function<CUresult(size_t, size_t*, size_t*)>& info, Call& call);
  // cuKernelGet/SetAttribute on the session's device, for a kernel kept among the functions.
  CUresult KernelGetAttribute(int* value, CUfunction_attribute attr, CUfunction kernel) const;
  CUresult KernelSetAttribute(CUfunction_attribute attr, int value, CUfunction kernel) const;
  // A minted id not in use: not in `map`, nor naming a stream, event, module or function.
  template <typename Map>
  bool NewId(const Map& map, uint64_t id) const {
    return id >= kFirstMintedId && map.find(id) == map.end() && owner_.find(id) == owner_.end();
  }

  int fd_;
  uint32_t timeout_ms_;
  ImageCache images_;
  SocketSource* source_;
  std::mutex write_mu_;
  bool stop_ = false;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool broken_ = false;
  bool answered_ = false;  // the handler sent its own reply  // the protocol was broken: the session ends
  CUresult deferred_ = CUDA_SUCCESS;
  CUdevice device_ = 0;
  uint32_t current_ctx_ = UINT32_MAX;
  bool primary_retained_ = false;
  uint64_t primary_id_ = 0;

  std::unordered_map<uint64_t, CUcontext> contexts_;
  std::unordered_map<uint64_t, CUstream> streams_;
  std::unordered_map<uint64_t, CUevent> events_;
  std::unordered_map<uint64_t, CUmodule> modules_;
  std::unordered_map<uint64_t, CUlibrary> libraries_;  // not bound to a context
  std::unordered_map<uint64_t, CUgraph> graphs_;       // not bound to a context
  std::unordered_map<uint64_t, CUgraphExec> execs_;
  std::unordered_set<uint64_t> kernels_;  // function ids that are a library's CUkernel
  std::unordered_map<uint64_t, CUfunction> functions_;
  std::unordered_map<uint64_t, CUmemoryPool> pools_;
  std::unordered_map<uint64_t, CUmemGenericAllocationHandle> handles_;
  std::unordered_map<uint64_t, CUarray> arrays_;
  std::unordered_map<uint64_t, CUmipmappedArray> mipmapped_;
  std::unordered_map<uint64_t, uint64_t> owner_;                     // stream, event, module, function id -> context id
  std::unordered_map<uint64_t, std::vector<size_t>> param_offsets_;  // function id -> offsets, then total
  std::unordered_map<uint64_t, uint64_t> function_module_;           // function id -> module or library id
  std::map<uint64_t, uint64_t> memory_;                              // allocation or mapping base -> bytes
  std::unordered_map<uint64_t, uint64_t> memory_ctx_;                // context-bound allocation base -> context id
  std::map<uint64_t, uint64_t> reserved_;                            // VMM address ranges: base -> bytes
  std::vector<PendingCopy> copies_;    // device-to-host copies the client has not been sent yet
  uint64_t pending_copy_bytes_ = 0;    // their data, bounded (the server's host memory)
  std::vector<PendingCopy> inflight_;  // host-to-device copies' data, kept until they are done
  uint64_t inflight_bytes_ = 0;
  std::vector<uint8_t> staging_[2];
  std::vector<std::vector<uint8_t>> spare_;
};

}  // namespace vxpu::remote
