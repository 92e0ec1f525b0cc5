// cuGetProcAddress: version selection, per-thread variants, the v1 entry point and failures.
#include <cuda.h>
#include <dlfcn.h>

#include "sim_env.h"
#include "sim_kernels_ptx.h"

namespace {

using simtest::FreeMemory;

constexpr uint64_t kMiB = 1ull << 20;

// What cuGetProcAddress answered for "cuInit" before anything called cuInit (set by main()).
struct BeforeInit {
  CUresult result = CUDA_ERROR_UNKNOWN;
  void* pfn = nullptr;
  CUdriverProcAddressQueryResult status = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
} g_before_init;

// The libcuda.so.1 this binary is linked against (simgpu's).
void* Libcuda() {
  static void* handle = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
  return handle;
}

void* Exported(const char* name) { return dlsym(Libcuda(), name); }

struct Lookup {
  CUresult result;
  void* pfn;
  CUdriverProcAddressQueryResult status;
};

Lookup Find(const char* symbol, int version, cuuint64_t flags = CU_GET_PROC_ADDRESS_DEFAULT) {
  Lookup l{CUDA_ERROR_UNKNOWN, reinterpret_cast<void*>(&Find), CU_GET_PROC_ADDRESS_SUCCESS};
  l.result = cuGetProcAddress(symbol, &l.pfn, version, flags, &l.status);
  return l;
}

// Casts a looked-up entry point to the type of `Fn` (a declaration from cuda.h).
template <auto Fn>
auto As(void* pfn) {
  return reinterpret_cast<decltype(Fn)>(pfn);
}

class ProcAddressTest : public simtest::PrimaryContextTest {
 protected:
  void SetUp() override {
    ASSERT_NE(Libcuda(), nullptr) << dlerror();
    PrimaryContextTest::SetUp();
  }
};

TEST(ProcAddressBeforeInit, AnswersBeforeCuInit) {
  ASSERT_EQ(g_before_init.result, CUDA_SUCCESS);
  EXPECT_EQ(g_before_init.status, CU_GET_PROC_ADDRESS_SUCCESS);
  ASSERT_NE(Libcuda(), nullptr) << dlerror();
  EXPECT_EQ(g_before_init.pfn, Exported("cuInit"));
}

TEST_F(ProcAddressTest, ReturnedFunctionsWork) {
  Lookup alloc = Find("cuMemAlloc", 12000);
  ASSERT_EQ(alloc.result, CUDA_SUCCESS);
  EXPECT_EQ(alloc.status, CU_GET_PROC_ADDRESS_SUCCESS);
  EXPECT_EQ(alloc.pfn, Exported("cuMemAlloc_v2"));
  size_t before = FreeMemory();
  CUdeviceptr p = 0;
  ASSERT_CU(As<&cuMemAlloc>(alloc.pfn)(&p, 64 * kMiB));
  EXPECT_EQ(FreeMemory(), before - 64 * kMiB);
  EXPECT_CU(cuMemFree(p));
}

TEST_F(ProcAddressTest, VersionPicksTheSymbolVersion) {
  Lookup v3 = Find("cuCtxCreate", 11040);
  Lookup v4 = Find("cuCtxCreate", 12050);
  Lookup newest = Find("cuCtxCreate", 13000);
  ASSERT_EQ(v3.result, CUDA_SUCCESS);
  ASSERT_EQ(v4.result, CUDA_SUCCESS);
  EXPECT_NE(v3.pfn, v4.pfn);
  EXPECT_EQ(v3.pfn, Exported("cuCtxCreate_v3"));
  EXPECT_EQ(v4.pfn, Exported("cuCtxCreate_v4"));
  EXPECT_EQ(newest.pfn, v4.pfn);
  EXPECT_EQ(Find("cuCtxCreate", 11000).pfn, Exported("cuCtxCreate_v2"));
}

TEST_F(ProcAddressTest, TooOldAVersionIsNotSufficient) {
  Lookup l = Find("cuMemAllocAsync", 11000);
  EXPECT_EQ(l.result, CUDA_ERROR_NOT_FOUND);
  EXPECT_EQ(l.status, CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT);
  EXPECT_EQ(l.pfn, nullptr);
  EXPECT_EQ(Find("cuMemAllocAsync", 11020).result, CUDA_SUCCESS);
}

TEST_F(ProcAddressTest, UnknownSymbolsAreNotFound) {
  Lookup l = Find("cuNoSuchFunction", 13000);
  EXPECT_EQ(l.result, CUDA_ERROR_NOT_FOUND);
  EXPECT_EQ(l.status, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
  EXPECT_EQ(l.pfn, nullptr);
}

TEST_F(ProcAddressTest, NullArgumentsAreInvalid) {
  void* pfn = nullptr;
  CUdriverProcAddressQueryResult status;
  EXPECT_EQ(cuGetProcAddress(nullptr, &pfn, 12000, CU_GET_PROC_ADDRESS_DEFAULT, &status), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(cuGetProcAddress("cuInit", nullptr, 12000, CU_GET_PROC_ADDRESS_DEFAULT, &status), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(cuGetProcAddress("cuInit", &pfn, 12000, 1ull << 40, &status), CUDA_ERROR_INVALID_VALUE);
}

TEST_F(ProcAddressTest, PerThreadVariantUsesThePerThreadStream) {
  Lookup legacy = Find("cuLaunchKernel", 12000);
  Lookup per_thread = Find("cuLaunchKernel", 12000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM);
  ASSERT_EQ(per_thread.result, CUDA_SUCCESS);
  EXPECT_NE(per_thread.pfn, legacy.pfn);
  // Entry points without stream arguments have no variant.
  EXPECT_EQ(Find("cuMemAlloc", 12000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM).pfn,
            Find("cuMemAlloc", 12000).pfn);

  CUmodule module = nullptr;
  CUfunction spin = nullptr;
  ASSERT_CU(cuModuleLoadData(&module, kSimKernelsPtx));
  ASSERT_CU(cuModuleGetFunction(&spin, module, "vxpu_spin_ns"));
  unsigned long long ns = 200ull * 1000 * 1000;
  void* params[] = {&ns};
  auto launch = As<&cuLaunchKernel>(per_thread.pfn);
  ASSERT_CU(launch(spin, 1, 1, 1, 1, 1, 1, 0, nullptr, params, nullptr));  // NULL: the per-thread stream
  EXPECT_EQ(cuStreamQuery(CU_STREAM_PER_THREAD), CUDA_ERROR_NOT_READY);
  ASSERT_CU(cuStreamSynchronize(CU_STREAM_PER_THREAD));
  EXPECT_CU(cuStreamQuery(CU_STREAM_PER_THREAD));
  EXPECT_CU(cuModuleUnload(module));
}

TEST_F(ProcAddressTest, VersionOneEntryPointTakesFourArguments) {
  using V1 = CUresult (*)(const char*, void**, int, cuuint64_t);
  auto v1 = reinterpret_cast<V1>(Exported("cuGetProcAddress"));
  ASSERT_NE(v1, nullptr);
  void* pfn = nullptr;
  ASSERT_CU(v1("cuMemAlloc", &pfn, 12000, CU_GET_PROC_ADDRESS_DEFAULT));
  EXPECT_EQ(pfn, Find("cuMemAlloc", 12000).pfn);
  EXPECT_EQ(v1("cuNoSuchFunction", &pfn, 12000, CU_GET_PROC_ADDRESS_DEFAULT), CUDA_ERROR_NOT_FOUND);
  // The newest cuGetProcAddress is the v2 symbol; 11030..11999 still gets v1.
  EXPECT_EQ(Find("cuGetProcAddress", 12000).pfn, Exported("cuGetProcAddress_v2"));
  EXPECT_EQ(Find("cuGetProcAddress", 11080).pfn, reinterpret_cast<void*>(v1));
}

TEST_F(ProcAddressTest, OldVersionsGetTheLegacyEntryPoint) {
  // CUDA 2.x programs get cuDeviceTotalMem with 32-bit sizes, as a real driver hands it out.
  Lookup old = Find("cuDeviceTotalMem", 2000);
  ASSERT_CU(old.result);
  EXPECT_EQ(old.pfn, Exported("cuDeviceTotalMem"));
  EXPECT_NE(old.pfn, Find("cuDeviceTotalMem", 3020).pfn);
  unsigned int bytes = 0;
  ASSERT_CU(reinterpret_cast<CUresult (*)(unsigned int*, CUdevice)>(old.pfn)(&bytes, 0));
  size_t total = 0;
  ASSERT_CU(cuDeviceTotalMem(&total, 0));
  EXPECT_EQ(bytes, std::min<size_t>(total, UINT32_MAX));
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  g_before_init.result =
      cuGetProcAddress("cuInit", &g_before_init.pfn, 12000, CU_GET_PROC_ADDRESS_DEFAULT, &g_before_init.status);
  ::testing::AddGlobalTestEnvironment(new simtest::SimEnvironment(std::vector<simtest::SimDevice>(1)));
  return RUN_ALL_TESTS();
}
