// Contexts: the primary context of the session's device, and contexts of the session's own.
#include "remote/worker/session.h"

namespace vxpu::remote {

CUresult Session::OnHello(Call&) {
  broken_ = true;  // said once, before the worker started
  return CUDA_ERROR_INVALID_VALUE;
}

CUresult Session::OnKeepalive(Call&) { return CUDA_SUCCESS; }

CUresult Session::OnPrimaryCtxRetain(Call& call) {
  uint64_t id = call.arg(0);
  if (call.arg(1) != 0) return CUDA_ERROR_INVALID_DEVICE;
  if (primary_id_ != 0 ? id != primary_id_ : !NewId(contexts_, id)) return CUDA_ERROR_INVALID_VALUE;
  CUcontext ctx = nullptr;
  CUresult result = cuDevicePrimaryCtxRetain(&ctx, device_);
  if (result != CUDA_SUCCESS) return result;
  primary_id_ = id;
  contexts_[id] = ctx;
  return CUDA_SUCCESS;
}

// The client releases its one server-side reference when its own count reaches zero: the
// primary context goes, with what was made in it.
CUresult Session::OnPrimaryCtxRelease(Call& call) {
  if (call.arg(0) != 0) return CUDA_ERROR_INVALID_DEVICE;
  if (primary_id_ != 0) DrainCopiesOf(primary_id_);
  CUresult result = cuDevicePrimaryCtxRelease(device_);
  if (result == CUDA_SUCCESS && primary_id_ != 0) ForgetObjectsOf(primary_id_);
  return result;
}

CUresult Session::OnPrimaryCtxSetFlags(Call& call) {
  if (call.arg(0) != 0) return CUDA_ERROR_INVALID_DEVICE;
  return cuDevicePrimaryCtxSetFlags(device_, static_cast<unsigned>(call.arg(1)));
}

CUresult Session::OnPrimaryCtxReset(Call& call) {
  if (call.arg(0) != 0) return CUDA_ERROR_INVALID_DEVICE;
  if (primary_id_ != 0) DrainCopiesOf(primary_id_);
  CUresult result = cuDevicePrimaryCtxReset(device_);
  if (result == CUDA_SUCCESS && primary_id_ != 0) ForgetObjectsOf(primary_id_);
  return result;
}

CUresult Session::OnCtxCreate(Call& call) {
  uint64_t id = call.arg(0);
  if (!NewId(contexts_, id) || id > UINT32_MAX) return CUDA_ERROR_INVALID_VALUE;
  if (call.arg(2) != 0) return CUDA_ERROR_INVALID_DEVICE;
  CUcontext ctx = nullptr;
  CUresult result = cuCtxCreate_v2(&ctx, static_cast<unsigned>(call.arg(1)), device_);
  if (result != CUDA_SUCCESS) return result;
  contexts_[id] = ctx;
  current_ctx_ = static_cast<uint32_t>(id);  // a new context is made current
  return CUDA_SUCCESS;
}

CUresult Session::OnCtxDestroy(Call& call) {
  uint64_t id = call.arg(0);
  auto it = contexts_.find(id);
  if (it == contexts_.end() || id == primary_id_) return CUDA_ERROR_INVALID_CONTEXT;
  DrainCopiesOf(id);
  CUresult result = cuCtxDestroy(it->second);
  if (result != CUDA_SUCCESS) return result;
  contexts_.erase(it);
  ForgetObjectsOf(id);
  current_ctx_ = UINT32_MAX;  // whatever the driver made current now, SetContext sets it again
  return CUDA_SUCCESS;
}

CUresult Session::OnCtxSynchronize(Call&) { return cuCtxSynchronize(); }

CUresult Session::OnCtxGetStreamPriorityRange(Call& call) {
  int least = 0, greatest = 0;
  CUresult result = cuCtxGetStreamPriorityRange(&least, &greatest);
  call.outs = {static_cast<uint64_t>(static_cast<int64_t>(least)),
               static_cast<uint64_t>(static_cast<int64_t>(greatest))};
  return result;
}

void Session::ForgetObjectsOf(uint64_t ctx) {
  for (auto it = owner_.begin(); it != owner_.end();) {
    if (it->second != ctx) {
      ++it;
      continue;
    }
    streams_.erase(it->first);
    events_.erase(it->first);
    modules_.erase(it->first);
    execs_.erase(it->first);
    functions_.erase(it->first);
    param_offsets_.erase(it->first);
    function_module_.erase(it->first);
    it = owner_.erase(it);
  }
  for (auto it = memory_ctx_.begin(); it != memory_ctx_.end();) {
    if (it->second != ctx) {
      ++it;
      continue;
    }
    memory_.erase(it->first);
    it = memory_ctx_.erase(it);
  }
}

}  // namespace vxpu::remote
