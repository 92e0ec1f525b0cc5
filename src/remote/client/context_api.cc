// Contexts. The current context is the calling thread's, kept here; every request carries it.
// The primary context is retained on the server once while any reference here holds it.
#include <algorithm>

#include "common/cudart_tables.h"
#include "remote/client/client.h"
#include "remote/client/cuda_api.h"

using namespace vxpu::remote;

namespace {

bool KnownContext(CUcontext ctx) {
  Client& c = Client::Get();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.contexts.count(IdOf(ctx)) != 0;
}

CUresult CreateContext(CUcontext* pctx, unsigned flags, CUdevice dev) {
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = CheckDevice(dev);
  if (result != CUDA_SUCCESS) return result;
  Client& c = Client::Get();
  uint64_t id = c.Mint();
  Reply reply;
  result = c.connection().Call(Op::kCtxCreate, CurrentContext(), {id, flags, 0}, &reply);
  if (result != CUDA_SUCCESS) return result;
  {
    std::lock_guard<std::mutex> lock(c.mu);
    c.contexts[id] = ContextInfo{flags, false};
  }
  ContextStack().push_back(id);
  *pctx = HandleOf<CUcontext>(id);
  return CUDA_SUCCESS;
}

}  // namespace

extern "C" {

CUresult CUDAAPI cuDevicePrimaryCtxRetain(CUcontext* pctx, CUdevice dev) {
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = CheckDevice(dev);
  if (result != CUDA_SUCCESS) return result;
  Client& c = Client::Get();
  std::lock_guard<std::mutex> primary(c.primary_mu);  // not c.mu: the tables stay usable meanwhile
  if (c.primary_refs == 0) {
    uint64_t id = c.primary_ctx != 0 ? c.primary_ctx : c.Mint();
    Reply reply;
    result = c.connection().Call(Op::kPrimaryCtxRetain, CurrentContext(), {id, 0}, &reply);
    if (result != CUDA_SUCCESS) return result;
    std::lock_guard<std::mutex> lock(c.mu);
    c.primary_ctx = id;
    c.contexts[id] = ContextInfo{c.primary_flags, true};
  }
  ++c.primary_refs;
  *pctx = HandleOf<CUcontext>(c.primary_ctx);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDevicePrimaryCtxRelease_v2(CUdevice dev) {
  CUresult result = CheckDevice(dev);
  if (result != CUDA_SUCCESS) return result;
  Client& c = Client::Get();
  std::lock_guard<std::mutex> primary(c.primary_mu);
  if (c.primary_refs == 0) return CUDA_ERROR_INVALID_CONTEXT;
  if (c.primary_refs == 1) {
    Reply reply;
    result = c.connection().Call(Op::kPrimaryCtxRelease, CurrentContext(), {0}, &reply);
    if (result != CUDA_SUCCESS) return result;
    vxpu::ForgetContextStorage(HandleOf<CUcontext>(c.primary_ctx));  // the context is gone on the server
  }
  --c.primary_refs;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI remote_cuDevicePrimaryCtxRelease_v1(CUdevice dev) { return cuDevicePrimaryCtxRelease_v2(dev); }

CUresult CUDAAPI cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int* flags, int* active) {
  if (flags == nullptr || active == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = CheckDevice(dev);
  if (result != CUDA_SUCCESS) return result;
  Client& c = Client::Get();
  std::lock_guard<std::mutex> primary(c.primary_mu);
  *flags = c.primary_flags;
  *active = c.primary_refs > 0 ? 1 : 0;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDevicePrimaryCtxSetFlags_v2(CUdevice dev, unsigned int flags) {
  CUresult result = CheckDevice(dev);
  if (result != CUDA_SUCCESS) return result;
  Client& c = Client::Get();
  Reply reply;
  result = c.connection().Call(Op::kPrimaryCtxSetFlags, CurrentContext(), {0, flags}, &reply);
  if (result == CUDA_SUCCESS) {
    std::lock_guard<std::mutex> primary(c.primary_mu);
    std::lock_guard<std::mutex> lock(c.mu);
    c.primary_flags = flags;
    if (c.primary_ctx != 0) c.contexts[c.primary_ctx].flags = flags;
  }
  return result;
}

CUresult CUDAAPI cuDevicePrimaryCtxReset_v2(CUdevice dev) {
  CUresult result = CheckDevice(dev);
  if (result != CUDA_SUCCESS) return result;
  Reply reply;
  return Client::Get().connection().Call(Op::kPrimaryCtxReset, CurrentContext(), {0}, &reply);
}

CUresult CUDAAPI cuCtxCreate_v2(CUcontext* pctx, unsigned int flags, CUdevice dev) {
  return CreateContext(pctx, flags, dev);
}

CUresult CUDAAPI cuCtxCreate_v3(CUcontext* pctx, CUexecAffinityParam* params, int num_params, unsigned int flags,
                                CUdevice dev) {
  if (params != nullptr || num_params != 0) return CUDA_ERROR_NOT_SUPPORTED;  // no execution affinity remotely
  return CreateContext(pctx, flags, dev);
}

CUresult CUDAAPI cuCtxCreate_v4(CUcontext* pctx, CUctxCreateParams* params, unsigned int flags, CUdevice dev) {
  if (params != nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  return CreateContext(pctx, flags, dev);
}

CUresult CUDAAPI cuCtxDestroy_v2(CUcontext ctx) {
  CUresult ready = Client::Get().Ready();
  if (ready != CUDA_SUCCESS) return ready;
  Client& c = Client::Get();
  uint64_t id = IdOf(ctx);
  {
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.contexts.find(id);
    if (it == c.contexts.end() || it->second.primary) return CUDA_ERROR_INVALID_CONTEXT;
  }
  Reply reply;
  CUresult result = c.connection().Call(Op::kCtxDestroy, CurrentContext(), {id}, &reply);
  if (result != CUDA_SUCCESS) return result;
  vxpu::ForgetContextStorage(ctx);
  {
    std::lock_guard<std::mutex> lock(c.mu);
    c.contexts.erase(id);
    for (auto s = c.streams.begin(); s != c.streams.end();) s = s->second.ctx == id ? c.streams.erase(s) : std::next(s);
  }
  std::vector<uint64_t>& stack = ContextStack();
  stack.erase(std::remove(stack.begin(), stack.end(), id), stack.end());
  return CUDA_SUCCESS;
}

CUresult CUDAAPI remote_cuCtxDestroy_v1(CUcontext ctx) { return cuCtxDestroy_v2(ctx); }

CUresult CUDAAPI cuCtxSetCurrent(CUcontext ctx) {
  CUresult ready = Client::Get().Ready();
  if (ready != CUDA_SUCCESS) return ready;
  if (ctx != nullptr && !KnownContext(ctx)) return CUDA_ERROR_INVALID_CONTEXT;
  std::vector<uint64_t>& stack = ContextStack();
  if (!stack.empty()) stack.pop_back();
  if (ctx != nullptr) stack.push_back(IdOf(ctx));
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxGetCurrent(CUcontext* pctx) {
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult ready = Client::Get().Ready();
  if (ready != CUDA_SUCCESS) return ready;
  *pctx = HandleOf<CUcontext>(CurrentContext());
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxPushCurrent_v2(CUcontext ctx) {
  CUresult ready = Client::Get().Ready();
  if (ready != CUDA_SUCCESS) return ready;
  if (ctx == nullptr || !KnownContext(ctx)) return CUDA_ERROR_INVALID_CONTEXT;
  ContextStack().push_back(IdOf(ctx));
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxPopCurrent_v2(CUcontext* pctx) {
  CUresult ready = Client::Get().Ready();
  if (ready != CUDA_SUCCESS) return ready;
  std::vector<uint64_t>& stack = ContextStack();
  if (stack.empty()) return CUDA_ERROR_INVALID_CONTEXT;
  if (pctx != nullptr) *pctx = HandleOf<CUcontext>(stack.back());
  stack.pop_back();
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxGetDevice(CUdevice* device) {
  if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = NeedContext();
  if (result == CUDA_SUCCESS) *device = 0;
  return result;
}

CUresult CUDAAPI cuCtxGetFlags(unsigned int* flags) {
  if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult result = NeedContext();
  if (result != CUDA_SUCCESS) return result;
  Client& c = Client::Get();
  std::lock_guard<std::mutex> lock(c.mu);
  *flags = c.contexts[CurrentContext()].flags;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxGetApiVersion(CUcontext ctx, unsigned int* version) {
  if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult ready = Client::Get().Ready();
  if (ready != CUDA_SUCCESS) return ready;
  if (ctx == nullptr ? CurrentContext() == 0 : !KnownContext(ctx)) return CUDA_ERROR_INVALID_CONTEXT;
  *version = 3020;  // the API version every context made through the _v2 entry points reports
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxGetStreamPriorityRange(int* least, int* greatest) {
  CUresult result = NeedContext();
  if (result != CUDA_SUCCESS) return result;
  Reply reply;
  result = Client::Get().connection().Call(Op::kCtxGetStreamPriorityRange, CurrentContext(), {}, &reply);
  if (result != CUDA_SUCCESS || reply.outs.size() != 2) return result != CUDA_SUCCESS ? result : CUDA_ERROR_UNKNOWN;
  if (least != nullptr) *least = static_cast<int>(static_cast<int64_t>(reply.outs[0]));
  if (greatest != nullptr) *greatest = static_cast<int>(static_cast<int64_t>(reply.outs[1]));
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxSynchronize() {
  CUresult result = NeedContext();
  if (result != CUDA_SUCCESS) return result;
  Reply reply;
  return AfterSync(Client::Get().connection().Call(Op::kCtxSynchronize, CurrentContext(), {}, &reply));
}

}  // extern "C"
