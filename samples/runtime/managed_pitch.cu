// cudaMallocManaged (written and read by the host around a kernel) and cudaMallocPitch (a pitch at
// least the row's width, the whole pitched block usable).
//   prints "managed_pitch (runtime): OK, pitch P for rows of W bytes"
#include "rt_check.h"

int main() {
  const unsigned long long n = 1 << 20;
  float *a = nullptr, *b = nullptr, *c = nullptr;
  RT_CHECK(cudaMallocManaged(&a, n * 4));
  RT_CHECK(cudaMallocManaged(&b, n * 4));
  RT_CHECK(cudaMallocManaged(&c, n * 4));
  for (unsigned long long i = 0; i < n; ++i) {
    a[i] = static_cast<float>(i);
    b[i] = 0.5f;
  }
  vxpu_vector_add_f32<<<BlocksFor(n), kThreads>>>(a, b, c, n);
  RT_CHECK(cudaDeviceSynchronize());
  for (unsigned long long i = 0; i < n; ++i) {
    if (c[i] != static_cast<float>(i) + 0.5f) {
      std::fprintf(stderr, "managed_pitch (runtime): managed memory wrong at %llu: %f\n", i, c[i]);
      return 1;
    }
  }
  const size_t width = 1000, height = 300;
  void* pitched = nullptr;
  size_t pitch = 0;
  RT_CHECK(cudaMallocPitch(&pitched, &pitch, width, height));
  if (pitch < width) {
    std::fprintf(stderr, "managed_pitch (runtime): pitch %zu is less than the row's %zu bytes\n", pitch, width);
    return 1;
  }
  RT_CHECK(cudaMemset(pitched, 0xab, pitch * height));
  unsigned char last = 0;
  RT_CHECK(cudaMemcpy(&last, static_cast<char*>(pitched) + pitch * height - 1, 1, cudaMemcpyDeviceToHost));
  if (last != 0xab) return 1;
  RT_CHECK(cudaFree(pitched));
  RT_CHECK(cudaFree(a));
  RT_CHECK(cudaFree(b));
  RT_CHECK(cudaFree(c));
  std::printf("managed_pitch (runtime): OK, pitch %zu for rows of %zu bytes\n", pitch, width);
  return 0;
}
