// How evenly simgpu time-slices one device between processes that each saturate it.
//
//   vxpu-bench-simgpu-share [--processes N] [--seconds S] [--kernel-us K]
//
// Starts N vxpu-burn processes together on a throwaway simulated device and prints each one's
// share of the device time they got in total, the largest error against an equal split in
// percentage points, and the device's busy fraction.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "cli/throwaway_device.h"
#include "backend/paths.h"
#include "common/child_process.h"

int main(int argc, char** argv) {
  CLI::App app{"simgpu time-slicing fairness between saturating processes"};
  int processes = 2;
  double seconds = 5.0;
  unsigned kernel_us = 1000;
  app.add_option("--processes", processes, "Processes sharing the device")->check(CLI::Range(2, 16));
  app.add_option("--seconds", seconds, "How long each runs")->check(CLI::Range(1.0, 600.0));
  app.add_option("--kernel-us", kernel_us, "Length of each kernel")->check(CLI::Range(10u, 1000000u));
  CLI11_PARSE(app, argc, argv);

  vxpu::ThrowawayDevice device("share");
  std::vector<std::string> env = {"VXPU_SIMGPU_CONFIG=" + device.config_path(), "LD_LIBRARY_PATH=" + vxpu::SimgpuDir()};
  std::vector<std::unique_ptr<vxpu::ChildProcess>> children;
  for (int i = 0; i < processes; ++i) {
    auto child = std::make_unique<vxpu::ChildProcess>();
    std::string error;
    if (!child->Start({vxpu::CompanionPath("vxpu-burn"), "--seconds", fmt::format("{}", seconds), "--kernel-us",
                       std::to_string(kernel_us)},
                      env, &error)) {
      fmt::print(stderr, "{}\n", error);
      return 1;
    }
    children.push_back(std::move(child));
  }
  std::vector<double> device_seconds;
  double wall = 0;
  for (auto& child : children) {
    if (child->Wait() != 0) {
      fmt::print(stderr, "a burn process failed: {}\n", child->output());
      return 1;
    }
    nlohmann::json report = nlohmann::json::parse(child->output());
    device_seconds.push_back(report["device_seconds"].get<double>());
    wall = std::max(wall, report["wall_seconds"].get<double>());
  }
  double total = 0;
  for (double s : device_seconds) total += s;
  double target = 100.0 / processes;
  double max_error = 0;
  fmt::print("processes={} seconds={} kernel_us={}\n", processes, seconds, kernel_us);
  for (size_t i = 0; i < device_seconds.size(); ++i) {
    double share = 100.0 * device_seconds[i] / total;
    max_error = std::max(max_error, std::fabs(share - target));
    fmt::print("  process {}: {:.2f}% of device time (target {:.2f}%)\n", i, share, target);
  }
  fmt::print("max_error_points={:.2f} device_busy={:.1f}%\n", max_error, 100.0 * total / wall);
  return 0;
}
