// launch_cost: what one kernel launch costs the thread that makes it, in nanoseconds: the
// minimum and the median over rounds of the mean over a batch of launches of an empty kernel.
// Run it bare and under libvxpu.so to get what the interposer adds (bench/launch_cost/run.sh).
//
//   vxpu-launch-cost [--batch N] [--rounds R]
//
// Prints one JSON line. Uses nothing but the CUDA driver API, so it builds on a bare GPU
// machine (VXPU_INTERPOSER_ONLY) and runs unchanged on simgpu.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "../../samples/sample_util.h"

namespace {

unsigned ParseCount(const char* flag, const char* text) {
  char* end = nullptr;
  unsigned long v = std::strtoul(text, &end, 10);
  if (end == text || *end != '\0' || v < 1 || v > 1000000) {
    std::fprintf(stderr, "launch_cost: bad value for %s: %s (want 1-1000000)\n", flag, text);
    std::exit(2);
  }
  return static_cast<unsigned>(v);
}

}  // namespace

int main(int argc, char** argv) {
  unsigned batch = 200, rounds = 500;
  for (int i = 1; i < argc; ++i) {
    if (i + 1 >= argc) {
      std::fprintf(stderr, "usage: vxpu-launch-cost [--batch N] [--rounds R]\n");
      return 2;
    }
    if (std::strcmp(argv[i], "--batch") == 0) {
      batch = ParseCount("--batch", argv[++i]);
    } else if (std::strcmp(argv[i], "--rounds") == 0) {
      rounds = ParseCount("--rounds", argv[++i]);
    } else {
      std::fprintf(stderr, "launch_cost: unknown flag %s\nusage: vxpu-launch-cost [--batch N] [--rounds R]\n", argv[i]);
      return 2;
    }
  }
  CUdevice device;
  SampleOpenDevice(0, &device);
  CUmodule module;
  CUfunction spin;
  SAMPLE_CHECK(cuModuleLoadData(&module, kSimKernelsPtx));
  SAMPLE_CHECK(cuModuleGetFunction(&spin, module, "vxpu_spin_ns"));
  CUstream stream;
  SAMPLE_CHECK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  unsigned long long zero_ns = 0, blocker_ns = 1000000;
  void* params[] = {&zero_ns};
  void* blocker_params[] = {&blocker_ns};
  std::vector<double> ns_per_launch;
  for (unsigned r = 0; r < rounds; ++r) {
    // The batch queues behind a 1 ms kernel, so the device side is quiet while it is timed.
    SAMPLE_CHECK(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, stream, blocker_params, nullptr));
    auto start = std::chrono::steady_clock::now();
    for (unsigned k = 0; k < batch; ++k)
      SAMPLE_CHECK(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, stream, params, nullptr));
    auto end = std::chrono::steady_clock::now();
    ns_per_launch.push_back(std::chrono::duration<double, std::nano>(end - start).count() / batch);
    SAMPLE_CHECK(cuStreamSynchronize(stream));  // keep the queue short: measure launches, not backpressure
  }
  std::sort(ns_per_launch.begin(), ns_per_launch.end());
  std::printf("{\"launches\":%u,\"ns_per_launch_min\":%.1f,\"ns_per_launch_median\":%.1f}\n", batch * rounds,
              ns_per_launch.front(), ns_per_launch[ns_per_launch.size() / 2]);
  SAMPLE_CHECK(cuStreamDestroy(stream));
  SAMPLE_CHECK(cuModuleUnload(module));
  SAMPLE_CHECK(cuDevicePrimaryCtxRelease(device));
  return 0;
}
