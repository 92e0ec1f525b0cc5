// The vxpu binary end to end: real subprocesses on simgpu, outcomes read from its output.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "../simgpu/sim_env.h"

namespace {

using simtest::LastJsonLine;

struct Result {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

Result RunVxpu(const std::string& args) {
  std::string command = std::string(VXPU_BIN_DIR) + "/vxpu " + args + " 2>&1";
  Result result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buf;
  size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) result.output.append(buf.data(), n);
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

TEST(VxpuCli, DemoHoldsTwoSlicesToTheirSharesThenLetsOneBurst) {
#ifdef VXPU_NO_PRELOAD_TESTS
  GTEST_SKIP() << "the demo preloads the interposer, which sanitized builds cannot host";
#endif
  Result r = RunVxpu("demo --seconds 6 -o json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  nlohmann::json summary = LastJsonLine(r.output);
  EXPECT_EQ(summary["failed"], 0);
  ASSERT_EQ(summary["workloads"].size(), 2u) << r.output;
  const nlohmann::json& a = summary["workloads"][0];
  const nlohmann::json& b = summary["workloads"][1];
  EXPECT_EQ(a["compute_percent"], 30);
  EXPECT_GT(a["memory_bytes"].get<uint64_t>(), 0u);
  // As the simulated device measured it: 30/70 while both are busy, then train-a takes the time
  // train-b leaves idle.
  EXPECT_NEAR(a["share_both_busy_percent"].get<double>(), 30.0, 8.0) << r.output;
  EXPECT_NEAR(b["share_both_busy_percent"].get<double>(), 70.0, 8.0) << r.output;
  EXPECT_GT(a["share_other_idle_percent"].get<double>(), 75.0) << r.output;
}

TEST(VxpuCli, DevicesListsTheSimulatedGpu) {
  Result r = RunVxpu("devices --sim -o json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  nlohmann::json devices = nlohmann::json::parse(r.output);
  ASSERT_EQ(devices.size(), 1u);
  EXPECT_EQ(devices[0]["memory_total"].get<uint64_t>(), 8ull << 30);  // this binary's test device
  EXPECT_NE(devices[0]["name"].get<std::string>().find("H100"), std::string::npos);
}

TEST(VxpuCli, DevicesWithoutADriverSaysSoAndSuggestsSim) {
  if (void* real = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_NOLOAD | RTLD_LOCAL);
      real != nullptr || (real = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL)) != nullptr) {
    GTEST_SKIP() << "a real NVML is installed here";
  }
  Result r = RunVxpu("devices");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("--sim"), std::string::npos) << r.output;
}

TEST(VxpuCli, BadFlagsAreRefusedNamingTheValue) {
  Result r = RunVxpu("demo --seconds abc");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("abc"), std::string::npos) << r.output;
  r = RunVxpu("demo -o yaml");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("yaml"), std::string::npos) << r.output;
  r = RunVxpu("");
  EXPECT_NE(r.exit_code, 0);
}

const std::string kProbe = VXPU_BIN_DIR "/vxpu-quota-probe";

// vxpu run preloads libvxpu.so, which sanitized builds cannot host (tests/CMakeLists.txt).
class VxpuRun : public ::testing::Test {
 protected:
  void SetUp() override {
#ifdef VXPU_NO_PRELOAD_TESTS
    GTEST_SKIP() << "interposer end-to-end tests are not run in sanitized builds";
#endif
  }
};
using VxpuPs = VxpuRun;

TEST_F(VxpuRun, HoldsTheCommandToItsMemoryQuota) {
  Result r = RunVxpu("run --sim --memory 100MiB -- " + kProbe + " alloc 30");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  nlohmann::json probe = LastJsonLine(r.output);
  EXPECT_EQ(probe["succeeded"], 3) << r.output;
  EXPECT_EQ(probe["total"], 100ull << 20);
  EXPECT_NE(r.output.find("out of memory on device 0"), std::string::npos) << r.output;
}

TEST_F(VxpuRun, ExitsWithTheCommandsExitCode) {
  EXPECT_EQ(RunVxpu("run --sim --memory 1GiB -- sh -c 'exit 42'").exit_code, 42);
  Result missing = RunVxpu("run --sim --memory 1GiB -- /nonexistent/program");
  EXPECT_EQ(missing.exit_code, 127);
  EXPECT_NE(missing.output.find("/nonexistent/program"), std::string::npos) << missing.output;
}

TEST_F(VxpuRun, RefusesBadSlicesBeforeRunningAnything) {
  for (const char* args :
       {"--memory abc", "--memory 0", "--memory 101%", "--memory 1GiB --name bad/name", "", "--compute 35",
        "--compute 0", "--compute 30 --compute-limit 20", "--compute 30 --strict --compute-limit 50",
        "--memory 1GiB --strict", "--compute 30 --priority urgent"}) {
    Result r = RunVxpu(std::string("run --sim ") + args + " -- sh -c 'echo ran'");
    EXPECT_EQ(r.exit_code, 125) << args;
    EXPECT_EQ(r.output.find("ran"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("vxpu run:"), std::string::npos) << r.output;
  }
}

TEST_F(VxpuRun, PassesTheComputeSliceToTheWorkload) {
  Result r = RunVxpu("run --sim --compute 35 --compute-step 5 --strict --priority high -- sh -c 'env | grep ^VXPU_'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* expected : {"VXPU_COMPUTE=35\n", "VXPU_COMPUTE_LIMIT=35\n", "VXPU_PRIORITY=high\n"})
    EXPECT_NE(r.output.find(expected), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("VXPU_MEMORY"), std::string::npos) << r.output;  // no memory quota asked for
}

TEST_F(VxpuRun, HoldsAStrictComputeSliceToItsShare) {
  Result r = RunVxpu("run --sim --compute 20 --strict -- " VXPU_BIN_DIR "/vxpu-burn --seconds 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  nlohmann::json burn = LastJsonLine(r.output);
  EXPECT_NEAR(burn["device_seconds"].get<double>() / burn["wall_seconds"].get<double>(), 0.20, 0.05) << r.output;
}

TEST_F(VxpuRun, BenchShareMeasuresTheSplitOnTheSimulatedGpu) {
  Result r = RunVxpu("bench share --sim --shares 30,70 --seconds 2 -o json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  nlohmann::json out = LastJsonLine(r.output);
  ASSERT_EQ(out["tenants"].size(), 2u) << r.output;
  EXPECT_EQ(out["tenants"][0]["target"], 30.0);
  EXPECT_NEAR(out["tenants"][0]["achieved"].get<double>(), 30.0, 4.0) << r.output;
  EXPECT_LE(out["max_error_points"].get<double>(), 4.0) << r.output;
  EXPECT_GT(out["aggregate_throughput"].get<double>(), 0.8) << r.output;
  EXPECT_EQ(RunVxpu("bench share --sim --shares 60,70").exit_code, 125);
}

TEST_F(VxpuPs, TopShowsEachComputeSlicesShareOfDeviceTime) {
  for (const char* slice : {"top-a --compute 30", "top-b --compute 70"}) {
    std::string command = std::string(VXPU_BIN_DIR) + "/vxpu run --sim --name " + slice +
                          " -- " VXPU_BIN_DIR "/vxpu-burn --seconds 4 >/dev/null 2>&1 &";
    ASSERT_EQ(std::system(command.c_str()), 0);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // both running
  Result r = RunVxpu("top -o json --interval 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  nlohmann::json out = nlohmann::json::parse(r.output);
  EXPECT_EQ(out["interval_seconds"], 2.0);
  std::map<std::string, nlohmann::json> mine;
  for (const auto& slice : out["slices"]) mine[slice["slice"].get<std::string>()] = slice;
  ASSERT_EQ(mine.count("top-a") + mine.count("top-b"), 2u) << r.output;
  EXPECT_EQ(mine["top-a"]["guaranteed_percent"], 30.0);
  EXPECT_EQ(mine["top-b"]["pids"].size(), 1u);
  EXPECT_NEAR(mine["top-a"]["share_percent"].get<double>(), 30.0, 8.0) << r.output;
  EXPECT_NEAR(mine["top-b"]["share_percent"].get<double>(), 70.0, 8.0) << r.output;
  Result table = RunVxpu("top -n 1 --interval 0.2");
  EXPECT_EQ(table.exit_code, 0);
  EXPECT_NE(table.output.find("top-b"), std::string::npos) << table.output;
}

TEST_F(VxpuRun, WithoutADriverSaysSoAndSuggestsSim) {
  if (void* real = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL); real != nullptr) {
    dlclose(real);
    GTEST_SKIP() << "a real driver is installed here";
  }
  Result r = RunVxpu("run --memory 1GiB -- true");
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.output.find("--sim"), std::string::npos) << r.output;
}

TEST_F(VxpuPs, ListsRunningSlicesWithUsageAndLimit) {
  std::string command = std::string(VXPU_BIN_DIR) + "/vxpu run --sim --memory 100MiB --name ps-test -- " + kProbe +
                        " alloc 10 1 --hold 3 >/dev/null 2>&1 &";
  ASSERT_EQ(std::system(command.c_str()), 0);
  nlohmann::json mine;
  for (int attempt = 0; attempt < 100 && mine.is_null(); ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    Result r = RunVxpu("ps -o json");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    for (const auto& slice : nlohmann::json::parse(r.output)) {
      if (slice["slice"] == "ps-test" && slice["memory_used"] == 10ull << 20) mine = slice;
    }
  }
  ASSERT_FALSE(mine.is_null()) << "slice ps-test never appeared in vxpu ps";
  EXPECT_EQ(mine["memory_limit"], 100ull << 20);
  EXPECT_EQ(mine["processes"].size(), 1u);
  Result table = RunVxpu("ps");
  EXPECT_NE(table.output.find("ps-test"), std::string::npos) << table.output;
}

}  // namespace

int main(int argc, char** argv) {
  return simtest::RunAllTestsOn(argc, argv, {simtest::SimDevice{.memory = "8GiB", .context_overhead = "0"}});
}
