// simnpu on its own: an ACL program (this test binary, linked against simnpu's libascendcl.so
// and libdcmi.so) and vxpu-acl child processes on two simulated chips. What vxpu's slices stand
// on: real codes, capacity, lazy backing, state shared between processes, time slicing.
#include <signal.h>
#include <sys/resource.h>

#include <cstring>
#include <fstream>

#include "common/ascend_api.h"
#include "npu_env.h"

namespace {

constexpr uint64_t kMiB = 1024ull * 1024;
constexpr uint64_t kGiB = 1024 * kMiB;

class Simnpu : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ASSERT_EQ(aclInit(nullptr), ACL_SUCCESS); }
  void SetUp() override { ASSERT_EQ(aclrtSetDevice(0), ACL_SUCCESS); }
  void TearDown() override { EXPECT_EQ(aclrtResetDevice(0), ACL_SUCCESS); }

  static size_t FreeBytes() {
    size_t free_bytes = 0, total = 0;
    EXPECT_EQ(aclrtGetMemInfo(ACL_HBM_MEM, &free_bytes, &total), ACL_SUCCESS);
    return free_bytes;
  }
};

uint64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

TEST_F(Simnpu, SeesTheConfiguredChipsThroughAclAndDcmi) {
  uint32_t count = 0;
  ASSERT_EQ(aclrtGetDeviceCount(&count), ACL_SUCCESS);
  EXPECT_EQ(count, 2u);
  size_t free_bytes = 0, total = 0;
  ASSERT_EQ(aclrtGetMemInfo(ACL_HBM_MEM, &free_bytes, &total), ACL_SUCCESS);
  EXPECT_EQ(total, 4 * kGiB);
  ASSERT_EQ(dcmi_init(), DCMI_OK);
  int cards[8], n = 0;
  ASSERT_EQ(dcmi_get_card_list(&n, cards, 8), DCMI_OK);
  ASSERT_EQ(n, 2);
  dcmi_chip_info chip{};
  ASSERT_EQ(dcmi_get_device_chip_info(1, 0, &chip), DCMI_OK);
  EXPECT_STREQ(reinterpret_cast<char*>(chip.chip_type), "Ascend");
  EXPECT_STREQ(reinterpret_cast<char*>(chip.chip_name), "910B4");
  EXPECT_EQ(chip.aicore_cnt, 24u);
  dcmi_hbm_info hbm{};
  ASSERT_EQ(dcmi_get_device_hbm_info(1, 0, &hbm), DCMI_OK);
  EXPECT_EQ(hbm.memory_size, 8192u);
  EXPECT_EQ(dcmi_get_device_hbm_info(2, 0, &hbm), DCMI_ERR_INVALID_DEVICE_ID);
  uint32_t phy = 99;
  ASSERT_EQ(rtGetDevicePhyIdByIndex(1, &phy), ACL_SUCCESS);
  EXPECT_EQ(phy, 1u);
}

TEST_F(Simnpu, AKernelComputesOnDeviceMemory) {
  auto child = npu::Start({npu::kAcl, "vector-add", "100000"});
  EXPECT_EQ(child->Wait(), 0) << child->output();  // it checks every element on the host
  EXPECT_NE(child->output().find("vector-add: 100000 elements correct"), std::string::npos) << child->output();
}

TEST_F(Simnpu, AFullChipRefusesWith207001AndHasRoomAfterAFree) {
  void* blocks[4] = {};
  for (void*& p : blocks) ASSERT_EQ(aclrtMalloc(&p, kGiB, ACL_MEM_MALLOC_HUGE_FIRST), ACL_SUCCESS);
  void* more = nullptr;
  EXPECT_EQ(aclrtMalloc(&more, kMiB, ACL_MEM_MALLOC_HUGE_FIRST), ACL_ERROR_RT_MEMORY_ALLOCATION);
  EXPECT_EQ(FreeBytes(), 0u);
  ASSERT_EQ(aclrtFree(blocks[0]), ACL_SUCCESS);
  EXPECT_EQ(aclrtMalloc(&more, kGiB, ACL_MEM_MALLOC_HUGE_FIRST), ACL_SUCCESS);
  for (void* p : {more, blocks[1], blocks[2], blocks[3]}) EXPECT_EQ(aclrtFree(p), ACL_SUCCESS);
  EXPECT_EQ(FreeBytes(), 4 * kGiB);
  EXPECT_EQ(aclrtFree(more), ACL_ERROR_RT_MEMORY_FREE);  // twice
}

TEST_F(Simnpu, DeviceMemoryIsBackedOnlyWhereWritten) {
  uint64_t before = ResidentBytes();
  void* p = nullptr;
  ASSERT_EQ(aclrtMalloc(&p, 3 * kGiB, ACL_MEM_MALLOC_HUGE_FIRST), ACL_SUCCESS);
  ASSERT_EQ(aclrtMemset(p, 3 * kGiB, 7, kMiB), ACL_SUCCESS);
  EXPECT_LT(ResidentBytes() - before, 64 * kMiB);
  unsigned char byte = 0;
  ASSERT_EQ(aclrtMemcpy(&byte, 1, static_cast<char*>(p) + 100, 1, ACL_MEMCPY_DEVICE_TO_HOST), ACL_SUCCESS);
  EXPECT_EQ(byte, 7);
  EXPECT_EQ(aclrtMemcpy(&byte, 1, static_cast<char*>(p) + 3 * kGiB, 1, ACL_MEMCPY_DEVICE_TO_HOST),
            ACL_ERROR_RT_PARAM_INVALID);  // past the allocation
  EXPECT_EQ(aclrtFree(p), ACL_SUCCESS);
}

TEST_F(Simnpu, PhysicalMemoryMapsIntoReservedAddressesAndCountsAgainstTheChip) {
  aclrtPhysicalMemProp prop{};
  prop.memAttr = ACL_HBM_MEM_HUGE;
  prop.location.type = 1;
  size_t granularity = 0;
  ASSERT_EQ(aclrtMemGetAllocationGranularity(&prop, 0, &granularity), ACL_SUCCESS);
  aclrtDrvMemHandle handle = nullptr;
  ASSERT_EQ(aclrtMallocPhysical(&handle, 2 * kGiB, &prop, 0), ACL_SUCCESS);
  EXPECT_EQ(FreeBytes(), 2 * kGiB);
  void* va = nullptr;
  ASSERT_EQ(aclrtReserveMemAddress(&va, 4 * kGiB, 0, nullptr, 0), ACL_SUCCESS);
  ASSERT_EQ(aclrtMapMem(va, 2 * kGiB, 0, handle, 0), ACL_SUCCESS);
  EXPECT_EQ(aclrtMapMem(static_cast<char*>(va) + 3 * kGiB, 2 * kGiB, 0, handle, 0),
            ACL_ERROR_RT_PARAM_INVALID);  // past the reservation
  uint32_t value = 0x5a5a5a5a, back = 0;
  ASSERT_EQ(aclrtMemcpy(static_cast<char*>(va) + kGiB, 4, &value, 4, ACL_MEMCPY_HOST_TO_DEVICE), ACL_SUCCESS);
  ASSERT_EQ(aclrtMemcpy(&back, 4, static_cast<char*>(va) + kGiB, 4, ACL_MEMCPY_DEVICE_TO_HOST), ACL_SUCCESS);
  EXPECT_EQ(back, value);
  void* over = nullptr;
  EXPECT_EQ(aclrtMallocPhysical(&over, 4 * kGiB, &prop, 0), ACL_ERROR_RT_MEMORY_ALLOCATION);
  ASSERT_EQ(aclrtFreePhysical(handle), ACL_SUCCESS);
  EXPECT_EQ(FreeBytes(), 2 * kGiB);  // still mapped
  ASSERT_EQ(aclrtUnmapMem(va), ACL_SUCCESS);
  EXPECT_EQ(FreeBytes(), 4 * kGiB);
  EXPECT_EQ(aclrtReleaseMemAddress(va), ACL_SUCCESS);
}

TEST_F(Simnpu, BadArgumentsGetAclCodes) {
  EXPECT_EQ(aclInit(nullptr), ACL_ERROR_REPEAT_INITIALIZE);
  EXPECT_EQ(aclrtSetDevice(2), ACL_ERROR_RT_INVALID_DEVICEID);
  void* p = nullptr;
  EXPECT_EQ(aclrtMalloc(&p, 0, ACL_MEM_MALLOC_HUGE_FIRST), ACL_ERROR_INVALID_PARAM);
  aclrtMemMallocPolicy unknown;
  const int unknown_value = 9;
  std::memcpy(&unknown, &unknown_value, sizeof(unknown));
  EXPECT_EQ(aclrtMalloc(&p, kMiB, unknown), ACL_ERROR_INVALID_PARAM);
  int local = 0;
  EXPECT_EQ(aclrtFree(&local), ACL_ERROR_RT_MEMORY_FREE);
  char path[] = "/tmp/vxpu-simnpu-kernel-XXXXXX";
  int fd = mkstemp(path);
  const char kUnknown[] = ".entry not_a_simnpu_kernel\n";
  ASSERT_EQ(write(fd, kUnknown, sizeof(kUnknown) - 1), static_cast<ssize_t>(sizeof(kUnknown) - 1));
  close(fd);
  aclrtBinHandle binary = nullptr;
  ASSERT_EQ(aclrtBinaryLoadFromFile(path, nullptr, &binary), ACL_SUCCESS);
  unlink(path);
  aclrtFuncHandle function = nullptr;
  EXPECT_EQ(aclrtBinaryGetFunction(binary, "not_a_simnpu_kernel", &function), ACL_ERROR_RT_FEATURE_NOT_SUPPORT);
  EXPECT_EQ(aclrtBinaryGetFunction(binary, "vxpu_spin_ns", &function), ACL_ERROR_RT_PARAM_INVALID);  // not declared
  EXPECT_EQ(aclrtBinaryUnLoad(binary), ACL_SUCCESS);
}

TEST_F(Simnpu, ABadConfigOrVisibleListIsRefusedInOneLine) {
  char bad[] = "/tmp/vxpu-simnpu-bad-XXXXXX";
  int fd = mkstemp(bad);
  ASSERT_EQ(write(fd, "{\"devices\": [{\"memory\": \"lots\"}]}", 34), 34);
  close(fd);
  auto child = npu::Start({npu::kAcl, "info"}, {std::string("VXPU_SIMNPU_CONFIG=") + bad});
  EXPECT_EQ(child->Wait(), 1);
  EXPECT_NE(child->output().find("simnpu: VXPU_SIMNPU_CONFIG=" + std::string(bad) + ": device 0: bad memory \"lots\""),
            std::string::npos)
      << child->output();
  EXPECT_NE(child->output().find("aclrtSetDevice failed with 207004"), std::string::npos) << child->output();
  unlink(bad);
  child = npu::Start({npu::kAcl, "info"}, {"ASCEND_RT_VISIBLE_DEVICES=1,7"});
  EXPECT_EQ(child->Wait(), 1);
  EXPECT_NE(child->output().find("ASCEND_RT_VISIBLE_DEVICES=1,7: no device \"7\""), std::string::npos)
      << child->output();
  // The second chip alone is ACL's device 0.
  nlohmann::json second = npu::Report({npu::kAcl, "info"}, {"ASCEND_RT_VISIBLE_DEVICES=1"});
  EXPECT_EQ(second.value("acl_total", 0ull), 8 * kGiB) << second.dump();
}

TEST_F(Simnpu, ProcessesShareTheChipAndAKilledOnesMemoryComesBackWithinASecond) {
  auto holder = npu::Start({npu::kAcl, "hold", "1024"});
  ASSERT_TRUE(npu::WaitForLine(*holder, "ready")) << holder->output();
  EXPECT_EQ(FreeBytes(), 3 * kGiB);
  dcmi_proc_mem_info procs[32] = {};
  int n = 0;
  ASSERT_EQ(dcmi_get_device_resource_info(0, 0, procs, &n), DCMI_OK);
  bool listed = false;
  for (int i = 0; i < n; ++i) listed = listed || (procs[i].proc_id == holder->pid() && procs[i].proc_mem_usage == kGiB);
  EXPECT_TRUE(listed) << n << " processes";
  holder->Kill();
  EXPECT_EQ(holder->Wait(), 128 + SIGKILL);
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(npu::PollFor(std::chrono::seconds(1), [] { return FreeBytes() == 4 * kGiB; }));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

TEST_F(Simnpu, TwoBusyProcessesTakeTurnsAtTheChip) {
  auto a = npu::Start({npu::kAcl, "burn", "2"});
  auto b = npu::Start({npu::kAcl, "burn", "2"});
  ASSERT_EQ(a->Wait(), 0) << a->output();
  ASSERT_EQ(b->Wait(), 0) << b->output();
  nlohmann::json ra = vxpu::LastJsonLine(a->output()), rb = vxpu::LastJsonLine(b->output());
  double da = ra.value("device_seconds", 0.0), db = rb.value("device_seconds", 0.0);
  double wall = std::max(ra.value("wall_seconds", 0.0), rb.value("wall_seconds", 0.0));
  EXPECT_LE(da + db, wall * 1.02);  // one chip: never more time than there was
  EXPECT_GT(da + db, wall * 0.8);
  EXPECT_NEAR(da / (da + db), 0.5, 0.1) << ra.dump() << rb.dump();
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new npu::NpuEnvironment(
      R"({"devices": [{"memory": "4GiB", "timeslice_us": 2000},
                      {"name": "Ascend910B4", "memory": "8GiB", "aicore_count": 24}]})"));
  return RUN_ALL_TESTS();
}
