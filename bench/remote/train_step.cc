// train_step: a training-step-like driver-API workload for the remote benchmark
// (docs/benchmarks.md, bench/remote/run.sh). Runs the same locally and through the remote client.
//
//   vxpu-bench-train-step [--steps N] [--kernels K] [--kernel-us U] [--batch-kib B] [--result-kib R]
//   vxpu-bench-train-step --bandwidth-mib M
//   vxpu-bench-train-step --tcp-baseline-mib M
//
// A step: a batch copied in (async, from pinned memory), K short kernels, a small result copied
// out, one stream synchronisation. Prints one JSON line: steps per second and, on the remote
// client, the synchronous round trips and the socket writes (messages) per step. With
// --bandwidth-mib, host-to-device and device-to-host copy bandwidth of M MiB (best of 5);
// with --tcp-baseline-mib, raw TCP over loopback for the same amount (the link's ceiling).
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "samples/sample_util.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int steps = 200;
  int kernels = 200;
  unsigned kernel_us = 25;
  size_t batch_kib = 1024;
  size_t result_kib = 4;
  size_t bandwidth_mib = 0;
  size_t tcp_mib = 0;
};

[[noreturn]] void Usage(const std::string& problem) {
  std::fprintf(stderr, "vxpu-bench-train-step: %s\n", problem.c_str());
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
    else if (flag == "--bandwidth-mib")
      o.bandwidth_mib = static_cast<size_t>(value);
    else if (flag == "--tcp-baseline-mib")
      o.tcp_mib = static_cast<size_t>(value);
    else
      Usage("unknown option " + flag);
  }
  return o;
}

double Seconds(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

// The remote client's counters (writes to the socket, calls that waited), when it is the driver.
bool RemoteStats(unsigned long long* writes, unsigned long long* round_trips) {
  using Stats = void (*)(unsigned long long*, unsigned long long*);
  auto stats = reinterpret_cast<Stats>(dlsym(RTLD_DEFAULT, "vxpu_remote_stats"));
  if (stats == nullptr) return false;
  stats(writes, round_trips);
  return true;
}

int TrainSteps(const Options& o) {
  CUdevice dev = 0;
  SampleOpenDevice(0, &dev);
  CUmodule module = nullptr;
  CUfunction spin = nullptr;
  SAMPLE_CHECK(cuModuleLoadData(&module, kSimKernelsPtx));
  SAMPLE_CHECK(cuModuleGetFunction(&spin, module, "vxpu_spin_ns"));
  CUstream stream = nullptr;
  SAMPLE_CHECK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  void *batch = nullptr, *result = nullptr;
  SAMPLE_CHECK(cuMemAllocHost(&batch, o.batch_kib << 10));
  SAMPLE_CHECK(cuMemAllocHost(&result, o.result_kib << 10));
  std::memset(batch, 1, o.batch_kib << 10);
  CUdeviceptr input = 0, output = 0;
  SAMPLE_CHECK(cuMemAlloc(&input, o.batch_kib << 10));
  SAMPLE_CHECK(cuMemAlloc(&output, o.result_kib << 10));
  unsigned long long ns = o.kernel_us * 1000ull;
  void* params[] = {&ns};
  auto step = [&] {
    SAMPLE_CHECK(cuMemcpyHtoDAsync(input, batch, o.batch_kib << 10, stream));
    for (int k = 0; k < o.kernels; ++k)
      SAMPLE_CHECK(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, stream, params, nullptr));
    SAMPLE_CHECK(cuMemcpyDtoHAsync(result, output, o.result_kib << 10, stream));
    SAMPLE_CHECK(cuStreamSynchronize(stream));
  };
  for (int i = 0; i < 5; ++i) step();  // warm up
  unsigned long long writes0 = 0, trips0 = 0, writes1 = 0, trips1 = 0;
  bool remote = RemoteStats(&writes0, &trips0);
  auto start = Clock::now();
  for (int i = 0; i < o.steps; ++i) step();
  double seconds = Seconds(start);
  RemoteStats(&writes1, &trips1);
  std::printf("{\"steps\":%d,\"kernels_per_step\":%d,\"kernel_us\":%u,\"steps_per_second\":%.2f,\"step_ms\":%.3f",
              o.steps, o.kernels, o.kernel_us, o.steps / seconds, 1000.0 * seconds / o.steps);
  if (remote)
    std::printf(",\"round_trips_per_step\":%.2f,\"messages_per_step\":%.2f",
                static_cast<double>(trips1 - trips0) / o.steps, static_cast<double>(writes1 - writes0) / o.steps);
  std::printf("}\n");
  return 0;
}

int Bandwidth(size_t mib) {
  CUdevice dev = 0;
  SampleOpenDevice(0, &dev);
  size_t bytes = mib << 20;
  std::vector<char> host(bytes, 7);
  CUdeviceptr device = 0;
  SAMPLE_CHECK(cuMemAlloc(&device, bytes));
  double best_in = 1e9, best_out = 1e9;
  for (int i = 0; i < 5; ++i) {
    auto start = Clock::now();
    SAMPLE_CHECK(cuMemcpyHtoD(device, host.data(), bytes));
    best_in = std::min(best_in, Seconds(start));
    start = Clock::now();
    SAMPLE_CHECK(cuMemcpyDtoH(host.data(), device, bytes));
    best_out = std::min(best_out, Seconds(start));
  }
  std::printf("{\"mib\":%zu,\"htod_gbps\":%.3f,\"dtoh_gbps\":%.3f}\n", mib, static_cast<double>(bytes) / best_in / 1e9,
              static_cast<double>(bytes) / best_out / 1e9);
  return 0;
}

// The link's ceiling: the same bytes through one loopback TCP connection (kept, as a session
// keeps its own), sender to receiver, best of 5.
int TcpBaseline(size_t mib) {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(listener, 1) != 0) Usage("cannot listen");
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  int out = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(out, reinterpret_cast<sockaddr*>(&addr), len) != 0) Usage("cannot connect");
  int in = accept(listener, nullptr, nullptr);
  int one = 1;
  setsockopt(out, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  size_t bytes = mib << 20;
  std::vector<char> send_buffer(bytes, 7), receive_buffer(bytes, 0);
  double best = 1e9;
  for (int i = 0; i < 5; ++i) {
    auto start = Clock::now();
    std::thread receiver([&] {
      for (size_t got = 0; got < bytes;) {
        ssize_t n = recv(in, receive_buffer.data() + got, bytes - got, 0);
        if (n <= 0) break;
        got += static_cast<size_t>(n);
      }
    });
    for (size_t sent = 0; sent < bytes;) {
      ssize_t n = send(out, send_buffer.data() + sent, bytes - sent, 0);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    receiver.join();
    best = std::min(best, Seconds(start));
  }
  close(out);
  close(in);
  std::printf("{\"mib\":%zu,\"tcp_gbps\":%.3f}\n", mib, static_cast<double>(bytes) / best / 1e9);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = Parse(argc, argv);
  if (o.tcp_mib > 0) return TcpBaseline(o.tcp_mib);
  if (o.bandwidth_mib > 0) return Bandwidth(o.bandwidth_mib);
  return TrainSteps(o);
}
