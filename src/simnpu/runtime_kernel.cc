// Kernel binaries and launches. A binary is a text module declaring ".entry NAME" (simgpu's
// format, simgpu/kernels.h); the entries simnpu knows run as built-ins that really compute on
// device memory and take their device time, time-sliced with the device's other processes.
// The arguments of a launch are the kernel's parameters packed as the built-in lays them out.
// rtKernelLaunch takes a function handle as its stub (simnpu has no stub registration).
// An AI core walks its share of the elements, so a launch covers all of them whatever its
// block dimension.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "simnpu/runtime.h"

using namespace simnpu;

extern "C" {

rtError_t rtBinaryLoad(const void* data, size_t size, rtBinHandle* out) {
  if (data == nullptr || size == 0 || out == nullptr) return ACL_ERROR_RT_PARAM_INVALID;
  std::string_view image(static_cast<const char*>(data), size);
  auto binary = std::make_unique<Binary>();
  binary->entries = simgpu::ModuleEntries(image);
  if (binary->entries.empty()) return ACL_ERROR_RT_PARAM_INVALID;
  Runtime& r = TheRuntime();
  std::lock_guard<std::mutex> lock(r.mu);
  NPU_TRY(InitLocked());
  *out = binary.get();
  r.binaries.insert(binary.release());
  return ACL_SUCCESS;
}

rtError_t rtBinaryGetFunction(rtBinHandle handle, const char* name, rtFuncHandle* out) {
  if (name == nullptr || out == nullptr) return ACL_ERROR_RT_PARAM_INVALID;
  Runtime& r = TheRuntime();
  std::lock_guard<std::mutex> lock(r.mu);
  auto* binary = static_cast<Binary*>(handle);
  if (r.binaries.count(binary) == 0) return ACL_ERROR_RT_PARAM_INVALID;
  bool declared = false;
  for (const std::string& entry : binary->entries) declared = declared || entry == name;
  if (!declared) return ACL_ERROR_RT_PARAM_INVALID;
  const simgpu::BuiltinKernel* kernel = simgpu::FindBuiltinKernel(name);
  if (kernel == nullptr) {
    std::fprintf(stderr, "simnpu: kernel %s is not one simnpu can run\n", name);  // never silently
    return ACL_ERROR_RT_FEATURE_NOT_SUPPORT;
  }
  auto function = std::make_unique<Function>(Function{binary, kernel});
  *out = function.get();
  r.functions.insert(function.get());
  binary->functions.push_back(std::move(function));
  return ACL_SUCCESS;
}

rtError_t rtBinaryUnload(rtBinHandle handle) {
  Runtime& r = TheRuntime();
  std::lock_guard<std::mutex> lock(r.mu);
  auto* binary = static_cast<Binary*>(handle);
  if (r.binaries.erase(binary) == 0) return ACL_ERROR_RT_PARAM_INVALID;
  for (auto& f : binary->functions) r.functions.erase(f.get());
  delete binary;
  return ACL_SUCCESS;
}

rtError_t rtLaunchKernelByFuncHandle(rtFuncHandle handle, uint32_t block_dim, const void* args, size_t args_size,
                                     rtStream_t stream_handle) {
  Runtime& r = TheRuntime();
  std::lock_guard<std::mutex> lock(r.mu);
  auto* function = static_cast<Function*>(handle);
  if (r.functions.count(function) == 0 || block_dim == 0) return ACL_ERROR_RT_PARAM_INVALID;
  const simgpu::BuiltinKernel* kernel = function->kernel;
  uint32_t size = 0;
  simgpu::ParamOffsets(*kernel, &size);
  if (args == nullptr || args_size != size) return ACL_ERROR_RT_PARAM_INVALID;
  Stream* stream = nullptr;
  NPU_TRY(StreamLocked(stream_handle, &stream));
  std::vector<uint8_t> params(static_cast<const uint8_t*>(args), static_cast<const uint8_t*>(args) + args_size);
  constexpr uint64_t kAllElements = UINT64_MAX;
  uint64_t device_ns = kernel->device_ns(params.data(), kAllElements);
  EnqueueLocked(stream, device_ns, [kernel, params] {
    auto check = [](uint64_t addr, uint64_t bytes) {
      std::lock_guard<std::mutex> guard(TheRuntime().mu);
      return AccessibleLocked(addr, bytes);
    };
    return kernel->run(params.data(), kAllElements, check) ? 0 : ACL_ERROR_RT_INTERNAL_ERROR;
  });
  return ACL_SUCCESS;
}

rtError_t rtKernelLaunch(const void* stub, uint32_t block_dim, void* args, uint32_t args_size, rtSmDesc_t*,
                         rtStream_t stream) {
  return rtLaunchKernelByFuncHandle(const_cast<void*>(stub), block_dim, args, args_size, stream);
}

}  // extern "C"
