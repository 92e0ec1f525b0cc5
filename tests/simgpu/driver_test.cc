// Initialisation, devices, attributes and contexts of the simulated driver.
#include <cuda.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include "sim_env.h"

namespace {

const std::vector<simtest::SimDevice> kDevices = {
    {.memory = "16GiB", .context_overhead = "0", .sm_count = 40, .name = "Sim Device Zero"},
    {.memory = "24GiB", .context_overhead = "0", .sm_count = 60, .name = "Sim Device One"},
};

// What the driver answered before anything called cuInit (recorded by main()).
struct BeforeInit {
  CUresult device_count = CUDA_SUCCESS;
  CUresult device_get = CUDA_SUCCESS;
  CUresult ctx_get_current = CUDA_SUCCESS;
} g_before_init;

// The 16 bytes a "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" UUID stands for.
std::vector<unsigned char> UuidBytes(const std::string& uuid) {
  std::string hex;
  for (char c : uuid.substr(4)) {
    if (c != '-') hex += c;
  }
  std::vector<unsigned char> bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes.push_back(static_cast<unsigned char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return bytes;
}

CUcontext Current() {
  CUcontext ctx = nullptr;
  EXPECT_CU(cuCtxGetCurrent(&ctx));
  return ctx;
}

int Attribute(CUdevice_attribute attr, CUdevice dev) {
  int value = -1;
  EXPECT_CU(cuDeviceGetAttribute(&value, attr, dev));
  return value;
}

class DriverTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_CU(cuInit(0)); }
};

TEST(DriverInit, CallsBeforeCuInitAreNotInitialized) {
  EXPECT_EQ(g_before_init.device_count, CUDA_ERROR_NOT_INITIALIZED);
  EXPECT_EQ(g_before_init.device_get, CUDA_ERROR_NOT_INITIALIZED);
  EXPECT_EQ(g_before_init.ctx_get_current, CUDA_ERROR_NOT_INITIALIZED);
}

TEST(DriverInit, NonZeroFlagsAreInvalid) { EXPECT_EQ(cuInit(1), CUDA_ERROR_INVALID_VALUE); }

TEST_F(DriverTest, DriverVersionIsTheHeaderVersion) {
  int version = 0;
  ASSERT_CU(cuDriverGetVersion(&version));
  EXPECT_EQ(version, CUDA_VERSION);
}

TEST_F(DriverTest, DevicesMatchTheConfig) {
  SKIP_THROUGH_REMOTE("a session has one device");
  int count = 0;
  ASSERT_CU(cuDeviceGetCount(&count));
  ASSERT_EQ(count, static_cast<int>(kDevices.size()));
  for (int i = 0; i < count; ++i) {
    SCOPED_TRACE("device " + std::to_string(i));
    const simtest::SimDevice& want = kDevices[static_cast<size_t>(i)];
    CUdevice dev = -1;
    ASSERT_CU(cuDeviceGet(&dev, i));
    EXPECT_EQ(dev, i);
    char name[256];
    ASSERT_CU(cuDeviceGetName(name, sizeof(name), dev));
    EXPECT_STREQ(name, want.name.c_str());
    size_t total = 0;
    ASSERT_CU(cuDeviceTotalMem(&total, dev));
    EXPECT_EQ(total, (i == 0 ? 16ull : 24ull) << 30);
    CUuuid uuid;
    ASSERT_CU(cuDeviceGetUuid(&uuid, dev));
    std::vector<unsigned char> expected = UuidBytes(simtest::UniqueUuid(i));
    ASSERT_EQ(expected.size(), sizeof(uuid.bytes));
    EXPECT_EQ(std::memcmp(uuid.bytes, expected.data(), expected.size()), 0);
  }
}

TEST_F(DriverTest, AttributesComeFromTheConfig) {
  SKIP_THROUGH_REMOTE("a session has one device");
  EXPECT_EQ(Attribute(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, 0), 40);
  EXPECT_EQ(Attribute(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, 1), 60);
  EXPECT_EQ(Attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, 0), 9);
  EXPECT_EQ(Attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, 0), 0);
  EXPECT_EQ(Attribute(CU_DEVICE_ATTRIBUTE_WARP_SIZE, 1), 32);
}

TEST_F(DriverTest, InvalidOrdinalIsInvalidDevice) {
  CUdevice dev = 0;
  char name[64];
  size_t total = 0;
  int value = 0;
  EXPECT_EQ(cuDeviceGet(&dev, 2), CUDA_ERROR_INVALID_DEVICE);
  EXPECT_EQ(cuDeviceGet(&dev, -1), CUDA_ERROR_INVALID_DEVICE);
  EXPECT_EQ(cuDeviceGetName(name, sizeof(name), 7), CUDA_ERROR_INVALID_DEVICE);
  EXPECT_EQ(cuDeviceTotalMem(&total, 2), CUDA_ERROR_INVALID_DEVICE);
  EXPECT_EQ(cuDeviceGetAttribute(&value, CU_DEVICE_ATTRIBUTE_WARP_SIZE, -3), CUDA_ERROR_INVALID_DEVICE);
  CUcontext ctx = nullptr;
  EXPECT_EQ(cuDevicePrimaryCtxRetain(&ctx, 2), CUDA_ERROR_INVALID_DEVICE);
  EXPECT_EQ(cuCtxCreate(&ctx, nullptr, 0, 2), CUDA_ERROR_INVALID_DEVICE);
}

TEST_F(DriverTest, PrimaryContextIsReferenceCounted) {
  SKIP_THROUGH_REMOTE("a session has one device");
  auto state = [] {
    unsigned flags = 0;
    int active = -1;
    EXPECT_CU(cuDevicePrimaryCtxGetState(1, &flags, &active));
    return active;
  };
  EXPECT_EQ(state(), 0);
  CUcontext first = nullptr, second = nullptr;
  ASSERT_CU(cuDevicePrimaryCtxRetain(&first, 1));
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(state(), 1);
  ASSERT_CU(cuDevicePrimaryCtxRetain(&second, 1));
  EXPECT_EQ(second, first);
  ASSERT_CU(cuDevicePrimaryCtxRelease(1));
  EXPECT_EQ(state(), 1);
  ASSERT_CU(cuDevicePrimaryCtxRelease(1));
  EXPECT_EQ(state(), 0);
  EXPECT_EQ(cuDevicePrimaryCtxRelease(1), CUDA_ERROR_INVALID_CONTEXT);
}

TEST_F(DriverTest, PrimaryContextIsNotDestroyedByCtxDestroy) {
  CUcontext primary = nullptr;
  ASSERT_CU(cuDevicePrimaryCtxRetain(&primary, 0));
  EXPECT_EQ(cuCtxDestroy(primary), CUDA_ERROR_INVALID_CONTEXT);
  ASSERT_CU(cuCtxSetCurrent(primary));
  CUdevice dev = -1;
  EXPECT_CU(cuCtxGetDevice(&dev));
  EXPECT_EQ(dev, 0);
  ASSERT_CU(cuCtxSetCurrent(nullptr));
  ASSERT_CU(cuDevicePrimaryCtxRelease(0));
}

TEST_F(DriverTest, CreatedContextsFormAStack) {
  SKIP_THROUGH_REMOTE("a session has one device");
  ASSERT_EQ(Current(), nullptr);
  CUcontext a = nullptr, b = nullptr, popped = nullptr;
  ASSERT_CU(cuCtxCreate(&a, nullptr, 0, 0));
  EXPECT_EQ(Current(), a);
  ASSERT_CU(cuCtxCreate(&b, nullptr, 0, 1));
  EXPECT_NE(a, b);
  EXPECT_EQ(Current(), b);
  CUdevice dev = -1;
  ASSERT_CU(cuCtxGetDevice(&dev));
  EXPECT_EQ(dev, 1);

  ASSERT_CU(cuCtxPopCurrent(&popped));
  EXPECT_EQ(popped, b);
  EXPECT_EQ(Current(), a);
  ASSERT_CU(cuCtxPushCurrent(b));
  EXPECT_EQ(Current(), b);

  ASSERT_CU(cuCtxDestroy(b));  // a current context is popped when destroyed
  EXPECT_EQ(Current(), a);
  EXPECT_EQ(cuCtxPushCurrent(b), CUDA_ERROR_INVALID_CONTEXT);
  ASSERT_CU(cuCtxDestroy(a));
  EXPECT_EQ(Current(), nullptr);
  EXPECT_EQ(cuCtxDestroy(a), CUDA_ERROR_INVALID_CONTEXT);
  EXPECT_EQ(cuCtxPopCurrent(&popped), CUDA_ERROR_INVALID_CONTEXT);
}

TEST_F(DriverTest, SetCurrentReplacesTheTopOfTheStack) {
  CUcontext a = nullptr, b = nullptr;
  ASSERT_CU(cuCtxCreate(&a, nullptr, 0, 0));
  ASSERT_CU(cuCtxCreate(&b, nullptr, 0, 0));
  ASSERT_CU(cuCtxSetCurrent(a));
  EXPECT_EQ(Current(), a);
  CUcontext popped = nullptr;
  ASSERT_CU(cuCtxPopCurrent(&popped));
  EXPECT_EQ(popped, a);
  EXPECT_EQ(Current(), a);  // the context below, pushed by the first cuCtxCreate
  ASSERT_CU(cuCtxDestroy(b));
  ASSERT_CU(cuCtxDestroy(a));
  EXPECT_EQ(Current(), nullptr);
}

TEST_F(DriverTest, ContextsAreCurrentPerThread) {
  CUcontext ctx = nullptr;
  ASSERT_CU(cuCtxCreate(&ctx, nullptr, 0, 0));
  CUcontext seen = ctx;
  std::thread([&seen] { seen = Current(); }).join();
  EXPECT_EQ(seen, nullptr);
  ASSERT_CU(cuCtxDestroy(ctx));
}

TEST_F(DriverTest, NoCurrentContextIsInvalidContext) {
  CUresult alloc = CUDA_SUCCESS, info = CUDA_SUCCESS;
  std::thread([&] {  // a fresh thread has no current context
    CUdeviceptr p = 0;
    size_t free_bytes = 0, total = 0;
    alloc = cuMemAlloc(&p, 1024);
    info = cuMemGetInfo(&free_bytes, &total);
  })
      .join();
  EXPECT_EQ(alloc, CUDA_ERROR_INVALID_CONTEXT);
  EXPECT_EQ(info, CUDA_ERROR_INVALID_CONTEXT);
}

TEST(DriverErrors, NamesAndDescriptions) {
  const char* text = nullptr;
  ASSERT_CU(cuGetErrorName(CUDA_ERROR_OUT_OF_MEMORY, &text));
  EXPECT_STREQ(text, "CUDA_ERROR_OUT_OF_MEMORY");
  ASSERT_CU(cuGetErrorString(CUDA_ERROR_OUT_OF_MEMORY, &text));
  EXPECT_STREQ(text, "out of memory");
  ASSERT_CU(cuGetErrorName(CUDA_SUCCESS, &text));
  EXPECT_STREQ(text, "CUDA_SUCCESS");
  ASSERT_CU(cuGetErrorString(CUDA_ERROR_INVALID_DEVICE, &text));
  EXPECT_STREQ(text, "invalid device ordinal");
}

TEST(DriverErrors, UnknownCodesAreInvalidValue) {
  constexpr CUresult kUnknownError = static_cast<CUresult>(1000);  // past CUDA_ERROR_UNKNOWN (999)
  const char* text = "unchanged";
  EXPECT_EQ(cuGetErrorName(kUnknownError, &text), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(text, nullptr);
  text = "unchanged";
  EXPECT_EQ(cuGetErrorString(kUnknownError, &text), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(text, nullptr);
  EXPECT_EQ(cuGetErrorName(CUDA_ERROR_OUT_OF_MEMORY, nullptr), CUDA_ERROR_INVALID_VALUE);
}

// cuInit in a program started with VXPU_SIMGPU_CONFIG=`config`: the program's output.
std::string CuInitWithConfig(const std::string& config, int* exit_code) {
  auto child = simtest::StartChild({VXPU_BIN_DIR "/vxpu-vector_add", "1000"},
                                   {"LD_LIBRARY_PATH=" VXPU_SIMGPU_DIR, "VXPU_SIMGPU_CONFIG=" + config});
  *exit_code = child->Wait();
  return child->output();
}

TEST(DriverInit, ABadConfigFailsCuInitWithOneLineNamingIt) {
  const std::string bad = "/tmp/vxpu-simgpu-bad-" + std::to_string(getpid()) + ".json";
  std::ofstream(bad) << R"({"devices":[{"memory":"lots"}]})";
  struct Case {
    std::string config;
    std::string says;
  };
  for (const Case& c : {Case{bad, "simgpu: VXPU_SIMGPU_CONFIG=" + bad + ": device 0: bad memory \"lots\""},
                        Case{"/nonexistent/config.json", "VXPU_SIMGPU_CONFIG=/nonexistent/config.json: cannot read"}}) {
    int code = 0;
    std::string output = CuInitWithConfig(c.config, &code);
    EXPECT_NE(code, 0) << output;
    EXPECT_NE(output.find(c.says), std::string::npos) << output;
    EXPECT_NE(output.find("cuInit(0) failed: CUDA_ERROR_SYSTEM_NOT_READY"), std::string::npos) << output;
  }
  std::remove(bad.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  int count = 0;
  CUdevice dev = 0;
  CUcontext ctx = nullptr;
  g_before_init = {cuDeviceGetCount(&count), cuDeviceGet(&dev, 0), cuCtxGetCurrent(&ctx)};
  ::testing::AddGlobalTestEnvironment(new simtest::SimEnvironment(kDevices));
  return RUN_ALL_TESTS();
}
