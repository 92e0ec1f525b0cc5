// Cost of simgpu's driver entry points as a program sees them (host side, per call).
#include <benchmark/benchmark.h>
#include <cuda.h>

#include "cli/throwaway_device.h"
#include "sim_kernels_ptx.h"

namespace {

struct Session {
  CUdevice device = 0;
  CUcontext ctx = nullptr;
  CUmodule module = nullptr;
  CUfunction spin = nullptr;

  Session() {
    cuInit(0);
    cuDeviceGet(&device, 0);
    cuDevicePrimaryCtxRetain(&ctx, device);
    cuCtxSetCurrent(ctx);
    cuModuleLoadData(&module, kSimKernelsPtx);
    cuModuleGetFunction(&spin, module, "vxpu_spin_ns");
  }
};

Session& TheSession() {
  static Session session;
  return session;
}

void BM_LaunchKernel(benchmark::State& state) {
  Session& s = TheSession();
  unsigned long long ns = 0;
  void* params[] = {&ns};
  for (auto _ : state) cuLaunchKernel(s.spin, 1, 1, 1, 1, 1, 1, 0, nullptr, params, nullptr);
  cuCtxSynchronize();
}
BENCHMARK(BM_LaunchKernel);

void BM_MemAllocFree(benchmark::State& state) {
  TheSession();
  for (auto _ : state) {
    CUdeviceptr p = 0;
    cuMemAlloc(&p, static_cast<size_t>(state.range(0)));
    cuMemFree(p);
  }
}
BENCHMARK(BM_MemAllocFree)->Arg(4096)->Arg(256 << 20);

void BM_MemcpyHtoD(benchmark::State& state) {
  TheSession();
  CUdeviceptr p = 0;
  std::vector<char> host(4096, 1);
  cuMemAlloc(&p, host.size());
  for (auto _ : state) cuMemcpyHtoD(p, host.data(), host.size());
  cuMemFree(p);
}
BENCHMARK(BM_MemcpyHtoD);

}  // namespace

int main(int argc, char** argv) {
  vxpu::ThrowawayDevice device("api");
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
