// Modules, kernel launches, streams, events and host functions.
#include <cuda.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <numeric>
#include <thread>
#include <vector>

#include "sim_env.h"
#include "sim_kernels_ptx.h"

namespace {

using simtest::ReadBack;
using Clock = std::chrono::steady_clock;

double MillisSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

constexpr int kFaultDevice = 1;  // only the illegal-address test uses it: the fault is sticky

// The built-in kernels of one loaded module.
struct Kernels {
  CUmodule module = nullptr;
  CUfunction spin = nullptr;
  CUfunction fill = nullptr;
  CUfunction add = nullptr;
};

Kernels LoadKernels() {
  Kernels k;
  EXPECT_CU(cuModuleLoadData(&k.module, kSimKernelsPtx));
  EXPECT_CU(cuModuleGetFunction(&k.spin, k.module, "vxpu_spin_ns"));
  EXPECT_CU(cuModuleGetFunction(&k.fill, k.module, "vxpu_fill_u32"));
  EXPECT_CU(cuModuleGetFunction(&k.add, k.module, "vxpu_vector_add_f32"));
  return k;
}

CUresult Spin(const Kernels& k, std::chrono::milliseconds duration, CUstream stream) {
  unsigned long long ns = static_cast<unsigned long long>(duration.count()) * 1000000ull;
  void* params[] = {&ns};
  return cuLaunchKernel(k.spin, 1, 1, 1, 1, 1, 1, 0, stream, params, nullptr);
}

// Fills dst[i] = value for i < min(n, threads), with `threads` launched as one block each of
// up to 256 threads.
CUresult Fill(const Kernels& k, CUdeviceptr dst, uint32_t value, unsigned long long n, unsigned threads,
              CUstream stream) {
  void* params[] = {&dst, &value, &n};
  unsigned block = threads < 256 ? threads : 256;
  return cuLaunchKernel(k.fill, threads / block, 1, 1, block, 1, 1, 0, stream, params, nullptr);
}

class ExecTest : public simtest::PrimaryContextTest {
 protected:
  void SetUp() override {
    PrimaryContextTest::SetUp();
    k_ = LoadKernels();
    ASSERT_CU(cuStreamCreate(&stream_, CU_STREAM_NON_BLOCKING));
    ASSERT_CU(cuMemAlloc(&buffer_, kElements * sizeof(uint32_t)));
    ASSERT_CU(cuMemsetD32(buffer_, 0, kElements));
  }
  void TearDown() override {
    EXPECT_CU(cuMemFree(buffer_));
    EXPECT_CU(cuStreamDestroy(stream_));
    EXPECT_CU(cuModuleUnload(k_.module));
    PrimaryContextTest::TearDown();
  }

  static constexpr size_t kElements = 1024;
  Kernels k_;
  CUstream stream_ = nullptr;
  CUdeviceptr buffer_ = 0;  // kElements zeroed u32
};

TEST_F(ExecTest, VectorAddComputesOnDeviceMemory) {
  const size_t n = 10000;
  std::vector<float> a(n), b(n);
  std::iota(a.begin(), a.end(), 0.0f);
  for (size_t i = 0; i < n; ++i) b[i] = 0.25f * static_cast<float>(i % 100);
  const size_t bytes = n * sizeof(float);
  CUdeviceptr da = 0, db = 0, dc = 0;
  ASSERT_CU(cuMemAlloc(&da, bytes));
  ASSERT_CU(cuMemAlloc(&db, bytes));
  ASSERT_CU(cuMemAlloc(&dc, bytes));
  ASSERT_CU(cuMemcpyHtoD(da, a.data(), bytes));
  ASSERT_CU(cuMemcpyHtoD(db, b.data(), bytes));
  unsigned long long count = n;
  void* params[] = {&da, &db, &dc, &count};
  ASSERT_CU(cuLaunchKernel(k_.add, (n + 255) / 256, 1, 1, 256, 1, 1, 0, nullptr, params, nullptr));
  std::vector<float> c = ReadBack<float>(dc, n);
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(c[i], a[i] + b[i]) << "element " << i;
  for (CUdeviceptr p : {da, db, dc}) EXPECT_CU(cuMemFree(p));
}

TEST_F(ExecTest, ElementwiseKernelsStopAtTheThreadCount) {
  ASSERT_CU(Fill(k_, buffer_, 0xabcu, kElements, 100, stream_));  // n > threads
  ASSERT_CU(cuStreamSynchronize(stream_));
  std::vector<uint32_t> out = ReadBack<uint32_t>(buffer_, kElements);
  for (size_t i = 0; i < kElements; ++i) ASSERT_EQ(out[i], i < 100 ? 0xabcu : 0u) << "element " << i;
}

TEST_F(ExecTest, ModulesAndFunctionsAreLookedUp) {
  CUmodule module = nullptr;
  EXPECT_EQ(cuModuleLoadData(&module, "this is not a module"), CUDA_ERROR_INVALID_IMAGE);
  CUfunction f = nullptr;
  EXPECT_EQ(cuModuleGetFunction(&f, k_.module, "vxpu_no_such_kernel"), CUDA_ERROR_NOT_FOUND);
  CUfunction again = nullptr;
  ASSERT_CU(cuModuleGetFunction(&again, k_.module, "vxpu_fill_u32"));
  EXPECT_EQ(again, k_.fill);
}

TEST_F(ExecTest, LaunchesAreAsynchronous) {
  auto start = Clock::now();
  ASSERT_CU(Spin(k_, std::chrono::milliseconds(200), stream_));
  EXPECT_LT(MillisSince(start), 100.0);
  EXPECT_EQ(cuStreamQuery(stream_), CUDA_ERROR_NOT_READY);
  ASSERT_CU(cuStreamSynchronize(stream_));
  EXPECT_GE(MillisSince(start), 190.0);
  EXPECT_CU(cuStreamQuery(stream_));
}

TEST_F(ExecTest, QueuedKernelsNeverRunFasterThanTheirDeviceTime) {
  // The executor credits a sleep's overshoot to the next queued kernel; neither that credit nor
  // the idle time before the burst may let the burst finish early.
  ASSERT_CU(Spin(k_, std::chrono::milliseconds(1), stream_));
  ASSERT_CU(cuStreamSynchronize(stream_));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the device idles
  auto start = Clock::now();
  for (int i = 0; i < 50; ++i) ASSERT_CU(Spin(k_, std::chrono::milliseconds(1), stream_));
  ASSERT_CU(cuStreamSynchronize(stream_));
  EXPECT_GE(MillisSince(start), 50.0);
}

TEST_F(ExecTest, StreamRunsWorkInOrder) {
  std::vector<uint32_t> host(kElements, 1);
  ASSERT_CU(Spin(k_, std::chrono::milliseconds(100), stream_));
  ASSERT_CU(Fill(k_, buffer_, 77, kElements, kElements, stream_));
  ASSERT_CU(cuMemcpyDtoHAsync(host.data(), buffer_, kElements * sizeof(uint32_t), stream_));
  EXPECT_EQ(cuStreamQuery(stream_), CUDA_ERROR_NOT_READY);  // still spinning
  ASSERT_CU(cuStreamSynchronize(stream_));
  EXPECT_EQ(host, std::vector<uint32_t>(kElements, 77));
}

TEST_F(ExecTest, EventsTimeTheWorkBetweenThem) {
  CUevent start = nullptr, stop = nullptr;
  ASSERT_CU(cuEventCreate(&start, CU_EVENT_DEFAULT));
  ASSERT_CU(cuEventCreate(&stop, CU_EVENT_DEFAULT));
  ASSERT_CU(cuEventRecord(start, stream_));
  ASSERT_CU(Spin(k_, std::chrono::milliseconds(50), stream_));
  ASSERT_CU(cuEventRecord(stop, stream_));
  ASSERT_CU(cuEventSynchronize(stop));
  EXPECT_CU(cuEventQuery(stop));
  float ms = 0;
  ASSERT_CU(cuEventElapsedTime(&ms, start, stop));
  EXPECT_GE(ms, 45.0f);
  EXPECT_LE(ms, 150.0f);
  EXPECT_CU(cuEventDestroy(start));
  EXPECT_CU(cuEventDestroy(stop));
}

TEST_F(ExecTest, EventsWithoutTimingHaveNoElapsedTime) {
  CUevent start = nullptr, stop = nullptr;
  ASSERT_CU(cuEventCreate(&start, CU_EVENT_DISABLE_TIMING));
  ASSERT_CU(cuEventCreate(&stop, CU_EVENT_DISABLE_TIMING));
  ASSERT_CU(cuEventRecord(start, stream_));
  ASSERT_CU(cuEventRecord(stop, stream_));
  ASSERT_CU(cuEventSynchronize(stop));
  float ms = 0;
  EXPECT_EQ(cuEventElapsedTime(&ms, start, stop), CUDA_ERROR_INVALID_HANDLE);
  EXPECT_CU(cuEventDestroy(start));
  EXPECT_CU(cuEventDestroy(stop));
}

TEST_F(ExecTest, UnrecordedEventsAreComplete) {
  CUevent event = nullptr;
  ASSERT_CU(cuEventCreate(&event, CU_EVENT_DEFAULT));
  EXPECT_CU(cuEventQuery(event));
  EXPECT_CU(cuEventSynchronize(event));
  EXPECT_CU(cuEventDestroy(event));
}

struct HostFnProbe {
  std::vector<uint32_t>* copied = nullptr;  // filled by the copy queued before the function
  std::atomic<bool> ran{false};
  uint32_t seen = 0;
};

TEST_F(ExecTest, HostFunctionsRunInStreamOrder) {
  SKIP_THROUGH_REMOTE("host functions");
  std::vector<uint32_t> host(4, 0);
  HostFnProbe probe;
  probe.copied = &host;
  ASSERT_CU(Spin(k_, std::chrono::milliseconds(100), stream_));
  ASSERT_CU(Fill(k_, buffer_, 31, 4, 4, stream_));
  ASSERT_CU(cuMemcpyDtoHAsync(host.data(), buffer_, 4 * sizeof(uint32_t), stream_));
  ASSERT_CU(cuLaunchHostFunc(
      stream_,
      [](void* data) {
        auto* p = static_cast<HostFnProbe*>(data);
        p->seen = (*p->copied)[3];
        p->ran.store(true);
      },
      &probe));
  EXPECT_FALSE(probe.ran.load());  // the spin is still ahead of it
  ASSERT_CU(cuStreamSynchronize(stream_));
  EXPECT_TRUE(probe.ran.load());
  EXPECT_EQ(probe.seen, 31u);
}

TEST_F(ExecTest, SpecialStreamHandlesWork) {
  for (CUstream special : {CU_STREAM_PER_THREAD, CU_STREAM_LEGACY, static_cast<CUstream>(nullptr)}) {
    SCOPED_TRACE(reinterpret_cast<uintptr_t>(special));
    ASSERT_CU(cuMemsetD32(buffer_, 0, kElements));
    ASSERT_CU(Spin(k_, std::chrono::milliseconds(100), special));
    ASSERT_CU(Fill(k_, buffer_, 5, kElements, kElements, special));
    EXPECT_EQ(cuStreamQuery(special), CUDA_ERROR_NOT_READY);
    ASSERT_CU(cuStreamSynchronize(special));
    EXPECT_CU(cuStreamQuery(special));
    EXPECT_EQ(ReadBack<uint32_t>(buffer_, kElements), std::vector<uint32_t>(kElements, 5));
  }
}

TEST_F(ExecTest, LaunchKernelExTakesALaunchConfig) {
  unsigned long long n = kElements;
  uint32_t value = 0x5151;
  void* params[] = {&buffer_, &value, &n};
  CUlaunchConfig config{};
  config.gridDimX = 4;
  config.gridDimY = config.gridDimZ = 1;
  config.blockDimX = 256;
  config.blockDimY = config.blockDimZ = 1;
  config.hStream = stream_;
  ASSERT_CU(cuLaunchKernelEx(&config, k_.fill, params, nullptr));
  ASSERT_CU(cuStreamSynchronize(stream_));
  EXPECT_EQ(ReadBack<uint32_t>(buffer_, kElements), std::vector<uint32_t>(kElements, value));
}

TEST_F(ExecTest, InvalidLaunchesAreRejected) {
  unsigned long long ns = 1000;
  void* params[] = {&ns};
  EXPECT_EQ(cuLaunchKernel(k_.spin, 1, 1, 1, 2048, 1, 1, 0, stream_, params, nullptr), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(cuLaunchKernel(k_.spin, 0, 1, 1, 1, 1, 1, 0, stream_, params, nullptr), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(cuLaunchKernel(k_.spin, 1, 1, 1, 1, 1, 1, 0, stream_, nullptr, nullptr), CUDA_ERROR_INVALID_VALUE);
}

// On its own device: the fault stays with that device's context for the rest of the process.
TEST_F(ExecTest, IllegalAddressFaultsTheContext) {
  SKIP_THROUGH_REMOTE("a session has one device");
  CUcontext faulty = nullptr;
  ASSERT_CU(cuCtxCreate(&faulty, nullptr, 0, kFaultDevice));
  Kernels k = LoadKernels();
  ASSERT_CU(Fill(k, 0x1000, 1, 16, 16, nullptr));  // nothing is allocated there
  EXPECT_EQ(cuCtxSynchronize(), CUDA_ERROR_ILLEGAL_ADDRESS);
  EXPECT_EQ(cuStreamQuery(nullptr), CUDA_ERROR_ILLEGAL_ADDRESS);  // sticky
  EXPECT_CU(cuCtxDestroy(faulty));

  ASSERT_CU(Fill(k_, buffer_, 3, 1, 1, stream_));  // device 0 is unaffected
  EXPECT_CU(cuStreamSynchronize(stream_));
  EXPECT_EQ(ReadBack<uint32_t>(buffer_, 1)[0], 3u);
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new simtest::SimEnvironment(std::vector<simtest::SimDevice>(2)));
  return RUN_ALL_TESTS();
}
