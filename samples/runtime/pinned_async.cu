// Pinned host memory and asynchronous copies: host buffers from cudaMallocHost and cudaHostAlloc,
// copied in and out on a stream around a kernel, checked after one synchronize.
//   prints "pinned_async (runtime): OK, N elements"
#include "rt_check.h"

int main() {
  const unsigned long long n = 1 << 20;
  float *a = nullptr, *b = nullptr, *c = nullptr;
  RT_CHECK(cudaMallocHost(&a, n * 4));
  RT_CHECK(cudaHostAlloc(&b, n * 4, cudaHostAllocDefault));
  RT_CHECK(cudaHostAlloc(&c, n * 4, cudaHostAllocPortable));
  for (unsigned long long i = 0; i < n; ++i) {
    a[i] = static_cast<float>(i);
    b[i] = 1.0f;
    c[i] = -1.0f;
  }
  float *da = nullptr, *db = nullptr, *dc = nullptr;
  RT_CHECK(cudaMalloc(&da, n * 4));
  RT_CHECK(cudaMalloc(&db, n * 4));
  RT_CHECK(cudaMalloc(&dc, n * 4));
  cudaStream_t stream;
  RT_CHECK(cudaStreamCreate(&stream));
  RT_CHECK(cudaMemcpyAsync(da, a, n * 4, cudaMemcpyHostToDevice, stream));
  RT_CHECK(cudaMemcpyAsync(db, b, n * 4, cudaMemcpyHostToDevice, stream));
  vxpu_vector_add_f32<<<BlocksFor(n), kThreads, 0, stream>>>(da, db, dc, n);
  RT_CHECK(cudaMemcpyAsync(c, dc, n * 4, cudaMemcpyDeviceToHost, stream));
  RT_CHECK(cudaStreamSynchronize(stream));
  for (unsigned long long i = 0; i < n; ++i) {
    if (c[i] != static_cast<float>(i) + 1.0f) {
      std::fprintf(stderr, "pinned_async (runtime): wrong at %llu: %f\n", i, c[i]);
      return 1;
    }
  }
  RT_CHECK(cudaFreeHost(a));
  RT_CHECK(cudaFreeHost(b));
  RT_CHECK(cudaFreeHost(c));
  std::printf("pinned_async (runtime): OK, %llu elements\n", n);
  return 0;
}
