// A runtime program whose kernel simgpu has no built-in for: the launch must fail, saying so,
// never pass silently. Prints the launch's error name and exits 0 if the launch failed.
#include <cuda_runtime.h>

#include <cstdio>

extern "C" __global__ void not_a_simgpu_builtin(float* x) { x[threadIdx.x] *= 2.0f; }

int main() {
  float* x = nullptr;
  if (cudaMalloc(&x, 256 * sizeof(float)) != cudaSuccess) return 1;
  not_a_simgpu_builtin<<<1, 256>>>(x);
  cudaError_t launch = cudaGetLastError();
  cudaError_t sync = cudaDeviceSynchronize();
  std::printf("launch: %s, synchronize: %s\n", cudaGetErrorName(launch), cudaGetErrorName(sync));
  return launch != cudaSuccess ? 0 : 1;
}
