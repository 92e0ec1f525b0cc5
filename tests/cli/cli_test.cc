// The vxpu binary end to end: real subprocesses on simgpu, outcomes read from its output.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

namespace {

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

TEST(VxpuCli, DemoRunsThreeWorkloadsThatAllGetDeviceTimeAndMemory) {
  Result r = RunVxpu("demo --seconds 3 -o json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  nlohmann::json summary = nlohmann::json::parse(r.output);
  EXPECT_EQ(summary["failed"], 0);
  ASSERT_EQ(summary["workloads"].size(), 3u);
  double total_device_seconds = 0;
  for (const auto& w : summary["workloads"]) {
    EXPECT_GT(w["memory_bytes"].get<uint64_t>(), 0u);
    EXPECT_GT(w["share_percent"].get<double>(), 5.0) << w.dump();
    total_device_seconds += w["device_seconds"].get<double>();
  }
  // Three workloads over ~3 s share one device: together they cannot exceed it.
  EXPECT_LT(total_device_seconds, 3.5);
}

TEST(VxpuCli, DevicesListsTheSimulatedGpu) {
  Result r = RunVxpu("devices --sim -o json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  nlohmann::json devices = nlohmann::json::parse(r.output);
  ASSERT_EQ(devices.size(), 1u);
  EXPECT_EQ(devices[0]["memory_total"].get<uint64_t>(), 80ull << 30);
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

}  // namespace
