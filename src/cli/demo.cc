#include "cli/demo.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "cli/nvml_client.h"
#include "cli/paths.h"
#include "common/child_process.h"
#include "common/units.h"
#include "simgpu/device_config.h"
#include "simgpu/shared_device.h"

namespace vxpu {
namespace {

using Clock = std::chrono::steady_clock;

struct Workload {
  std::string name;
  double start_fraction;  // of the demo's length
  double length_fraction;
  unsigned kernel_us;
  unsigned memory_mib;
  ChildProcess process;
  bool started = false;
  unsigned last_share = 0;
  uint64_t last_memory = 0;
};

std::vector<std::unique_ptr<Workload>> DemoWorkloads() {
  std::vector<std::unique_ptr<Workload>> w;
  w.push_back(std::make_unique<Workload>(Workload{"train-a", 0.0, 1.0, 2000, 24576, {}, false, 0, 0}));
  w.push_back(std::make_unique<Workload>(Workload{"train-b", 0.0, 1.0, 1000, 16384, {}, false, 0, 0}));
  w.push_back(std::make_unique<Workload>(Workload{"infer-c", 0.33, 0.34, 500, 8192, {}, false, 0, 0}));
  return w;
}

// A throwaway simulated device so the demo never meets another run's state.
simgpu::DeviceSpec WriteDemoConfig(const std::string& path) {
  char uuid[64];
  std::snprintf(uuid, sizeof(uuid), "GPU-de300000-0000-4000-8000-%012x", static_cast<unsigned>(getpid()));
  std::ofstream(path) << R"({"devices":[{"name":"NVIDIA H100 80GB HBM3","uuid":")" << uuid
                      << R"(","memory":"80GiB"}]})";
  return simgpu::ParseDeviceConfig(fmt::format(R"({{"devices":[{{"uuid":"{}"}}]}})", uuid)).devices.at(0);
}

std::string Bar(unsigned percent, int width) {
  int filled = static_cast<int>(percent) * width / 100;
  std::string bar;
  for (int i = 0; i < width; ++i) bar += i < filled ? "#" : ".";
  return bar;
}

std::vector<std::string> RenderFrame(const std::vector<std::unique_ptr<Workload>>& workloads, const GpuDevice& device,
                                     double elapsed) {
  std::vector<std::string> lines;
  lines.push_back(fmt::format("vxpu demo  t={:5.1f}s  {} (simulated)  memory {} / {}  busy {:3}%", elapsed, device.name,
                              FormatBytes(device.memory_used), FormatBytes(device.memory_total), device.utilization));
  lines.push_back(fmt::format("  {:<8} {:>7}  {:<8} {:>10}  {:>5}  {}", "WORKLOAD", "PID", "STATE", "MEMORY", "SHARE",
                              "DEVICE TIME"));
  for (const auto& w : workloads) {
    std::string state = !w->started ? "waiting" : w->process.running() ? "running" : "done";
    bool live = w->process.running();
    lines.push_back(fmt::format(
        "  {:<8} {:>7}  {:<8} {:>10}  {:>4}%  {}", w->name, w->started ? std::to_string(w->process.pid()) : "-", state,
        live ? FormatBytes(w->last_memory) : "-", live ? w->last_share : 0, Bar(live ? w->last_share : 0, 30)));
  }
  return lines;
}

void UpdateFromDevice(const std::vector<std::unique_ptr<Workload>>& workloads, const GpuDevice& device) {
  for (const auto& w : workloads) {
    for (const GpuProcess& p : device.processes) {
      if (static_cast<pid_t>(p.pid) == w->process.pid()) {
        w->last_share = p.sm_util;
        w->last_memory = p.memory_used;
      }
    }
  }
}

nlohmann::json Summary(const std::vector<std::unique_ptr<Workload>>& workloads) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& w : workloads) {
    nlohmann::json report = nlohmann::json::parse(w->process.output(), nullptr, false);
    nlohmann::json entry = {
        {"name", w->name}, {"pid", w->process.pid()}, {"memory_bytes", uint64_t{w->memory_mib} << 20}};
    if (!report.is_discarded() && report.contains("device_seconds")) {
      double device_s = report["device_seconds"].get<double>();
      double wall_s = report["wall_seconds"].get<double>();
      entry["device_seconds"] = device_s;
      entry["wall_seconds"] = wall_s;
      entry["share_percent"] = wall_s > 0 ? 100.0 * device_s / wall_s : 0.0;
    }
    out.push_back(entry);
  }
  return out;
}

}  // namespace

int RunDemo(const DemoOptions& options) {
  const std::string burn = CompanionPath("vxpu-burn");
  const std::string simgpu_dir = SimgpuDir();
  for (const std::string& needed : {burn, simgpu_dir + "/libcuda.so.1", simgpu_dir + "/libnvidia-ml.so.1"}) {
    if (!FileExists(needed)) {
      std::fprintf(stderr, "vxpu demo: missing %s (build the whole project, or set VXPU_SIMGPU_DIR)\n", needed.c_str());
      return 1;
    }
  }
  const std::string config_path = fmt::format("/tmp/vxpu-demo-{}.json", getpid());
  simgpu::DeviceSpec spec = WriteDemoConfig(config_path);
  setenv(simgpu::kConfigEnv, config_path.c_str(), 1);
  std::vector<std::string> env = {std::string(simgpu::kConfigEnv) + "=" + config_path, "LD_LIBRARY_PATH=" + simgpu_dir};

  std::string error;
  std::unique_ptr<NvmlClient> nvml = NvmlClient::Open(simgpu_dir + "/libnvidia-ml.so.1", &error);
  if (!nvml) {
    std::fprintf(stderr, "vxpu demo: %s\n", error.c_str());
    return 1;
  }
  auto workloads = DemoWorkloads();
  bool tty = !options.json && isatty(STDOUT_FILENO);
  if (!options.json)
    std::printf("%d workloads share one simulated GPU with no slicing yet (native time-sharing); %.0f s.\n",
                static_cast<int>(workloads.size()), options.seconds);
  const Clock::time_point start = Clock::now();
  size_t drawn = 0;
  double last_plain = -10.0;
  int failures = 0;
  for (;;) {
    double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    bool any_pending = false;
    for (auto& w : workloads) {
      if (!w->started && elapsed >= w->start_fraction * options.seconds) {
        std::vector<std::string> argv = {burn,
                                         "--seconds",
                                         fmt::format("{:.2f}", w->length_fraction * options.seconds),
                                         "--kernel-us",
                                         std::to_string(w->kernel_us),
                                         "--memory",
                                         std::to_string(w->memory_mib)};
        if (!w->process.Start(argv, env, &error)) {
          std::fprintf(stderr, "vxpu demo: %s\n", error.c_str());
          return 1;
        }
        w->started = true;
      }
      w->process.Poll();
      any_pending = any_pending || !w->started || w->process.running();
    }
    std::vector<GpuDevice> devices;
    if (nvml->Snapshot(&devices, &error) && !devices.empty()) {
      UpdateFromDevice(workloads, devices[0]);
      std::vector<std::string> frame = RenderFrame(workloads, devices[0], elapsed);
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
    if (!any_pending) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  for (auto& w : workloads) failures += w->process.Wait() != 0 ? 1 : 0;
  nlohmann::json summary = Summary(workloads);
  if (options.json) {
    std::printf("%s\n", nlohmann::json{{"workloads", summary}, {"failed", failures}}.dump().c_str());
  } else {
    std::printf("\nWhat each workload got over its own lifetime (device time / wall time):\n");
    for (const auto& entry : summary) {
      std::printf("  %-8s %5.1f%% of the device, %s of memory\n", entry["name"].get<std::string>().c_str(),
                  entry.value("share_percent", 0.0), FormatBytes(entry["memory_bytes"].get<uint64_t>()).c_str());
    }
    std::printf("Without slices the device is split by whoever submits; the memory is first come, first served.\n");
  }
  nvml.reset();
  simgpu::SharedDevice::Unlink(spec);
  std::remove(config_path.c_str());
  return failures == 0 ? 0 : 1;
}

}  // namespace vxpu
