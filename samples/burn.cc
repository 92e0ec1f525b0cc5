// burn: a workload that keeps one device busy with back-to-back kernels, the way a training
// job does, and reports what it got. Used by `vxpu demo`, the tests and the benchmarks.
//
//   burn [--seconds S] [--kernel-us K] [--memory MiB] [--device N]
//
// Prints one JSON line on exit: kernels completed, device time they represent and wall time.
// Runs unchanged on a real GPU (spin kernels on %globaltimer) and on simgpu.
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>

#include "sample_util.h"

namespace {

struct Options {
  double seconds = 2.0;
  unsigned kernel_us = 1000;
  unsigned long long memory_mib = 0;
  int device = 0;
};

[[noreturn]] void Usage(const char* problem) {
  std::fprintf(stderr, "burn: %s\nusage: burn [--seconds S] [--kernel-us K] [--memory MiB] [--device N]\n", problem);
  std::exit(2);
}

double ParsePositive(const char* flag, const char* text) {
  char* end = nullptr;
  double v = std::strtod(text, &end);
  if (end == text || *end != '\0' || !(v > 0)) Usage((std::string("bad value for ") + flag + ": " + text).c_str());
  return v;
}

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc) Usage(("missing value after " + flag).c_str());
    const char* value = argv[++i];
    if (flag == "--seconds") {
      o.seconds = ParsePositive("--seconds", value);
    } else if (flag == "--kernel-us") {
      o.kernel_us = static_cast<unsigned>(ParsePositive("--kernel-us", value));
    } else if (flag == "--memory") {
      o.memory_mib = static_cast<unsigned long long>(ParsePositive("--memory", value));
    } else if (flag == "--device") {
      char* end = nullptr;
      long ordinal = std::strtol(value, &end, 10);
      if (end == value || *end != '\0' || ordinal < 0 || ordinal > 1024)
        Usage((std::string("bad value for --device: ") + value).c_str());
      o.device = static_cast<int>(ordinal);
    } else {
      Usage(("unknown flag " + flag).c_str());
    }
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = Parse(argc, argv);
  CUdevice device;
  SampleOpenDevice(o.device, &device);
  CUdeviceptr buffer = 0;
  if (o.memory_mib > 0) {
    SAMPLE_CHECK(cuMemAlloc(&buffer, o.memory_mib << 20));  // held, not touched: a model's weights
  }
  CUmodule module;
  CUfunction spin;
  SAMPLE_CHECK(cuModuleLoadData(&module, kSimKernelsPtx));
  SAMPLE_CHECK(cuModuleGetFunction(&spin, module, "vxpu_spin_ns"));
  CUstream stream;
  SAMPLE_CHECK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  CUevent done[2];
  SAMPLE_CHECK(cuEventCreate(&done[0], CU_EVENT_DISABLE_TIMING));
  SAMPLE_CHECK(cuEventCreate(&done[1], CU_EVENT_DISABLE_TIMING));

  // Keep two batches in flight so the device never idles while the host waits.
  constexpr int kBatch = 4;
  unsigned long long ns = uint64_t{o.kernel_us} * 1000;
  void* params[] = {&ns};
  unsigned long long kernels = 0;
  auto start = std::chrono::steady_clock::now();
  auto deadline = start + std::chrono::duration<double>(o.seconds);
  for (int batch = 0; std::chrono::steady_clock::now() < deadline; ++batch) {
    for (int k = 0; k < kBatch; ++k) SAMPLE_CHECK(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, stream, params, nullptr));
    SAMPLE_CHECK(cuEventRecord(done[batch % 2], stream));
    if (batch > 0) SAMPLE_CHECK(cuEventSynchronize(done[(batch + 1) % 2]));
    kernels += kBatch;
  }
  SAMPLE_CHECK(cuStreamSynchronize(stream));
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("{\"pid\":%d,\"kernels\":%llu,\"kernel_us\":%u,\"device_seconds\":%.6f,\"wall_seconds\":%.6f}\n",
              static_cast<int>(getpid()), kernels, o.kernel_us, static_cast<double>(kernels) * o.kernel_us / 1e6, wall);
  if (buffer != 0) SAMPLE_CHECK(cuMemFree(buffer));
  SAMPLE_CHECK(cuStreamDestroy(stream));
  SAMPLE_CHECK(cuDevicePrimaryCtxRelease(device));
  return 0;
}
