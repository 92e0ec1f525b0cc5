// Stream-ordered memory: cudaMallocAsync/cudaFreeAsync from the device's default pool, and a pool
// of its own (cudaMemPoolCreate, cudaMallocFromPoolAsync) with a release threshold; data written
// through them is checked.
//   vxpu-rt-malloc_async [MiB]   allocates MiB (default 64) from each; prints "malloc_async (runtime): OK"
#include <cstdlib>
#include <vector>

#include "rt_check.h"

int main(int argc, char** argv) {
  unsigned long long mib = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 64;
  const unsigned long long n = (mib << 20) / 4;
  cudaStream_t stream;
  RT_CHECK(cudaStreamCreate(&stream));
  uint32_t* from_default = nullptr;
  RT_CHECK(cudaMallocAsync(reinterpret_cast<void**>(&from_default), n * 4, stream));
  int device = 0;
  RT_CHECK(cudaGetDevice(&device));
  cudaMemPoolProps props = {};
  props.allocType = cudaMemAllocationTypePinned;
  props.location.type = cudaMemLocationTypeDevice;
  props.location.id = device;
  cudaMemPool_t pool;
  RT_CHECK(cudaMemPoolCreate(&pool, &props));
  uint64_t threshold = UINT64_MAX;
  RT_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold));
  uint32_t* from_pool = nullptr;
  RT_CHECK(cudaMallocFromPoolAsync(reinterpret_cast<void**>(&from_pool), n * 4, pool, stream));
  vxpu_fill_u32<<<BlocksFor(n), kThreads, 0, stream>>>(from_default, 7, n);
  vxpu_fill_u32<<<BlocksFor(n), kThreads, 0, stream>>>(from_pool, 9, n);
  std::vector<uint32_t> a(n), b(n);
  RT_CHECK(cudaMemcpyAsync(a.data(), from_default, n * 4, cudaMemcpyDeviceToHost, stream));
  RT_CHECK(cudaMemcpyAsync(b.data(), from_pool, n * 4, cudaMemcpyDeviceToHost, stream));
  RT_CHECK(cudaFreeAsync(from_default, stream));
  RT_CHECK(cudaFreeAsync(from_pool, stream));
  RT_CHECK(cudaStreamSynchronize(stream));
  for (unsigned long long i = 0; i < n; ++i) {
    if (a[i] != 7 || b[i] != 9) {
      std::fprintf(stderr, "malloc_async (runtime): wrong at %llu: %u %u\n", i, a[i], b[i]);
      return 1;
    }
  }
  RT_CHECK(cudaMemPoolDestroy(pool));
  std::printf("malloc_async (runtime): OK, %llu MiB from each\n", mib);
  return 0;
}
