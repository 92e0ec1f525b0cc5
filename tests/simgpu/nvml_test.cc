// simgpu's NVML, loaded the way monitoring tools load it: dlopen by path, symbols by name.
#include <cuda.h>
#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "common/nvml_abi.h"
#include "sim_env.h"

namespace {

using simtest::PollFor;

using std::chrono::milliseconds;

constexpr uint64_t kMiB = 1ull << 20;
constexpr unsigned kMemoryDevice = 0;  // this process allocates here
constexpr unsigned kBurnDevice = 1;    // a burn child runs here

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"  // in NVML's own version macro
constexpr unsigned kMemoryV2Version = nvmlMemory_v2;
#pragma GCC diagnostic pop

const std::vector<simtest::SimDevice> kDevices = {
    {.memory = "8GiB", .context_overhead = "64MiB", .sm_count = 16, .name = "NVML Sim Zero"},
    {.memory = "4GiB", .context_overhead = "0", .sm_count = 8, .name = "NVML Sim One"},
};

// The NVML entry points this test uses: every name a real libnvidia-ml.so.1 exports for what
// simgpu implements, the legacy (unversioned) ones included, as a third-party client looks
// them up.
// clang-format off
#define NVML_FUNCTIONS(X)                       \
  X(nvmlInit)                                   \
  X(nvmlInit_v2)                                \
  X(nvmlInitWithFlags)                          \
  X(nvmlShutdown)                               \
  X(nvmlDeviceGetCount)                         \
  X(nvmlDeviceGetCount_v2)                      \
  X(nvmlDeviceGetHandleByIndex)                 \
  X(nvmlDeviceGetHandleByIndex_v2)              \
  X(nvmlDeviceGetHandleByUUID)                  \
  X(nvmlDeviceGetIndex)                         \
  X(nvmlDeviceGetName)                          \
  X(nvmlDeviceGetUUID)                          \
  X(nvmlDeviceGetMemoryInfo)                    \
  X(nvmlDeviceGetMemoryInfo_v2)                 \
  X(nvmlDeviceGetUtilizationRates)              \
  X(nvmlDeviceGetComputeRunningProcesses)       \
  X(nvmlDeviceGetComputeRunningProcesses_v2)    \
  X(nvmlDeviceGetComputeRunningProcesses_v3)    \
  X(nvmlDeviceGetGraphicsRunningProcesses)      \
  X(nvmlDeviceGetGraphicsRunningProcesses_v2)   \
  X(nvmlDeviceGetGraphicsRunningProcesses_v3)   \
  X(nvmlDeviceGetMPSComputeRunningProcesses)    \
  X(nvmlDeviceGetMPSComputeRunningProcesses_v2) \
  X(nvmlDeviceGetMPSComputeRunningProcesses_v3) \
  X(nvmlDeviceGetProcessUtilization)            \
  X(nvmlSystemGetDriverVersion)                 \
  X(nvmlErrorString)
// clang-format on

// Resolved from the library by name, without linking it.
struct NvmlApi {
  void* lib = nullptr;
#define NVML_FN(name) decltype(&::name) name = nullptr;
  NVML_FUNCTIONS(NVML_FN)
#undef NVML_FN
};

const NvmlApi& Nvml() {
  static const NvmlApi api = [] {
    NvmlApi a;
    a.lib = dlopen(VXPU_SIMGPU_DIR "/libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (a.lib == nullptr) return a;
#define NVML_LOAD(name) a.name = reinterpret_cast<decltype(a.name)>(dlsym(a.lib, #name));
    NVML_FUNCTIONS(NVML_LOAD)
#undef NVML_LOAD
    return a;
  }();
  return api;
}

nvmlDevice_t Handle(unsigned index) {
  nvmlDevice_t device = nullptr;
  EXPECT_EQ(Nvml().nvmlDeviceGetHandleByIndex_v2(index, &device), NVML_SUCCESS);
  return device;
}

nvmlMemory_t MemoryInfo(unsigned index) {
  nvmlMemory_t memory{};
  EXPECT_EQ(Nvml().nvmlDeviceGetMemoryInfo(Handle(index), &memory), NVML_SUCCESS);
  return memory;
}

std::vector<nvmlProcessInfo_t> RunningProcesses(unsigned index) {
  std::vector<nvmlProcessInfo_t> infos(64);
  unsigned count = static_cast<unsigned>(infos.size());
  EXPECT_EQ(Nvml().nvmlDeviceGetComputeRunningProcesses_v3(Handle(index), &count, infos.data()), NVML_SUCCESS);
  infos.resize(count);
  return infos;
}

// The SM utilization NVML reports for `pid` on device `index`, or -1 if it has no sample.
int SmUtilization(unsigned index, pid_t pid) {
  std::vector<nvmlProcessUtilizationSample_t> samples(64);
  unsigned count = static_cast<unsigned>(samples.size());
  EXPECT_EQ(Nvml().nvmlDeviceGetProcessUtilization(Handle(index), samples.data(), &count, 0), NVML_SUCCESS);
  for (unsigned i = 0; i < count; ++i) {
    if (samples[i].pid == static_cast<unsigned>(pid)) return static_cast<int>(samples[i].smUtil);
  }
  return -1;
}

bool HasProcess(unsigned index, pid_t pid) {
  for (const nvmlProcessInfo_t& info : RunningProcesses(index)) {
    if (info.pid == static_cast<unsigned>(pid)) return true;
  }
  return false;
}

class NvmlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(Nvml().lib, nullptr) << dlerror();
    ASSERT_EQ(Nvml().nvmlInit_v2(), NVML_SUCCESS);
  }
  void TearDown() override { EXPECT_EQ(Nvml().nvmlShutdown(), NVML_SUCCESS); }
};

// NvmlTest with this process holding a context on kMemoryDevice.
class NvmlWithContextTest : public NvmlTest {
 protected:
  void SetUp() override {
    NvmlTest::SetUp();
    ASSERT_CU(cuInit(0));
    ASSERT_CU(cuCtxCreate(&ctx_, nullptr, 0, static_cast<CUdevice>(kMemoryDevice)));
  }
  void TearDown() override {
    EXPECT_CU(cuCtxDestroy(ctx_));
    NvmlTest::TearDown();
  }

  CUcontext ctx_ = nullptr;
};

TEST_F(NvmlTest, AllEntryPointsResolve) {
#define NVML_CHECK(name) EXPECT_NE(Nvml().name, nullptr) << #name;
  NVML_FUNCTIONS(NVML_CHECK)
#undef NVML_CHECK
  char version[NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE];
  EXPECT_EQ(Nvml().nvmlSystemGetDriverVersion(version, sizeof(version)), NVML_SUCCESS);
  EXPECT_STREQ(Nvml().nvmlErrorString(NVML_ERROR_UNINITIALIZED), "Uninitialized");
}

TEST_F(NvmlTest, DevicesMatchTheConfig) {
  unsigned count = 0;
  ASSERT_EQ(Nvml().nvmlDeviceGetCount_v2(&count), NVML_SUCCESS);
  ASSERT_EQ(count, kDevices.size());
  for (unsigned i = 0; i < count; ++i) {
    SCOPED_TRACE("device " + std::to_string(i));
    nvmlDevice_t device = Handle(i);
    char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE];
    ASSERT_EQ(Nvml().nvmlDeviceGetName(device, name, sizeof(name)), NVML_SUCCESS);
    EXPECT_STREQ(name, kDevices[i].name.c_str());
    char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
    ASSERT_EQ(Nvml().nvmlDeviceGetUUID(device, uuid, sizeof(uuid)), NVML_SUCCESS);
    EXPECT_EQ(uuid, simtest::UniqueUuid(static_cast<int>(i)));
    unsigned index = 99;
    ASSERT_EQ(Nvml().nvmlDeviceGetIndex(device, &index), NVML_SUCCESS);
    EXPECT_EQ(index, i);
  }
  nvmlDevice_t device = nullptr;
  EXPECT_EQ(Nvml().nvmlDeviceGetHandleByIndex_v2(count, &device), NVML_ERROR_INVALID_ARGUMENT);
  char tiny[4];
  EXPECT_EQ(Nvml().nvmlDeviceGetName(Handle(0), tiny, sizeof(tiny)), NVML_ERROR_INSUFFICIENT_SIZE);
}

TEST_F(NvmlTest, HandlesAreFoundByUuid) {
  nvmlDevice_t device = nullptr;
  ASSERT_EQ(Nvml().nvmlDeviceGetHandleByUUID(simtest::UniqueUuid(1).c_str(), &device), NVML_SUCCESS);
  EXPECT_EQ(device, Handle(1));
  EXPECT_EQ(Nvml().nvmlDeviceGetHandleByUUID("GPU-00000000-0000-0000-0000-000000000000", &device),
            NVML_ERROR_NOT_FOUND);
}

TEST_F(NvmlWithContextTest, MemoryInfoSeesThisProcesssAllocations) {
  nvmlMemory_t before = MemoryInfo(kMemoryDevice);
  EXPECT_EQ(before.total, 8ull << 30);
  EXPECT_EQ(before.used, 64 * kMiB);  // the context
  EXPECT_EQ(before.free + before.used, before.total);
  CUdeviceptr p = 0;
  ASSERT_CU(cuMemAlloc(&p, 256 * kMiB));
  EXPECT_EQ(MemoryInfo(kMemoryDevice).used, before.used + 256 * kMiB);
  ASSERT_CU(cuMemFree(p));
  EXPECT_EQ(MemoryInfo(kMemoryDevice).used, before.used);
}

TEST_F(NvmlTest, MemoryInfoV2ChecksTheStructVersion) {
  nvmlMemory_v2_t memory{};
  memory.version = 1;
  EXPECT_EQ(Nvml().nvmlDeviceGetMemoryInfo_v2(Handle(kBurnDevice), &memory), NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
  memory.version = kMemoryV2Version;
  ASSERT_EQ(Nvml().nvmlDeviceGetMemoryInfo_v2(Handle(kBurnDevice), &memory), NVML_SUCCESS);
  EXPECT_EQ(memory.total, 4ull << 30);
  EXPECT_EQ(memory.free + memory.used, memory.total);
}

TEST_F(NvmlWithContextTest, RunningProcessesListThisProcess) {
  CUdeviceptr p = 0;
  ASSERT_CU(cuMemAlloc(&p, 32 * kMiB));
  std::vector<nvmlProcessInfo_t> processes = RunningProcesses(kMemoryDevice);
  ASSERT_EQ(processes.size(), 1u);
  EXPECT_EQ(processes[0].pid, static_cast<unsigned>(getpid()));
  EXPECT_EQ(processes[0].usedGpuMemory, 64 * kMiB + 32 * kMiB);
  unsigned count = 0;
  EXPECT_EQ(Nvml().nvmlDeviceGetComputeRunningProcesses_v3(Handle(kMemoryDevice), &count, nullptr),
            NVML_ERROR_INSUFFICIENT_SIZE);
  EXPECT_EQ(count, 1u);
  EXPECT_CU(cuMemFree(p));
}

// A process list read into an array of exactly the size announced, followed by a canary that
// must survive: v1 entries are smaller than v2/v3 ones, and must not be written as those.
template <typename Info>
std::vector<Info> ExactList(nvmlReturn_t (*list)(nvmlDevice_t, unsigned*, Info*), unsigned index) {
  constexpr unsigned char kCanary = 0xA5;
  unsigned count = 0;
  EXPECT_EQ(list(Handle(index), &count, nullptr), NVML_ERROR_INSUFFICIENT_SIZE);
  std::vector<Info> storage(count + 2);
  std::memset(static_cast<void*>(storage.data()), kCanary, storage.size() * sizeof(Info));
  unsigned n = count;
  EXPECT_EQ(list(Handle(index), &n, storage.data()), NVML_SUCCESS);
  EXPECT_EQ(n, count);
  const auto* bytes = reinterpret_cast<const unsigned char*>(storage.data());
  for (size_t i = count * sizeof(Info); i < storage.size() * sizeof(Info); ++i)
    EXPECT_EQ(bytes[i], kCanary) << "written past the array, at byte " << i;
  storage.resize(std::min(n, count));
  return storage;
}

TEST_F(NvmlWithContextTest, EachProcessListLayoutIsFilledAsItself) {
  CUdeviceptr p = 0;
  ASSERT_CU(cuMemAlloc(&p, 32 * kMiB));
  const unsigned pid = static_cast<unsigned>(getpid());
  const unsigned long long used = 64 * kMiB + 32 * kMiB;
  std::vector<nvmlProcessInfo_v1_t> v1 = ExactList(Nvml().nvmlDeviceGetComputeRunningProcesses, kMemoryDevice);
  ASSERT_EQ(v1.size(), 1u);
  EXPECT_EQ(v1[0].pid, pid);
  EXPECT_EQ(v1[0].usedGpuMemory, used);
  for (auto list : {Nvml().nvmlDeviceGetComputeRunningProcesses_v2, Nvml().nvmlDeviceGetComputeRunningProcesses_v3}) {
    std::vector<nvmlProcessInfo_t> v2 = ExactList(list, kMemoryDevice);
    ASSERT_EQ(v2.size(), 1u);
    EXPECT_EQ(v2[0].pid, pid);
    EXPECT_EQ(v2[0].usedGpuMemory, used);
    EXPECT_EQ(v2[0].gpuInstanceId, 0xFFFFFFFFu);  // no MIG
    EXPECT_EQ(v2[0].computeInstanceId, 0xFFFFFFFFu);
  }
  EXPECT_CU(cuMemFree(p));
}

TEST_F(NvmlWithContextTest, NoProcessIsGraphicsOrMps) {
  unsigned count = 99;
  EXPECT_EQ(Nvml().nvmlDeviceGetGraphicsRunningProcesses(Handle(kMemoryDevice), &count, nullptr), NVML_SUCCESS);
  EXPECT_EQ(count, 0u);
  count = 99;
  EXPECT_EQ(Nvml().nvmlDeviceGetGraphicsRunningProcesses_v3(Handle(kMemoryDevice), &count, nullptr), NVML_SUCCESS);
  EXPECT_EQ(count, 0u);
  count = 99;
  EXPECT_EQ(Nvml().nvmlDeviceGetMPSComputeRunningProcesses(Handle(kMemoryDevice), &count, nullptr), NVML_SUCCESS);
  EXPECT_EQ(count, 0u);
}

TEST_F(NvmlTest, LegacyDeviceQueriesAgreeWithTheirSuccessors) {
  ASSERT_EQ(Nvml().nvmlShutdown(), NVML_SUCCESS);
  ASSERT_EQ(Nvml().nvmlInit(), NVML_SUCCESS);  // SetUp's init, the legacy way (TearDown shuts down)
  unsigned legacy = 0, current = 0;
  ASSERT_EQ(Nvml().nvmlDeviceGetCount(&legacy), NVML_SUCCESS);
  ASSERT_EQ(Nvml().nvmlDeviceGetCount_v2(&current), NVML_SUCCESS);
  EXPECT_EQ(legacy, current);
  nvmlDevice_t device = nullptr;
  ASSERT_EQ(Nvml().nvmlDeviceGetHandleByIndex(1, &device), NVML_SUCCESS);
  EXPECT_EQ(device, Handle(1));
}

TEST_F(NvmlTest, ProcessUtilizationOfABusyProcess) {
  auto burn_process =
      simtest::StartOnSimgpu({VXPU_BIN_DIR "/vxpu-burn", "--seconds", "3", "--device", std::to_string(kBurnDevice)});
  vxpu::ChildProcess& burn = *burn_process;
  ASSERT_TRUE(burn.running());
  ASSERT_TRUE(PollFor(milliseconds(2000), [&] { return HasProcess(kBurnDevice, burn.pid()); }));
  std::this_thread::sleep_for(milliseconds(1000));
  int util = SmUtilization(kBurnDevice, burn.pid());
  RecordProperty("sm_util", std::to_string(util));
  EXPECT_GE(util, 50);
  EXPECT_LE(util, 100);
  // A query right after finds the same sample, not a sliver of time since the first.
  int again = SmUtilization(kBurnDevice, burn.pid());
  EXPECT_GE(again, 50);
  burn.Kill();
}

TEST(NvmlUninitialized, CallsAfterShutdownAreUninitialized) {
  ASSERT_NE(Nvml().lib, nullptr) << dlerror();
  ASSERT_EQ(Nvml().nvmlInit_v2(), NVML_SUCCESS);
  nvmlDevice_t device = Handle(0);
  ASSERT_EQ(Nvml().nvmlShutdown(), NVML_SUCCESS);
  unsigned count = 0;
  EXPECT_EQ(Nvml().nvmlDeviceGetCount_v2(&count), NVML_ERROR_UNINITIALIZED);
  EXPECT_EQ(Nvml().nvmlDeviceGetHandleByIndex_v2(0, &device), NVML_ERROR_UNINITIALIZED);
  nvmlMemory_t memory;
  EXPECT_EQ(Nvml().nvmlDeviceGetMemoryInfo(device, &memory), NVML_ERROR_UNINITIALIZED);
  EXPECT_EQ(Nvml().nvmlShutdown(), NVML_ERROR_UNINITIALIZED);
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new simtest::SimEnvironment(kDevices));
  return RUN_ALL_TESTS();
}
