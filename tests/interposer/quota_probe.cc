// quota_probe: allocates through one driver path until refused, as a workload would, and
// reports what happened as one JSON line. Run under libvxpu.so by the interposer tests.
//
//   quota_probe PATH MIB [COUNT] [--hold SECONDS]
// PATH: alloc managed pitch async pool vmm array mipmap procaddr procaddr-ptsz dlsym ptsz
// Allocates up to COUNT (default 8) blocks of MIB MiB, stops at the first failure, optionally
// holds them, frees them all, then tries one block again.
//
//   quota_probe pool-cache MIB [COUNT]
// Fills a pool that keeps freed memory (release threshold: all), frees it all, then tries
// cuMemAlloc of one block while the pool holds the memory and again after trimming it.
#include <cuda.h>
#include <dlfcn.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "common/nvml_abi.h"

// The per-thread variants, as a program built with CUDA_API_PER_THREAD_DEFAULT_STREAM links
// them (weak: simgpu exports none; under the interposer they are libvxpu's).
extern "C" {
__attribute__((weak)) CUresult CUDAAPI cuMemAllocAsync_ptsz(CUdeviceptr* dptr, size_t bytes, CUstream stream);
__attribute__((weak)) CUresult CUDAAPI cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream stream);
}

namespace {

// NVML's view of device 0 (total, used), through dlopen + dlsym as monitoring tools do.
bool NvmlMemory(unsigned long long* total, unsigned long long* used) {
  void* nvml = dlopen("libnvidia-ml.so.1", RTLD_NOW);
  if (nvml == nullptr) return false;
  auto init = reinterpret_cast<decltype(&nvmlInit_v2)>(dlsym(nvml, "nvmlInit_v2"));
  auto handle =
      reinterpret_cast<decltype(&nvmlDeviceGetHandleByIndex_v2)>(dlsym(nvml, "nvmlDeviceGetHandleByIndex_v2"));
  auto info = reinterpret_cast<decltype(&nvmlDeviceGetMemoryInfo)>(dlsym(nvml, "nvmlDeviceGetMemoryInfo"));
  nvmlDevice_t device = nullptr;
  nvmlMemory_t memory{};
  if (init == nullptr || handle == nullptr || info == nullptr || init() != NVML_SUCCESS ||
      handle(0, &device) != NVML_SUCCESS || info(device, &memory) != NVML_SUCCESS)
    return false;
  *total = memory.total;
  *used = memory.used;
  return true;
}

using Block = std::function<CUresult()>;  // frees one allocation

struct Probe {
  std::string path;
  size_t bytes;
  CUstream stream = nullptr;
  CUmemoryPool pool = nullptr;
};

CUresult AllocLinear(CUresult (*alloc)(CUdeviceptr*, size_t), size_t bytes, Block* free_block) {
  CUdeviceptr p = 0;
  CUresult r = alloc(&p, bytes);
  if (r == CUDA_SUCCESS) *free_block = [p] { return cuMemFree(p); };
  return r;
}

template <typename Fn>
Fn DriverSymbol(const char* name) {
  void* driver = dlopen("libcuda.so.1", RTLD_NOW);
  return driver != nullptr ? reinterpret_cast<Fn>(dlsym(driver, name)) : nullptr;
}

template <typename Fn>
Fn ProcAddress(const char* name, cuuint64_t flags) {
  void* fn = nullptr;
  CUdriverProcAddressQueryResult status;
  return cuGetProcAddress(name, &fn, 12000, flags, &status) == CUDA_SUCCESS ? reinterpret_cast<Fn>(fn) : nullptr;
}

// A one-channel float array descriptor (2D or 3D) of about `bytes`, 1024 floats wide.
template <typename Descriptor>
Descriptor FloatPlane(size_t bytes) {
  Descriptor desc = {};
  desc.Width = 1024;
  desc.Height = bytes / 4096;
  desc.Format = CU_AD_FORMAT_FLOAT;
  desc.NumChannels = 1;
  return desc;
}

CUresult AllocOne(Probe& p, Block* free_block) {
  const size_t bytes = p.bytes;
  if (p.path == "alloc") return AllocLinear(&cuMemAlloc, bytes, free_block);
  if (p.path == "dlsym") return AllocLinear(DriverSymbol<decltype(&cuMemAlloc)>("cuMemAlloc_v2"), bytes, free_block);
  if (p.path == "procaddr")
    return AllocLinear(ProcAddress<decltype(&cuMemAlloc)>("cuMemAlloc", CU_GET_PROC_ADDRESS_DEFAULT), bytes,
                       free_block);
  if (p.path == "managed") {
    CUdeviceptr d = 0;
    CUresult r = cuMemAllocManaged(&d, bytes, CU_MEM_ATTACH_GLOBAL);
    if (r == CUDA_SUCCESS) *free_block = [d] { return cuMemFree(d); };
    return r;
  }
  if (p.path == "pitch") {
    CUdeviceptr d = 0;
    size_t pitch = 0;
    CUresult r = cuMemAllocPitch(&d, &pitch, 4096, bytes / 4096, 4);
    if (r == CUDA_SUCCESS) *free_block = [d] { return cuMemFree(d); };
    return r;
  }
  if (p.path == "async" || p.path == "procaddr-ptsz" || p.path == "ptsz") {
    auto alloc = &cuMemAllocAsync;
    auto release = &cuMemFreeAsync;
    if (p.path == "procaddr-ptsz") {
      alloc = ProcAddress<decltype(&cuMemAllocAsync)>("cuMemAllocAsync", CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM);
      release = ProcAddress<decltype(&cuMemFreeAsync)>("cuMemFreeAsync", CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM);
    } else if (p.path == "ptsz") {
      alloc = cuMemAllocAsync_ptsz;
      release = cuMemFreeAsync_ptsz;
    }
    if (alloc == nullptr || release == nullptr) return CUDA_ERROR_NOT_FOUND;
    CUdeviceptr d = 0;
    CUresult r = alloc(&d, bytes, p.stream);
    CUstream s = p.stream;
    if (r == CUDA_SUCCESS) *free_block = [d, s, release] { return release(d, s); };
    return r;
  }
  if (p.path == "pool") {
    CUdeviceptr d = 0;
    CUresult r = cuMemAllocFromPoolAsync(&d, bytes, p.pool, p.stream);
    CUstream s = p.stream;
    if (r == CUDA_SUCCESS) *free_block = [d, s] { return cuMemFreeAsync(d, s); };
    return r;
  }
  if (p.path == "vmm") {
    CUmemAllocationProp prop = {};
    prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
    prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    prop.location.id = 0;
    CUmemGenericAllocationHandle h = 0;
    CUresult r = cuMemCreate(&h, bytes, &prop, 0);
    if (r == CUDA_SUCCESS) *free_block = [h] { return cuMemRelease(h); };
    return r;
  }
  if (p.path == "array") {
    auto desc = FloatPlane<CUDA_ARRAY_DESCRIPTOR>(bytes);
    CUarray a = nullptr;
    CUresult r = cuArrayCreate(&a, &desc);
    if (r == CUDA_SUCCESS) *free_block = [a] { return cuArrayDestroy(a); };
    return r;
  }
  if (p.path == "mipmap") {
    auto desc = FloatPlane<CUDA_ARRAY3D_DESCRIPTOR>(bytes);
    CUmipmappedArray a = nullptr;
    CUresult r = cuMipmappedArrayCreate(&a, &desc, 1);
    if (r == CUDA_SUCCESS) *free_block = [a] { return cuMipmappedArrayDestroy(a); };
    return r;
  }
  std::fprintf(stderr, "quota_probe: unknown path %s\n", p.path.c_str());
  std::exit(2);
}

// The pool-cache experiment (see the top of the file); prints its JSON line.
int ProbePoolCache(Probe& p, int count) {
  cuuint64_t keep_everything = UINT64_MAX;
  cuMemPoolSetAttribute(p.pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &keep_everything);
  std::vector<CUdeviceptr> blocks;
  for (int i = 0; i < count; ++i) {
    CUdeviceptr d = 0;
    if (cuMemAllocFromPoolAsync(&d, p.bytes, p.pool, p.stream) != CUDA_SUCCESS) break;
    blocks.push_back(d);
  }
  for (CUdeviceptr d : blocks) cuMemFreeAsync(d, p.stream);
  cuStreamSynchronize(p.stream);
  CUdeviceptr d = 0;
  CUresult while_cached = cuMemAlloc(&d, p.bytes);
  if (while_cached == CUDA_SUCCESS) cuMemFree(d);
  CUresult trim = cuMemPoolTrimTo(p.pool, 0);
  CUresult after_trim = cuMemAlloc(&d, p.bytes);
  std::printf("{\"path\":\"pool-cache\",\"succeeded\":%zu,\"while_cached\":%d,\"trim\":%d,\"after_trim\":%d}\n",
              blocks.size(), static_cast<int>(while_cached), static_cast<int>(trim), static_cast<int>(after_trim));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: quota_probe PATH MIB [COUNT] [--hold SECONDS]\n");
    return 2;
  }
  Probe p{argv[1], std::strtoull(argv[2], nullptr, 10) << 20};
  int count = argc > 3 && argv[3][0] != '-' ? std::atoi(argv[3]) : 8;
  double hold = 0;
  for (int i = 3; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--hold") hold = std::atof(argv[i + 1]);
  }
  CUdevice device;
  CUcontext ctx;
  if (cuInit(0) != CUDA_SUCCESS || cuDeviceGet(&device, 0) != CUDA_SUCCESS ||
      cuDevicePrimaryCtxRetain(&ctx, device) != CUDA_SUCCESS || cuCtxSetCurrent(ctx) != CUDA_SUCCESS)
    return 3;
  cuStreamCreate(&p.stream, CU_STREAM_NON_BLOCKING);
  CUmemPoolProps props = {};
  props.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
  props.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  cuMemPoolCreate(&p.pool, &props);

  if (p.path == "pool-cache") return ProbePoolCache(p, count);

  size_t free_bytes = 0, total_bytes = 0, device_total = 0;
  cuMemGetInfo(&free_bytes, &total_bytes);
  cuDeviceTotalMem(&device_total, device);
  std::vector<Block> blocks;
  CUresult refused = CUDA_SUCCESS;
  for (int i = 0; i < count; ++i) {
    Block free_block;
    refused = AllocOne(p, &free_block);
    if (refused != CUDA_SUCCESS) break;
    blocks.push_back(free_block);
  }
  size_t free_when_full = 0, total_when_full = 0;
  cuMemGetInfo(&free_when_full, &total_when_full);
  unsigned long long nvml_total = 0, nvml_used = 0;
  NvmlMemory(&nvml_total, &nvml_used);
  if (hold > 0) {
    std::printf("{\"holding\":%zu}\n", blocks.size());
    std::fflush(stdout);
    usleep(static_cast<useconds_t>(hold * 1e6));
  }
  for (Block& b : blocks) b();
  cuStreamSynchronize(p.stream);
  Block again;
  CUresult after_free = AllocOne(p, &again);
  std::printf(
      "{\"path\":\"%s\",\"succeeded\":%zu,\"refused\":%d,\"after_free\":%d,\"total\":%zu,\"free\":%zu,"
      "\"device_total\":%zu,\"free_when_full\":%zu,\"nvml_total\":%llu,\"nvml_used_when_full\":%llu}\n",
      p.path.c_str(), blocks.size(), static_cast<int>(refused), static_cast<int>(after_free), total_bytes, free_bytes,
      device_total, free_when_full, nvml_total, nvml_used);
  return 0;
}
