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

#include "bench/remote/train_step_common.h"
#include "samples/sample_util.h"

namespace {

using Clock = std::chrono::steady_clock;

using trainstep::Options;

[[noreturn]] void Usage(const std::string& problem) { trainstep::Usage("vxpu-bench-train-step", problem); }

double Seconds(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

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
  return trainstep::TimeSteps(o, [&] {
    step();
    return true;
  });
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
  Options o = trainstep::Parse(argc, argv, "vxpu-bench-train-step", /*copies_too=*/true);
  if (o.tcp_mib > 0) return TcpBaseline(o.tcp_mib);
  if (o.bandwidth_mib > 0) return Bandwidth(o.bandwidth_mib);
  return TrainSteps(o);
}
