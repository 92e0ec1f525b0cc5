// NPU slices end to end: real ACL programs (vxpu-acl linked against libascendcl.so, vxpu-acl-dl
// finding ACL and the runtime with dlopen + dlsym(handle)) on simnpu, preloaded with the real
// interposer under a slice, as `vxpu run --device npuN` and the device plugin run them.
#include <signal.h>

#include "../simnpu/npu_env.h"
#include "common/ascend_api.h"
#include "interposer/compute_arbiter.h"

namespace {

const std::string kPreload = "LD_PRELOAD=" VXPU_INTERPOSER;
const std::string kBurn = VXPU_BIN_DIR "/vxpu-burn";

std::vector<std::string> SliceEnv(const std::string& slice, const std::string& memory,
                                  const std::string& compute = "") {
  std::vector<std::string> env = {kPreload, "VXPU_SLICE=" + slice};
  if (!memory.empty()) env.push_back("VXPU_MEMORY=" + memory);
  if (!compute.empty()) env.push_back("VXPU_COMPUTE=" + compute);
  return env;
}

std::vector<int> Codes(const nlohmann::json& report) {
  std::vector<int> codes;
  for (const auto& c : report.value("codes", nlohmann::json::array())) codes.push_back(c.get<int>());
  return codes;
}

struct Route {
  std::string program;
  std::string route;
};

class EveryRoute : public ::testing::TestWithParam<Route> {};

// 1 GiB slice, 300 MiB at a time: three fit, the fourth is refused with 207001 and one line
// naming the slice, and after a free there is room again.
TEST_P(EveryRoute, IsHeldToTheSliceWith207001AndHasRoomAfterAFree) {
  const Route& r = GetParam();
  std::string output;
  nlohmann::json report =
      npu::Report({r.program, "fill", r.route, "300", "4"}, SliceEnv("route-" + r.route, "1GiB"), &output);
  EXPECT_EQ(Codes(report), (std::vector<int>{0, 0, 0, ACL_ERROR_RT_MEMORY_ALLOCATION})) << output;
  EXPECT_EQ(report.value("after_free", -1), 0) << output;
  EXPECT_NE(output.find("vxpu: slice route-" + r.route +
                        ": out of memory on NPU 0: request 300.0 MiB, used 900.0 MiB, limit 1.0 GiB"),
            std::string::npos)
      << output;
  // Without the interposer the same program gets all four.
  nlohmann::json free_run = npu::Report({r.program, "fill", r.route, "300", "4"});
  EXPECT_EQ(Codes(free_run), (std::vector<int>{0, 0, 0, 0}));
}

INSTANTIATE_TEST_SUITE_P(Routes, EveryRoute,
                         ::testing::Values(Route{npu::kAcl, "malloc"}, Route{npu::kAcl, "align32"},
                                           Route{npu::kAcl, "physical"}, Route{npu::kAclDl, "malloc"},
                                           Route{npu::kAclDl, "physical"}, Route{npu::kAclDl, "rt-malloc"}),
                         [](const ::testing::TestParamInfo<Route>& param_info) {
                           std::string name = (param_info.param.program == npu::kAclDl ? "dlsym_" : "linked_") +
                                              param_info.param.route;
                           for (char& c : name) c = c == '-' ? '_' : c;
                           return name;
                         });

TEST(NpuSlice, AclAndDcmiShowTheSliceNotTheChip) {
  for (const std::string& program : {npu::kAcl, npu::kAclDl}) {
    nlohmann::json view = npu::Report({program, "info"}, SliceEnv("view", "2GiB"));
    EXPECT_EQ(view.value("acl_total", 0ull), 2ull << 30) << view.dump();
    EXPECT_EQ(view.value("acl_free", 0ull), 2ull << 30) << view.dump();
    EXPECT_EQ(view.value("dcmi_memory_mb", 0ull), 2048u) << view.dump();
    EXPECT_EQ(view.value("dcmi_available_mb", 0ull), 2048u) << view.dump();
    EXPECT_EQ(view.value("dcmi_hbm_mb", 0ull), 2048u) << view.dump();
  }
  nlohmann::json percent = npu::Report({npu::kAcl, "info"}, SliceEnv("view-percent", "25%"));
  EXPECT_EQ(percent.value("acl_total", 0ull), 4ull << 30) << percent.dump();  // of the 16 GiB chip
  nlohmann::json chip = npu::Report({npu::kAcl, "info"});
  EXPECT_EQ(chip.value("acl_total", 0ull), 16ull << 30) << chip.dump();
}

TEST(NpuSlice, TwoProcessesOfOneSliceShareIt) {
  auto holder = npu::Start({npu::kAcl, "hold", "600"}, SliceEnv("shared", "1GiB"));
  ASSERT_TRUE(npu::WaitForLine(*holder, "ready")) << holder->output();
  nlohmann::json report = npu::Report({npu::kAcl, "fill", "malloc", "300", "2"}, SliceEnv("shared", "1GiB"));
  EXPECT_EQ(Codes(report), (std::vector<int>{0, ACL_ERROR_RT_MEMORY_ALLOCATION})) << report.dump();
  nlohmann::json view = npu::Report({npu::kAcl, "info"}, SliceEnv("shared", "1GiB"));
  EXPECT_EQ(view.value("acl_free", 0ull), 424ull << 20) << view.dump();
}

TEST(NpuSlice, AKilledProcessesShareOfTheSliceComesBackWithinASecond) {
  auto holder = npu::Start({npu::kAcl, "hold", "1024"}, SliceEnv("killed", "1GiB"));
  ASSERT_TRUE(npu::WaitForLine(*holder, "ready")) << holder->output();
  holder->Kill();
  EXPECT_EQ(holder->Wait(), 128 + SIGKILL);
  auto killed_at = std::chrono::steady_clock::now();
  bool room = npu::PollFor(std::chrono::seconds(1), [] {
    auto probe = npu::Start({npu::kAcl, "fill", "malloc", "1024", "1"}, SliceEnv("killed", "1GiB"));
    return probe->Wait() == 0 && Codes(vxpu::LastJsonLine(probe->output())) == std::vector<int>{0};
  });
  EXPECT_TRUE(room);
  EXPECT_LT(std::chrono::steady_clock::now() - killed_at, std::chrono::milliseconds(1500));
}

double DeviceSeconds(const nlohmann::json& r) { return r.value("device_seconds", 0.0); }

// Saturating NPU tenants under compute slices get the chip's time in proportion to their shares.
void ExpectSplit(const std::vector<int>& shares) {
  std::vector<std::unique_ptr<vxpu::ChildProcess>> children;
  for (size_t i = 0; i < shares.size(); ++i) {
    const std::string& program = i % 2 == 0 ? npu::kAcl : npu::kAclDl;  // either way to ACL is held
    children.push_back(
        npu::Start({program, "burn", "3"}, SliceEnv("split" + std::to_string(i), "", std::to_string(shares[i]))));
  }
  std::vector<nlohmann::json> reports;
  double total = 0, wall = 0;
  for (auto& child : children) {
    EXPECT_EQ(child->Wait(), 0) << child->output();
    reports.push_back(vxpu::LastJsonLine(child->output()));
    total += DeviceSeconds(reports.back());
    wall = std::max(wall, reports.back().value("wall_seconds", 0.0));
  }
  EXPECT_LE(total, wall * 1.02);
  ASSERT_GT(total, wall * 0.8);
  for (size_t i = 0; i < reports.size(); ++i)
    EXPECT_NEAR(100.0 * DeviceSeconds(reports[i]) / total, shares[i], 4.0) << reports[i].dump();
}

TEST(NpuSlice, ComputeSharesOf30And70Hold) { ExpectSplit({30, 70}); }
TEST(NpuSlice, ComputeSharesOf10And90Hold) { ExpectSplit({10, 90}); }

// A GPU slice pair and an NPU slice pair at once on one machine: each device splits 30/70 on its
// own, and neither kind waits for the other.
TEST(NpuSlice, GpuAndNpuSlicesRunSideBySide) {
  const std::string gpu_config = std::string("VXPU_SIMGPU_CONFIG=") + std::getenv(simgpu::kNpuConfigEnv) + ".gpu";
  std::ofstream(std::string(std::getenv(simgpu::kNpuConfigEnv)) + ".gpu")
      << R"({"devices": [{"uuid": "GPU-5ade0000-0000-4000-8000-000000000001", "memory": "8GiB"}]})";
  std::vector<std::unique_ptr<vxpu::ChildProcess>> gpu, npu_side;
  for (const char* share : {"30", "70"}) {
    std::vector<std::string> env = SliceEnv(std::string("gpu-") + share, "", share);
    env.push_back("LD_LIBRARY_PATH=" VXPU_SIMGPU_DIR);
    env.push_back(gpu_config);
    gpu.push_back(npu::Start({kBurn, "--seconds", "3"}, env));
    npu_side.push_back(npu::Start({npu::kAcl, "burn", "3"}, SliceEnv(std::string("npu-") + share, "", share)));
  }
  for (auto* side : {&gpu, &npu_side}) {
    double device[2] = {}, wall = 0;
    for (size_t i = 0; i < 2; ++i) {
      ASSERT_EQ((*side)[i]->Wait(), 0) << (*side)[i]->output();
      nlohmann::json r = vxpu::LastJsonLine((*side)[i]->output());
      device[i] = DeviceSeconds(r);
      wall = std::max(wall, r.value("wall_seconds", 0.0));
    }
    EXPECT_GT(device[0] + device[1], wall * 0.8) << "each device is kept busy";
    EXPECT_NEAR(100.0 * device[0] / (device[0] + device[1]), 30.0, 4.0) << (side == &gpu ? "GPU" : "NPU");
  }
  std::remove((std::string(std::getenv(simgpu::kNpuConfigEnv)) + ".gpu").c_str());
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new npu::NpuEnvironment(R"({"devices": [{"memory": "16GiB"}]})"));
  return RUN_ALL_TESTS();
}
