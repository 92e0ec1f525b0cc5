#include "cli/top.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "cli/chart.h"
#include "cli/share_chart.h"
#include "cli/text_bar.h"
#include "slice/node_link.h"

namespace vxpu {
namespace {

bool SameSlice(const ComputeSliceUsage& a, const ComputeSliceUsage& b) {
  return a.device == b.device && a.slice == b.slice;
}

double Percent(uint32_t permille) { return permille / 10.0; }

std::string PidList(const std::vector<int32_t>& pids) {
  std::string out;
  for (int32_t pid : pids) out += (out.empty() ? "" : ",") + std::to_string(pid);
  return out;
}

nlohmann::json ToJson(const std::vector<SliceShare>& shares, double interval) {
  nlohmann::json slices = nlohmann::json::array();
  for (const SliceShare& s : shares) {
    const ComputeSliceUsage& u = s.usage;
    slices.push_back({{"device", u.device},
                      {"slice", u.slice},
                      {"guaranteed_percent", Percent(u.terms.request)},
                      {"limit_percent", Percent(u.terms.limit)},
                      {"priority", u.terms.high_priority ? "high" : "normal"},
                      {"pids", u.pids},
                      {"device_seconds", static_cast<double>(u.used_ns) / 1e9},
                      {"share_percent", s.percent ? nlohmann::json(*s.percent) : nlohmann::json(nullptr)}});
  }
  return {{"interval_seconds", interval}, {"slices", slices}};
}

std::vector<std::string> RenderFrame(const std::vector<SliceShare>& shares, double interval) {
  std::vector<std::string> lines;
  lines.push_back(fmt::format("vxpu top  {} compute slice{}  share of device time over the last {:.1f} s",
                              shares.size(), shares.size() == 1 ? "" : "s", interval));
  lines.push_back(fmt::format("  {:<40} {:<20} {:>9} {:>6} {:<6}  {:<14} {:>6}", "DEVICE", "SLICE", "GUARANTEE",
                              "LIMIT", "PRIO", "PIDS", "SHARE"));
  for (const SliceShare& s : shares) {
    const ComputeSliceUsage& u = s.usage;
    std::string share = s.percent ? fmt::format("{:5.1f}%", *s.percent) : "     -";
    lines.push_back(fmt::format("  {:<40} {:<20} {:>8.1f}% {:>5.0f}% {:<6}  {:<14} {:>6}  {}", u.device, u.slice,
                                Percent(u.terms.request), Percent(u.terms.limit),
                                u.terms.high_priority ? "high" : "normal", PidList(u.pids), share,
                                TextBar(s.percent.value_or(0), 25)));
  }
  if (shares.empty()) lines.push_back("  (no compute slices running: start one with `vxpu run --compute N -- ...`)");
  return lines;
}

// A lease is charged when it ends, so an interval can be charged up to a lease more than it
// lasted: a device's shares are scaled down to add up to at most 100%.
void CapEachDeviceAtWhole(std::vector<SliceShare>* shares) {
  std::map<std::string, double> sum;
  for (const SliceShare& s : *shares) sum[s.usage.device] += s.percent.value_or(0);
  for (SliceShare& s : *shares) {
    double total = sum[s.usage.device];
    if (s.percent && total > 100.0) *s.percent *= 100.0 / total;
  }
}

// The compute slices running, and those vxpud registered that have no process in the arbiter
// yet (shown with no share).
std::vector<ComputeSliceUsage> ComputeSlicesNow(AgentClient* agent) {
  std::vector<ComputeSliceUsage> slices = ComputeArbiter::ListSlices();
  std::string error;
  std::optional<nlohmann::json> registered = agent != nullptr ? agent->Get("/v1/slices", &error) : std::nullopt;
  if (!registered) return slices;
  for (const SliceRecord& r : RecordsOf(*registered)) {
    if (!r.spec.compute) continue;
    for (const std::string& device : r.spec.devices) {
      ComputeSliceUsage pending;
      pending.slice = r.spec.name;
      pending.device = device;
      bool running = false;
      for (const ComputeSliceUsage& s : slices) running = running || SameSlice(s, pending);
      if (running) continue;
      pending.terms = ComputeTerms{r.spec.name, r.spec.compute->guarantee_permille, r.spec.compute->limit_permille,
                                   r.spec.compute->high_priority};
      slices.push_back(pending);
    }
  }
  return slices;
}

// Adds the frame to `history` and redraws the chart; false (said on stderr) if it cannot.
bool DrawHistory(const std::string& path, double at_seconds, const std::vector<SliceShare>& shares,
                 ShareHistory* history, bool first) {
  history->Add(at_seconds, shares);
  std::string error = WriteChart(path, history->ToChart("vxpu top: compute slices' shares of device time"));
  if (!error.empty()) {
    std::fprintf(stderr, "vxpu top: %s\n", error.c_str());
    return false;
  }
  if (first) std::fprintf(stderr, "vxpu top: wrote %s (redrawn each update)\n", path.c_str());
  return true;
}

}  // namespace

std::vector<SliceShare> SharesBetween(const std::vector<ComputeSliceUsage>& before,
                                      const std::vector<ComputeSliceUsage>& after, double seconds) {
  std::vector<SliceShare> shares;
  for (const ComputeSliceUsage& now : after) {
    SliceShare share{now, std::nullopt};
    for (const ComputeSliceUsage& then : before) {
      if (!SameSlice(then, now) || then.used_ns > now.used_ns || seconds <= 0) continue;
      share.percent = 100.0 * static_cast<double>(now.used_ns - then.used_ns) / (seconds * 1e9);
    }
    shares.push_back(std::move(share));
  }
  CapEachDeviceAtWhole(&shares);
  return shares;
}

int RunTop(const TopOptions& options) {
  using Clock = std::chrono::steady_clock;
  bool tty = !options.json && isatty(STDOUT_FILENO);
  std::string error;
  std::unique_ptr<AgentClient> agent = LinkAgent(&error);
  if (!error.empty()) {
    std::fprintf(stderr, "vxpu top: %s\n", error.c_str());
    return 1;
  }
  if (!options.plot.empty() && !ChartPathError("--plot", options.plot).empty()) {
    std::fprintf(stderr, "vxpu top: %s\n", ChartPathError("--plot", options.plot).c_str());
    return 2;
  }
  std::vector<ComputeSliceUsage> before = ComputeSlicesNow(agent.get());
  Clock::time_point looked = Clock::now();
  const Clock::time_point start = looked;
  ShareHistory history;
  size_t drawn = 0;
  for (int frame = 1;; ++frame) {
    std::this_thread::sleep_for(std::chrono::duration<double>(options.interval));
    std::vector<ComputeSliceUsage> after = ComputeSlicesNow(agent.get());
    Clock::time_point now = Clock::now();
    double measured = std::chrono::duration<double>(now - looked).count();
    std::vector<SliceShare> shares = SharesBetween(before, after, measured);
    if (!options.plot.empty() &&
        !DrawHistory(options.plot, std::chrono::duration<double>(now - start).count(), shares, &history, frame == 1))
      return 1;
    if (options.json) {
      std::printf("%s\n", ToJson(shares, measured).dump().c_str());
      return 0;
    }
    std::vector<std::string> lines = RenderFrame(shares, measured);
    if (tty && drawn > 0) std::printf("\x1b[%zuA", drawn);
    for (const std::string& line : lines) std::printf(tty ? "\x1b[2K%s\n" : "%s\n", line.c_str());
    if (tty) {
      // Clear what a longer previous frame left below.
      for (size_t i = lines.size(); i < drawn; ++i) std::printf("\x1b[2K\n");
      if (drawn > lines.size()) std::printf("\x1b[%zuA", drawn - lines.size());
    }
    drawn = lines.size();
    std::fflush(stdout);
    if (options.iterations > 0 && frame >= options.iterations) return 0;
    before = std::move(after);
    looked = now;
  }
}

}  // namespace vxpu
