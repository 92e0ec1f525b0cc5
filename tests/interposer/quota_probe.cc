// quota_probe: allocates through one driver path until refused, as a workload would, and
// reports what happened as one JSON line. Run under libvxpu.so by the interposer tests.
//
//   quota_probe PATH MIB [COUNT] [--hold SECONDS] [--device N]
// PATH: alloc managed pitch async pool vmm array mipmap procaddr procaddr-ptsz dlsym ptsz
// Allocates up to COUNT (default 8) blocks of MIB MiB, stops at the first refusal, optionally
// holds them, frees them all, then tries one block again. For `pool` it also reports what the
// pool holds when full (reserved and used bytes, as the driver says).
//
//   quota_probe pool-cache MIB [COUNT]
// Fills a pool that keeps freed memory (release threshold: all), frees it all, then tries
// cuMemAlloc of one block while the pool holds the memory and again after trimming it.
//
//   quota_probe pool-destroy MIB [COUNT]
// Allocates COUNT blocks from a pool, destroys the pool while they are in use, frees them,
// and reports the slice's free memory after each step and whether one block fits again.
//
//   quota_probe old-version MIB
// Asks cuGetProcAddress for cuDeviceTotalMem as CUDA 2.0 knew it (32-bit sizes; the interposer
// polices it from CUDA 3.2 on).
//
//   quota_probe launch-hooks MIB
// Reports which library answers cuLaunchKernel and cuMemAlloc through cuGetProcAddress and
// dlsym (the file names, from dladdr).
//
// Exit status: 0 when the report is complete; 1 when a call that should not fail did (each
// is listed in "failures" and on stderr); 2 on bad usage. A refusal of the probed allocation
// is an outcome, not a failure.
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

std::vector<std::string> g_failures;

// Records a call that should have succeeded and did not.
void Fail(const std::string& what) {
  std::fprintf(stderr, "quota_probe: %s\n", what.c_str());
  g_failures.push_back(what);
}

// `result` of `what`, which must succeed.
CUresult Must(CUresult result, const char* what) {
  if (result != CUDA_SUCCESS) Fail(std::string(what) + " returned " + std::to_string(static_cast<int>(result)));
  return result;
}

// "[\"a\",\"b\"]" (the failures never contain quotes or backslashes).
std::string JsonList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (const std::string& item : items) out += (out.size() > 1 ? ",\"" : "\"") + item + "\"";
  return out + "]";
}

// Prints the report's JSON line (fields already formatted) with the failures, and returns
// the exit status.
int Report(const std::string& fields) {
  std::printf("{%s,\"failures\":%s}\n", fields.c_str(), JsonList(g_failures).c_str());
  return g_failures.empty() ? 0 : 1;
}

// One JSON field: a number (CUresult codes included) or a string.
template <typename Number>
std::string Field(const char* name, Number value) {
  return std::string("\"") + name + "\":" + std::to_string(value);
}
std::string Field(const char* name, const std::string& text) {
  return std::string("\"") + name + "\":\"" + text + "\"";
}

struct NvmlView {
  unsigned long long total = 0, used = 0;        // nvmlDeviceGetMemoryInfo
  unsigned long long total_v2 = 0, used_v2 = 0;  // nvmlDeviceGetMemoryInfo_v2
};

// NVML's view of device `index`, through dlopen + dlsym as monitoring tools do.
NvmlView Nvml(unsigned index) {
  NvmlView view;
  void* nvml = dlopen("libnvidia-ml.so.1", RTLD_NOW);
  if (nvml == nullptr) {
    Fail("dlopen libnvidia-ml.so.1");
    return view;
  }
  auto init = reinterpret_cast<decltype(&nvmlInit_v2)>(dlsym(nvml, "nvmlInit_v2"));
  auto handle =
      reinterpret_cast<decltype(&nvmlDeviceGetHandleByIndex_v2)>(dlsym(nvml, "nvmlDeviceGetHandleByIndex_v2"));
  auto info = reinterpret_cast<decltype(&nvmlDeviceGetMemoryInfo)>(dlsym(nvml, "nvmlDeviceGetMemoryInfo"));
  auto info_v2 = reinterpret_cast<decltype(&nvmlDeviceGetMemoryInfo_v2)>(dlsym(nvml, "nvmlDeviceGetMemoryInfo_v2"));
  nvmlDevice_t device = nullptr;
  nvmlMemory_t memory{};
  nvmlMemory_v2_t memory_v2{};
  memory_v2.version = static_cast<unsigned>(sizeof(nvmlMemory_v2_t)) | (2u << 24);  // nvmlMemory_v2
  if (init == nullptr || handle == nullptr || info == nullptr || info_v2 == nullptr || init() != NVML_SUCCESS ||
      handle(index, &device) != NVML_SUCCESS || info(device, &memory) != NVML_SUCCESS ||
      info_v2(device, &memory_v2) != NVML_SUCCESS) {
    Fail("NVML memory query");
    return view;
  }
  view = NvmlView{memory.total, memory.used, memory_v2.total, memory_v2.used};
  return view;
}

struct MemInfo {
  size_t free = 0, total = 0;
};

MemInfo MemoryInfo() {
  MemInfo m;
  Must(cuMemGetInfo(&m.free, &m.total), "cuMemGetInfo");
  return m;
}

using Block = std::function<CUresult()>;  // frees one allocation

struct Probe {
  std::string path;
  size_t bytes;
  int device_index = 0;
  CUdevice device = 0;
  CUstream stream = nullptr;
  CUmemoryPool pool = nullptr;
};

CUresult AllocLinear(CUresult (*alloc)(CUdeviceptr*, size_t), size_t bytes, Block* free_block) {
  if (alloc == nullptr) return CUDA_ERROR_NOT_FOUND;
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

CUresult AllocStreamOrdered(Probe& p, Block* free_block) {
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
  CUresult r = alloc(&d, p.bytes, p.stream);
  CUstream s = p.stream;
  if (r == CUDA_SUCCESS) *free_block = [d, s, release] { return release(d, s); };
  return r;
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
  if (p.path == "async" || p.path == "procaddr-ptsz" || p.path == "ptsz") return AllocStreamOrdered(p, free_block);
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
    prop.location.id = p.device;
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

uint64_t PoolAttribute(CUmemoryPool pool, CUmemPool_attribute attribute) {
  cuuint64_t value = 0;
  Must(cuMemPoolGetAttribute(pool, attribute, &value), "cuMemPoolGetAttribute");
  return value;
}

// Allocates up to `count` blocks of the probe's size from its pool; the addresses.
std::vector<CUdeviceptr> FillPool(Probe& p, int count) {
  std::vector<CUdeviceptr> blocks;
  for (int i = 0; i < count; ++i) {
    CUdeviceptr d = 0;
    if (cuMemAllocFromPoolAsync(&d, p.bytes, p.pool, p.stream) != CUDA_SUCCESS) break;
    blocks.push_back(d);
  }
  return blocks;
}

void FreeAll(Probe& p, const std::vector<CUdeviceptr>& blocks) {
  for (CUdeviceptr d : blocks) Must(cuMemFreeAsync(d, p.stream), "cuMemFreeAsync");
  Must(cuStreamSynchronize(p.stream), "cuStreamSynchronize");
}

// The pool-cache experiment (see the top of the file).
int ProbePoolCache(Probe& p, int count) {
  cuuint64_t keep_everything = UINT64_MAX;
  Must(cuMemPoolSetAttribute(p.pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &keep_everything), "cuMemPoolSetAttribute");
  std::vector<CUdeviceptr> blocks = FillPool(p, count);
  FreeAll(p, blocks);
  CUdeviceptr d = 0;
  CUresult while_cached = cuMemAlloc(&d, p.bytes);
  if (while_cached == CUDA_SUCCESS) Must(cuMemFree(d), "cuMemFree");
  CUresult trim = cuMemPoolTrimTo(p.pool, 0);
  CUresult after_trim = cuMemAlloc(&d, p.bytes);
  if (after_trim == CUDA_SUCCESS) Must(cuMemFree(d), "cuMemFree");
  return Report(Field("path", p.path) + "," + Field("succeeded", blocks.size()) + "," +
                Field("while_cached", while_cached) + "," + Field("trim", trim) + "," +
                Field("after_trim", after_trim));
}

// The pool-destroy experiment (see the top of the file).
int ProbePoolDestroy(Probe& p, int count) {
  std::vector<CUdeviceptr> blocks = FillPool(p, count);
  size_t free_in_use = MemoryInfo().free;
  Must(cuMemPoolDestroy(p.pool), "cuMemPoolDestroy");
  size_t free_destroyed = MemoryInfo().free;
  FreeAll(p, blocks);
  size_t free_after_free = MemoryInfo().free;
  CUdeviceptr d = 0;
  CUresult again = cuMemAlloc(&d, p.bytes);
  if (again == CUDA_SUCCESS) Must(cuMemFree(d), "cuMemFree");
  return Report(Field("path", p.path) + "," + Field("succeeded", blocks.size()) + "," +
                Field("free_in_use", free_in_use) + "," + Field("free_destroyed", free_destroyed) + "," +
                Field("free_after_free", free_after_free) + "," + Field("again", again));
}

int ProbeOldVersion(Probe& p) {
  void* fn = nullptr;
  CUdriverProcAddressQueryResult status = CU_GET_PROC_ADDRESS_SUCCESS;
  CUresult r = cuGetProcAddress("cuDeviceTotalMem", &fn, 2000, CU_GET_PROC_ADDRESS_DEFAULT, &status);
  return Report(Field("path", p.path) + "," + Field("result", r) + "," + Field("status", static_cast<int>(status)) +
                "," + Field("found", fn != nullptr ? 1 : 0));
}

// The file of the library that defines `fn` ("" if none).
std::string LibraryOf(void* fn) {
  Dl_info info{};
  if (fn == nullptr || dladdr(fn, &info) == 0 || info.dli_fname == nullptr) return "";
  std::string file = info.dli_fname;
  return file.substr(file.find_last_of('/') + 1);
}

int ProbeLaunchHooks(Probe& p) {
  std::string fields = Field("path", p.path);
  for (const char* name : {"cuLaunchKernel", "cuMemAlloc"}) {
    void* fn = nullptr;
    CUdriverProcAddressQueryResult status;
    Must(cuGetProcAddress(name, &fn, 12000, CU_GET_PROC_ADDRESS_DEFAULT, &status), "cuGetProcAddress");
    fields += "," + Field((std::string(name) + "_procaddr").c_str(), LibraryOf(fn));
  }
  void* driver = dlopen("libcuda.so.1", RTLD_NOW);
  for (const char* symbol : {"cuLaunchKernel", "cuMemAlloc_v2"}) {
    void* fn = driver != nullptr ? dlsym(driver, symbol) : nullptr;
    fields += "," + Field((std::string(symbol) + "_dlsym").c_str(), LibraryOf(fn));
  }
  return Report(fields);
}

// The common experiment: fill through p.path, hold, free, allocate again.
int ProbeFill(Probe& p, int count, double hold) {
  MemInfo before = MemoryInfo();
  size_t device_total = 0;
  Must(cuDeviceTotalMem(&device_total, p.device), "cuDeviceTotalMem");
  std::vector<Block> blocks;
  CUresult refused = CUDA_SUCCESS;
  for (int i = 0; i < count; ++i) {
    Block free_block;
    refused = AllocOne(p, &free_block);
    if (refused != CUDA_SUCCESS) break;
    blocks.push_back(free_block);
  }
  MemInfo full = MemoryInfo();
  NvmlView nvml = Nvml(static_cast<unsigned>(p.device_index));
  uint64_t pool_reserved = p.path == "pool" ? PoolAttribute(p.pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT) : 0;
  uint64_t pool_used = p.path == "pool" ? PoolAttribute(p.pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT) : 0;
  if (hold > 0) {
    std::printf("{\"holding\":%zu}\n", blocks.size());
    std::fflush(stdout);
    usleep(static_cast<useconds_t>(hold * 1e6));
  }
  for (Block& b : blocks) Must(b(), "free");
  Must(cuStreamSynchronize(p.stream), "cuStreamSynchronize");
  Block again;
  CUresult after_free = AllocOne(p, &again);
  if (after_free == CUDA_SUCCESS) Must(again(), "free");
  int devices = 0;
  Must(cuDeviceGetCount(&devices), "cuDeviceGetCount");
  return Report(Field("path", p.path) + "," + Field("succeeded", blocks.size()) + "," + Field("refused", refused) +
                "," + Field("after_free", after_free) + "," + Field("total", before.total) + "," +
                Field("free", before.free) + "," + Field("device_total", device_total) + "," +
                Field("free_when_full", full.free) + "," + Field("nvml_total", nvml.total) + "," +
                Field("nvml_used_when_full", nvml.used) + "," + Field("nvml_v2_total", nvml.total_v2) + "," +
                Field("nvml_v2_used_when_full", nvml.used_v2) + "," + Field("pool_reserved_when_full", pool_reserved) +
                "," + Field("pool_used_when_full", pool_used) + "," + Field("devices", devices));
}

[[noreturn]] void Usage() {
  std::fprintf(stderr, "usage: quota_probe PATH MIB [COUNT] [--hold SECONDS] [--device N]\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) Usage();
  char* end = nullptr;
  unsigned long long mib = std::strtoull(argv[2], &end, 10);
  if (*end != '\0' || mib == 0) Usage();
  Probe p{argv[1], static_cast<size_t>(mib) << 20};
  int count = argc > 3 && argv[3][0] != '-' ? std::atoi(argv[3]) : 8;
  double hold = 0;
  for (int i = 3; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--hold") hold = std::atof(argv[i + 1]);
    if (std::string(argv[i]) == "--device") p.device_index = std::atoi(argv[i + 1]);
  }
  CUcontext ctx;
  if (Must(cuInit(0), "cuInit") != CUDA_SUCCESS ||
      Must(cuDeviceGet(&p.device, p.device_index), "cuDeviceGet") != CUDA_SUCCESS ||
      Must(cuDevicePrimaryCtxRetain(&ctx, p.device), "cuDevicePrimaryCtxRetain") != CUDA_SUCCESS ||
      Must(cuCtxSetCurrent(ctx), "cuCtxSetCurrent") != CUDA_SUCCESS)
    return Report(Field("path", p.path));
  Must(cuStreamCreate(&p.stream, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
  CUmemPoolProps props = {};
  props.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
  props.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  props.location.id = p.device;
  Must(cuMemPoolCreate(&p.pool, &props), "cuMemPoolCreate");

  if (p.path == "pool-cache") return ProbePoolCache(p, count);
  if (p.path == "pool-destroy") return ProbePoolDestroy(p, count);
  if (p.path == "old-version") return ProbeOldVersion(p);
  if (p.path == "launch-hooks") return ProbeLaunchHooks(p);
  return ProbeFill(p, count, hold);
}
