// vxpu-acl: an AscendCL program, as a user's would be, for the NPU tests and benchmarks. Built
// twice: vxpu-acl links libascendcl.so; vxpu-acl-dl links nothing of Ascend's and finds ACL (and,
// for `rt-malloc` and its `burn`'s launches, rtKernelLaunch, the runtime) through dlopen +
// dlsym(handle), as older torch_npu builds do.
//
//   vxpu-acl vector-add [N]               c = a + b on the NPU, checked on the host
//   vxpu-acl info                         the device as ACL and DCMI show it (one JSON line)
//   vxpu-acl fill ROUTE MIB COUNT         COUNT allocations of MIB by ROUTE (malloc, align32,
//                                         physical; rt-malloc in vxpu-acl-dl), then one freed
//                                         and asked for again; one JSON line with each code
//   vxpu-acl hold MIB                     allocates MIB, prints "ready", sleeps until killed
//   vxpu-acl burn SECONDS [KERNEL_US [HOLD_MIB [LINGER_S]]]
//                                         back-to-back spin kernels (holding HOLD_MIB of device
//                                         memory), then LINGER_S idle, still holding it; one JSON
//                                         line like vxpu-burn's
// Device: ACL's device 0 (ASCEND_RT_VISIBLE_DEVICES picks the chip). Exit 0 on success.
#include <dlfcn.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "common/ascend_api.h"

namespace {

const char kKernels[] = ".entry vxpu_spin_ns\n.entry vxpu_fill_u32\n.entry vxpu_vector_add_f32\n";

// The ACL and runtime calls the tool makes: linked, or looked up with dlsym(handle).
struct Api {
#define VXPU_ACL_CALLS(X)                                                                                 \
  X(aclInit)                                                                                              \
  X(aclFinalize)                                                                                          \
  X(aclrtSetDevice)                                                                                       \
  X(aclrtResetDevice) X(aclrtMalloc) X(aclrtMallocAlign32) X(aclrtFree) X(aclrtMemcpy) X(aclrtGetMemInfo) \
      X(aclrtMallocPhysical) X(aclrtFreePhysical) X(aclrtCreateStream) X(aclrtSynchronizeStream)          \
          X(aclrtBinaryLoadFromFile) X(aclrtBinaryGetFunction) X(aclrtLaunchKernel)
#define VXPU_DECLARE(name) decltype(&::name) name = nullptr;
  VXPU_ACL_CALLS(VXPU_DECLARE)
#undef VXPU_DECLARE
  decltype(&::rtMalloc) rt_malloc = nullptr;
  decltype(&::rtFree) rt_free = nullptr;
  decltype(&::rtKernelLaunch) rt_launch = nullptr;  // vxpu-acl-dl's burn launches through the runtime
};

Api g;

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "vxpu-acl: %s\n", why.c_str());
  std::exit(1);
}

void Check(aclError result, const char* what) {
  if (result != ACL_SUCCESS) Die(std::string(what) + " failed with " + std::to_string(result));
}

void LoadApi() {
#ifdef VXPU_ACL_DLOPEN
  void* acl = dlopen("libascendcl.so", RTLD_NOW | RTLD_LOCAL);
  void* rt = dlopen("libruntime.so", RTLD_NOW | RTLD_LOCAL);
  if (acl == nullptr || rt == nullptr) Die(std::string("dlopen: ") + dlerror());
#define VXPU_LOOKUP(name) g.name = reinterpret_cast<decltype(g.name)>(dlsym(acl, #name));
  VXPU_ACL_CALLS(VXPU_LOOKUP)
#undef VXPU_LOOKUP
  g.rt_malloc = reinterpret_cast<decltype(g.rt_malloc)>(dlsym(rt, "rtMalloc"));
  g.rt_free = reinterpret_cast<decltype(g.rt_free)>(dlsym(rt, "rtFree"));
  g.rt_launch = reinterpret_cast<decltype(g.rt_launch)>(dlsym(rt, "rtKernelLaunch"));
#else
#define VXPU_LINK(name) g.name = &::name;
  VXPU_ACL_CALLS(VXPU_LINK)
#undef VXPU_LINK
#endif
}

aclrtFuncHandle Kernel(const char* name) {
  char path[] = "/tmp/vxpu-acl-kernels-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0 || write(fd, kKernels, sizeof(kKernels) - 1) != static_cast<ssize_t>(sizeof(kKernels) - 1))
    Die("cannot write the kernel binary");
  close(fd);
  aclrtBinHandle binary = nullptr;
  aclError loaded = g.aclrtBinaryLoadFromFile(path, nullptr, &binary);
  unlink(path);
  Check(loaded, "aclrtBinaryLoadFromFile");
  aclrtFuncHandle function = nullptr;
  Check(g.aclrtBinaryGetFunction(binary, name, &function), "aclrtBinaryGetFunction");
  return function;
}

int VectorAdd(uint64_t n) {
  std::vector<float> a(n), b(n), c(n, 0.0f);
  for (uint64_t i = 0; i < n; ++i) {
    a[i] = static_cast<float>(i);
    b[i] = 2.0f * static_cast<float>(i);
  }
  size_t bytes = n * sizeof(float);
  void *da = nullptr, *db = nullptr, *dc = nullptr;
  Check(g.aclrtMalloc(&da, bytes, ACL_MEM_MALLOC_HUGE_FIRST), "aclrtMalloc");
  Check(g.aclrtMalloc(&db, bytes, ACL_MEM_MALLOC_HUGE_FIRST), "aclrtMalloc");
  Check(g.aclrtMalloc(&dc, bytes, ACL_MEM_MALLOC_HUGE_FIRST), "aclrtMalloc");
  Check(g.aclrtMemcpy(da, bytes, a.data(), bytes, ACL_MEMCPY_HOST_TO_DEVICE), "aclrtMemcpy");
  Check(g.aclrtMemcpy(db, bytes, b.data(), bytes, ACL_MEMCPY_HOST_TO_DEVICE), "aclrtMemcpy");
  aclrtStream stream = nullptr;
  Check(g.aclrtCreateStream(&stream), "aclrtCreateStream");
  struct {
    void* a;
    void* b;
    void* c;
    uint64_t n;
  } args{da, db, dc, n};
  Check(g.aclrtLaunchKernel(Kernel("vxpu_vector_add_f32"), 8, &args, sizeof(args), stream), "aclrtLaunchKernel");
  Check(g.aclrtSynchronizeStream(stream), "aclrtSynchronizeStream");
  Check(g.aclrtMemcpy(c.data(), bytes, dc, bytes, ACL_MEMCPY_DEVICE_TO_HOST), "aclrtMemcpy");
  for (uint64_t i = 0; i < n; ++i) {
    if (c[i] != 3.0f * static_cast<float>(i)) Die("wrong result at " + std::to_string(i));
  }
  for (void* p : {da, db, dc}) Check(g.aclrtFree(p), "aclrtFree");
  std::printf("vector-add: %llu elements correct\n", static_cast<unsigned long long>(n));
  return 0;
}

int Info() {
  size_t free_bytes = 0, total = 0;
  Check(g.aclrtGetMemInfo(ACL_HBM_MEM, &free_bytes, &total), "aclrtGetMemInfo");
  std::printf("{\"acl_total\":%zu,\"acl_free\":%zu", total, free_bytes);
  // DCMI, as npu-smi reads it: looked up at run time, so the tool runs where DCMI is absent.
  void* dcmi = dlopen("libdcmi.so", RTLD_NOW | RTLD_LOCAL);
  auto memory =
      dcmi ? reinterpret_cast<decltype(&dcmi_get_device_memory_info_v3)>(dlsym(dcmi, "dcmi_get_device_memory_info_v3"))
           : nullptr;
  auto hbm =
      dcmi ? reinterpret_cast<decltype(&dcmi_get_device_hbm_info)>(dlsym(dcmi, "dcmi_get_device_hbm_info")) : nullptr;
  dcmi_get_memory_info_stru m{};
  dcmi_hbm_info h{};
  if (memory != nullptr && memory(0, 0, &m) == DCMI_OK)
    std::printf(",\"dcmi_memory_mb\":%llu,\"dcmi_available_mb\":%llu", m.memory_size, m.memory_available);
  if (hbm != nullptr && hbm(0, 0, &h) == DCMI_OK)
    std::printf(",\"dcmi_hbm_mb\":%llu,\"dcmi_hbm_usage_mb\":%llu", h.memory_size, h.memory_usage);
  std::printf("}\n");
  return 0;
}

// One allocation of `bytes` by `route`; its code, and what frees it in *release.
aclError Allocate(const std::string& route, size_t bytes, std::vector<std::pair<std::string, void*>>* held) {
  void* p = nullptr;
  aclError result = ACL_ERROR_INVALID_PARAM;
  if (route == "malloc") {
    result = g.aclrtMalloc(&p, bytes, ACL_MEM_MALLOC_HUGE_FIRST);
  } else if (route == "align32") {
    result = g.aclrtMallocAlign32(&p, bytes, ACL_MEM_MALLOC_HUGE_FIRST);
  } else if (route == "physical") {
    aclrtPhysicalMemProp prop{};
    prop.memAttr = ACL_HBM_MEM_HUGE;
    prop.location.id = 0;
    prop.location.type = 1;
    result = g.aclrtMallocPhysical(&p, bytes, &prop, 0);
  } else if (route == "rt-malloc" && g.rt_malloc != nullptr) {
    result = g.rt_malloc(&p, bytes, RT_MEMORY_HBM, 0);
  } else {
    Die("unknown route " + route);
  }
  if (result == ACL_SUCCESS) held->emplace_back(route, p);
  return result;
}

void Release(const std::pair<std::string, void*>& allocation) {
  const auto& [route, p] = allocation;
  if (route == "physical") {
    Check(g.aclrtFreePhysical(p), "aclrtFreePhysical");
  } else if (route == "rt-malloc") {
    Check(g.rt_free(p), "rtFree");
  } else {
    Check(g.aclrtFree(p), "aclrtFree");
  }
}

int Fill(const std::string& route, uint64_t mib, int count) {
  std::vector<std::pair<std::string, void*>> held;
  std::printf("{\"codes\":[");
  for (int i = 0; i < count; ++i) std::printf("%s%d", i ? "," : "", Allocate(route, mib << 20, &held));
  int again = -1;
  if (!held.empty()) {
    Release(held.back());
    held.pop_back();
    again = Allocate(route, mib << 20, &held);
  }
  std::printf("],\"after_free\":%d}\n", again);
  for (const auto& allocation : held) Release(allocation);
  return 0;
}

int Hold(uint64_t mib) {
  void* p = nullptr;
  Check(g.aclrtMalloc(&p, mib << 20, ACL_MEM_MALLOC_HUGE_FIRST), "aclrtMalloc");
  std::printf("ready\n");
  std::fflush(stdout);
  for (;;) pause();
}

int Burn(double seconds, unsigned kernel_us, uint64_t hold_mib, double linger_seconds) {
  void* held = nullptr;
  if (hold_mib > 0) Check(g.aclrtMalloc(&held, hold_mib << 20, ACL_MEM_MALLOC_HUGE_FIRST), "aclrtMalloc");
  aclrtFuncHandle spin = Kernel("vxpu_spin_ns");
  aclrtStream stream = nullptr;
  Check(g.aclrtCreateStream(&stream), "aclrtCreateStream");
  uint64_t ns = static_cast<uint64_t>(kernel_us) * 1000;
  auto start = std::chrono::steady_clock::now();
  auto until = start + std::chrono::duration<double>(seconds);
  unsigned long long kernels = 0;
  while (std::chrono::steady_clock::now() < until) {
    for (int i = 0; i < 4; ++i) {
      if (g.rt_launch != nullptr) {
        Check(g.rt_launch(spin, 1, &ns, sizeof(ns), nullptr, stream), "rtKernelLaunch");
      } else {
        Check(g.aclrtLaunchKernel(spin, 1, &ns, sizeof(ns), stream), "aclrtLaunchKernel");
      }
    }
    Check(g.aclrtSynchronizeStream(stream), "aclrtSynchronizeStream");
    kernels += 4;
  }
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("{\"pid\":%d,\"kernels\":%llu,\"kernel_us\":%u,\"device_seconds\":%.6f,\"wall_seconds\":%.6f}\n",
              getpid(), kernels, kernel_us, static_cast<double>(kernels) * kernel_us / 1e6, wall);
  std::fflush(stdout);
  if (linger_seconds > 0) std::this_thread::sleep_for(std::chrono::duration<double>(linger_seconds));
  if (held != nullptr) Check(g.aclrtFree(held), "aclrtFree");
  return 0;
}

uint64_t Number(const char* text, const char* what) {
  char* end = nullptr;
  unsigned long long v = std::strtoull(text, &end, 10);
  if (end == text || *end != '\0') Die(std::string("bad ") + what + " \"" + text + "\"");
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) Die("usage: vxpu-acl vector-add|info|fill|hold|burn ... (see the source's header)");
  std::string mode = argv[1];
  LoadApi();
  Check(g.aclInit(nullptr), "aclInit");
  Check(g.aclrtSetDevice(0), "aclrtSetDevice");
  int status = 0;
  if (mode == "vector-add") {
    status = VectorAdd(argc > 2 ? Number(argv[2], "element count") : 1 << 20);
  } else if (mode == "info") {
    status = Info();
  } else if (mode == "fill" && argc == 5) {
    status = Fill(argv[2], Number(argv[3], "size"), static_cast<int>(Number(argv[4], "count")));
  } else if (mode == "hold" && argc == 3) {
    status = Hold(Number(argv[2], "size"));
  } else if (mode == "burn" && argc >= 3) {
    status = Burn(std::atof(argv[2]), argc > 3 ? static_cast<unsigned>(Number(argv[3], "kernel_us")) : 1000,
                  argc > 4 ? Number(argv[4], "hold size") : 0, argc > 5 ? std::atof(argv[5]) : 0);
  } else {
    Die("bad arguments for " + mode);
  }
  Check(g.aclrtResetDevice(0), "aclrtResetDevice");
  Check(g.aclFinalize(), "aclFinalize");
  return status;
}
