// libvxpu.so end to end: real workload processes on simgpu, preloaded with the real
// interposer, with the quota set the way `vxpu run` sets it.
#include <signal.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "../simgpu/sim_env.h"
#include "common/child_process.h"

namespace {

constexpr uint64_t kMiB = 1ull << 20;
const std::string kProbe = VXPU_BIN_DIR "/vxpu-quota-probe";

std::vector<std::string> SliceEnv(const std::string& memory, const std::string& slice,
                                  const std::vector<std::string>& more = {}) {
  std::vector<std::string> env = {"LD_LIBRARY_PATH=" VXPU_SIMGPU_DIR, "LD_PRELOAD=" VXPU_INTERPOSER,
                                  "VXPU_MEMORY=" + memory};
  if (!slice.empty()) env.push_back("VXPU_SLICE=" + slice);
  env.insert(env.end(), more.begin(), more.end());
  return env;
}

std::vector<std::string> ComputeEnv(const std::string& compute, const std::vector<std::string>& more = {}) {
  std::vector<std::string> env = {"LD_LIBRARY_PATH=" VXPU_SIMGPU_DIR, "LD_PRELOAD=" VXPU_INTERPOSER,
                                  "VXPU_COMPUTE=" + compute};
  env.insert(env.end(), more.begin(), more.end());
  return env;
}

struct Outcome {
  int exit_code = -1;
  std::string output;
};

Outcome RunUnder(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  vxpu::ChildProcess child;
  std::string error;
  if (!child.Start(argv, env, &error, /*with_stderr=*/true)) return Outcome{-1, error};
  int code = child.Wait();
  return Outcome{code, child.output()};
}

using simtest::LastJsonLine;

class EveryAllocationPath : public ::testing::TestWithParam<const char*> {};

TEST_P(EveryAllocationPath, IsRefusedOverQuotaAndFreeingMakesRoom) {
  Outcome run = RunUnder({kProbe, GetParam(), "30"}, SliceEnv("100MiB", ""));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  nlohmann::json r = LastJsonLine(run.output);
  EXPECT_EQ(r["succeeded"], 3) << r.dump();
  EXPECT_EQ(r["refused"], CUDA_ERROR_OUT_OF_MEMORY);
  EXPECT_EQ(r["after_free"], CUDA_SUCCESS);
  EXPECT_EQ(r["free_when_full"], 10 * kMiB);
}

INSTANTIATE_TEST_SUITE_P(Paths, EveryAllocationPath,
                         ::testing::Values("alloc", "managed", "pitch", "async", "pool", "vmm", "array", "mipmap",
                                           "procaddr", "procaddr-ptsz", "dlsym", "ptsz"));

TEST(Interposer, MemoryAPoolKeepsCountsUntilTrimmed) {
  Outcome run = RunUnder({kProbe, "pool-cache", "30"}, SliceEnv("100MiB", ""));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  nlohmann::json r = LastJsonLine(run.output);
  EXPECT_EQ(r["succeeded"], 3) << r.dump();
  EXPECT_EQ(r["while_cached"], CUDA_ERROR_OUT_OF_MEMORY);  // freed blocks the pool keeps still count
  EXPECT_EQ(r["trim"], CUDA_SUCCESS);
  EXPECT_EQ(r["after_trim"], CUDA_SUCCESS);
}

TEST(Interposer, MemoryQueriesReportTheSlice) {
  Outcome run = RunUnder({kProbe, "alloc", "1", "1"}, SliceEnv("25%", ""));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  nlohmann::json r = LastJsonLine(run.output);
  EXPECT_EQ(r["total"], 2048 * kMiB);  // 25% of the 8 GiB test device
  EXPECT_EQ(r["device_total"], 2048 * kMiB);
  EXPECT_EQ(r["free"], 2048 * kMiB);
  EXPECT_EQ(r["nvml_total"], 2048 * kMiB);  // NVML, reached through dlopen + dlsym, agrees
  EXPECT_EQ(r["nvml_used_when_full"], 1 * kMiB);
}

TEST(Interposer, OverQuotaLogsOneClearLine) {
  Outcome run = RunUnder({kProbe, "alloc", "60", "2"}, SliceEnv("100MiB", "logged"));
  ASSERT_EQ(run.exit_code, 0);
  EXPECT_NE(run.output.find("vxpu: slice logged: out of memory on device 0: request 60.0 MiB, used 60.0 MiB, "
                            "limit 100.0 MiB"),
            std::string::npos)
      << run.output;
}

// Starts a probe that takes `mib` in `slice` and holds it; returns once it holds.
std::unique_ptr<vxpu::ChildProcess> HoldInSlice(const std::string& slice, const std::string& mib) {
  auto holder = std::make_unique<vxpu::ChildProcess>();
  std::string error;
  EXPECT_TRUE(holder->Start({kProbe, "alloc", mib, "1", "--hold", "30"}, SliceEnv("100MiB", slice), &error, true))
      << error;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (holder->output().find("holding") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    holder->Poll();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_NE(holder->output().find("\"holding\":1"), std::string::npos) << holder->output();
  return holder;
}

TEST(Interposer, ProcessesOfOneSliceShareItsQuotaAndAKilledOneReleasesIt) {
  auto holder = HoldInSlice("shared", "60");
  Outcome refused = RunUnder({kProbe, "alloc", "60", "1"}, SliceEnv("100MiB", "shared"));
  EXPECT_EQ(LastJsonLine(refused.output)["succeeded"], 0) << refused.output;

  holder->Kill();
  auto killed = std::chrono::steady_clock::now();
  nlohmann::json after;
  do {  // within a second of death the slice has the memory back
    after = LastJsonLine(RunUnder({kProbe, "alloc", "60", "1"}, SliceEnv("100MiB", "shared")).output);
  } while (after["succeeded"] != 1 && std::chrono::steady_clock::now() - killed < std::chrono::seconds(1));
  EXPECT_EQ(after["succeeded"], 1) << after.dump();
  EXPECT_EQ(holder->Wait(), 128 + SIGKILL);
}

TEST(Interposer, TwoSlicesOnOneDeviceAreIsolated) {
  auto holder = HoldInSlice("left", "60");
  Outcome other = RunUnder({kProbe, "alloc", "60", "1"}, SliceEnv("100MiB", "right"));
  EXPECT_EQ(LastJsonLine(other.output)["succeeded"], 1) << other.output;
}

TEST(Interposer, BadConfigurationsStopTheWorkloadWithOneLine) {
  struct Case {
    std::vector<std::string> env;
    const char* says;
  };
  const std::vector<Case> cases = {
      {SliceEnv("lots", ""), "VXPU_MEMORY: bad memory quota \"lots\""},
      {SliceEnv("150%", ""), "VXPU_MEMORY: bad memory quota \"150%\""},
      {SliceEnv("1GiB", "no/slashes"), "VXPU_SLICE: bad slice name \"no/slashes\""},
      {{"LD_LIBRARY_PATH=" VXPU_SIMGPU_DIR, "LD_PRELOAD=" VXPU_INTERPOSER, "VXPU_SLICE=x"},
       "neither VXPU_MEMORY nor VXPU_COMPUTE is"},
      {ComputeEnv("0"), "VXPU_COMPUTE: bad compute share \"0\""},
      {ComputeEnv("150"), "VXPU_COMPUTE: bad compute share \"150\""},
      {ComputeEnv("12.25"), "VXPU_COMPUTE: bad compute share \"12.25\""},
      {ComputeEnv("50", {"VXPU_COMPUTE_LIMIT=40"}), "VXPU_COMPUTE_LIMIT=40 is below VXPU_COMPUTE=50"},
      {ComputeEnv("50", {"VXPU_PRIORITY=urgent"}), "VXPU_PRIORITY: bad priority \"urgent\""},
      {ComputeEnv("50", {"VXPU_LEASE_MS=0"}), "VXPU_LEASE_MS: bad lease \"0\""},
      {SliceEnv("1GiB", "", {"VXPU_COMPUTE_LIMIT=50"}), "VXPU_COMPUTE_LIMIT is set but VXPU_COMPUTE is not"},
  };
  for (const Case& c : cases) {
    Outcome run = RunUnder({kProbe, "alloc", "1"}, c.env);
    EXPECT_EQ(run.exit_code, 125) << run.output;
    EXPECT_NE(run.output.find(c.says), std::string::npos) << run.output;
  }
}

TEST(Interposer, AContradictoryQuotaForARunningSliceIsRefused) {
  auto holder = HoldInSlice("fixed", "10");
  Outcome run = RunUnder({kProbe, "alloc", "10", "1"}, SliceEnv("200MiB", "fixed"));
  EXPECT_EQ(LastJsonLine(run.output)["succeeded"], 0) << run.output;
  EXPECT_NE(run.output.find("already runs with a limit"), std::string::npos) << run.output;
}

TEST(Interposer, AProgramThatNeverUsesCudaIsUnaffected) {
  Outcome run = RunUnder({"/bin/sh", "-c", "echo untouched; exit 7"}, SliceEnv("1GiB", "plain"));
  EXPECT_EQ(run.exit_code, 7);
  EXPECT_EQ(run.output, "untouched\n");
}

}  // namespace

int main(int argc, char** argv) {
  return simtest::RunAllTestsOn(argc, argv, {simtest::SimDevice{.memory = "8GiB", .context_overhead = "0"}});
}
