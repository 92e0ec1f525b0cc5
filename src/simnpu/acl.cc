// simnpu's AscendCL (libascendcl.so): the ACL subset of ../shared/ascend-facts.md, standing on the
// runtime layer (libruntime.so) as CANN's does. Every call that reaches the device goes through an
// rt* function, by dynamic linking, so whatever stands in front of the runtime (vxpu's
// interposer) sees it, however the program found ACL.
#include <atomic>
#include <fstream>
#include <iterator>
#include <string>

#include "common/ascend_api.h"

namespace {

std::atomic<bool> g_initialized{false};

aclError MallocOnDevice(void** ptr, size_t size, aclrtMemMallocPolicy policy, size_t align) {
  const int bits = static_cast<int>(policy);
  if ((bits & 0xff) > ACL_MEM_MALLOC_HUGE1G_ONLY_P2P ||
      (bits & ~(0xff | ACL_MEM_TYPE_LOW_BAND_WIDTH | ACL_MEM_TYPE_HIGH_BAND_WIDTH)) != 0)
    return ACL_ERROR_INVALID_PARAM;
  if (size == 0 || size > SIZE_MAX - align) return ACL_ERROR_INVALID_PARAM;
  return rtMalloc(ptr, (size + align - 1) / align * align, RT_MEMORY_HBM, 0);
}

}  // namespace

extern "C" {

aclError aclInit(const char*) {
  if (g_initialized.exchange(true)) return ACL_ERROR_REPEAT_INITIALIZE;
  return ACL_SUCCESS;
}

aclError aclFinalize(void) {
  if (!g_initialized.exchange(false)) return ACL_ERROR_UNINITIALIZE;
  return ACL_SUCCESS;
}

aclError aclrtSetDevice(int32_t device) { return rtSetDevice(device); }
aclError aclrtResetDevice(int32_t device) { return rtDeviceReset(device); }
aclError aclrtGetDevice(int32_t* device) { return rtGetDevice(device); }

aclError aclrtGetDeviceCount(uint32_t* count) {
  if (count == nullptr) return ACL_ERROR_INVALID_PARAM;
  int32_t n = 0;
  aclError result = rtGetDeviceCount(&n);
  if (result == ACL_SUCCESS) *count = static_cast<uint32_t>(n);
  return result;
}

aclError aclrtCreateContext(aclrtContext* ctx, int32_t device) { return rtCtxCreate(ctx, 0, device); }
aclError aclrtDestroyContext(aclrtContext ctx) { return rtCtxDestroy(ctx); }
aclError aclrtSetCurrentContext(aclrtContext ctx) { return rtCtxSetCurrent(ctx); }
aclError aclrtCreateStream(aclrtStream* stream) { return rtStreamCreate(stream, 0); }
aclError aclrtDestroyStream(aclrtStream stream) { return rtStreamDestroy(stream); }
aclError aclrtSynchronizeStream(aclrtStream stream) { return rtStreamSynchronize(stream); }
aclError aclrtSynchronizeDevice(void) { return rtDeviceSynchronize(); }

aclError aclrtMalloc(void** ptr, size_t size, aclrtMemMallocPolicy policy) {
  return MallocOnDevice(ptr, size, policy, 1);
}

aclError aclrtMallocAlign32(void** ptr, size_t size, aclrtMemMallocPolicy policy) {
  return MallocOnDevice(ptr, size, policy, 32);
}

aclError aclrtFree(void* ptr) { return rtFree(ptr); }
aclError aclrtMallocHost(void** ptr, size_t size) { return rtMallocHost(ptr, size, 0); }
aclError aclrtFreeHost(void* ptr) { return rtFreeHost(ptr); }

aclError aclrtMemcpy(void* dst, size_t dest_max, const void* src, size_t count, aclrtMemcpyKind kind) {
  return rtMemcpy(dst, dest_max, src, count, kind);
}

aclError aclrtMemcpyAsync(void* dst, size_t dest_max, const void* src, size_t count, aclrtMemcpyKind kind,
                          aclrtStream stream) {
  return rtMemcpyAsync(dst, dest_max, src, count, kind, stream);
}

aclError aclrtMemset(void* ptr, size_t max_count, int32_t value, size_t count) {
  return rtMemset(ptr, max_count, static_cast<uint32_t>(value), count);
}

aclError aclrtGetMemInfo(aclrtMemAttr attr, size_t* free_bytes, size_t* total_bytes) {
  return rtMemGetInfoEx(attr, free_bytes, total_bytes);
}

aclError aclrtMallocPhysical(aclrtDrvMemHandle* handle, size_t size, const aclrtPhysicalMemProp* prop, uint64_t flags) {
  return rtMallocPhysical(handle, size, prop, flags);
}

aclError aclrtFreePhysical(aclrtDrvMemHandle handle) { return rtFreePhysical(handle); }

aclError aclrtReserveMemAddress(void** virt, size_t size, size_t alignment, void* expect, uint64_t flags) {
  return rtReserveMemAddress(virt, size, alignment, expect, flags);
}

aclError aclrtReleaseMemAddress(void* virt) { return rtReleaseMemAddress(virt); }

aclError aclrtMapMem(void* virt, size_t size, size_t offset, aclrtDrvMemHandle handle, uint64_t flags) {
  return rtMapMem(virt, size, offset, handle, flags);
}

aclError aclrtUnmapMem(void* virt) { return rtUnmapMem(virt); }

aclError aclrtMemGetAllocationGranularity(aclrtPhysicalMemProp* prop, int, size_t* granularity) {
  if (prop == nullptr || granularity == nullptr) return ACL_ERROR_INVALID_PARAM;
  *granularity = 2u << 20;
  return ACL_SUCCESS;
}

aclError aclrtCreateEvent(aclrtEvent* event) { return rtEventCreate(event); }
aclError aclrtDestroyEvent(aclrtEvent event) { return rtEventDestroy(event); }
aclError aclrtRecordEvent(aclrtEvent event, aclrtStream stream) { return rtEventRecord(event, stream); }
aclError aclrtSynchronizeEvent(aclrtEvent event) { return rtEventSynchronize(event); }
aclError aclrtEventElapsedTime(float* ms, aclrtEvent start, aclrtEvent end) {
  return rtEventElapsedTime(ms, start, end);
}

aclError aclrtBinaryLoadFromFile(const char* path, void*, aclrtBinHandle* binary) {
  if (path == nullptr || binary == nullptr) return ACL_ERROR_INVALID_PARAM;
  std::ifstream in(path, std::ios::binary);
  if (!in) return ACL_ERROR_INVALID_PARAM;
  std::string image((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return rtBinaryLoad(image.data(), image.size(), binary);
}

aclError aclrtBinaryGetFunction(aclrtBinHandle binary, const char* name, aclrtFuncHandle* function) {
  return rtBinaryGetFunction(binary, name, function);
}

aclError aclrtBinaryUnLoad(aclrtBinHandle binary) { return rtBinaryUnload(binary); }

aclError aclrtLaunchKernel(aclrtFuncHandle function, uint32_t block_dim, const void* args, size_t args_size,
                           aclrtStream stream) {
  return rtLaunchKernelByFuncHandle(function, block_dim, args, args_size, stream);
}

}  // extern "C"
