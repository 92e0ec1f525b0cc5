// train_step_rt: the remote benchmark's training step written against the CUDA runtime API, as
// a framework issues it (docs/benchmarks.md, bench/remote/run.sh): a batch copied in from pinned
// memory, K short kernels, a small result copied out, one stream synchronisation. nvcc-built
// (cudart shared); runs the same locally and through the remote client.
//   vxpu-bench-train-step-rt [--steps N] [--kernels K] [--kernel-us U] [--batch-kib B] [--result-kib R]
// Prints one JSON line as vxpu-bench-train-step does.
#include <cstring>

#include "bench/remote/train_step_common.h"
#include "samples/runtime/rt_check.h"

int main(int argc, char** argv) {
  trainstep::Options o = trainstep::Parse(argc, argv, "vxpu-bench-train-step-rt", /*copies_too=*/false);
  cudaStream_t stream;
  RT_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  void *batch = nullptr, *result = nullptr, *input = nullptr, *output = nullptr;
  RT_CHECK(cudaMallocHost(&batch, o.batch_kib << 10));
  RT_CHECK(cudaMallocHost(&result, o.result_kib << 10));
  std::memset(batch, 1, o.batch_kib << 10);
  RT_CHECK(cudaMalloc(&input, o.batch_kib << 10));
  RT_CHECK(cudaMalloc(&output, o.result_kib << 10));
  uint64_t ns = o.kernel_us * 1000ull;
  auto step = [&]() -> cudaError_t {
    cudaError_t e = cudaMemcpyAsync(input, batch, o.batch_kib << 10, cudaMemcpyHostToDevice, stream);
    for (int k = 0; k < o.kernels && e == cudaSuccess; ++k) {
      vxpu_spin_ns<<<1, 1, 0, stream>>>(ns);
      e = cudaGetLastError();
    }
    if (e == cudaSuccess) e = cudaMemcpyAsync(result, output, o.result_kib << 10, cudaMemcpyDeviceToHost, stream);
    return e == cudaSuccess ? cudaStreamSynchronize(stream) : e;
  };
  return trainstep::TimeSteps(o, [&] {
    cudaError_t e = step();
    if (e != cudaSuccess) std::fprintf(stderr, "step failed: %s (%d)\n", cudaGetErrorName(e), int(e));
    return e == cudaSuccess;
  });
}
