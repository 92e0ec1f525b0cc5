// Linear device memory, capacity, lazy backing, copies, memsets and arrays.
#include <cuda.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <numeric>
#include <vector>

#include "sim_env.h"

namespace {

using simtest::FreeMemory;
using simtest::ReadBack;

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;
constexpr int kSmallDevice = 0;  // 8 GiB, 512 MiB taken by each context
constexpr int kLargeDevice = 1;  // 80 GiB

uint64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

// Creates a context on `device` for the test's lifetime.
class ScopedContext {
 public:
  explicit ScopedContext(int device) { EXPECT_CU(cuCtxCreate(&ctx_, nullptr, 0, device)); }
  ~ScopedContext() { EXPECT_CU(cuCtxDestroy(ctx_)); }
  ScopedContext(const ScopedContext&) = delete;
  ScopedContext& operator=(const ScopedContext&) = delete;

 private:
  CUcontext ctx_ = nullptr;
};

class MemoryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ASSERT_CU(cuInit(0)); }
  // Each test's allocations go with its context.
  ScopedContext ctx_{kSmallDevice};
};

TEST_F(MemoryTest, InfoReportsCapacityLessContextOverhead) {
  size_t free_bytes = 0, total = 0;
  ASSERT_CU(cuMemGetInfo(&free_bytes, &total));
  EXPECT_EQ(total, 8 * kGiB);
  EXPECT_EQ(free_bytes, 8 * kGiB - 512 * kMiB);
}

TEST_F(MemoryTest, AllocationsReduceFreeMemoryUntilFreed) {
  size_t before = FreeMemory();
  CUdeviceptr p = 0;
  ASSERT_CU(cuMemAlloc(&p, 100 * kMiB));
  EXPECT_NE(p, 0u);
  EXPECT_EQ(FreeMemory(), before - 100 * kMiB);
  CUdeviceptr base = 0;
  size_t size = 0;
  ASSERT_CU(cuMemGetAddressRange(&base, &size, p + 4096));
  EXPECT_EQ(base, p);
  EXPECT_EQ(size, 100 * kMiB);
  ASSERT_CU(cuMemFree(p));
  EXPECT_EQ(FreeMemory(), before);
}

TEST_F(MemoryTest, OutOfMemoryAtCapacityIsRecoverable) {
  size_t free_bytes = FreeMemory();
  CUdeviceptr p = 0;
  EXPECT_EQ(cuMemAlloc(&p, free_bytes + 1), CUDA_ERROR_OUT_OF_MEMORY);
  CUdeviceptr big = 0;
  ASSERT_CU(cuMemAlloc(&big, free_bytes - kMiB));
  EXPECT_EQ(cuMemAlloc(&p, 2 * kMiB), CUDA_ERROR_OUT_OF_MEMORY);
  EXPECT_EQ(FreeMemory(), kMiB);
  ASSERT_CU(cuMemFree(big));
  ASSERT_CU(cuMemAlloc(&p, 2 * kMiB));
  EXPECT_CU(cuMemFree(p));
}

TEST_F(MemoryTest, LargeAllocationsAreBackedOnlyWhenTouched) {
  SKIP_THROUGH_REMOTE("a session has one device (and the memory is the server's)");
  ScopedContext large(kLargeDevice);
  uint64_t rss_before = ResidentBytes();
  const size_t bytes = 60 * kGiB;
  CUdeviceptr p = 0;
  ASSERT_CU(cuMemAlloc(&p, bytes));
  EXPECT_LT(ResidentBytes(), rss_before + 64 * kMiB);

  const uint32_t head[4] = {1, 2, 3, 4};
  const uint32_t tail[4] = {0xdead, 0xbeef, 0xcafe, 0xf00d};
  const CUdeviceptr tail_at = p + bytes - sizeof(tail);
  ASSERT_CU(cuMemcpyHtoD(p, head, sizeof(head)));
  ASSERT_CU(cuMemcpyHtoD(tail_at, tail, sizeof(tail)));
  EXPECT_EQ(ReadBack<uint32_t>(p, 4), std::vector<uint32_t>(head, head + 4));
  EXPECT_EQ(ReadBack<uint32_t>(tail_at, 4), std::vector<uint32_t>(tail, tail + 4));
  EXPECT_CU(cuMemFree(p));
}

TEST_F(MemoryTest, PitchedRowsAreAlignedAndUsable) {
  int alignment = 0;
  ASSERT_CU(cuDeviceGetAttribute(&alignment, CU_DEVICE_ATTRIBUTE_TEXTURE_ALIGNMENT, kSmallDevice));
  ASSERT_GT(alignment, 0);
  size_t before = FreeMemory();
  const size_t width = 1000, height = 7;
  CUdeviceptr p = 0;
  size_t pitch = 0;
  ASSERT_CU(cuMemAllocPitch(&p, &pitch, width, height, 4));
  EXPECT_GE(pitch, width);
  EXPECT_EQ(pitch % static_cast<size_t>(alignment), 0u);
  EXPECT_LE(before - FreeMemory(), pitch * height + 2 * kMiB);
  EXPECT_GE(before - FreeMemory(), pitch * height);
  std::vector<unsigned char> row(width, 0x5a);
  ASSERT_CU(cuMemcpyHtoD(p + pitch * (height - 1), row.data(), width));  // the whole last row
  EXPECT_EQ(ReadBack<unsigned char>(p + pitch * (height - 1), width), row);
  EXPECT_CU(cuMemFree(p));
}

TEST_F(MemoryTest, ManagedMemoryCountsAsDeviceMemory) {
  size_t before = FreeMemory();
  CUdeviceptr p = 0;
  ASSERT_CU(cuMemAllocManaged(&p, 64 * kMiB, CU_MEM_ATTACH_GLOBAL));
  EXPECT_EQ(FreeMemory(), before - 64 * kMiB);
  ASSERT_CU(cuMemFree(p));
  EXPECT_EQ(FreeMemory(), before);
}

TEST_F(MemoryTest, CopiesRoundTripThroughTheDevice) {
  std::vector<uint32_t> data(4096);
  std::iota(data.begin(), data.end(), 7u);
  const size_t bytes = data.size() * sizeof(uint32_t);
  CUdeviceptr a = 0, b = 0;
  ASSERT_CU(cuMemAlloc(&a, bytes));
  ASSERT_CU(cuMemAlloc(&b, bytes));
  ASSERT_CU(cuMemcpyHtoD(a, data.data(), bytes));
  ASSERT_CU(cuMemcpyDtoD(b, a, bytes));
  ASSERT_CU(cuMemsetD8(a, 0, bytes));  // the copy in b must not depend on a any more
  EXPECT_EQ(ReadBack<uint32_t>(b, data.size()), data);
  std::vector<uint32_t> via_unified(data.size());
  ASSERT_CU(cuMemcpy(reinterpret_cast<CUdeviceptr>(via_unified.data()), b, bytes));
  EXPECT_EQ(via_unified, data);
  EXPECT_CU(cuMemFree(a));
  EXPECT_CU(cuMemFree(b));
}

TEST_F(MemoryTest, MemsetsFillElementsOfTheirWidth) {
  CUdeviceptr p = 0;
  ASSERT_CU(cuMemAlloc(&p, 64));
  ASSERT_CU(cuMemsetD32(p, 0x11223344u, 16));
  ASSERT_CU(cuMemsetD16(p, 0xabcd, 4));   // bytes 0..7
  ASSERT_CU(cuMemsetD8(p + 4, 0x7f, 2));  // bytes 4..5
  std::vector<uint16_t> halves = ReadBack<uint16_t>(p, 6);
  EXPECT_EQ(halves, (std::vector<uint16_t>{0xabcd, 0xabcd, 0x7f7f, 0xabcd, 0x3344, 0x1122}));
  std::vector<uint32_t> words = ReadBack<uint32_t>(p, 16);
  EXPECT_EQ(words.back(), 0x11223344u);
  EXPECT_CU(cuMemFree(p));
}

TEST_F(MemoryTest, CopiesOutsideAllocationsAreInvalid) {
  CUdeviceptr p = 0;
  ASSERT_CU(cuMemAlloc(&p, 4096));
  uint32_t word = 0;
  EXPECT_EQ(cuMemcpyHtoD(p + 4096, &word, sizeof(word)), CUDA_ERROR_INVALID_VALUE);  // just past the end
  EXPECT_EQ(cuMemcpyHtoD(p + 4094, &word, sizeof(word)), CUDA_ERROR_INVALID_VALUE);  // straddles the end
  EXPECT_EQ(cuMemcpyDtoH(&word, 0x1000, sizeof(word)), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(cuMemsetD32(p + 4092, 0, 2), CUDA_ERROR_INVALID_VALUE);
  ASSERT_CU(cuMemFree(p));
  EXPECT_EQ(cuMemcpyDtoH(&word, p, sizeof(word)), CUDA_ERROR_INVALID_VALUE);  // freed
  EXPECT_EQ(cuMemFree(p), CUDA_ERROR_INVALID_VALUE);
}

// Creating with `create` takes `bytes` of device memory until `destroy`.
template <typename Create, typename Destroy>
void ExpectHoldsWhileAlive(uint64_t bytes, Create create, Destroy destroy) {
  size_t before = FreeMemory();
  auto handle = create();
  ASSERT_NE(handle, nullptr);
  EXPECT_EQ(FreeMemory(), before - bytes);
  EXPECT_CU(destroy(handle));
  EXPECT_EQ(FreeMemory(), before);
}

CUDA_ARRAY3D_DESCRIPTOR Descriptor3D(size_t w, size_t h, size_t d, CUarray_format format, unsigned channels) {
  CUDA_ARRAY3D_DESCRIPTOR desc{};
  desc.Width = w;
  desc.Height = h;
  desc.Depth = d;
  desc.Format = format;
  desc.NumChannels = channels;
  return desc;
}

TEST_F(MemoryTest, ArraysHoldDeviceMemory) {
  ExpectHoldsWhileAlive(
      1024 * 512 * 4 * 4,
      [] {
        CUDA_ARRAY_DESCRIPTOR desc{1024, 512, CU_AD_FORMAT_FLOAT, 4};
        CUarray array = nullptr;
        EXPECT_CU(cuArrayCreate(&array, &desc));
        return array;
      },
      cuArrayDestroy);
  ExpectHoldsWhileAlive(
      64 * 64 * 64 * 2,
      [] {
        CUDA_ARRAY3D_DESCRIPTOR desc = Descriptor3D(64, 64, 64, CU_AD_FORMAT_UNSIGNED_INT16, 1);
        CUarray array = nullptr;
        EXPECT_CU(cuArray3DCreate(&array, &desc));
        return array;
      },
      cuArrayDestroy);
  ExpectHoldsWhileAlive((256 * 256 + 128 * 128 + 64 * 64) * 4,
                        [] {
                          CUDA_ARRAY3D_DESCRIPTOR desc = Descriptor3D(256, 256, 0, CU_AD_FORMAT_UNSIGNED_INT8, 4);
                          CUmipmappedArray array = nullptr;
                          EXPECT_CU(cuMipmappedArrayCreate(&array, &desc, 3));
                          return array;
                        },
                        cuMipmappedArrayDestroy);
}

TEST_F(MemoryTest, BadArrayDescriptorsAreInvalid) {
  CUarray array = nullptr;
  CUDA_ARRAY_DESCRIPTOR bad_format{16, 16, static_cast<CUarray_format>(0x7777), 1};
  EXPECT_EQ(cuArrayCreate(&array, &bad_format), CUDA_ERROR_INVALID_VALUE);
  CUDA_ARRAY_DESCRIPTOR bad_channels{16, 16, CU_AD_FORMAT_FLOAT, 3};
  EXPECT_EQ(cuArrayCreate(&array, &bad_channels), CUDA_ERROR_INVALID_VALUE);
  CUDA_ARRAY3D_DESCRIPTOR bad_3d = Descriptor3D(8, 8, 8, static_cast<CUarray_format>(0x7777), 1);
  EXPECT_EQ(cuArray3DCreate(&array, &bad_3d), CUDA_ERROR_INVALID_VALUE);
  CUmipmappedArray mipmapped = nullptr;
  EXPECT_EQ(cuMipmappedArrayCreate(&mipmapped, &bad_3d, 2), CUDA_ERROR_INVALID_VALUE);
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new simtest::SimEnvironment({
      {.memory = "8GiB", .context_overhead = "512MiB"},
      {.memory = "80GiB", .context_overhead = "0"},
  }));
  return RUN_ALL_TESTS();
}
