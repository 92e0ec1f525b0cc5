// Several host threads, built with --default-stream per-thread: each fills and adds on its own
// default stream, and checks its own result.
//   prints "per_thread (runtime): OK, T threads"
#include <cstring>
#include <thread>
#include <vector>

#include "rt_check.h"

int Work(int index) {
  const unsigned long long n = 1 << 18;
  uint32_t *x = nullptr, *y = nullptr;
  float* sum = nullptr;
  RT_CHECK(cudaMalloc(&x, n * 4));
  RT_CHECK(cudaMalloc(&y, n * 4));
  RT_CHECK(cudaMalloc(&sum, n * 4));
  float value = static_cast<float>(index);
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  vxpu_fill_u32<<<BlocksFor(n), kThreads>>>(x, bits, n);  // the per-thread default stream
  vxpu_fill_u32<<<BlocksFor(n), kThreads>>>(y, bits, n);
  vxpu_vector_add_f32<<<BlocksFor(n), kThreads>>>(reinterpret_cast<float*>(x), reinterpret_cast<float*>(y), sum, n);
  std::vector<float> host(n);
  RT_CHECK(cudaMemcpyAsync(host.data(), sum, n * 4, cudaMemcpyDeviceToHost, cudaStreamPerThread));
  RT_CHECK(cudaStreamSynchronize(cudaStreamPerThread));
  for (unsigned long long i = 0; i < n; ++i) {
    if (host[i] != 2.0f * value) {
      std::fprintf(stderr, "per_thread (runtime): thread %d wrong at %llu: %f\n", index, i, host[i]);
      return 1;
    }
  }
  RT_CHECK(cudaFree(x));
  RT_CHECK(cudaFree(y));
  RT_CHECK(cudaFree(sum));
  return 0;
}

int main() {
  const int kThreadsOnHost = 8;
  std::vector<int> results(kThreadsOnHost, -1);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreadsOnHost; ++i) threads.emplace_back([i, &results] { results[i] = Work(i + 1); });
  for (std::thread& t : threads) t.join();
  for (int r : results) {
    if (r != 0) return 1;
  }
  std::printf("per_thread (runtime): OK, %d threads\n", kThreadsOnHost);
  return 0;
}
