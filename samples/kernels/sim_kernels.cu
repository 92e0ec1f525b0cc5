// The kernels simgpu runs as built-ins (src/simgpu/kernels.h), written for a real GPU.
// sim_kernels.ptx is generated from this file by regenerate-ptx.sh and committed, so that no
// build needs nvcc: the real driver JIT-compiles the PTX, simgpu recognises the entry names.
#include <stdint.h>

extern "C" __global__ void vxpu_spin_ns(uint64_t ns) {
  uint64_t start;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
  uint64_t now = start;
  while (now - start < ns) asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
}

extern "C" __global__ void vxpu_fill_u32(uint32_t* dst, uint32_t value, uint64_t n) {
  uint64_t i = uint64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) dst[i] = value;
}

extern "C" __global__ void vxpu_vector_add_f32(const float* a, const float* b, float* c, uint64_t n) {
  uint64_t i = uint64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) c[i] = a[i] + b[i];
}
