// burn: a workload that keeps one device busy with back-to-back kernels, the way a training
// job does, and reports what it got. Used by `vxpu demo`, the tests and the benchmarks.
//
//   burn [--seconds S] [--kernel-us K] [--memory MiB] [--device N] [--gap-ms G] [--linger L]
//        [--threads T] [--stream own|per-thread] [--api kernel|ex|cooperative|graph]
//
// Prints one JSON line on exit: kernels completed, device time they represent and wall time.
// With --gap-ms it behaves like a latency-sensitive service instead: one kernel at a time, G
// ms apart, and reports how long each took from launch to completion (p50, p90). With --linger
// it stays alive L seconds after its work, idle, like a job between epochs. With --threads, T
// threads launch at once, each into a stream of its own (or its per-thread default stream);
// --api picks the launch call (graph: a batch of kernels captured once into a CUDA graph, then
// launched with cuGraphLaunch).
// Runs unchanged on a real GPU (spin kernels on %globaltimer) and on simgpu.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "sample_util.h"

namespace {

struct Options {
  double seconds = 2.0;
  unsigned kernel_us = 1000;
  unsigned long long memory_mib = 0;
  int device = 0;
  double gap_ms = 0;
  double linger_seconds = 0;
  unsigned threads = 1;
  bool per_thread_stream = false;  // launch into CU_STREAM_PER_THREAD instead of a stream of its own
  std::string api = "kernel";      // cuLaunchKernel, or "ex" (cuLaunchKernelEx), "cooperative", "graph"
};

constexpr int kBatch = 4;  // kernels launched between two waits (one graph launch with --api graph)

constexpr char kUsage[] =
    "usage: burn [--seconds S] [--kernel-us K] [--memory MiB] [--device N] [--gap-ms G] [--linger L] [--threads T] "
    "[--stream own|per-thread] [--api kernel|ex|cooperative|graph]\n"
    "Keeps a device busy with back-to-back kernels (default 2 s of 1000 us kernels) and prints one JSON line: "
    "kernels completed, device time and wall time.\n";

[[noreturn]] void Usage(const char* problem) {
  std::fprintf(stderr, "burn: %s\n%s", problem, kUsage);
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
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) Usage(("missing value after " + flag).c_str());
    const char* value = argv[++i];
    if (flag == "--seconds") {
      o.seconds = ParsePositive("--seconds", value);
    } else if (flag == "--kernel-us") {
      o.kernel_us = static_cast<unsigned>(ParsePositive("--kernel-us", value));
    } else if (flag == "--gap-ms") {
      o.gap_ms = ParsePositive("--gap-ms", value);
    } else if (flag == "--linger") {
      o.linger_seconds = ParsePositive("--linger", value);
    } else if (flag == "--threads") {
      o.threads = static_cast<unsigned>(ParsePositive("--threads", value));
      if (o.threads > 64) Usage("bad value for --threads: at most 64");
    } else if (flag == "--stream") {
      if (std::strcmp(value, "own") != 0 && std::strcmp(value, "per-thread") != 0)
        Usage((std::string("bad value for --stream: ") + value + " (want own or per-thread)").c_str());
      o.per_thread_stream = std::strcmp(value, "per-thread") == 0;
    } else if (flag == "--api") {
      o.api = value;
      if (o.api != "kernel" && o.api != "ex" && o.api != "cooperative" && o.api != "graph")
        Usage(("bad value for --api: " + o.api + " (want kernel, ex, cooperative or graph)").c_str());
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

// One kernel at a time, `gap_ms` apart; prints the launch-to-completion latencies.
void ServeSporadically(const Options& o, CUfunction spin, CUstream stream) {
  unsigned long long ns = uint64_t{o.kernel_us} * 1000;
  void* params[] = {&ns};
  std::vector<double> latencies_ms;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(o.seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    auto start = std::chrono::steady_clock::now();
    SAMPLE_CHECK(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, stream, params, nullptr));
    SAMPLE_CHECK(cuStreamSynchronize(stream));
    latencies_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    usleep(static_cast<useconds_t>(o.gap_ms * 1000));
  }
  std::sort(latencies_ms.begin(), latencies_ms.end());
  auto at = [&](double q) {
    return latencies_ms[static_cast<size_t>(q * static_cast<double>(latencies_ms.size() - 1))];
  };
  std::printf("{\"pid\":%d,\"kernels\":%zu,\"latency_p50_ms\":%.3f,\"latency_p90_ms\":%.3f}\n",
              static_cast<int>(getpid()), latencies_ms.size(), at(0.5), at(0.9));
}

// One launch of `spin` (one thread, one block) through the call --api names.
CUresult Launch(const Options& o, CUfunction spin, CUstream stream, void** params) {
  if (o.api == "cooperative") return cuLaunchCooperativeKernel(spin, 1, 1, 1, 1, 1, 1, 0, stream, params);
  if (o.api == "ex") {
    CUlaunchConfig config{};
    config.gridDimX = config.gridDimY = config.gridDimZ = 1;
    config.blockDimX = config.blockDimY = config.blockDimZ = 1;
    config.hStream = stream;
    return cuLaunchKernelEx(&config, spin, params, nullptr);
  }
  return cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, stream, params, nullptr);
}

// A batch of `spin` launches captured into a graph (it runs only when the graph is launched).
CUgraph CaptureBatch(const Options& o, CUfunction spin) {
  CUstream stream;
  SAMPLE_CHECK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  unsigned long long ns = uint64_t{o.kernel_us} * 1000;
  void* params[] = {&ns};
  SAMPLE_CHECK(cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_GLOBAL));
  for (int k = 0; k < kBatch; ++k) SAMPLE_CHECK(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, stream, params, nullptr));
  CUgraph graph;
  SAMPLE_CHECK(cuStreamEndCapture(stream, &graph));
  SAMPLE_CHECK(cuStreamDestroy(stream));
  return graph;
}

// Keeps the device busy from one thread until `deadline`, two batches in flight so the device
// never idles while the host waits; returns the kernels it completed. A batch is kBatch launches,
// or one launch of `graph` (kBatch kernels) when there is one.
unsigned long long SaturateUntil(const Options& o, CUcontext ctx, CUfunction spin, CUgraph graph,
                                 std::chrono::steady_clock::time_point deadline) {
  SAMPLE_CHECK(cuCtxSetCurrent(ctx));
  CUstream stream = CU_STREAM_PER_THREAD;
  if (!o.per_thread_stream) SAMPLE_CHECK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  CUevent done[2];
  SAMPLE_CHECK(cuEventCreate(&done[0], CU_EVENT_DISABLE_TIMING));
  SAMPLE_CHECK(cuEventCreate(&done[1], CU_EVENT_DISABLE_TIMING));
  CUgraphExec exec = nullptr;
  if (graph != nullptr) SAMPLE_CHECK(cuGraphInstantiate(&exec, graph, 0));
  unsigned long long ns = uint64_t{o.kernel_us} * 1000;
  void* params[] = {&ns};
  unsigned long long kernels = 0;
  for (int batch = 0; std::chrono::steady_clock::now() < deadline; ++batch) {
    if (exec != nullptr) {
      SAMPLE_CHECK(cuGraphLaunch(exec, stream));
    } else {
      for (int k = 0; k < kBatch; ++k) SAMPLE_CHECK(Launch(o, spin, stream, params));
    }
    SAMPLE_CHECK(cuEventRecord(done[batch % 2], stream));
    if (batch > 0) SAMPLE_CHECK(cuEventSynchronize(done[(batch + 1) % 2]));
    kernels += kBatch;
  }
  SAMPLE_CHECK(cuStreamSynchronize(stream));
  if (exec != nullptr) SAMPLE_CHECK(cuGraphExecDestroy(exec));
  for (CUevent e : done) SAMPLE_CHECK(cuEventDestroy(e));
  if (!o.per_thread_stream) SAMPLE_CHECK(cuStreamDestroy(stream));
  return kernels;
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
  if (o.gap_ms > 0) {
    CUstream stream;
    SAMPLE_CHECK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
    ServeSporadically(o, spin, stream);
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::duration<double>(o.linger_seconds));
    SAMPLE_CHECK(cuStreamDestroy(stream));
    return 0;
  }
  CUcontext ctx = nullptr;
  SAMPLE_CHECK(cuCtxGetCurrent(&ctx));
  CUgraph batch = o.api == "graph" ? CaptureBatch(o, spin) : nullptr;
  auto start = std::chrono::steady_clock::now();
  auto deadline =
      start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(o.seconds));
  std::vector<unsigned long long> kernels_of(o.threads, 0);
  std::vector<std::thread> launchers;
  for (unsigned t = 1; t < o.threads; ++t)
    launchers.emplace_back([&, t] { kernels_of[t] = SaturateUntil(o, ctx, spin, batch, deadline); });
  kernels_of[0] = SaturateUntil(o, ctx, spin, batch, deadline);
  for (std::thread& launcher : launchers) launcher.join();
  unsigned long long kernels = 0;
  for (unsigned long long k : kernels_of) kernels += k;
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("{\"pid\":%d,\"kernels\":%llu,\"kernel_us\":%u,\"device_seconds\":%.6f,\"wall_seconds\":%.6f}\n",
              static_cast<int>(getpid()), kernels, o.kernel_us, static_cast<double>(kernels) * o.kernel_us / 1e6, wall);
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::duration<double>(o.linger_seconds));
  if (batch != nullptr) SAMPLE_CHECK(cuGraphDestroy(batch));
  if (buffer != 0) SAMPLE_CHECK(cuMemFree(buffer));
  SAMPLE_CHECK(cuDevicePrimaryCtxRelease(device));
  return 0;
}
