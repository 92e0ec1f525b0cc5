// A CUDA runtime-API program as nvcc builds it (both -cudart shared and -cudart static): a vector
// add, its result checked.
//   vxpu-rt-vector_add[-static] [N]   prints "vector_add (runtime): OK, N elements" or the error
#include <cstdlib>
#include <vector>

#include "rt_check.h"

int main(int argc, char** argv) {
  unsigned long long n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1 << 20;
  if (n == 0 || n > (1ull << 28)) {
    std::fprintf(stderr, "usage: vxpu-rt-vector_add [N] (1 to 2^28 elements)\n");
    return 2;
  }
  std::vector<float> a(n), b(n), c(n);
  for (unsigned long long i = 0; i < n; ++i) {
    a[i] = static_cast<float>(i);
    b[i] = 2.0f * static_cast<float>(i);
  }
  float *da = nullptr, *db = nullptr, *dc = nullptr;
  RT_CHECK(cudaMalloc(&da, n * sizeof(float)));
  RT_CHECK(cudaMalloc(&db, n * sizeof(float)));
  RT_CHECK(cudaMalloc(&dc, n * sizeof(float)));
  RT_CHECK(cudaMemcpy(da, a.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  RT_CHECK(cudaMemcpy(db, b.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  vxpu_vector_add_f32<<<BlocksFor(n), kThreads>>>(da, db, dc, n);
  RT_CHECK(cudaGetLastError());
  RT_CHECK(cudaMemcpy(c.data(), dc, n * sizeof(float), cudaMemcpyDeviceToHost));
  for (unsigned long long i = 0; i < n; ++i) {
    if (c[i] != 3.0f * static_cast<float>(i)) {
      std::fprintf(stderr, "vector_add (runtime): wrong at %llu: %f\n", i, c[i]);
      return 1;
    }
  }
  RT_CHECK(cudaFree(da));
  RT_CHECK(cudaFree(db));
  RT_CHECK(cudaFree(dc));
  std::printf("vector_add (runtime): OK, %llu elements\n", n);
  return 0;
}
