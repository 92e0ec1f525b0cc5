#include "cli/demo.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "backend/device_backend.h"
#include "backend/paths.h"
#include "cli/text_bar.h"
#include "cli/top.h"
#include "common/ascend_api.h"
#include "common/child_process.h"
#include "common/json_line.h"
#include "common/shared_segment.h"
#include "common/units.h"
#include "interposer/compute_arbiter.h"
#include "simgpu/device_config.h"

namespace vxpu {
namespace {

using Clock = std::chrono::steady_clock;

// The mean of share samples; null in JSON when there were none.
struct Mean {
  double sum = 0;
  int count = 0;
  void Add(double sample) {
    sum += sample;
    ++count;
  }
  nlohmann::json ToJson() const { return count > 0 ? nlohmann::json(sum / count) : nlohmann::json(nullptr); }
};

// One workload of the demo: `vxpu run` with a slice, around vxpu-burn. It keeps the device busy
// for `busy_fraction` of the demo, then stays alive, idle, holding its memory (a job between
// epochs) so that its slice's time flows to the other.
struct Workload {
  std::string name;
  unsigned compute_percent;
  unsigned quota_gib;  // the slice's memory quota
  unsigned held_mib;   // what the workload allocates (its weights)
  unsigned kernel_us;
  double busy_fraction;
  ChildProcess process;
  unsigned last_share = 0;
  uint64_t last_memory = 0;
  Mean both_busy{}, other_idle{};  // its share samples in the demo's two phases
};

// The first half both work; in the second, train-b idles and train-a bursts into its time.
constexpr double kPauseAt = 0.5;

// The workloads' memory fits the device: an 80 GiB H100, or a 64 GiB 910B3.
std::vector<std::unique_ptr<Workload>> DemoWorkloads(bool npu) {
  std::vector<std::unique_ptr<Workload>> w;
  w.push_back(std::make_unique<Workload>(Workload{"train-a", 30, npu ? 20u : 24u, 20480, 2000, 1.0, {}}));
  w.push_back(std::make_unique<Workload>(Workload{"train-b", 70, npu ? 32u : 40u, 24576, 1000, kPauseAt, {}}));
  return w;
}

// The device the demo runs on: a simulated GPU or NPU of its own, and how its programs run there.
struct DemoDevice {
  bool npu = false;
  std::string words;                // "H100", "910B3"
  std::vector<std::string> device;  // vxpu run's device option
  std::string refusal_marker;       // what the workload says when its slice refuses memory
};

// A throwaway simulated device so the demo never meets another run's state.
simgpu::DeviceSpec WriteDemoConfig(const std::string& path) {
  char uuid[64];
  std::snprintf(uuid, sizeof(uuid), "GPU-de300000-0000-4000-8000-%012x", static_cast<unsigned>(getpid()));
  std::ofstream(path) << R"({"devices":[{"name":"NVIDIA H100 80GB HBM3","uuid":")" << uuid
                      << R"(","memory":"80GiB"}]})";
  return simgpu::ParseDeviceConfig(fmt::format(R"({{"devices":[{{"uuid":"{}"}}]}})", uuid)).devices.at(0);
}

bool Busy(const Workload& w, double elapsed, double seconds) {
  return w.process.running() && elapsed < w.busy_fraction * seconds;
}

std::vector<std::string> RenderFrame(const std::vector<std::unique_ptr<Workload>>& workloads, const Device& device,
                                     double elapsed, double seconds) {
  // Busy is what the rows below add up to: the device's own utilization is averaged over its
  // sampling window, which the first frames have not filled (it said 0% beside 29% and 69%).
  unsigned busy = 0;
  for (const auto& w : workloads) busy += w->process.running() ? w->last_share : 0;
  std::vector<std::string> lines;
  lines.push_back(fmt::format("vxpu demo  t={:5.1f}s  {} (simulated)  memory {} / {}  busy {:3}%", elapsed, device.name,
                              FormatBytes(device.memory_used), FormatBytes(device.memory_total), std::min(busy, 100u)));
  lines.push_back(fmt::format("  {:<8} {:>7}  {:<7} {:>21}  {:>9}  {:>5}  {}", "WORKLOAD", "PID", "STATE",
                              "MEMORY / QUOTA", "GUARANTEE", "SHARE", "DEVICE TIME"));
  for (const auto& w : workloads) {
    bool live = w->process.running();
    std::string state = !live ? "done" : Busy(*w, elapsed, seconds) ? "busy" : "idle";
    std::string memory =
        fmt::format("{} / {}", live ? FormatBytes(w->last_memory) : "-", FormatBytes(uint64_t{w->quota_gib} << 30));
    unsigned share = live ? w->last_share : 0;
    lines.push_back(fmt::format("  {:<8} {:>7}  {:<7} {:>21}  {:>8}%  {:>4}%  {}", w->name, w->process.pid(), state,
                                memory, w->compute_percent, share, TextBar(share, 30)));
  }
  return lines;
}

// Records the device's view of each workload; samples near a phase change are left out.
// `shares`: each workload process's share of device time (percent) over the last interval.
void UpdateFromDevice(const std::vector<std::unique_ptr<Workload>>& workloads, const Device& device,
                      const std::map<pid_t, unsigned>& shares, double elapsed, double seconds) {
  double phase = elapsed / seconds;
  bool both_busy = phase > 0.1 && phase < kPauseAt - 0.02;
  bool other_idle = phase > kPauseAt + 0.08 && phase < 0.98;
  for (const auto& w : workloads) {
    for (const DeviceProcess& p : device.processes) {
      if (static_cast<pid_t>(p.pid) == w->process.pid()) w->last_memory = p.memory_used;
    }
    auto share = shares.find(w->process.pid());
    if (share == shares.end()) continue;
    w->last_share = share->second;
    if (both_busy) w->both_busy.Add(share->second);
    if (other_idle && w->busy_fraction == 1.0) w->other_idle.Add(share->second);
  }
}

std::string SliceName(const std::string& name) { return fmt::format("{}-{}", name, getpid()); }

// Shares as a GPU measures them: NVML's per-process utilization.
std::map<pid_t, unsigned> SharesOnTheGpu(const Device& device) {
  std::map<pid_t, unsigned> shares;
  for (const DeviceProcess& p : device.processes) shares[static_cast<pid_t>(p.pid)] = p.sm_util;
  return shares;
}

// Shares as the slices' arbiter charged them over the interval (DCMI has no per-process
// utilization): what an NPU demo shows.
std::map<pid_t, unsigned> SharesFromTheArbiter(const std::vector<std::unique_ptr<Workload>>& workloads,
                                               const std::vector<ComputeSliceUsage>& before,
                                               const std::vector<ComputeSliceUsage>& after, double seconds) {
  std::map<pid_t, unsigned> shares;
  for (const SliceShare& s : SharesBetween(before, after, seconds)) {
    for (const auto& w : workloads) {
      if (s.usage.slice == SliceName(w->name) && s.percent)
        shares[w->process.pid()] = static_cast<unsigned>(std::lround(*s.percent));
    }
  }
  return shares;
}

nlohmann::json Summary(const std::vector<std::unique_ptr<Workload>>& workloads) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& w : workloads) {
    nlohmann::json report = LastJsonLine(w->process.output());
    nlohmann::json entry = {{"name", w->name},
                            {"pid", w->process.pid()},
                            {"compute_percent", w->compute_percent},
                            {"memory_quota_bytes", uint64_t{w->quota_gib} << 30},
                            {"memory_bytes", uint64_t{w->held_mib} << 20},
                            {"share_both_busy_percent", w->both_busy.ToJson()},
                            {"share_other_idle_percent", w->other_idle.ToJson()}};
    if (report.contains("device_seconds")) {
      entry["device_seconds"] = report["device_seconds"];
      entry["busy_seconds"] = report["wall_seconds"];
    }
    out.push_back(entry);
  }
  return out;
}

// `vxpu run --sim` with the workload's slice, around vxpu-burn (vxpu-acl burn on an NPU).
std::vector<std::string> CommandFor(const Workload& w, const DemoDevice& on, double seconds) {
  double busy = w.busy_fraction * seconds;
  std::string linger = fmt::format("{:.2f}", std::max(0.01, seconds - busy));
  std::vector<std::string> command = {CompanionPath("vxpu"), "run", "--sim"};
  command.insert(command.end(), on.device.begin(), on.device.end());
  // Slice names are the node's: two demos must not meet.
  for (const std::string& arg :
       {std::string("--name"), SliceName(w.name), std::string("--compute"), std::to_string(w.compute_percent),
        std::string("--memory"), fmt::format("{}GiB", w.quota_gib), std::string("--")})
    command.push_back(arg);
  if (on.npu) {
    for (const std::string& arg : {CompanionPath("vxpu-acl"), std::string("burn"), fmt::format("{:.2f}", busy),
                                   std::to_string(w.kernel_us), std::to_string(w.held_mib), linger})
      command.push_back(arg);
    return command;
  }
  for (const std::string& arg : {CompanionPath("vxpu-burn"), std::string("--seconds"), fmt::format("{:.2f}", busy),
                                 std::string("--linger"), linger, std::string("--kernel-us"),
                                 std::to_string(w.kernel_us), std::string("--memory"), std::to_string(w.held_mib)})
    command.push_back(arg);
  return command;
}

// The other half of a slice: a job that asks for more memory than its slice holds is refused,
// although the device has room.
struct MemoryRefusal {
  unsigned quota_gib = 4;
  unsigned asked_mib = 6144;
  std::string marker;  // what the workload says when refused
  int exit_code = ChildProcess::kNotStarted;
  std::string said;  // the workload's error line
  bool refused() const { return exit_code != 0 && said.find(marker) != std::string::npos; }
};

MemoryRefusal TryTooMuchMemory(const DemoDevice& on, const std::vector<std::string>& env) {
  MemoryRefusal r;
  r.marker = on.refusal_marker;
  ChildProcess greedy;
  std::string error;
  std::vector<std::string> command = {CompanionPath("vxpu"), "run", "--sim"};
  command.insert(command.end(), on.device.begin(), on.device.end());
  for (const std::string& arg : {std::string("--name"), SliceName("greedy"), std::string("--memory"),
                                 fmt::format("{}GiB", r.quota_gib), std::string("--")})
    command.push_back(arg);
  std::vector<std::string> program = {CompanionPath("vxpu-burn"), "--seconds", "0.1", "--memory",
                                      std::to_string(r.asked_mib)};
  if (on.npu) program = {CompanionPath("vxpu-acl"), "fill", "malloc", std::to_string(r.asked_mib), "1"};
  command.insert(command.end(), program.begin(), program.end());
  if (!greedy.Start(command, env, &error, /*with_stderr=*/true)) {
    r.said = error;
    return r;
  }
  r.exit_code = greedy.Wait();
  std::string out = greedy.output();
  // vxpu-acl reports the refused code and exits 0: its report is what was said.
  if (on.npu && r.exit_code == 0 &&
      LastJsonLine(out).value("codes", nlohmann::json::array()) ==
          nlohmann::json::array({ACL_ERROR_RT_MEMORY_ALLOCATION}))
    r.exit_code = 1;
  size_t at = out.find(on.npu ? "out of memory" : "CUDA_ERROR");
  size_t line = at == std::string::npos ? 0 : out.rfind('\n', at);
  line = line == std::string::npos || at == std::string::npos ? 0 : line + 1;
  r.said = out.substr(line, out.find('\n', line) - line);
  return r;
}

void PrintRefusal(const MemoryRefusal& r) {
  std::printf("A third job asks for %s inside a %u GiB slice (vxpu run --memory %uGiB -- greedy):\n",
              FormatBytes(uint64_t{r.asked_mib} << 20).c_str(), r.quota_gib, r.quota_gib);
  if (r.refused()) {
    std::printf("  refused with %s, though the device has room: the slice holds.\n\n",
                r.marker == "CUDA_ERROR_OUT_OF_MEMORY" ? r.marker.c_str() : "207001 (ACL_ERROR_RT_MEMORY_ALLOCATION)");
  } else {
    std::printf("  NOT refused (exit %d): %s\n\n", r.exit_code, r.said.c_str());
  }
}

void PrintIntro(const std::vector<std::unique_ptr<Workload>>& workloads, const DemoDevice& on, double seconds) {
  std::printf("Two training jobs share one simulated %s under vxpu slices for %.0f s:\n", on.words.c_str(), seconds);
  for (const auto& w : workloads) {
    std::printf("  vxpu run --compute %u --memory %uGiB -- %s\n", w->compute_percent, w->quota_gib, w->name.c_str());
  }
  std::printf(
      "Each gets its guaranteed share while both are busy; halfway train-b goes idle (still alive,\n"
      "holding its memory) and train-a bursts into the time it leaves.\n\n");
}

void PrintOutcome(const nlohmann::json& summary, const DemoDevice& on) {
  std::printf("\nShare of device time, as %s:\n",
              on.npu ? "the slices' arbiter charged it (DCMI has no per-process time)" : "the device measured it");
  for (const auto& entry : summary) {
    auto percent = [&](const char* key) {
      return entry[key].is_number() ? fmt::format("{:5.1f}%", entry[key].get<double>()) : std::string("    -");
    };
    std::printf("  %-8s guaranteed %3u%%  while both busy %s  while the other idles %s\n",
                entry["name"].get<std::string>().c_str(), entry["compute_percent"].get<unsigned>(),
                percent("share_both_busy_percent").c_str(), percent("share_other_idle_percent").c_str());
  }
}

}  // namespace

int RunDemo(const DemoOptions& options) {
  const DemoDevice on = options.npu ? DemoDevice{true, "910B3", {"--device", "npu0"}, "out of memory on NPU"}
                                    : DemoDevice{false, "H100", {}, "CUDA_ERROR_OUT_OF_MEMORY"};
  const std::string sim_dir = on.npu ? SimnpuDir() : SimgpuDir();
  const std::string program = CompanionPath(on.npu ? "vxpu-acl" : "vxpu-burn");
  for (const std::string& needed : {program, InterposerPath(), sim_dir + (on.npu ? "/libdcmi.so" : "/libcuda.so.1")}) {
    if (!FileExists(needed)) {
      std::fprintf(stderr, "vxpu demo: missing %s (build the whole project, or set VXPU_SIM%sU_DIR)\n", needed.c_str(),
                   on.npu ? "NP" : "GP");
      return 1;
    }
  }
  // A throwaway simulated device, so the demo never meets another run's state: a GPU of its own
  // UUID, or an NPU in a state directory of its own (made by main: ThrowawayNpu).
  const std::string config_path = fmt::format("/tmp/vxpu-demo-{}.json", getpid());
  std::vector<std::string> env;
  simgpu::DeviceSpec spec;
  if (!on.npu) {
    spec = WriteDemoConfig(config_path);
    setenv(simgpu::kConfigEnv, config_path.c_str(), 1);
    env = {std::string(simgpu::kConfigEnv) + "=" + config_path};
  }
  std::unique_ptr<DeviceBackend> backend = MakeBackend(on.npu ? "huawei" : "nvidia", /*sim=*/true);
  std::string error;
  auto workloads = DemoWorkloads(on.npu);
  for (auto& w : workloads) {
    if (!w->process.Start(CommandFor(*w, on, options.seconds), env, &error, /*with_stderr=*/true)) {
      std::fprintf(stderr, "vxpu demo: %s\n", error.c_str());
      return 1;
    }
  }
  bool tty = !options.json && isatty(STDOUT_FILENO);
  if (!options.json) PrintIntro(workloads, on, options.seconds);
  MemoryRefusal refusal = TryTooMuchMemory(on, env);
  if (!options.json) PrintRefusal(refusal);
  const Clock::time_point start = Clock::now();
  Clock::time_point sampled = start;
  std::vector<ComputeSliceUsage> accounted = ComputeArbiter::ListSlices();
  size_t drawn = 0;
  double last_plain = -10.0;
  for (bool any_running = true; any_running;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    Clock::time_point now = Clock::now();
    double elapsed = std::chrono::duration<double>(now - start).count();
    any_running = false;
    for (auto& w : workloads) {
      w->process.Poll();
      any_running = any_running || w->process.running();
    }
    std::vector<Device> devices;
    if (!backend->Snapshot(&devices, &error) || devices.empty()) continue;
    std::map<pid_t, unsigned> shares = SharesOnTheGpu(devices[0]);
    if (on.npu) {
      std::vector<ComputeSliceUsage> after = ComputeArbiter::ListSlices();
      shares = SharesFromTheArbiter(workloads, accounted, after, std::chrono::duration<double>(now - sampled).count());
      accounted = std::move(after);
      sampled = now;
    }
    UpdateFromDevice(workloads, devices[0], shares, elapsed, options.seconds);
    std::vector<std::string> frame = RenderFrame(workloads, devices[0], elapsed, options.seconds);
    if (tty) {
      if (drawn > 0) std::printf("\x1b[%zuA", drawn);
      for (const std::string& line : frame) std::printf("\x1b[2K%s\n", line.c_str());
      drawn = frame.size();
    } else if (!options.json && elapsed - last_plain >= 2.0) {
      for (const std::string& line : frame) std::printf("%s\n", line.c_str());
      last_plain = elapsed;
    }
    std::fflush(stdout);
  }
  int failures = refusal.refused() ? 0 : 1;
  for (auto& w : workloads) {
    if (w->process.Wait() != 0) {
      ++failures;
      std::fprintf(stderr, "vxpu demo: %s failed: %s\n", w->name.c_str(), w->process.output().c_str());
    }
  }
  nlohmann::json summary = Summary(workloads);
  if (options.json) {
    nlohmann::json memory = {{"quota_bytes", uint64_t{refusal.quota_gib} << 30},
                             {"asked_bytes", uint64_t{refusal.asked_mib} << 20},
                             {"refused", refusal.refused()},
                             {"said", refusal.said}};
    std::printf("%s\n", nlohmann::json{{"workloads", summary},
                                       {"memory_refusal", memory},
                                       {"device", on.npu ? "npu" : "gpu"},
                                       {"failed", failures}}
                            .dump()
                            .c_str());
  } else {
    PrintOutcome(summary, on);
  }
  backend.reset();
  if (!on.npu) {
    UnlinkSegmentsOfDevice(spec.uuid);
    std::remove(config_path.c_str());
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace vxpu
