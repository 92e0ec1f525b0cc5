#include "cli/bench_share.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "backend/paths.h"
#include "cli/chart.h"
#include "cli/progress.h"
#include "cli/share_chart.h"
#include "cli/throwaway_device.h"
#include "common/child_process.h"
#include "common/json_line.h"
#include "common/units.h"
#include "interposer/compute_arbiter.h"

namespace vxpu {
namespace {

constexpr int kBadInput = 2;  // bad --shares
constexpr int kFailed = 1;    // a tenant failed, no driver

struct TenantResult {
  double device_seconds = 0;
  double wall_seconds = 0;
};

int Fail(int code, const std::string& message) {
  fmt::print(stderr, "vxpu bench share: {}\n", message);
  return code;
}

// "30,70" -> {300, 700} permille; nullopt with *error on a bad list or a sum over 100%.
std::optional<std::vector<uint32_t>> ParseShares(const std::string& text, std::string* error) {
  std::vector<uint32_t> shares;
  uint32_t sum = 0;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = std::min(text.find(',', start), text.size());
    auto share = ParseSharePermille(text.substr(start, comma - start), error);
    if (!share) return std::nullopt;
    shares.push_back(*share);
    sum += *share;
    start = comma + 1;
  }
  if (shares.size() < 2 || sum > 1000) {
    *error = "--shares " + text + ": want 2 or more shares adding up to at most 100";
    return std::nullopt;
  }
  return shares;
}

// Starts a saturating tenant for `seconds` (vxpu-burn, or vxpu-acl burn on an NPU), under a
// compute slice when `share` > 0.
std::unique_ptr<ChildProcess> StartTenant(std::vector<std::string> env, bool npu, uint32_t share, int index,
                                          double seconds, std::string* error) {
  if (share > 0) {
    env.push_back("LD_PRELOAD=" + InterposerPath());
    env.push_back(fmt::format("VXPU_COMPUTE={}.{}", share / 10, share % 10));
    env.push_back(fmt::format("VXPU_SLICE=bench-{}-{}", getpid(), index));
  }
  auto child = std::make_unique<ChildProcess>();
  std::vector<std::string> argv = {CompanionPath("vxpu-burn"), "--seconds", fmt::format("{}", seconds)};
  if (npu) argv = {CompanionPath("vxpu-acl"), "burn", fmt::format("{}", seconds)};
  if (!child->Start(argv, env, error, true)) return nullptr;
  return child;
}

std::optional<TenantResult> Collect(ChildProcess& child, std::string* error) {
  int code = child.Wait();
  std::string out = child.output();
  nlohmann::json report = LastJsonLine(out);
  if (code != 0 || !report.is_object()) {
    *error = fmt::format("a tenant failed (exit {}): {}", code, out);
    return std::nullopt;
  }
  return TenantResult{report["device_seconds"].get<double>(), report["wall_seconds"].get<double>()};
}

// The compute slices of this bench's tenants, as the arbiters account them now.
std::vector<ComputeSliceUsage> TenantSlices() {
  std::vector<ComputeSliceUsage> mine;
  std::string prefix = fmt::format("bench-{}-", getpid());
  for (ComputeSliceUsage& s : ComputeArbiter::ListSlices()) {
    if (s.slice.rfind(prefix, 0) == 0) mine.push_back(std::move(s));
  }
  return mine;
}

// While the tenants run: progress (seconds of the bench so far) and, for the chart, each
// tenant's share every kSampleSeconds.
struct Watch {
  bool npu = false;  // the tenants burn an NPU
  Progress* progress = nullptr;
  double progress_offset = 0;  // seconds of the bench before these tenants started
  ShareHistory* history = nullptr;
};
constexpr double kSampleSeconds = 0.5;

// Runs the tenants together (share 0: no slice) and collects their reports.
std::optional<std::vector<TenantResult>> RunTenants(const std::vector<std::string>& env,
                                                    const std::vector<uint32_t>& shares, double seconds,
                                                    const Watch& watch, std::string* error) {
  using Clock = std::chrono::steady_clock;
  std::vector<std::unique_ptr<ChildProcess>> children;
  for (size_t i = 0; i < shares.size(); ++i) {
    children.push_back(StartTenant(env, watch.npu, shares[i], static_cast<int>(i), seconds, error));
    if (children.back() == nullptr) return std::nullopt;
  }
  std::map<std::string, std::string> names;
  for (size_t i = 0; i < shares.size(); ++i)
    names[fmt::format("bench-{}-{}", getpid(), i)] = fmt::format("tenant {}", i);
  const Clock::time_point start = Clock::now();
  Clock::time_point sampled = start;
  std::vector<ComputeSliceUsage> before = TenantSlices();
  for (bool running = true; running;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    running = false;
    for (auto& child : children) {
      child->Poll();
      running = running || child->running();
    }
    Clock::time_point now = Clock::now();
    if (watch.progress != nullptr)
      watch.progress->Set(watch.progress_offset + std::chrono::duration<double>(now - start).count());
    double interval = std::chrono::duration<double>(now - sampled).count();
    if (watch.history == nullptr || !running || interval < kSampleSeconds) continue;
    std::vector<ComputeSliceUsage> after = TenantSlices();
    watch.history->Add(std::chrono::duration<double>(now - start).count(), SharesBetween(before, after, interval),
                       names);
    before = std::move(after);
    sampled = now;
  }
  std::vector<TenantResult> results;
  for (auto& child : children) {
    auto result = Collect(*child, error);
    if (!result) return std::nullopt;
    results.push_back(*result);
  }
  return results;
}

// "simulated GPU", "real NPU", ...
std::string DeviceWords(const BenchShareOptions& o) {
  return std::string(o.sim ? "simulated " : "real ") + (o.npu ? "NPU" : "GPU");
}

void Print(const BenchShareOptions& o, const std::vector<uint32_t>& shares, const std::vector<TenantResult>& results,
           double solo_rate) {
  double total = 0, wall = 0;
  for (const TenantResult& r : results) {
    total += r.device_seconds;
    wall = std::max(wall, r.wall_seconds);
  }
  nlohmann::json tenants = nlohmann::json::array();
  double max_error = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    double target = shares[i] / 10.0;
    double achieved = total > 0 ? 100.0 * results[i].device_seconds / total : 0;
    max_error = std::max(max_error, std::fabs(achieved - target));
    tenants.push_back({{"target", target}, {"achieved", std::round(achieved * 100) / 100}});
  }
  double aggregate = solo_rate > 0 && wall > 0 ? (total / wall) / solo_rate : 0;
  if (o.json) {
    nlohmann::json out = {{"tenants", tenants},
                          {"max_error_points", std::round(max_error * 100) / 100},
                          {"aggregate_throughput_percent", std::round(aggregate * 1000) / 10},
                          {"seconds", o.seconds},
                          {"device", o.sim ? (o.npu ? "simnpu" : "simgpu") : "real"},
                          {"kind", o.npu ? "npu" : "gpu"}};
    fmt::print("{}\n", out.dump());
    return;
  }
  fmt::print("{} tenants on one {} for {} s, each saturating it:\n", results.size(), DeviceWords(o), o.seconds);
  for (size_t i = 0; i < results.size(); ++i)
    fmt::print("  tenant {}: target {:5.1f}%  achieved {:6.2f}%\n", i, tenants[i]["target"].get<double>(),
               tenants[i]["achieved"].get<double>());
  fmt::print("max error: {:.2f} points; aggregate throughput {:.1f}% of one tenant alone\n", max_error,
             100 * aggregate);
}

}  // namespace

int RunBenchShare(const BenchShareOptions& o) {
  std::string error;
  auto shares = ParseShares(o.shares, &error);
  if (!shares) return Fail(kBadInput, error);
  if (!FileExists(InterposerPath())) return Fail(kFailed, "missing " + InterposerPath() + " (build the whole project)");
  if (!o.sim && !o.npu && !RealDriverPresent())
    return Fail(kFailed, "no NVIDIA driver found (libcuda.so.1); add --sim to run on the simulated GPU");
  if (!o.sim && o.npu && !RealAscendPresent())
    return Fail(kFailed, "no Ascend runtime found (libascendcl.so); add --sim to run on the simulated NPU");
  std::unique_ptr<ThrowawayDevice> device;
  std::vector<std::string> env;
  if (o.sim && !o.npu) {
    device = std::make_unique<ThrowawayDevice>("bench-share");
    env = {"VXPU_SIMGPU_CONFIG=" + device->config_path(), "LD_LIBRARY_PATH=" + SimgpuDir()};
  } else if (o.sim) {  // the throwaway NPU is main's (ThrowawayNpu), made before the state directory is read
    env = {"LD_LIBRARY_PATH=" + SimnpuDir()};
  }
  if (!o.plot.empty() && !ChartPathError("--plot", o.plot).empty())
    return Fail(kBadInput, ChartPathError("--plot", o.plot));
  double solo_seconds = std::min(o.seconds, 3.0);
  ShareHistory history;
  std::optional<std::vector<TenantResult>> solo, results;
  {
    Progress progress(solo_seconds + o.seconds, "s");
    solo = RunTenants(env, {0}, solo_seconds, Watch{o.npu, &progress, 0, nullptr}, &error);
    if (!solo) return Fail(kFailed, error);
    results = RunTenants(env, *shares, o.seconds,
                         Watch{o.npu, &progress, solo_seconds, o.plot.empty() ? nullptr : &history}, &error);
    if (!results) return Fail(kFailed, error);
  }
  double solo_rate = solo->at(0).wall_seconds > 0 ? solo->at(0).device_seconds / solo->at(0).wall_seconds : 0;
  if (!o.plot.empty()) {
    error = WriteChart(o.plot, history.ToChart(fmt::format("vxpu bench share: {} on one {}, {} s", o.shares,
                                                           DeviceWords(o), o.seconds)));
    if (!error.empty()) return Fail(kFailed, error);
    fmt::print(stderr, "vxpu bench share: wrote {}\n", o.plot);
  }
  Print(o, *shares, *results, solo_rate);
  return 0;
}

}  // namespace vxpu
