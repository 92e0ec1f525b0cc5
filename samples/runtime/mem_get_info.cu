// cudaMemGetInfo as the program sees it, before and after it allocates: one JSON line (under a
// memory slice, total is the slice's quota and free shrinks by what it holds).
//   prints {"total":T,"free":F,"free_after":F2,"allocated":A}
#include "rt_check.h"

int main() {
  size_t free_bytes = 0, total = 0;
  RT_CHECK(cudaMemGetInfo(&free_bytes, &total));
  const size_t allocated = 64ull << 20;
  void* held = nullptr;
  RT_CHECK(cudaMalloc(&held, allocated));
  size_t free_after = 0, total_after = 0;
  RT_CHECK(cudaMemGetInfo(&free_after, &total_after));
  std::printf("{\"total\":%zu,\"free\":%zu,\"free_after\":%zu,\"allocated\":%zu}\n", total, free_bytes, free_after,
              allocated);
  RT_CHECK(cudaFree(held));
  return total_after == total ? 0 : 1;
}
