#include "cli/sim.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <thread>

#include "cli/chart.h"
#include "cli/progress.h"
#include "sched/arrival_replay.h"
#include "sched/granularity.h"
#include "sched/policy.h"
#include "sched/timed_replay.h"
#include "sched/trace.h"

namespace vxpu {
namespace {

using sched::Granularity;

struct TraceOptions {
  std::string nodes;
  std::string pods;
  std::vector<std::string> policies;
  std::string granularity = "milli";
  std::string csv;
  std::string seeds;  // --seeds: a range or a list; empty when not given
  std::string seed;   // --seed: one seed, the same as --seeds with one; empty when not given
};

struct ReplayOptions : TraceOptions {
  std::string plot;
  double load = 1.3;
  bool idle = false;
};

struct TimedOptions : TraceOptions {
  double sample_hours = 6;
  double speedup = 1;
};

constexpr const char* kReplayDefaultSeeds = "42-51";
constexpr const char* kTimedDefaultSeeds = "42";

// A usage error of `vxpu sim <command>`: one line naming the bad value.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

uint64_t ParseSeed(const std::string& text, const char* flag = "--seeds") {
  uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    throw UsageError(
        fmt::format("bad seed '{}' in {} (want e.g. --seed 42, --seeds 42-51 or --seeds 1,2,3)", text, flag));
  }
  return value;
}

// "42-51", "42", or "1,5,9".
std::vector<uint64_t> ParseSeeds(const std::string& text) {
  std::vector<uint64_t> seeds;
  size_t dash = text.find('-');
  if (dash != std::string::npos) {
    uint64_t first = ParseSeed(text.substr(0, dash)), last = ParseSeed(text.substr(dash + 1));
    if (last < first || last - first >= 10000) throw UsageError(fmt::format("bad --seeds range '{}'", text));
    for (uint64_t s = first; s <= last; ++s) seeds.push_back(s);
    return seeds;
  }
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    seeds.push_back(ParseSeed(text.substr(start, comma - start)));
    if (comma == std::string::npos) return seeds;
    start = comma + 1;
  }
}

// `--seed N` is `--seeds N`; without either, `default_seeds`.
std::vector<uint64_t> ChosenSeeds(const TraceOptions& options, const char* default_seeds) {
  if (!options.seed.empty() && !options.seeds.empty()) throw UsageError("give --seed or --seeds, not both");
  if (!options.seed.empty()) return {ParseSeed(options.seed, "--seed")};
  return ParseSeeds(options.seeds.empty() ? default_seeds : options.seeds);
}

Granularity ParseGranularityOption(const std::string& text) {
  auto granularity = sched::ParseGranularity(text);
  if (!granularity) throw UsageError(fmt::format("bad --granularity '{}' (want milli or 10pct)", text));
  return *granularity;
}

std::vector<std::string> ChosenPolicies(const std::vector<std::string>& policies) {
  if (policies.empty()) return {std::string(sched::kRecommendedPolicy)};
  for (const std::string& p : policies) {
    if (!sched::MakePolicy(p, {})) {
      throw UsageError(fmt::format("unknown policy '{}' (known: {})", p, fmt::join(sched::PolicyNames(), ", ")));
    }
  }
  return policies;
}

struct LoadedTrace {
  sched::NodeList nodes;
  std::vector<sched::PodRecord> pods;
  std::vector<sched::PodRequest> workload;  // the pods' requests, rounded to the granularity
};

LoadedTrace LoadTrace(const TraceOptions& options, Granularity granularity, sched::PodTimes times) {
  LoadedTrace trace;
  trace.nodes = sched::ReadNodeCsv(options.nodes);
  trace.pods = sched::ReadPodCsv(options.pods, trace.nodes, times);
  for (const sched::PodRecord& pod : trace.pods)
    trace.workload.push_back(sched::RoundRequest(pod.request, granularity));
  return trace;
}

// Refuses an output path that cannot be written, before the (long) simulation; leaves no file
// behind (an existing one is opened for appending, so it is not truncated).
void CheckWritable(const std::string& path, const char* flag) {
  if (path.empty()) return;
  std::error_code ignored;
  bool existed = std::filesystem::exists(path, ignored);
  std::FILE* file = std::fopen(path.c_str(), "a");
  if (!file) throw UsageError(fmt::format("cannot write {} '{}': {}", flag, path, std::strerror(errno)));
  std::fclose(file);
  if (!existed) std::remove(path.c_str());
}

// Opens an output checked by CheckWritable: failing now is a failure at run time.
std::FILE* OpenOutput(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "w");
  if (!file) throw std::runtime_error(fmt::format("cannot write '{}': {}", path, std::strerror(errno)));
  return file;
}

void CloseOutput(std::FILE* file, const std::string& path) {
  if (std::fclose(file) != 0)
    throw std::runtime_error(fmt::format("cannot write '{}': {}", path, std::strerror(errno)));
}

struct PolicyCurves {
  std::string policy;
  std::vector<sched::ArrivalCurve> per_seed;
  double seconds = 0;
};

double MeanAt(const PolicyCurves& curves, int pct) {
  double sum = 0;
  for (const auto& c : curves.per_seed) sum += c.allocated_pct[pct];
  return sum / static_cast<double>(curves.per_seed.size());
}

void PrintReplayTable(const std::vector<PolicyCurves>& all, size_t seeds) {
  fmt::print("GPU allocated (% of cluster) by arrived GPU request, mean of {} seed(s)\n", seeds);
  fmt::print("{:<12} {:>10} {:>10} {:>17} {:>13} {:>9}\n", "policy", "at 100%", "at 130%", "130% min..max",
             "failed pods", "seconds");
  for (const PolicyCurves& c : all) {
    double lo = 100, hi = 0, failed = 0;
    for (const auto& s : c.per_seed) {
      lo = std::min(lo, s.allocated_pct[130]);
      hi = std::max(hi, s.allocated_pct[130]);
      failed += static_cast<double>(s.pods_failed);
    }
    fmt::print("{:<12} {:>10.2f} {:>10.2f} {:>8.2f}..{:<7.2f} {:>13.1f} {:>9.2f}\n", c.policy, MeanAt(c, 100),
               MeanAt(c, 130), lo, hi, failed / static_cast<double>(c.per_seed.size()), c.seconds);
  }
}

// Mean over the seeds of `part(idle at the end)`, in percent of the cluster's GPUs.
template <typename Part>
double MeanIdlePct(const PolicyCurves& curves, int64_t capacity, Part part) {
  double sum = 0;
  for (const auto& c : curves.per_seed) sum += static_cast<double>(part(c.idle_at_end));
  return 100.0 * sum / static_cast<double>(curves.per_seed.size()) / static_cast<double>(capacity);
}

void PrintIdleTable(const std::vector<PolicyCurves>& all, size_t seeds, int64_t capacity) {
  using sched::IdleBreakdown;
  fmt::print(
      "\nGPU idle after the last arrival (% of cluster), mean of {} seed(s): whole idle GPUs where a GPU pod\n"
      "of the workload still fits, whole idle GPUs stranded (no GPU pod fits the node), and the free share\n"
      "left on partly used GPUs, by size (milli-GPU)\n",
      seeds);
  fmt::print("{:<12} {:>8} {:>8} {:>9} {:>8} {:>8} {:>8} {:>8}\n", "policy", "idle", "whole", "stranded", "<100",
             "100-199", "200-499", "500-999");
  for (const PolicyCurves& c : all) {
    fmt::print("{:<12} {:>8.2f} {:>8.2f} {:>9.2f}", c.policy,
               MeanIdlePct(c, capacity, [](const IdleBreakdown& i) { return i.total(); }),
               MeanIdlePct(c, capacity, [](const IdleBreakdown& i) { return i.whole_usable; }),
               MeanIdlePct(c, capacity, [](const IdleBreakdown& i) { return i.whole_stranded; }));
    for (size_t band = 0; band < IdleBreakdown::kLeftoverBandEnds.size(); ++band)
      fmt::print(" {:>8.2f}", MeanIdlePct(c, capacity, [band](const IdleBreakdown& i) { return i.leftover[band]; }));
    fmt::print("\n");
  }
}

void WriteReplayCsv(const std::string& path, const std::vector<PolicyCurves>& all, const std::vector<uint64_t>& seeds) {
  std::FILE* out = OpenOutput(path);
  fmt::print(out, "policy,seed,arrived_pct,allocated_pct\n");
  for (const PolicyCurves& c : all) {
    for (size_t s = 0; s < seeds.size(); ++s) {
      for (size_t pct = 0; pct < c.per_seed[s].allocated_pct.size(); ++pct) {
        fmt::print(out, "{},{},{},{:.4f}\n", c.policy, seeds[s], pct, c.per_seed[s].allocated_pct[pct]);
      }
    }
  }
  CloseOutput(out, path);
}

// "42-51 (10 seeds)" or "1, 5, 9".
std::string SeedsText(const std::vector<uint64_t>& seeds) {
  bool consecutive = seeds.size() > 2;
  for (size_t i = 1; i < seeds.size(); ++i) consecutive = consecutive && seeds[i] == seeds[i - 1] + 1;
  if (consecutive) return fmt::format("{}-{} ({} seeds)", seeds.front(), seeds.back(), seeds.size());
  return fmt::format("{}", fmt::join(seeds, ", "));
}

// The mean curves over the whole load, and (with more than one policy) a zoom on the stretch where
// the policies part.
void WriteReplayPlot(const ReplayOptions& options, const std::vector<PolicyCurves>& all,
                     const std::vector<uint64_t>& seeds) {
  std::vector<ChartSeries> series;
  for (const PolicyCurves& c : all) {
    ChartSeries s{c.policy, {}, {}};
    for (int pct = 0; pct < static_cast<int>(c.per_seed.front().allocated_pct.size()); ++pct) {
      s.x.push_back(pct);
      s.y.push_back(MeanAt(c, pct));
    }
    series.push_back(std::move(s));
  }
  double end = series.front().x.empty() ? 0 : series.front().x.back();
  const char* x_axis = "arrived GPU request (% of cluster)";
  const char* y_axis = "GPU allocated (% of cluster)";
  std::vector<std::string> policies;
  for (const PolicyCurves& c : all) policies.push_back(c.policy);
  Chart chart{
      fmt::format("GPU allocation vs arrived workload\n{}, seeds {}, policies {}",
                  std::filesystem::path(options.pods).filename().string(), SeedsText(seeds), fmt::join(policies, ", ")),
      {ChartPanel{"mean over seeds", x_axis, y_axis, std::make_pair(0.0, end), std::make_pair(0.0, 100.0), series}}};
  // A zoom on the top: the last kZoomPoints points below the best policy's final allocation, where
  // the leading policies' differences (half a point, often) can be seen.
  constexpr double kZoomPoints = 5;
  double best = 0;
  for (const ChartSeries& s : series) best = std::max(best, s.y.back());
  double from = end;
  for (size_t i = 0; i < series.front().x.size() && from == end; ++i) {
    for (const ChartSeries& s : series) {
      if (s.y[i] >= best - kZoomPoints) from = std::min(from, s.x[i]);
    }
  }
  if (series.size() > 1 && from < end) {
    double bottom = std::floor(best - kZoomPoints), top = std::ceil(best + 0.5);
    chart.panels.push_back(ChartPanel{fmt::format("zoom: the top {:g} points, from {:g}% arrived", top - bottom, from),
                                      x_axis, y_axis, std::make_pair(from, end), std::make_pair(bottom, top), series});
  }
  std::string error = WriteChart(options.plot, chart);
  if (!error.empty()) throw std::runtime_error(error);
  fmt::print(stderr, "wrote {} ({} panel{})\n", options.plot, chart.panels.size(), chart.panels.size() > 1 ? "s" : "");
}

uint64_t PolicySeed(uint64_t seed) { return seed * 0x9e3779b97f4a7c15ULL + 1; }

double ThreadCpuSeconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

// Every policy on every seed: each replay is independent, so they run on every core (results in
// order whatever finishes first), with progress on a terminal. A policy's `seconds` is the CPU
// time its replays took, added up (their wall time would count the waits for a core).
std::vector<PolicyCurves> ReplayAll(const LoadedTrace& trace, const std::vector<std::string>& policies,
                                    const std::vector<uint64_t>& seeds, int64_t capacity, double load,
                                    const sched::PolicyOptions& policy_options) {
  std::vector<PolicyCurves> all;
  for (const std::string& name : policies)
    all.push_back(PolicyCurves{name, std::vector<sched::ArrivalCurve>(seeds.size()), 0});
  std::vector<double> seconds(policies.size() * seeds.size());
  std::atomic<size_t> next{0};
  Progress progress(static_cast<double>(seconds.size()), "replays");
  auto work = [&] {
    for (size_t job; (job = next++) < seconds.size();) {
      size_t p = job / seeds.size(), s = job % seeds.size();
      double start = ThreadCpuSeconds();
      std::vector<int> order = sched::ArrivalOrder(trace.workload, capacity, load, seeds[s]);
      sched::PolicyOptions options = policy_options;
      options.seed = PolicySeed(seeds[s]);
      std::unique_ptr<sched::Policy> policy = sched::MakePolicy(policies[p], options);
      all[p].per_seed[s] =
          sched::ReplayArrivals(trace.nodes.nodes, trace.nodes.model_names, trace.workload, order, *policy);
      seconds[job] = ThreadCpuSeconds() - start;
      progress.Add(1);
    }
  };
  size_t workers = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, seconds.size());
  std::vector<std::thread> threads;
  for (size_t i = 1; i < workers; ++i) threads.emplace_back(work);
  work();
  for (std::thread& t : threads) t.join();
  for (size_t job = 0; job < seconds.size(); ++job) all[job / seeds.size()].seconds += seconds[job];
  return all;
}

int RunReplay(const ReplayOptions& options) {
  Granularity granularity = ParseGranularityOption(options.granularity);
  std::vector<uint64_t> seeds = ChosenSeeds(options, kReplayDefaultSeeds);
  std::vector<std::string> policies = ChosenPolicies(options.policies);
  CheckWritable(options.csv, "--csv");
  CheckWritable(options.plot, "--plot");
  if (!options.plot.empty() && !ChartPathError("--plot", options.plot).empty())
    throw UsageError(ChartPathError("--plot", options.plot));
  LoadedTrace trace = LoadTrace(options, granularity, sched::PodTimes::kOptional);
  sched::PolicyOptions policy_options{0, sched::ComputeTypicalPods(trace.workload)};
  int64_t capacity = 0;
  for (const auto& n : trace.nodes.nodes) capacity += n.gpu_count * sched::kMilliPerGpu;

  std::vector<PolicyCurves> all = ReplayAll(trace, policies, seeds, capacity, options.load, policy_options);
  PrintReplayTable(all, seeds.size());
  if (options.idle) PrintIdleTable(all, seeds.size(), capacity);
  if (!options.csv.empty()) WriteReplayCsv(options.csv, all, seeds);
  if (!options.plot.empty()) WriteReplayPlot(options, all, seeds);
  return 0;
}

// The trace's pods with their arrival times divided by `speedup` (durations as recorded).
std::vector<sched::TimedPod> TimedPods(const LoadedTrace& trace, double speedup) {
  std::vector<sched::TimedPod> pods;
  for (size_t i = 0; i < trace.pods.size(); ++i) {
    const sched::PodRecord& p = trace.pods[i];
    auto arrival = static_cast<int64_t>(static_cast<double>(p.creation_time) / speedup);
    pods.push_back({trace.workload[i], arrival, p.deletion_time - p.creation_time});
  }
  return pods;
}

// The nearest-rank percentile: the smallest value that at least `percent`% of `values` do not
// exceed (the ceil(percent/100 * n)-th smallest); 0 when there are none.
int64_t NearestRank(std::vector<int64_t> values, int percent) {
  if (values.empty()) return 0;
  size_t rank = std::max<size_t>(1, (static_cast<size_t>(percent) * values.size() + 99) / 100);
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(rank - 1), values.end());
  return values[rank - 1];
}

void PrintTimedHeader() {
  fmt::print("{:<12} {:>6} {:>10} {:>10} {:>12} {:>12} {:>12} {:>12} {:>13}\n", "policy", "seed", "mean GPU%",
             "peak GPU%", "pods waited", "mean wait s", "p99 wait s", "max wait s", "never started");
}

void PrintTimedRow(const std::string& policy, uint64_t seed, const sched::TimedResult& result) {
  double wait_sum = 0;
  for (int64_t w : result.waits) wait_sum += static_cast<double>(w);
  double mean_wait = result.waits.empty() ? 0 : wait_sum / static_cast<double>(result.waits.size());
  fmt::print("{:<12} {:>6} {:>10.2f} {:>10.2f} {:>12} {:>12.0f} {:>12} {:>12} {:>13}\n", policy, seed,
             result.mean_allocated_pct, result.peak_allocated_pct, result.pods_waited, mean_wait,
             NearestRank(result.waits, 99), NearestRank(result.waits, 100), result.pods_never_started);
}

constexpr const char* kWaitsNote =
    "waits: seconds from arrival to start, over all pods that started (0 for those that did not wait);\n"
    "p99: the nearest rank, the least wait that 99% of them did not exceed\n";

int RunTimed(const TimedOptions& options) {
  Granularity granularity = ParseGranularityOption(options.granularity);
  std::vector<uint64_t> seeds = ChosenSeeds(options, kTimedDefaultSeeds);
  std::vector<std::string> policies = ChosenPolicies(options.policies);
  if (!(options.sample_hours > 0)) throw UsageError(fmt::format("bad --sample-hours '{}'", options.sample_hours));
  if (!(options.speedup >= 1 && options.speedup <= 1e6))
    throw UsageError(fmt::format("bad --speedup '{}' (want 1 to 1000000)", options.speedup));
  CheckWritable(options.csv, "--csv");
  LoadedTrace trace = LoadTrace(options, granularity, sched::PodTimes::kRequired);
  std::vector<sched::TimedPod> pods = TimedPods(trace, options.speedup);
  sched::PolicyOptions policy_options{0, sched::ComputeTypicalPods(trace.workload)};
  std::FILE* csv = options.csv.empty() ? nullptr : OpenOutput(options.csv);
  if (csv) fmt::print(csv, "policy,seed,time_s,allocated_pct,queued\n");
  PrintTimedHeader();
  for (const std::string& name : policies) {
    for (uint64_t seed : seeds) {
      policy_options.seed = PolicySeed(seed);
      std::unique_ptr<sched::Policy> policy = sched::MakePolicy(name, policy_options);
      auto result = sched::ReplayTimed(trace.nodes.nodes, trace.nodes.model_names, pods, *policy,
                                       static_cast<int64_t>(options.sample_hours * 3600));
      PrintTimedRow(name, seed, result);
      for (const auto& s : result.samples) {
        if (csv) fmt::print(csv, "{},{},{},{:.4f},{}\n", name, seed, s.time, s.allocated_pct, s.queued);
      }
    }
  }
  fmt::print("{}", kWaitsNote);
  if (csv) CloseOutput(csv, options.csv);
  return 0;
}

// Runs `command`, turning errors into one line on stderr and an exit code for CLI11_PARSE.
template <typename Command>
void RunAndExit(const char* name, Command command) {
  int code = 0;
  try {
    code = command();
  } catch (const UsageError& e) {
    fmt::print(stderr, "vxpu sim {}: {}\n", name, e.what());
    code = 2;
  } catch (const sched::TraceError& e) {
    fmt::print(stderr, "vxpu sim {}: {}\n", name, e.what());
    code = 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "vxpu sim {}: {}\n", name, e.what());
    code = 1;
  }
  throw CLI::RuntimeError(code);
}

void AddTraceOptions(CLI::App* command, TraceOptions& options) {
  command->add_option("--nodes", options.nodes, "Node list CSV (sn,cpu_milli,memory_mib,gpu,model)")->required();
  command
      ->add_option("--pods", options.pods,
                   "Pod list CSV (name,cpu_milli,memory_mib,num_gpu,gpu_milli; optional: gpu_spec, "
                   "creation_time,deletion_time)")
      ->required();
  std::string known;
  for (const std::string& p : sched::PolicyNames()) known += (known.empty() ? "" : ", ") + p;
  command
      ->add_option("--policy", options.policies,
                   "Policies, comma-separated, of " + known + " (default: vxpu, the recommended one)")
      ->delimiter(',');
  command->add_option("--granularity", options.granularity, "GPU share steps: milli (as the trace) or 10pct (vXPU)")
      ->capture_default_str();
}

// `--seeds` and `--seed`, the same on both commands; `seeds_help` describes `--seeds`.
void AddSeedOptions(CLI::App* command, TraceOptions& options, const std::string& seeds_help) {
  command->add_option("--seeds", options.seeds, seeds_help);
  command->add_option("--seed", options.seed, "One seed: the same as --seeds N");
}

}  // namespace

void AddSimCommand(CLI::App& app) {
  CLI::App* sim = app.add_subcommand("sim", "Cluster simulator: replay a trace through the Hi Scheduler");
  sim->require_subcommand(1);

  auto replay = std::make_shared<ReplayOptions>();
  CLI::App* replay_cmd = sim->add_subcommand(
      "replay", "FGD paper's experiment: pods arrive (shuffled, resampled to 130% of GPUs), none leave");
  AddTraceOptions(replay_cmd, *replay);
  AddSeedOptions(replay_cmd, *replay,
                 fmt::format("Seeds: a range (42-51) or a list (1,2,3); the table gives their mean (default: {})",
                             kReplayDefaultSeeds));
  replay_cmd->add_option("--csv", replay->csv, "Write the curves: policy,seed,arrived_pct,allocated_pct");
  replay_cmd->add_option("--plot", replay->plot,
                         "Draw allocation vs arrived load (FILE.png or FILE.svg; needs gnuplot)");
  replay_cmd->add_flag("--idle", replay->idle,
                       "Also show where the idle GPU sits after the last arrival: whole GPUs, stranded, leftovers");
  replay_cmd->callback([replay] { RunAndExit("replay", [&] { return RunReplay(*replay); }); });

  auto timed = std::make_shared<TimedOptions>();
  CLI::App* timed_cmd = sim->add_subcommand(
      "timed",
      "Replay the trace's own arrival and departure times; pods that do not fit wait. Waits are taken over all pods "
      "that started (0 for those that did not wait); p99 is the least wait 99% of them did not exceed (nearest rank)");
  AddTraceOptions(timed_cmd, *timed);
  AddSeedOptions(timed_cmd, *timed,
                 fmt::format("Seeds of the policies' tie-breaking: a range (42-51) or a list (1,2,3); one row per "
                             "policy and seed (default: {})",
                             kTimedDefaultSeeds));
  timed_cmd->add_option("--sample-hours", timed->sample_hours, "Interval of the allocation samples in --csv")
      ->capture_default_str();
  timed_cmd
      ->add_option("--speedup", timed->speedup,
                   "Divide the arrival times by this (durations unchanged): more load on the same cluster")
      ->capture_default_str();
  timed_cmd->add_option("--csv", timed->csv, "Write the samples: policy,seed,time_s,allocated_pct,queued");
  timed_cmd->callback([timed] { RunAndExit("timed", [&] { return RunTimed(*timed); }); });
}

}  // namespace vxpu
