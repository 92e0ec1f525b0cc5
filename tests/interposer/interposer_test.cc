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
  int exit_code = vxpu::ChildProcess::kNotStarted;
  std::string output;
};

Outcome RunUnder(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  auto child = simtest::StartChild(argv, env);
  int code = child->Wait();
  return Outcome{code, child->output()};
}

// Runs the probe with `args` under `env`; its report, the test failing unless the probe ran
// to the end with every call it did not mean to be refused succeeding (exit 0).
nlohmann::json Probe(const std::vector<std::string>& args, const std::vector<std::string>& env,
                     std::string* output = nullptr) {
  std::vector<std::string> argv = {kProbe};
  argv.insert(argv.end(), args.begin(), args.end());
  auto child = simtest::StartChild(argv, env);
  nlohmann::json report = simtest::ReportOf(*child);
  if (output != nullptr) *output = child->output();
  return report;
}

// Starts a probe that takes `mib` in `slice` and holds it; returns once it holds.
std::unique_ptr<vxpu::ChildProcess> HoldInSlice(const std::string& slice, const std::string& mib) {
  auto holder = simtest::StartChild({kProbe, "alloc", mib, "1", "--hold", "30"}, SliceEnv("100MiB", slice));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (holder->output().find("holding") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    holder->Poll();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_NE(holder->output().find("\"holding\":1"), std::string::npos) << holder->output();
  return holder;
}

class EveryAllocationPath : public ::testing::TestWithParam<const char*> {};

TEST_P(EveryAllocationPath, IsRefusedOverQuotaAndFreeingMakesRoom) {
  nlohmann::json r = Probe({GetParam(), "30"}, SliceEnv("100MiB", ""));
  EXPECT_EQ(r["succeeded"], 3) << r.dump();
  EXPECT_EQ(r["refused"], CUDA_ERROR_OUT_OF_MEMORY);
  EXPECT_EQ(r["after_free"], CUDA_SUCCESS);
  EXPECT_EQ(r["free_when_full"], 10 * kMiB);
}

INSTANTIATE_TEST_SUITE_P(Paths, EveryAllocationPath,
                         ::testing::Values("alloc", "managed", "pitch", "async", "pool", "vmm", "array", "mipmap",
                                           "procaddr", "procaddr-ptsz", "dlsym", "ptsz"));

TEST(Interposer, MemoryAPoolKeepsCountsUntilTrimmed) {
  nlohmann::json r = Probe({"pool-cache", "30"}, SliceEnv("100MiB", ""));
  EXPECT_EQ(r["succeeded"], 3) << r.dump();
  EXPECT_EQ(r["while_cached"], CUDA_ERROR_OUT_OF_MEMORY);  // freed blocks the pool keeps still count
  EXPECT_EQ(r["trim"], CUDA_SUCCESS);
  EXPECT_EQ(r["after_trim"], CUDA_SUCCESS);
}

TEST(Interposer, MemoryQueriesReportTheSlice) {
  nlohmann::json r = Probe({"alloc", "1", "1"}, SliceEnv("25%", ""));
  EXPECT_EQ(r["total"], 2048 * kMiB);  // 25% of the 8 GiB test device
  EXPECT_EQ(r["device_total"], 2048 * kMiB);
  EXPECT_EQ(r["free"], 2048 * kMiB);
  EXPECT_EQ(r["nvml_total"], 2048 * kMiB);  // NVML, reached through dlopen + dlsym, agrees
  EXPECT_EQ(r["nvml_used_when_full"], 1 * kMiB);
  EXPECT_EQ(r["nvml_v2_total"], 2048 * kMiB);  // and so does its versioned query
  EXPECT_EQ(r["nvml_v2_used_when_full"], 1 * kMiB);
}

TEST(Interposer, OverQuotaLogsOneClearLine) {
  std::string output;
  Probe({"alloc", "60", "2"}, SliceEnv("100MiB", "logged"), &output);
  EXPECT_NE(output.find("vxpu: slice logged: out of memory on device 0: request 60.0 MiB, used 60.0 MiB, "
                        "limit 100.0 MiB"),
            std::string::npos)
      << output;
}

TEST(Interposer, APoolTheDriverGrewPastTheSliceIsTrimmedAndTheCallRefused) {
  // Blocks of 3 MiB take 4 MiB each (the pool's 2 MiB granularity): the 25th fits the slice
  // as asked (96 + 3 <= 99 MiB) but not as the driver grows the pool (100 MiB).
  nlohmann::json r = Probe({"pool", "3", "40"}, SliceEnv("99MiB", ""));
  EXPECT_EQ(r["succeeded"], 24) << r.dump();
  EXPECT_EQ(r["refused"], CUDA_ERROR_OUT_OF_MEMORY);
  EXPECT_EQ(r["pool_used_when_full"], 96 * kMiB);
  EXPECT_EQ(r["pool_reserved_when_full"], 96 * kMiB);  // the overgrown block freed and trimmed
  EXPECT_EQ(r["free_when_full"], 3 * kMiB);            // and the slice charged what the pool holds
  EXPECT_EQ(r["after_free"], CUDA_SUCCESS);
}

TEST(Interposer, BlocksThatOutliveTheirPoolStayCharged) {
  nlohmann::json r = Probe({"pool-destroy", "30", "3"}, SliceEnv("100MiB", ""));
  EXPECT_EQ(r["succeeded"], 3) << r.dump();
  EXPECT_EQ(r["free_in_use"], 10 * kMiB);
  EXPECT_EQ(r["free_destroyed"], 10 * kMiB);
  EXPECT_EQ(r["free_after_free"], 10 * kMiB);  // their frees are not attributable: still charged
  EXPECT_EQ(r["again"], CUDA_ERROR_OUT_OF_MEMORY);
}

TEST(Interposer, TheContextsOwnMemoryIsNotChargedToTheSlice) {
  // Device 1 takes 512 MiB per context; the slice's 100 MiB are all the workload's.
  nlohmann::json r = Probe({"alloc", "30", "--device", "1"}, SliceEnv("100MiB", ""));
  EXPECT_EQ(r["free"], 100 * kMiB) << r.dump();
  EXPECT_EQ(r["succeeded"], 3);
  EXPECT_EQ(r["free_when_full"], 10 * kMiB);
}

TEST(Interposer, EachDeviceHasItsOwnQuota) {
  auto holder = HoldInSlice("per-device", "60");
  nlohmann::json same_device = Probe({"alloc", "60", "1"}, SliceEnv("100MiB", "per-device"));
  EXPECT_EQ(same_device["succeeded"], 0) << same_device.dump();
  nlohmann::json other_device = Probe({"alloc", "60", "1", "--device", "1"}, SliceEnv("100MiB", "per-device"));
  EXPECT_EQ(other_device["succeeded"], 1) << other_device.dump();
  holder->Kill();
  EXPECT_EQ(holder->Wait(), 128 + SIGKILL);
}

TEST(Interposer, VersionsOfPolicedEntryPointsItDoesNotKnowAreRefused) {
  // simgpu alone hands out CUDA 2.0's cuDeviceTotalMem (32-bit sizes, not policed) ...
  nlohmann::json plain = Probe({"old-version", "1"}, {"LD_LIBRARY_PATH=" VXPU_SIMGPU_DIR});
  EXPECT_EQ(plain["result"], CUDA_SUCCESS) << plain.dump();
  EXPECT_EQ(plain["found"], 1);
  // ... the interposer refuses it under a slice rather than let it report the whole device.
  std::string output;
  nlohmann::json sliced = Probe({"old-version", "1"}, SliceEnv("100MiB", ""), &output);
  EXPECT_EQ(sliced["result"], CUDA_ERROR_NOT_FOUND) << sliced.dump();
  EXPECT_EQ(sliced["status"], CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT);
  EXPECT_EQ(sliced["found"], 0);
  EXPECT_NE(output.find("refusing cuDeviceTotalMem for CUDA 2000"), std::string::npos) << output;
}

TEST(Interposer, LaunchesAreLeftToTheDriverWithoutAComputeSlice) {
  // Memory only: cuLaunchKernel comes from the driver itself (no hook, no cost); the memory
  // entry points come from the interposer.
  nlohmann::json memory = Probe({"launch-hooks", "1"}, SliceEnv("100MiB", ""));
  EXPECT_EQ(memory["cuLaunchKernel_procaddr"], "libcuda.so.1") << memory.dump();
  EXPECT_EQ(memory["cuLaunchKernel_dlsym"], "libcuda.so.1");
  EXPECT_EQ(memory["cuMemAlloc_procaddr"], "libvxpu.so");
  EXPECT_EQ(memory["cuMemAlloc_v2_dlsym"], "libvxpu.so");
  nlohmann::json compute = Probe({"launch-hooks", "1"}, ComputeEnv("50"));
  EXPECT_EQ(compute["cuLaunchKernel_procaddr"], "libvxpu.so") << compute.dump();
  EXPECT_EQ(compute["cuLaunchKernel_dlsym"], "libvxpu.so");
}

TEST(Interposer, ProcessesOfOneSliceShareItsQuotaAndAKilledOneReleasesIt) {
  auto holder = HoldInSlice("shared", "60");
  nlohmann::json refused = Probe({"alloc", "60", "1"}, SliceEnv("100MiB", "shared"));
  EXPECT_EQ(refused["succeeded"], 0) << refused.dump();

  holder->Kill();
  auto killed = std::chrono::steady_clock::now();
  nlohmann::json after;
  do {  // within a second of death the slice has the memory back
    after = Probe({"alloc", "60", "1"}, SliceEnv("100MiB", "shared"));
  } while (after["succeeded"] != 1 && std::chrono::steady_clock::now() - killed < std::chrono::seconds(1));
  EXPECT_EQ(after["succeeded"], 1) << after.dump();
  EXPECT_EQ(holder->Wait(), 128 + SIGKILL);
}

TEST(Interposer, TwoSlicesOnOneDeviceAreIsolated) {
  auto holder = HoldInSlice("left", "60");
  nlohmann::json other = Probe({"alloc", "60", "1"}, SliceEnv("100MiB", "right"));
  EXPECT_EQ(other["succeeded"], 1) << other.dump();
  holder->Kill();
  EXPECT_EQ(holder->Wait(), 128 + SIGKILL);
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
  std::string output;
  nlohmann::json run = Probe({"alloc", "10", "1"}, SliceEnv("200MiB", "fixed"), &output);
  EXPECT_EQ(run["succeeded"], 0) << output;
  EXPECT_NE(output.find("already runs with a limit of 100.0 MiB, not 200.0 MiB"), std::string::npos) << output;
  holder->Kill();
  EXPECT_EQ(holder->Wait(), 128 + SIGKILL);
}

TEST(Interposer, AProgramThatNeverUsesCudaIsUnaffected) {
  Outcome run = RunUnder({"/bin/sh", "-c", "echo untouched; exit 7"}, SliceEnv("1GiB", "plain"));
  EXPECT_EQ(run.exit_code, 7);
  EXPECT_EQ(run.output, "untouched\n");
}

}  // namespace

int main(int argc, char** argv) {
  return simtest::RunAllTestsOn(argc, argv,
                                {simtest::SimDevice{.memory = "8GiB", .context_overhead = "0"},
                                 simtest::SimDevice{.memory = "4GiB", .context_overhead = "512MiB"}});
}
