// A saturating burner on the runtime API, for compute shares: back-to-back spin kernels of K us
// for S seconds, a few in flight at a time; one JSON line, as vxpu-burn prints it.
//   vxpu-rt-burn [--seconds S] [--kernel-us K]
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "rt_check.h"

int main(int argc, char** argv) {
  double seconds = 2;
  unsigned long long kernel_us = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--seconds") == 0)
      seconds = std::atof(argv[i + 1]);
    else if (std::strcmp(argv[i], "--kernel-us") == 0)
      kernel_us = std::strtoull(argv[i + 1], nullptr, 10);
    else {
      std::fprintf(stderr, "usage: vxpu-rt-burn [--seconds S] [--kernel-us K]\n");
      return 2;
    }
  }
  if (seconds <= 0 || seconds > 3600 || kernel_us == 0 || kernel_us > 1000000) {
    std::fprintf(stderr, "vxpu-rt-burn: want 0 < seconds <= 3600 and 1 <= kernel-us <= 1000000\n");
    return 2;
  }
  cudaStream_t stream;
  RT_CHECK(cudaStreamCreate(&stream));
  auto start = std::chrono::steady_clock::now();
  unsigned long long kernels = 0;
  const int kBatch = 4;
  while (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < seconds) {
    for (int i = 0; i < kBatch; ++i) vxpu_spin_ns<<<1, 1, 0, stream>>>(kernel_us * 1000);
    RT_CHECK(cudaGetLastError());
    RT_CHECK(cudaStreamSynchronize(stream));
    kernels += kBatch;
  }
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("{\"kernels\":%llu,\"kernel_us\":%llu,\"device_seconds\":%f,\"wall_seconds\":%f}\n", kernels, kernel_us,
              kernels * kernel_us / 1e6, wall);
  return 0;
}
