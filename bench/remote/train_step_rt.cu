// train_step_rt: the remote benchmark's training step written against the CUDA runtime API, as
// a framework issues it (docs/benchmarks.md, bench/remote/run.sh): a batch copied in from pinned
// memory, K short kernels, a small result copied out, one stream synchronisation. nvcc-built
// (cudart shared); runs the same locally and through the remote client.
//   vxpu-bench-train-step-rt [--steps N] [--kernels K] [--kernel-us U] [--batch-kib B] [--result-kib R]
// Prints one JSON line as vxpu-bench-train-step does.
#include <dlfcn.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>

#include "samples/runtime/rt_check.h"

namespace {

struct Options {
  int steps = 200;
  int kernels = 200;
  unsigned kernel_us = 25;
  size_t batch_kib = 1024;
  size_t result_kib = 4;
};

[[noreturn]] void Usage(const std::string& problem) {
  std::fprintf(stderr, "vxpu-bench-train-step-rt: %s\n", problem.c_str());
  std::exit(2);
}

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc) Usage("missing value for " + flag);
    char* end = nullptr;
    long value = std::strtol(argv[++i], &end, 10);
    if (*end != '\0' || value <= 0) Usage(flag + ": bad value \"" + argv[i] + "\"");
    if (flag == "--steps")
      o.steps = static_cast<int>(value);
    else if (flag == "--kernels")
      o.kernels = static_cast<int>(value);
    else if (flag == "--kernel-us")
      o.kernel_us = static_cast<unsigned>(value);
    else if (flag == "--batch-kib")
      o.batch_kib = static_cast<size_t>(value);
    else if (flag == "--result-kib")
      o.result_kib = static_cast<size_t>(value);
    else
      Usage("unknown option " + flag);
  }
  return o;
}

// The remote client's counters, when it is the driver cudart loaded (it loads it privately).
bool RemoteStats(unsigned long long* writes, unsigned long long* round_trips) {
  void* driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
  using Stats = void (*)(unsigned long long*, unsigned long long*);
  auto stats = driver != nullptr ? reinterpret_cast<Stats>(dlsym(driver, "vxpu_remote_stats")) : nullptr;
  if (stats == nullptr) return false;
  stats(writes, round_trips);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = Parse(argc, argv);
  cudaStream_t stream;
  RT_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  void *batch = nullptr, *result = nullptr, *input = nullptr, *output = nullptr;
  RT_CHECK(cudaMallocHost(&batch, o.batch_kib << 10));
  RT_CHECK(cudaMallocHost(&result, o.result_kib << 10));
  std::memset(batch, 1, o.batch_kib << 10);
  RT_CHECK(cudaMalloc(&input, o.batch_kib << 10));
  RT_CHECK(cudaMalloc(&output, o.result_kib << 10));
  uint64_t ns = o.kernel_us * 1000ull;
  auto step = [&]() -> cudaError_t {
    cudaError_t e = cudaMemcpyAsync(input, batch, o.batch_kib << 10, cudaMemcpyHostToDevice, stream);
    for (int k = 0; k < o.kernels && e == cudaSuccess; ++k) {
      vxpu_spin_ns<<<1, 1, 0, stream>>>(ns);
      e = cudaGetLastError();
    }
    if (e == cudaSuccess) e = cudaMemcpyAsync(result, output, o.result_kib << 10, cudaMemcpyDeviceToHost, stream);
    return e == cudaSuccess ? cudaStreamSynchronize(stream) : e;
  };
  for (int i = 0; i < 5; ++i) RT_CHECK(step());  // warm up
  unsigned long long writes0 = 0, trips0 = 0, writes1 = 0, trips1 = 0;
  bool remote = RemoteStats(&writes0, &trips0);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < o.steps; ++i) RT_CHECK(step());
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  RemoteStats(&writes1, &trips1);
  std::printf("{\"steps\":%d,\"kernels_per_step\":%d,\"kernel_us\":%u,\"steps_per_second\":%.2f,\"step_ms\":%.3f",
              o.steps, o.kernels, o.kernel_us, o.steps / seconds, 1000.0 * seconds / o.steps);
  if (remote)
    std::printf(",\"round_trips_per_step\":%.2f,\"messages_per_step\":%.2f",
                static_cast<double>(trips1 - trips0) / o.steps, static_cast<double>(writes1 - writes0) / o.steps);
  std::printf("}\n");
  return 0;
}
