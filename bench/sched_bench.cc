// Per-pod decision latency of the Hi Scheduler's policies on the openb cluster (1,213 GPU nodes):
// the default trace is replayed (seed 42, to 130% of the GPUs) and every decision is timed.
// Reports p50, p99 and max per policy. The trace directory is $VXPU_OPENB_DIR, else the one
// beside the repository (../shared/data/openb).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "sched/arrival_replay.h"
#include "sched/cluster_state.h"
#include "sched/policy.h"
#include "sched/trace.h"

namespace {

using namespace vxpu::sched;

struct Trace {
  NodeList nodes;
  std::vector<PodRequest> workload;
};

const Trace& DefaultTrace() {
  static const Trace trace = [] {
    const char* env = std::getenv("VXPU_OPENB_DIR");
    std::string dir = env ? env : VXPU_DEFAULT_OPENB_DIR;
    Trace t;
    t.nodes = ReadNodeCsv(dir + "/openb_node_list_gpu_node.csv");
    for (const PodRecord& p : ReadPodCsv(dir + "/openb_pod_list_default.csv", t.nodes)) t.workload.push_back(p.request);
    return t;
  }();
  return trace;
}

double Percentile(std::vector<double>& v, double q) {
  size_t k = static_cast<size_t>(q * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

void BM_Decision(benchmark::State& state, const char* policy_name) {
  const Trace& trace = DefaultTrace();
  int64_t capacity = 0;
  for (const NodeSpec& n : trace.nodes.nodes) capacity += n.gpu_count * kMilliPerGpu;
  std::vector<int> order = ArrivalOrder(trace.workload, capacity, 1.3, 42);
  std::vector<double> micros;
  for (auto _ : state) {
    ClusterState cluster(trace.nodes.nodes, trace.nodes.model_names);
    auto policy = MakePolicy(policy_name, {42, ComputeTypicalPods(trace.workload)});
    for (int i : order) {
      auto start = std::chrono::steady_clock::now();
      Placement where = Schedule(cluster, *policy, trace.workload[i]);
      micros.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
      benchmark::DoNotOptimize(where);
    }
  }
  state.counters["decisions"] = static_cast<double>(micros.size());
  state.counters["p50_us"] = Percentile(micros, 0.50);
  state.counters["p99_us"] = Percentile(micros, 0.99);
  state.counters["max_us"] = Percentile(micros, 1.0);
}

}  // namespace

BENCHMARK_CAPTURE(BM_Decision, vxpu, "vxpu")->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK_CAPTURE(BM_Decision, fgd, "fgd")->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK_CAPTURE(BM_Decision, bestfit, "bestfit")->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK_CAPTURE(BM_Decision, random, "random")->Unit(benchmark::kMillisecond)->Iterations(3);

BENCHMARK_MAIN();
