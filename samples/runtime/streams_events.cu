// Streams and events in order: a fill on one stream, an event, a second stream that waits for it
// and adds; the result is checked, and the event pair times the work between them.
//   prints "streams_events (runtime): OK, ... ms between the events"
#include <vector>

#include "rt_check.h"

int main() {
  const unsigned long long n = 1 << 20;
  uint32_t *ones = nullptr, *twos = nullptr;
  float* sum = nullptr;
  RT_CHECK(cudaMalloc(&ones, n * 4));
  RT_CHECK(cudaMalloc(&twos, n * 4));
  RT_CHECK(cudaMalloc(&sum, n * 4));
  cudaStream_t producer, consumer;
  RT_CHECK(cudaStreamCreateWithFlags(&producer, cudaStreamNonBlocking));
  RT_CHECK(cudaStreamCreateWithFlags(&consumer, cudaStreamNonBlocking));
  cudaEvent_t start, filled;
  RT_CHECK(cudaEventCreate(&start));
  RT_CHECK(cudaEventCreate(&filled));
  const uint32_t one = 0x3f800000, two = 0x40000000;  // 1.0f and 2.0f
  RT_CHECK(cudaEventRecord(start, producer));
  vxpu_spin_ns<<<1, 1, 0, producer>>>(2000000);  // the consumer must wait this out
  vxpu_fill_u32<<<BlocksFor(n), kThreads, 0, producer>>>(ones, one, n);
  vxpu_fill_u32<<<BlocksFor(n), kThreads, 0, producer>>>(twos, two, n);
  RT_CHECK(cudaEventRecord(filled, producer));
  RT_CHECK(cudaStreamWaitEvent(consumer, filled, 0));
  vxpu_vector_add_f32<<<BlocksFor(n), kThreads, 0, consumer>>>(reinterpret_cast<float*>(ones),
                                                               reinterpret_cast<float*>(twos), sum, n);
  RT_CHECK(cudaGetLastError());
  std::vector<float> host(n);
  RT_CHECK(cudaMemcpyAsync(host.data(), sum, n * 4, cudaMemcpyDeviceToHost, consumer));
  RT_CHECK(cudaStreamSynchronize(consumer));
  for (unsigned long long i = 0; i < n; ++i) {
    if (host[i] != 3.0f) {
      std::fprintf(stderr, "streams_events (runtime): element %llu is %f, not 3 (the add ran before the fill?)\n", i,
                   host[i]);
      return 1;
    }
  }
  float ms = 0;
  RT_CHECK(cudaEventElapsedTime(&ms, start, filled));
  if (ms < 2.0f) {
    std::fprintf(stderr, "streams_events (runtime): %.3f ms between the events, less than the 2 ms spin\n", ms);
    return 1;
  }
  RT_CHECK(cudaStreamDestroy(producer));
  RT_CHECK(cudaStreamDestroy(consumer));
  std::printf("streams_events (runtime): OK, %.3f ms between the events\n", ms);
  return 0;
}
