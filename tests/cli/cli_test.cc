// The vxpu binary end to end: real subprocesses on simgpu, outcomes read from its output.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "../simgpu/sim_env.h"
#include "common/shared_segment.h"

namespace {

using simtest::LastJsonLine;

struct Result {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs `vxpu ARGS` (through sh, `env` its assignments, e.g. "VXPU_X=1").
Result RunVxpu(const std::string& args, const std::string& env = "") {
  std::string command = env + (env.empty() ? "" : " ") + std::string(VXPU_BIN_DIR) + "/vxpu " + args + " 2>&1";
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
  // The other half of a slice: memory past its quota is refused, though the device has room.
  EXPECT_EQ(summary["memory_refusal"]["refused"], true) << r.output;
  EXPECT_NE(summary["memory_refusal"]["said"].get<std::string>().find("CUDA_ERROR_OUT_OF_MEMORY"), std::string::npos)
      << r.output;
}

TEST(VxpuCli, DemoOnAnNpuHoldsTheSharesAndTheMemoryThere) {
#ifdef VXPU_NO_PRELOAD_TESTS
  GTEST_SKIP() << "the demo preloads the interposer, which sanitized builds cannot host";
#endif
  Result r = RunVxpu("demo --npu --seconds 6 -o json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  nlohmann::json summary = LastJsonLine(r.output);
  EXPECT_EQ(summary["device"], "npu");
  EXPECT_EQ(summary["failed"], 0);
  ASSERT_EQ(summary["workloads"].size(), 2u) << r.output;
  const nlohmann::json& a = summary["workloads"][0];
  const nlohmann::json& b = summary["workloads"][1];
  EXPECT_NEAR(a["share_both_busy_percent"].get<double>(), 30.0, 8.0) << r.output;
  EXPECT_NEAR(b["share_both_busy_percent"].get<double>(), 70.0, 8.0) << r.output;
  EXPECT_GT(a["share_other_idle_percent"].get<double>(), 75.0) << r.output;
  EXPECT_EQ(summary["memory_refusal"]["refused"], true) << r.output;
  EXPECT_NE(summary["memory_refusal"]["said"].get<std::string>().find("out of memory on NPU 0"), std::string::npos)
      << r.output;
}

TEST(VxpuCli, DemoFramesSayTheDeviceIsAsBusyAsTheirRows) {
#ifdef VXPU_NO_PRELOAD_TESTS
  GTEST_SKIP() << "the demo preloads the interposer, which sanitized builds cannot host";
#endif
  // Its first frame said "busy 0%" beside rows at 29% and 69% (the device's utilization is
  // averaged over a window the first frames have not filled).
  Result r = RunVxpu("demo --seconds 3");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("refused with CUDA_ERROR_OUT_OF_MEMORY"), std::string::npos) << r.output;
  const std::regex header(R"(^vxpu demo  t=.*busy +(\d+)%$)");
  const std::regex row(R"(^  train-\S+ +\d+  (\w+) .* (\d+)%  +(\d+)%  [#.]+$)");
  std::istringstream lines(r.output);
  int frames = 0, busy = -1, rows_sum = 0;
  auto check = [&] {
    if (busy >= 0) {
      EXPECT_EQ(busy, std::min(rows_sum, 100)) << "frame " << frames << " of " << r.output;
    }
  };
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_match(line, m, header)) {
      check();
      ++frames;
      busy = std::stoi(m[1]);
      rows_sum = 0;
    } else if (std::regex_match(line, m, row)) {
      rows_sum += m[1] == "done" ? 0 : std::stoi(m[3]);
    }
  }
  check();
  EXPECT_GE(frames, 2) << r.output;
}

TEST(VxpuCli, DevicesListsTheSimulatedGpu) {
  Result r = RunVxpu("devices --sim -o json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  nlohmann::json devices = nlohmann::json::parse(r.output);
  ASSERT_EQ(devices.size(), 2u);
  EXPECT_EQ(devices[0]["memory_total_bytes"].get<uint64_t>(), 8ull << 30);  // this binary's test devices
  EXPECT_EQ(devices[1]["memory_total_bytes"].get<uint64_t>(), 4ull << 30);
  // No slice runs: all but one slice's context room (512 MiB by default) is there for slices.
  EXPECT_EQ(devices[1]["memory_for_slices_bytes"].get<uint64_t>(), (4ull << 30) - (512ull << 20));
  EXPECT_NE(devices[0]["name"].get<std::string>().find("H100"), std::string::npos);
  // Each device says whose it is (the vendor's backend) and what it is.
  EXPECT_EQ(devices[0]["vendor"], "nvidia");
  EXPECT_EQ(devices[1]["kind"], "gpu");
  Result table = RunVxpu("devices --sim");
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_EQ(table.output.rfind("VENDOR  INDEX", 0), 0u) << table.output;
  EXPECT_NE(table.output.find("\nnvidia  0 "), std::string::npos) << table.output;
}

// With simulated NPUs beside the GPUs: `vxpu devices` lists both, `vxpu run --device npuN` puts
// an ACL program in an NPU slice, and a slice without --device stays on the GPUs.
TEST(VxpuCli, NpusAreListedBesideGpusAndRunsTakeSlicesOfThem) {
  char dir[] = "/tmp/vxpu-cli-npu-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string config = std::string(dir) + "/npus.json";
  std::ofstream(config) << R"({"devices": [{"memory": "16GiB"}, {"name": "Ascend910B4", "memory": "32GiB"}]})";
  const std::string env = "VXPU_SIMNPU_CONFIG=" + config + " VXPU_STATE_DIR=" + dir + " VXPU_AGENT_SOCKET=none";
  Result listed = RunVxpu("devices --sim -o json", env);
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  nlohmann::json devices = nlohmann::json::parse(listed.output);
  ASSERT_EQ(devices.size(), 4u) << listed.output;
  EXPECT_EQ(devices[2]["vendor"], "huawei");
  EXPECT_EQ(devices[2]["kind"], "npu");
  EXPECT_EQ(devices[3]["name"], "Ascend910B4");
  EXPECT_EQ(devices[3]["index"], 1);
  EXPECT_EQ(devices[3]["memory_total_bytes"].get<uint64_t>(), 32ull << 30);
  EXPECT_EQ(devices[3]["uuid"].get<std::string>().rfind("NPU-", 0), 0u);

  // The second chip, sliced: ACL sees it as its device 0, 2 GiB; 207001 past that.
  Result info = RunVxpu("run --sim --device npu1 --memory 2GiB -- " VXPU_BIN_DIR "/vxpu-acl info", env);
  ASSERT_EQ(info.exit_code, 0) << info.output;
  EXPECT_EQ(LastJsonLine(info.output).value("acl_total", 0ull), 2ull << 30) << info.output;
  Result fill = RunVxpu("run --sim --device npu1 --memory 1GiB -- " VXPU_BIN_DIR "/vxpu-acl fill malloc 400 3", env);
  ASSERT_EQ(fill.exit_code, 0) << fill.output;
  EXPECT_EQ(LastJsonLine(fill.output)["codes"], nlohmann::json::array({0, 0, 207001})) << fill.output;
  EXPECT_NE(fill.output.find("out of memory on NPU 0"), std::string::npos) << fill.output;
  // A GPU slice hides the NPUs, an NPU slice the GPUs.
  Result hidden = RunVxpu("run --sim --device 0 --memory 1GiB -- " VXPU_BIN_DIR "/vxpu-acl info", env);
  EXPECT_EQ(hidden.exit_code, 1) << hidden.output;
  EXPECT_NE(hidden.output.find("aclrtSetDevice failed with 207004"), std::string::npos) << hidden.output;
  // Without --device the slice is on the GPUs only: the NPUs keep all their room.
  Result gpus = RunVxpu("run --sim --memory 1GiB -- " VXPU_BIN_DIR "/vxpu devices --sim -o json", env);
  ASSERT_EQ(gpus.exit_code, 0) << gpus.output;
  nlohmann::json during = nlohmann::json::parse(gpus.output.substr(gpus.output.find('[')));
  EXPECT_LT(during[0]["memory_for_slices_bytes"].get<uint64_t>(),
            devices[0]["memory_for_slices_bytes"].get<uint64_t>());
  EXPECT_EQ(during[2]["memory_for_slices_bytes"], devices[2]["memory_for_slices_bytes"]) << gpus.output;
  std::filesystem::remove_all(dir);
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

TEST(VxpuCli, BadInputExitsWithTwoAndOneLineNamingTheValue) {
  struct Case {
    const char* args;
    const char* says;
  };
  for (const Case& c :
       {Case{"demo --seconds abc", "vxpu demo: --seconds"}, Case{"demo -o yaml", "yaml"},
        Case{"top --interval 0", "vxpu top: --interval"},
        Case{"foo", "vxpu: unknown command \"foo\" (commands: demo, devices, run"},
        Case{"", "vxpu: no command given (commands: demo"}, Case{"--bogus", "vxpu: unknown option \"--bogus\""},
        Case{"bench share --sim --shares 60,70", "want 2 or more shares adding up to at most 100"},
        Case{"sim replay --nodes /nonexistent.csv --pods /nonexistent.csv", "/nonexistent.csv"}}) {
    Result r = RunVxpu(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << ": " << r.output;
    EXPECT_NE(r.output.find(c.says), std::string::npos) << c.args << ": " << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << c.args << ": " << r.output;
  }
}

TEST(VxpuCli, ParseErrorsNameTheMistakeNotTheParser) {
  struct Case {
    const char* args;
    int exit_code;
    const char* says;
  };
  for (const Case& c : {
           Case{"demo --second 3", 2, "vxpu demo: unknown option --second (did you mean --seconds?)"},
           Case{"demo --seconds 1", 2, "vxpu demo: --seconds 1: want 2 to 600 (see vxpu demo --help)"},
           Case{"demo --seconds 3 extra", 2, "vxpu demo: unexpected \"extra\""},
           Case{"top --intervall 2", 2, "vxpu top: unknown option --intervall (did you mean --interval?)"},
           Case{"run --memory 4 GiB -- prog", 125,
                "vxpu run: \"GiB\" before -- is neither an option nor an option's value"},
           Case{"run --sim --memroy 1GiB -- true", 125, "vxpu run: unknown option --memroy (did you mean --memory?)"},
       }) {
    Result r = RunVxpu(c.args);
    EXPECT_EQ(r.exit_code, c.exit_code) << c.args << ": " << r.output;
    EXPECT_NE(r.output.find(c.says), std::string::npos) << c.args << ": " << r.output;
    EXPECT_EQ(r.output.find("not expected"), std::string::npos) << c.args << ": " << r.output;
    EXPECT_EQ(r.output.find("prog"), std::string::npos) << c.args << ": " << r.output;  // not the program's fault
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << c.args << ": " << r.output;
  }
}

TEST(VxpuCli, HelpTellsWhereASliceLivesAndWhichPoliciesExist) {
  Result run = RunVxpu("run --help");
  EXPECT_EQ(run.exit_code, 0);
  for (const char* word : {"VXPU_STATE_DIR", "VXPU_AGENT_SOCKET", "daemonless"})
    EXPECT_NE(run.output.find(word), std::string::npos) << word << " in " << run.output;
  Result replay = RunVxpu("sim replay --help");
  EXPECT_EQ(replay.exit_code, 0);
  EXPECT_NE(replay.output.find("of vxpu, random, dotprod, clustering, packing, bestfit, fgd"), std::string::npos)
      << replay.output;
}

TEST(VxpuCli, VersionNamesTheCommit) {
  Result r = RunVxpu("--version");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("vxpu 0."), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("(commit "), std::string::npos) << r.output;
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
  Result not_executable = RunVxpu("run --sim --memory 1GiB -- /");
  EXPECT_EQ(not_executable.exit_code, 126) << not_executable.output;
}

TEST_F(VxpuRun, RefusesBadSlicesBeforeRunningAnything) {
  struct Case {
    const char* args;
    const char* says;
  };
  for (const Case& c : {
           Case{"--memory abc", "--memory: bad memory quota \"abc\""},
           Case{"--memory 0", "\"0\""},
           Case{"--memory 101%", "\"101%\""},
           Case{"--memory 4096", "--memory: bad memory quota \"4096\": give a unit (4096MiB? 4096B?)"},
           Case{"--memory 4GB", "GB is ambiguous (10^n or 2^n bytes?): write 4GiB"},
           Case{"--memory 9GiB", "more than the device's 8.0 GiB (device 0 (GPU-"},
           Case{"--memory 5GiB", "more than the device's 4.0 GiB (device 1 (GPU-"},  // device 1 is smaller
           Case{"--memory 1GiB --device 3", "--device: no device \"3\" (this machine has 2 devices: gpu0 GPU-"},
           Case{"--memory 1GiB --device npu0", "--device: no device \"npu0\" (this machine has 2 devices"},
           Case{"--memory 1GiB --device GPU-nope", "no device \"GPU-nope\""},
           Case{"--memory 1GiB --name bad/name", "--name: bad slice name \"bad/name\""},
           Case{"--memory 1GiB --name ''", "--name: bad slice name \"\""},
           Case{"", "give --memory, --compute or both"},
           Case{"--compute 35", "--compute 35 is not a multiple of the 10% step"},
           Case{"--compute 0", "--compute: bad value \"0\""},
           Case{"--compute 30 --compute-step 0", "--compute-step: bad value \"0\""},
           Case{"--compute 30 --compute-limit 20", "--compute-limit 20 is below --compute 30"},
           Case{"--compute 30 --strict --compute-limit 50", "--strict and --compute-limit contradict"},
           Case{"--memory 1GiB --strict", "--strict needs --compute"},
           Case{"--compute-limit 50", "--compute-limit needs --compute"},
           Case{"--memory 1GiB --compute-limit 50 --priority high", "--compute-limit, --priority need --compute"},
           Case{"--compute 30 --priority urgent", "--priority: bad value \"urgent\""},
       }) {
    Result r = RunVxpu(std::string("run --sim ") + c.args + " -- sh -c 'echo COMMAND-RAN'");
    EXPECT_EQ(r.exit_code, 125) << c.args << ": " << r.output;
    EXPECT_EQ(r.output.find("COMMAND-RAN"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(std::string("vxpu run: ")), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(c.says), std::string::npos) << c.args << ": " << r.output;
  }
}

TEST_F(VxpuRun, ACommandLineItCannotParseSaysHowToWriteIt) {
  Result forgot = RunVxpu("run --sim --memory 1GiB ls -l");
  EXPECT_EQ(forgot.exit_code, 125) << forgot.output;
  EXPECT_NE(forgot.output.find("put -- before the command"), std::string::npos) << forgot.output;
  for (const char* typo : {"run --sim --memroy 1GiB -- true", "run --sim --memroy 1GiB true", "run --memroy=1GiB true",
                           "run --sim --memory 1GiB --bogus"}) {
    Result unknown = RunVxpu(typo);
    EXPECT_EQ(unknown.exit_code, 125) << unknown.output;
    EXPECT_NE(unknown.output.find("vxpu run: unknown option --"), std::string::npos) << typo << ": " << unknown.output;
  }
  Result nothing = RunVxpu("run --sim --memory 1GiB");
  EXPECT_EQ(nothing.exit_code, 125) << nothing.output;
  EXPECT_NE(nothing.output.find("vxpu run: no command given"), std::string::npos) << nothing.output;
}

TEST_F(VxpuRun, DeviceRestrictsTheCommandToThatDevice) {
  // Device 1 (4 GiB) alone, as the command's device 0: 50% of it is 2 GiB.
  Result r = RunVxpu("run --sim --memory 50% --device 1 -- " + kProbe + " alloc 1 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  nlohmann::json probe = LastJsonLine(r.output);
  EXPECT_EQ(probe["devices"], 1) << r.output;
  EXPECT_EQ(probe["device_total"], 2ull << 30) << r.output;
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
  EXPECT_GT(out["aggregate_throughput_percent"].get<double>(), 80.0) << r.output;
}

TEST_F(VxpuRun, BenchShareMeasuresTheSplitOnASimulatedNpu) {
  Result r = RunVxpu("bench share --sim --npu --shares 30,70 --seconds 2 -o json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  nlohmann::json out = LastJsonLine(r.output);
  EXPECT_EQ(out["device"], "simnpu") << r.output;
  ASSERT_EQ(out["tenants"].size(), 2u) << r.output;
  EXPECT_NEAR(out["tenants"][0]["achieved"].get<double>(), 30.0, 4.0) << r.output;
  EXPECT_LE(out["max_error_points"].get<double>(), 4.0) << r.output;
  EXPECT_GT(out["aggregate_throughput_percent"].get<double>(), 80.0) << r.output;
}

// `vxpu run ... -- COMMAND` started in the background; killed when dropped.
std::unique_ptr<vxpu::ChildProcess> StartVxpuRun(const std::vector<std::string>& slice,
                                                 const std::vector<std::string>& command) {
  std::vector<std::string> argv = {VXPU_BIN_DIR "/vxpu", "run", "--sim"};
  argv.insert(argv.end(), slice.begin(), slice.end());
  argv.push_back("--");
  argv.insert(argv.end(), command.begin(), command.end());
  return simtest::StartChild(argv, {});
}

const std::string kBurn = VXPU_BIN_DIR "/vxpu-burn";

TEST_F(VxpuPs, TopShowsEachComputeSlicesShareOfDeviceTime) {
  auto a = StartVxpuRun({"--name", "top-a", "--compute", "30"}, {kBurn, "--seconds", "4"});
  auto b = StartVxpuRun({"--name", "top-b", "--compute", "70"}, {kBurn, "--seconds", "4"});
  ASSERT_TRUE(simtest::PollFor(std::chrono::seconds(3), [] {
    Result r = RunVxpu("top -o json --interval 0.1");
    return r.output.find("top-a") != std::string::npos && r.output.find("top-b") != std::string::npos;
  }));
  Result r = RunVxpu("top -o json --interval 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  nlohmann::json out = nlohmann::json::parse(r.output);
  EXPECT_GE(out["interval_seconds"].get<double>(), 2.0);  // as measured, not as asked
  EXPECT_LT(out["interval_seconds"].get<double>(), 2.5);
  std::map<std::string, nlohmann::json> mine;
  for (const auto& slice : out["slices"]) mine[slice["slice"].get<std::string>()] = slice;
  ASSERT_EQ(mine.count("top-a") + mine.count("top-b"), 2u) << r.output;
  EXPECT_EQ(mine["top-a"]["guaranteed_percent"], 30.0);
  EXPECT_EQ(mine["top-b"]["pids"].size(), 1u);
  EXPECT_NEAR(mine["top-a"]["share_percent"].get<double>(), 30.0, 8.0) << r.output;
  EXPECT_NEAR(mine["top-b"]["share_percent"].get<double>(), 70.0, 8.0) << r.output;
  // top scales a device's shares down to 100% when leases overran the interval: 100 up to rounding.
  EXPECT_LE(mine["top-a"]["share_percent"].get<double>() + mine["top-b"]["share_percent"].get<double>(), 100.0 + 1e-9);
  const std::string uuid = mine["top-a"]["device"].get<std::string>();
  Result table = RunVxpu("top -n 1 --interval 0.2");
  EXPECT_EQ(table.exit_code, 0);
  EXPECT_NE(table.output.find("top-b"), std::string::npos) << table.output;
  EXPECT_NE(table.output.find(uuid), std::string::npos) << table.output;  // whole, so devices tell apart
  EXPECT_EQ(simtest::ReportOf(*a).value("kernels", 0) > 0, true);
  EXPECT_EQ(simtest::ReportOf(*b).value("kernels", 0) > 0, true);
}

// The first bytes of `path`.
std::string Head(const std::string& path, size_t bytes) {
  std::string head(bytes, '\0');
  FILE* f = std::fopen(path.c_str(), "rb");
  size_t n = f != nullptr ? std::fread(head.data(), 1, bytes, f) : 0;
  if (f != nullptr) std::fclose(f);
  return head.substr(0, n);
}

TEST_F(VxpuRun, BenchShareAndTopDrawTheSharesOverTime) {
  const std::string dir = "/tmp/vxpu-cli-plot-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  Result bench = RunVxpu("bench share --sim --shares 30,70 --seconds 2 --plot " + dir + "/share.svg");
  ASSERT_EQ(bench.exit_code, 0) << bench.output;
  EXPECT_NE(bench.output.find("vxpu bench share: wrote " + dir + "/share.svg"), std::string::npos) << bench.output;
  EXPECT_EQ(bench.output.find("/s,"), std::string::npos) << "progress shown on a pipe: " << bench.output;
  std::ifstream svg(dir + "/share.svg");
  std::string drawn((std::istreambuf_iterator<char>(svg)), std::istreambuf_iterator<char>());
  for (const char* label : {"<svg", "tenant 0", "tenant 1", "tenant 0 guarantee 30%", "tenant 1 guarantee 70%"})
    EXPECT_NE(drawn.find(label), std::string::npos) << label;
  EXPECT_EQ(RunVxpu("bench share --sim --plot " + dir + "/share.gif").exit_code, 2);

  auto a = StartVxpuRun({"--name", "plot-a", "--compute", "30"}, {kBurn, "--seconds", "3"});
  ASSERT_TRUE(simtest::PollFor(std::chrono::seconds(3), [] {
    return RunVxpu("top -o json --interval 0.1").output.find("\"plot-a\"") != std::string::npos;
  }));
  Result top = RunVxpu("top -n 2 --interval 0.5 --plot " + dir + "/top.png");
  ASSERT_EQ(top.exit_code, 0) << top.output;
  EXPECT_NE(top.output.find("vxpu top: wrote " + dir + "/top.png"), std::string::npos) << top.output;
  EXPECT_EQ(Head(dir + "/top.png", 4), "\x89PNG");
  Result refused = RunVxpu("top -n 1 --plot " + dir + "/top.jpg");
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find("want a .png or .svg file"), std::string::npos) << refused.output;
  simtest::ReportOf(*a);
  std::filesystem::remove_all(dir);
}

TEST_F(VxpuRun, AComputeGuaranteeThatDoesNotFitIsRefusedAtStart) {
  auto running = StartVxpuRun({"--name", "fits", "--compute", "70", "--device", "0"}, {kBurn, "--seconds", "3"});
  ASSERT_TRUE(simtest::PollFor(std::chrono::seconds(3), [] {
    return RunVxpu("top -o json --interval 0.1").output.find("\"fits\"") != std::string::npos;
  }));
  Result refused = RunVxpu("run --sim --name too-much --compute 40 -- sh -c 'echo COMMAND-RAN'");
  EXPECT_EQ(refused.exit_code, 125) << refused.output;
  EXPECT_EQ(refused.output.find("COMMAND-RAN"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("--compute 40.0%: device 0 (GPU-"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("has 70.0% of its compute guaranteed to running slices; 30.0% is left"),
            std::string::npos)
      << refused.output;
  // The other device has room, and a slice that asks for what is left fits.
  EXPECT_EQ(RunVxpu("run --sim --compute 40 --device 1 -- true").exit_code, 0);
  EXPECT_EQ(RunVxpu("run --sim --compute 30 -- true").exit_code, 0);
  // A slice without --device may use every device: its guarantee is held on each.
  auto everywhere = StartVxpuRun({"--name", "everywhere", "--compute", "20"}, {"sleep", "3"});
  ASSERT_TRUE(simtest::PollFor(std::chrono::seconds(3), [] {
    return RunVxpu("ps -o json").output.find("\"everywhere\"") != std::string::npos;
  }));
  EXPECT_EQ(RunVxpu("run --sim --compute 90 --device 1 -- true").exit_code, 125);
  simtest::ReportOf(*running);
}

// The names of this machine's vxpu shared segments that belong to this test's devices.
std::vector<std::string> SegmentsLeft() {
  std::vector<std::string> left;
  for (const auto& spec : simgpu::LoadDeviceConfig().devices) {
    for (const std::string& name : vxpu::SegmentsWithPrefix("vxpu-")) {
      if (name.find(spec.uuid) != std::string::npos) left.push_back(name);
    }
  }
  return left;
}

TEST_F(VxpuRun, RunAfterRunLeavesNothingBehind) {
  // Each run has a slice of its own (run-<pid>), a memory ledger, a compute arbiter and the
  // simulated device's state.
  for (int i = 0; i < 20; ++i) {
    Result r = RunVxpu("run --sim --memory 100MiB --compute 30 -- " + kBurn + " --seconds 0.05 --memory 10");
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  EXPECT_EQ(SegmentsLeft(), std::vector<std::string>{});
  // A run killed outright cannot clean up: the next look at what runs does.
  auto killed = StartVxpuRun({"--memory", "100MiB", "--compute", "30"}, {kBurn, "--seconds", "30", "--memory", "10"});
  ASSERT_TRUE(simtest::PollFor(std::chrono::seconds(5), [] { return SegmentsLeft().size() == 3; }))
      << ::testing::PrintToString(SegmentsLeft());
  killed->Kill();
  EXPECT_EQ(killed->Wait(), 128 + SIGKILL);
  for (const char* look : {"ps", "top -n 1 --interval 0.1", "devices --sim"}) ASSERT_EQ(RunVxpu(look).exit_code, 0);
  EXPECT_EQ(SegmentsLeft(), std::vector<std::string>{});
}

TEST_F(VxpuRun, MemoryQuotasLeaveRoomForEachSlicesContext) {
  // Device 1 has 4 GiB. A running 3 GiB slice there is counted with 512 MiB for its context
  // (context memory is not charged to slices), which leaves 512 MiB: all of it a new slice's
  // own context would take.
  auto holder =
      StartVxpuRun({"--memory", "3GiB", "--device", "1", "--name", "big"}, {kProbe, "alloc", "10", "1", "--hold", "4"});
  ASSERT_TRUE(simtest::PollFor(std::chrono::seconds(5),
                               [] { return RunVxpu("ps -o json").output.find("\"big\"") != std::string::npos; }));
  Result refused = RunVxpu("run --sim --memory 256MiB --device 1 -- sh -c 'echo COMMAND-RAN'");
  EXPECT_EQ(refused.exit_code, 125) << refused.output;
  EXPECT_EQ(refused.output.find("COMMAND-RAN"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("memory 256.0 MiB: device GPU-"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("has 4.0 GiB, 3.5 GiB promised to other slices and 512.0 MiB kept for this "
                                "slice's context; 0 B is left"),
            std::string::npos)
      << refused.output;
  // The other device is not concerned, and the room is configurable.
  EXPECT_EQ(RunVxpu("run --sim --memory 256MiB --device 0 -- true").exit_code, 0);
  Result no_reserve = RunVxpu("run --sim --memory 256MiB --device 1 -- true", "VXPU_CONTEXT_RESERVE=0");
  EXPECT_EQ(no_reserve.exit_code, 0) << no_reserve.output;
  Result bad = RunVxpu("run --sim --memory 256MiB --device 1 -- true", "VXPU_CONTEXT_RESERVE=1G");
  EXPECT_EQ(bad.exit_code, 125) << bad.output;
  EXPECT_NE(bad.output.find("VXPU_CONTEXT_RESERVE=\"1G\": want a size in IEC units"), std::string::npos) << bad.output;
  simtest::ReportOf(*holder);
}

TEST_F(VxpuRun, ABadStateDirectoryIsRefusedBeforeAnythingRuns) {
  Result ps = RunVxpu("ps", "VXPU_STATE_DIR=relative/dir");
  EXPECT_EQ(ps.exit_code, 2) << ps.output;
  EXPECT_NE(ps.output.find("vxpu ps: VXPU_STATE_DIR=\"relative/dir\": not an absolute path"), std::string::npos)
      << ps.output;
  Result run = RunVxpu("run --sim --memory 1GiB -- sh -c 'echo COMMAND-RAN'", "VXPU_STATE_DIR=/nonexistent/dir");
  EXPECT_EQ(run.exit_code, 125) << run.output;
  EXPECT_EQ(run.output.find("COMMAND-RAN"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("vxpu run: VXPU_STATE_DIR=\"/nonexistent/dir\": no such directory"), std::string::npos)
      << run.output;
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
  auto holder = StartVxpuRun({"--memory", "100MiB", "--name", "ps-test"}, {kProbe, "alloc", "10", "1", "--hold", "3"});
  nlohmann::json mine;
  for (int attempt = 0; attempt < 100 && mine.is_null(); ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    Result r = RunVxpu("ps -o json");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    for (const auto& slice : nlohmann::json::parse(r.output)) {
      if (slice["name"] == "ps-test" && slice["usage"][0]["memory_used_bytes"] == 10ull << 20) mine = slice;
    }
  }
  ASSERT_FALSE(mine.is_null()) << "slice ps-test never appeared in vxpu ps";
  EXPECT_EQ(mine["memory_limit_bytes"], 100ull << 20);
  EXPECT_EQ(mine["usage"][0]["processes"].size(), 1u);
  EXPECT_FALSE(mine["discovered"].get<bool>());  // no vxpud: recorded by vxpu run, not only found running
  EXPECT_EQ(mine["owner"]["pid"], holder->pid());
  Result table = RunVxpu("ps");
  EXPECT_NE(table.output.find("ps-test"), std::string::npos) << table.output;
  simtest::ReportOf(*holder);
}

}  // namespace

int main(int argc, char** argv) {
  return simtest::RunAllTestsOn(argc, argv,
                                {simtest::SimDevice{.memory = "8GiB", .context_overhead = "0"},
                                 simtest::SimDevice{.memory = "4GiB", .context_overhead = "0"}});
}
