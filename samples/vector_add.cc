// vector_add: a plain CUDA driver-API program. It prints the device, adds two vectors on it
// and checks the result through copies; exit 0 means the device computed correctly.
// Runs unchanged on a real GPU and on simgpu (LD_LIBRARY_PATH=<build>/lib/simgpu).
#include <cmath>
#include <cstring>
#include <vector>

#include "sample_util.h"

int main(int argc, char** argv) {
  size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : (1u << 20);
  if (n == 0) {
    std::fprintf(stderr, "usage: vector_add [ELEMENTS>0]\n");
    return 2;
  }
  CUdevice device;
  SampleOpenDevice(0, &device);
  char name[256];
  size_t total = 0;
  int major = 0, minor = 0, sms = 0;
  SAMPLE_CHECK(cuDeviceGetName(name, sizeof(name), device));
  SAMPLE_CHECK(cuDeviceTotalMem(&total, device));
  SAMPLE_CHECK(cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device));
  SAMPLE_CHECK(cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device));
  SAMPLE_CHECK(cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, device));
  std::printf("device 0: %s, %.1f GiB, compute capability %d.%d, %d SMs\n", name,
              static_cast<double>(total) / (1u << 30), major, minor, sms);

  CUmodule module;
  CUfunction add;
  SAMPLE_CHECK(cuModuleLoadData(&module, kSimKernelsPtx));
  SAMPLE_CHECK(cuModuleGetFunction(&add, module, "vxpu_vector_add_f32"));

  std::vector<float> a(n), b(n), c(n, -1.0f);
  for (size_t i = 0; i < n; ++i) {
    a[i] = static_cast<float>(i);
    b[i] = 0.5f * static_cast<float>(i % 1000);
  }
  size_t bytes = n * sizeof(float);
  CUdeviceptr da, db, dc;
  SAMPLE_CHECK(cuMemAlloc(&da, bytes));
  SAMPLE_CHECK(cuMemAlloc(&db, bytes));
  SAMPLE_CHECK(cuMemAlloc(&dc, bytes));
  SAMPLE_CHECK(cuMemcpyHtoD(da, a.data(), bytes));
  SAMPLE_CHECK(cuMemcpyHtoD(db, b.data(), bytes));
  unsigned long long count = n;
  void* params[] = {&da, &db, &dc, &count};
  unsigned threads = 256;
  unsigned blocks = static_cast<unsigned>((n + threads - 1) / threads);
  SAMPLE_CHECK(cuLaunchKernel(add, blocks, 1, 1, threads, 1, 1, 0, nullptr, params, nullptr));
  SAMPLE_CHECK(cuMemcpyDtoH(c.data(), dc, bytes));

  size_t wrong = 0;
  for (size_t i = 0; i < n; ++i) wrong += std::fabs(c[i] - (a[i] + b[i])) > 1e-6f ? 1 : 0;
  SAMPLE_CHECK(cuMemFree(da));
  SAMPLE_CHECK(cuMemFree(db));
  SAMPLE_CHECK(cuMemFree(dc));
  SAMPLE_CHECK(cuModuleUnload(module));
  SAMPLE_CHECK(cuDevicePrimaryCtxRelease(device));
  if (wrong != 0) {
    std::printf("vector_add: FAILED, %zu of %zu elements wrong\n", wrong, n);
    return 1;
  }
  std::printf("vector_add: OK, %zu elements\n", n);
  return 0;
}
