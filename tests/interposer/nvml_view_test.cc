// What NVML shows inside a slice, end to end: real processes of two live slices on one
// simulated device, the real interposer preloaded into the one probing. Inside slice `fg` the
// process lists (every layout, linked symbols and dlsym), per-process utilization, device
// utilization and memory show fg's processes only, never those of slice `bg`.
#include <dlfcn.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "../simgpu/sim_env.h"
#include "common/child_process.h"
#include "common/nvml_abi.h"
#include "interposer/compute_arbiter.h"

namespace {

using std::chrono::milliseconds;

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kDeviceBytes = 8192 * kMiB;
const std::string kProbe = VXPU_BIN_DIR "/vxpu-nvml-probe";
const std::string kBurn = VXPU_BIN_DIR "/vxpu-burn";
const std::string kVxpu = VXPU_BIN_DIR "/vxpu";

// The environment `vxpu run` gives a workload of `slice` (memory quota and/or compute share).
std::vector<std::string> SliceEnv(const std::string& slice, const std::string& memory, const std::string& compute) {
  std::vector<std::string> env = {"LD_LIBRARY_PATH=" VXPU_SIMGPU_DIR, "LD_PRELOAD=" VXPU_INTERPOSER,
                                  "VXPU_SLICE=" + slice};
  if (!memory.empty()) env.push_back("VXPU_MEMORY=" + memory);
  if (!compute.empty()) env.push_back("VXPU_COMPUTE=" + compute);
  return env;
}

// simgpu's NVML as this test process sees it: no interposer, every process on the device.
struct RawNvml {
  RawNvml() {
    void* lib = dlopen(VXPU_SIMGPU_DIR "/libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) return;
    auto init = reinterpret_cast<decltype(&nvmlInit_v2)>(dlsym(lib, "nvmlInit_v2"));
    auto handle =
        reinterpret_cast<decltype(&nvmlDeviceGetHandleByIndex_v2)>(dlsym(lib, "nvmlDeviceGetHandleByIndex_v2"));
    processes = reinterpret_cast<decltype(processes)>(dlsym(lib, "nvmlDeviceGetComputeRunningProcesses_v3"));
    samples = reinterpret_cast<decltype(samples)>(dlsym(lib, "nvmlDeviceGetProcessUtilization"));
    ok = init != nullptr && handle != nullptr && processes != nullptr && samples != nullptr && init() == NVML_SUCCESS &&
         handle(0, &device) == NVML_SUCCESS;
  }

  // What `pid` holds on the device (0 if it is not listed).
  uint64_t MemoryOf(pid_t pid) const {
    std::vector<nvmlProcessInfo_t> infos(64);
    unsigned n = static_cast<unsigned>(infos.size());
    if (processes(device, &n, infos.data()) != NVML_SUCCESS) return 0;
    for (unsigned i = 0; i < n; ++i) {
      if (infos[i].pid == static_cast<unsigned>(pid)) return infos[i].usedGpuMemory;
    }
    return 0;
  }

  // The SM utilization of `pid` (-1 if it has no sample).
  int UtilizationOf(pid_t pid) const {
    std::vector<nvmlProcessUtilizationSample_t> all(64);
    unsigned n = static_cast<unsigned>(all.size());
    if (samples(device, all.data(), &n, 0) != NVML_SUCCESS) return -1;
    for (unsigned i = 0; i < n; ++i) {
      if (all[i].pid == static_cast<unsigned>(pid)) return static_cast<int>(all[i].smUtil);
    }
    return -1;
  }

  bool ok = false;
  nvmlDevice_t device = nullptr;
  decltype(&nvmlDeviceGetComputeRunningProcesses_v3) processes = nullptr;
  decltype(&nvmlDeviceGetProcessUtilization) samples = nullptr;
};

const RawNvml& Raw() {
  static const RawNvml* raw = new RawNvml;
  return *raw;
}

// A burn child of `slice` keeping the device busy for 30 s with `mib` MiB held; returns once
// the device lists it with that memory, and (for a compute slice) its slice's arbiter has it.
std::unique_ptr<vxpu::ChildProcess> StartBurn(const std::vector<std::string>& env, uint64_t mib,
                                              const std::string& compute_slice = "") {
  auto burn = std::make_unique<vxpu::ChildProcess>();
  std::string error;
  if (!burn->Start({kBurn, "--seconds", "30", "--memory", std::to_string(mib)}, env, &error, true)) {
    ADD_FAILURE() << "cannot start " << kBurn << ": " << error;
    return burn;
  }
  pid_t pid = burn->pid();
  auto admitted = [&] {
    if (compute_slice.empty()) return true;
    for (const vxpu::ComputeSliceUsage& s : vxpu::ComputeArbiter::ListSlices()) {
      if (s.slice == compute_slice && std::count(s.pids.begin(), s.pids.end(), pid) > 0) return true;
    }
    return false;
  };
  EXPECT_TRUE(simtest::PollFor(milliseconds(10000), [&] { return Raw().MemoryOf(pid) >= mib * kMiB && admitted(); }))
      << "burn " << pid << " never held " << mib << " MiB: " << burn->output();
  return burn;
}

// The last line of `output` that is a JSON object or array (null if none).
nlohmann::json LastJsonValue(const std::string& output) {
  size_t end = output.size();
  while (end > 0) {
    size_t start = output.rfind('\n', end - 1);
    start = start == std::string::npos ? 0 : start + 1;
    if (start < end && (output[start] == '{' || output[start] == '['))
      return nlohmann::json::parse(output.substr(start, end - start), nullptr, false);
    end = start == 0 ? 0 : start - 1;
  }
  return nullptr;
}

// Runs `argv` with `env` added to its end; its report, failing the test unless it exited with 0.
nlohmann::json Report(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  vxpu::ChildProcess child;
  std::string error;
  if (!child.Start(argv, env, &error, /*with_stderr=*/true)) {
    ADD_FAILURE() << "cannot start " << argv[0] << ": " << error;
    return nullptr;
  }
  int code = child.Wait();
  EXPECT_EQ(code, 0) << child.output();
  nlohmann::json report = LastJsonValue(child.output());
  EXPECT_FALSE(report.is_null() || report.is_discarded()) << child.output();
  return report;
}

void Stop(vxpu::ChildProcess& child) {
  child.Kill();
  EXPECT_EQ(child.Wait(), 128 + SIGKILL) << child.output();
}

std::set<unsigned> PidsOf(const nlohmann::json& list) {
  std::set<unsigned> pids;
  for (const auto& entry : list) pids.insert(entry[0].get<unsigned>());
  return pids;
}

uint64_t MemoryIn(const nlohmann::json& list) {
  uint64_t bytes = 0;
  for (const auto& entry : list) bytes += entry[1].get<uint64_t>();
  return bytes;
}

// Every process list of the probe's report (linked symbols and dlsym, v1, v2, v3) shows
// exactly `expected` (pid -> bytes).
void ExpectEveryList(const nlohmann::json& report, const std::map<unsigned, uint64_t>& expected) {
  for (const char* how : {"linked", "dlsym"}) {
    for (const char* layout : {"v1", "v2", "v3"}) {
      SCOPED_TRACE(std::string(how) + " " + layout);
      std::map<unsigned, uint64_t> shown;
      for (const auto& entry : report[how][layout]) shown[entry[0].get<unsigned>()] = entry[1].get<uint64_t>();
      EXPECT_EQ(shown, expected) << report.dump();
    }
  }
}

class NvmlView : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(Raw().ok); }
};

TEST_F(NvmlView, AnIdleSliceSeesNothingOfABusyOne) {
  auto bg = StartBurn(SliceEnv("bg", "2GiB", ""), 600);
  nlohmann::json r = Report({kProbe, "64"}, SliceEnv("fg", "1GiB", ""));
  ASSERT_TRUE(r.is_object());
  EXPECT_EQ(r["failures"].size(), 0u) << r.dump();  // no query failed, no canary was hit
  unsigned probe = r["pid"].get<unsigned>();
  ExpectEveryList(r, {{probe, 64 * kMiB}});
  EXPECT_EQ(r["graphics_and_mps"], 0);
  for (unsigned pid : PidsOf(r["samples"])) EXPECT_EQ(pid, probe) << r.dump();
  EXPECT_EQ(r["gpu_util"], 0) << r.dump();  // the probe launched nothing
  EXPECT_EQ(r["memory"]["total"], 1024 * kMiB);
  EXPECT_EQ(r["memory"]["used"], 64 * kMiB);
  // Meanwhile the device was busy with bg's work, and holding its memory: all hidden from fg.
  EXPECT_GE(Raw().UtilizationOf(bg->pid()), 30);
  EXPECT_EQ(Raw().MemoryOf(bg->pid()), 600 * kMiB);
  Stop(*bg);
}

TEST_F(NvmlView, ASliceSeesItsOwnProcessesAndOnlyThem) {
  auto bg = StartBurn(SliceEnv("bg", "2GiB", ""), 600);
  auto fg = StartBurn(SliceEnv("fg", "1GiB", ""), 100);
  nlohmann::json r = Report({kProbe, "64"}, SliceEnv("fg", "1GiB", ""));
  ASSERT_TRUE(r.is_object());
  EXPECT_EQ(r["failures"].size(), 0u) << r.dump();
  unsigned probe = r["pid"].get<unsigned>();
  unsigned burner = static_cast<unsigned>(fg->pid());
  ExpectEveryList(r, {{probe, 64 * kMiB}, {burner, 100 * kMiB}});
  unsigned summed = 0;
  for (const auto& sample : r["samples"]) {
    EXPECT_TRUE(sample[0] == probe || sample[0] == burner) << r.dump();
    summed += sample[1].get<unsigned>();
  }
  EXPECT_GT(summed, 0u) << r.dump();  // fg's burner was busy
  // The device utilization fg sees is fg's own (bg's would add about as much again).
  EXPECT_NEAR(r["gpu_util"].get<double>(), std::min(summed, 100u), 15) << r.dump();
  EXPECT_EQ(r["memory"]["total"], 1024 * kMiB);
  EXPECT_EQ(r["memory"]["used"], MemoryIn(r["linked"]["v3"]));  // USED and PROCS agree
  Stop(*fg);
  Stop(*bg);
}

TEST_F(NvmlView, AComputeOnlySliceSeesItsOwnTenants) {
  auto bg = StartBurn(SliceEnv("cbg", "", "40"), 600, "cbg");
  auto fg = StartBurn(SliceEnv("cfg", "", "40"), 100, "cfg");
  nlohmann::json r = Report({kProbe, "64"}, SliceEnv("cfg", "", "40"));
  ASSERT_TRUE(r.is_object());
  EXPECT_EQ(r["failures"].size(), 0u) << r.dump();
  unsigned probe = r["pid"].get<unsigned>();
  ExpectEveryList(r, {{probe, 64 * kMiB}, {static_cast<unsigned>(fg->pid()), 100 * kMiB}});
  unsigned summed = 0;
  for (const auto& sample : r["samples"]) {
    EXPECT_NE(sample[0], bg->pid()) << r.dump();
    summed += sample[1].get<unsigned>();
  }
  EXPECT_NEAR(r["gpu_util"].get<double>(), std::min(summed, 100u), 15) << r.dump();
  EXPECT_EQ(r["memory"]["total"], kDeviceBytes);  // no quota: the device's size, the slice's use
  EXPECT_EQ(r["memory"]["used"], 164 * kMiB);
  Stop(*fg);
  Stop(*bg);
}

TEST_F(NvmlView, VxpuDevicesInsideASliceShowsTheSlice) {
  auto bg = StartBurn(SliceEnv("bg", "2GiB", ""), 600);
  auto fg = StartBurn(SliceEnv("fg", "1GiB", ""), 100);
  // `vxpu devices --sim` dlopens simgpu's NVML by absolute path: the dlsym hook must catch it.
  nlohmann::json r = Report(
      {kVxpu, "run", "--sim", "--memory", "1GiB", "--name", "fg", "--", kVxpu, "devices", "--sim", "--output", "json"},
      {});
  ASSERT_TRUE(r.is_array()) << r.dump();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0]["memory_total_bytes"], 1024 * kMiB);
  EXPECT_EQ(r[0]["memory_used_bytes"], 100 * kMiB);
  EXPECT_EQ(r[0]["processes"], 1);  // fg's burner; the listing process holds no context
  Stop(*fg);
  Stop(*bg);
}

}  // namespace

int main(int argc, char** argv) {
  return simtest::RunAllTestsOn(argc, argv, {simtest::SimDevice{.memory = "8GiB", .context_overhead = "0"}});
}
