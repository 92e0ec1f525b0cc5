// Virtual memory management (cuMemCreate/cuMemMap) and stream-ordered pools.
#include <cuda.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "sim_env.h"

namespace {

using simtest::FreeMemory;

constexpr uint64_t kMiB = 1ull << 20;
constexpr size_t kGranularity = 2 * kMiB;

CUmemAllocationProp DeviceProp() {
  CUmemAllocationProp prop{};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop.location.id = 0;
  return prop;
}

CUresult Create(CUmemGenericAllocationHandle* handle, size_t size) {
  CUmemAllocationProp prop = DeviceProp();
  return cuMemCreate(handle, size, &prop, 0);
}

CUresult SetReadWrite(CUdeviceptr va, size_t size) {
  CUmemAccessDesc access{};
  access.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  access.location.id = 0;
  access.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
  return cuMemSetAccess(va, size, &access, 1);
}

// Reserves an address range of `size` and maps `handle` at it.
CUdeviceptr ReserveAndMap(CUmemGenericAllocationHandle handle, size_t size) {
  CUdeviceptr va = 0;
  EXPECT_CU(cuMemAddressReserve(&va, size, 0, 0, 0));
  EXPECT_CU(cuMemMap(va, size, 0, handle, 0));
  return va;
}

void UnmapAndFree(CUdeviceptr va, size_t size) {
  EXPECT_CU(cuMemUnmap(va, size));
  EXPECT_CU(cuMemAddressFree(va, size));
}

uint64_t PoolAttribute(CUmemoryPool pool, CUmemPool_attribute attr) {
  cuuint64_t value = ~0ull;
  EXPECT_CU(cuMemPoolGetAttribute(pool, attr, &value));
  return value;
}

void SetReleaseThreshold(CUmemoryPool pool, cuuint64_t threshold) {
  EXPECT_CU(cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &threshold));
}

// Each test runs in the device's primary context with a stream of its own.
class SimTest : public simtest::PrimaryContextTest {
 protected:
  void SetUp() override {
    PrimaryContextTest::SetUp();
    ASSERT_CU(cuStreamCreate(&stream_, CU_STREAM_NON_BLOCKING));
  }
  void TearDown() override {
    EXPECT_CU(cuStreamDestroy(stream_));
    PrimaryContextTest::TearDown();
  }

  CUstream stream_ = nullptr;
};

using VmmTest = SimTest;

TEST_F(VmmTest, GranularityIsTwoMiB) {
  CUmemAllocationProp prop = DeviceProp();
  size_t granularity = 0;
  ASSERT_CU(cuMemGetAllocationGranularity(&granularity, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM));
  EXPECT_EQ(granularity, kGranularity);
}

TEST_F(VmmTest, SizesMustBeMultiplesOfTheGranularity) {
  CUmemGenericAllocationHandle handle = 0;
  EXPECT_EQ(Create(&handle, kGranularity + 4096), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(Create(&handle, 0), CUDA_ERROR_INVALID_VALUE);
  CUdeviceptr va = 0;
  EXPECT_EQ(cuMemAddressReserve(&va, kGranularity - 1, 0, 0, 0), CUDA_ERROR_INVALID_VALUE);
}

TEST_F(VmmTest, TwoMappingsOfOneAllocationAlias) {
  CUmemGenericAllocationHandle handle = 0;
  ASSERT_CU(Create(&handle, kGranularity));
  CUdeviceptr a = ReserveAndMap(handle, kGranularity);
  CUdeviceptr b = ReserveAndMap(handle, kGranularity);
  ASSERT_NE(a, b);
  ASSERT_CU(SetReadWrite(a, kGranularity));
  ASSERT_CU(SetReadWrite(b, kGranularity));

  const char message[] = "written through a, read through b";
  ASSERT_CU(cuMemcpyHtoD(a + 4096, message, sizeof(message)));
  char seen[sizeof(message)] = {};
  ASSERT_CU(cuMemcpyDtoH(seen, b + 4096, sizeof(seen)));
  EXPECT_STREQ(seen, message);

  UnmapAndFree(a, kGranularity);
  UnmapAndFree(b, kGranularity);
  EXPECT_CU(cuMemRelease(handle));
}

TEST_F(VmmTest, MappedRangesNeedAccessFirst) {
  CUmemGenericAllocationHandle handle = 0;
  ASSERT_CU(Create(&handle, kGranularity));
  CUdeviceptr va = ReserveAndMap(handle, kGranularity);
  uint32_t word = 42;
  EXPECT_EQ(cuMemcpyHtoD(va, &word, sizeof(word)), CUDA_ERROR_INVALID_VALUE);
  ASSERT_CU(SetReadWrite(va, kGranularity));
  EXPECT_CU(cuMemcpyHtoD(va, &word, sizeof(word)));
  UnmapAndFree(va, kGranularity);
  EXPECT_CU(cuMemRelease(handle));
}

TEST_F(VmmTest, MemoryIsHeldUntilBothUnmappedAndReleased) {
  const size_t size = 32 * kMiB;
  for (bool release_first : {true, false}) {
    SCOPED_TRACE(release_first ? "release, then unmap" : "unmap, then release");
    size_t before = FreeMemory();
    CUmemGenericAllocationHandle handle = 0;
    ASSERT_CU(Create(&handle, size));
    EXPECT_EQ(FreeMemory(), before - size);  // charged at creation, before any mapping
    CUdeviceptr va = ReserveAndMap(handle, size);
    std::function<void()> release = [&] { EXPECT_CU(cuMemRelease(handle)); };
    std::function<void()> unmap = [&] { UnmapAndFree(va, size); };
    (release_first ? release : unmap)();
    EXPECT_EQ(FreeMemory(), before - size);  // the other still holds it
    (release_first ? unmap : release)();
    EXPECT_EQ(FreeMemory(), before);
  }
}

TEST_F(VmmTest, CreateBeyondCapacityIsOutOfMemory) {
  size_t too_much = (FreeMemory() / kGranularity + 1) * kGranularity;
  CUmemGenericAllocationHandle handle = 0;
  EXPECT_EQ(Create(&handle, too_much), CUDA_ERROR_OUT_OF_MEMORY);
  ASSERT_CU(Create(&handle, kGranularity));  // and the device still works
  EXPECT_CU(cuMemRelease(handle));
}

class PoolTest : public SimTest {
 protected:
  void SetUp() override {
    SimTest::SetUp();
    CUmemPoolProps props{};
    props.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
    props.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    props.location.id = 0;
    ASSERT_CU(cuMemPoolCreate(&pool_, &props));
  }
  void TearDown() override {
    EXPECT_CU(cuMemPoolDestroy(pool_));
    SimTest::TearDown();
  }

  // Allocates from pool_ and frees in stream order, then waits for the stream.
  CUdeviceptr AllocFreeSync(size_t bytes) {
    CUdeviceptr p = 0;
    EXPECT_CU(cuMemAllocFromPoolAsync(&p, bytes, pool_, stream_));
    EXPECT_CU(cuMemFreeAsync(p, stream_));
    EXPECT_CU(cuStreamSynchronize(stream_));
    return p;
  }

  CUmemoryPool pool_ = nullptr;
};

TEST_F(PoolTest, DefaultPoolReleasesFreedMemoryAtSync) {
  CUmemoryPool pool = nullptr;
  ASSERT_CU(cuDeviceGetDefaultMemPool(&pool, 0));
  EXPECT_EQ(PoolAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD), 0u);
  size_t before = FreeMemory();
  CUdeviceptr p = 0;
  ASSERT_CU(cuMemAllocAsync(&p, 8 * kMiB, stream_));
  EXPECT_EQ(PoolAttribute(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT), 8 * kMiB);
  EXPECT_GE(PoolAttribute(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT), 8 * kMiB);
  EXPECT_LE(FreeMemory(), before - 8 * kMiB);
  ASSERT_CU(cuMemsetD32Async(p, 7, 2 * kMiB, stream_));  // the whole block is usable
  ASSERT_CU(cuMemFreeAsync(p, stream_));
  ASSERT_CU(cuStreamSynchronize(stream_));
  EXPECT_EQ(PoolAttribute(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT), 0u);
  EXPECT_EQ(PoolAttribute(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT), 0u);
  EXPECT_EQ(FreeMemory(), before);
}

TEST_F(PoolTest, HighThresholdKeepsMemoryUntilTrimmed) {
  SetReleaseThreshold(pool_, UINT64_MAX);
  size_t before = FreeMemory();
  AllocFreeSync(16 * kMiB);
  EXPECT_EQ(PoolAttribute(pool_, CU_MEMPOOL_ATTR_USED_MEM_CURRENT), 0u);
  EXPECT_GE(PoolAttribute(pool_, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT), 16 * kMiB);
  EXPECT_LE(FreeMemory(), before - 16 * kMiB);
  ASSERT_CU(cuMemPoolTrimTo(pool_, 0));
  EXPECT_EQ(PoolAttribute(pool_, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT), 0u);
  EXPECT_EQ(FreeMemory(), before);
}

TEST_F(PoolTest, UsedMemoryTracksLiveAllocations) {
  CUdeviceptr small = 0, large = 0;
  ASSERT_CU(cuMemAllocFromPoolAsync(&small, 2 * kMiB, pool_, stream_));
  ASSERT_CU(cuMemAllocFromPoolAsync(&large, 6 * kMiB, pool_, stream_));
  EXPECT_EQ(PoolAttribute(pool_, CU_MEMPOOL_ATTR_USED_MEM_CURRENT), 8 * kMiB);
  ASSERT_CU(cuMemFreeAsync(small, stream_));
  ASSERT_CU(cuStreamSynchronize(stream_));
  EXPECT_EQ(PoolAttribute(pool_, CU_MEMPOOL_ATTR_USED_MEM_CURRENT), 6 * kMiB);
  EXPECT_EQ(PoolAttribute(pool_, CU_MEMPOOL_ATTR_USED_MEM_HIGH), 8 * kMiB);
  ASSERT_CU(cuMemFreeAsync(large, stream_));
  ASSERT_CU(cuStreamSynchronize(stream_));
  EXPECT_EQ(PoolAttribute(pool_, CU_MEMPOOL_ATTR_USED_MEM_CURRENT), 0u);
}

TEST_F(PoolTest, FreedBlocksAreReused) {
  SetReleaseThreshold(pool_, UINT64_MAX);
  CUdeviceptr first = AllocFreeSync(4 * kMiB);
  CUdeviceptr again = 0;
  ASSERT_CU(cuMemAllocFromPoolAsync(&again, 4 * kMiB, pool_, stream_));
  EXPECT_EQ(again, first);
  uint32_t word = 9;
  EXPECT_CU(cuMemcpyHtoDAsync(again, &word, sizeof(word), stream_));  // usable again
  ASSERT_CU(cuMemFreeAsync(again, stream_));
  ASSERT_CU(cuStreamSynchronize(stream_));
}

TEST_F(PoolTest, FreedPoolMemoryIsNoLongerAccessible) {
  CUdeviceptr p = 0;
  ASSERT_CU(cuMemAllocFromPoolAsync(&p, 2 * kMiB, pool_, stream_));
  ASSERT_CU(cuMemFreeAsync(p, stream_));
  uint32_t word = 0;
  EXPECT_EQ(cuMemcpyHtoDAsync(p, &word, sizeof(word), stream_), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(cuMemFreeAsync(p, stream_), CUDA_ERROR_INVALID_VALUE);  // double free
  ASSERT_CU(cuStreamSynchronize(stream_));
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  std::vector<simtest::SimDevice> devices = {{.memory = "4GiB", .context_overhead = "0"}};
  ::testing::AddGlobalTestEnvironment(new simtest::SimEnvironment(devices));
  return RUN_ALL_TESTS();
}
