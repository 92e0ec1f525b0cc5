// vxpu-scheduler's latency per pod on the openb cluster (1,213 GPU nodes): the default trace's GPU
// pods in units (as tests/extender/openb_test.cc sends them) arrive in `vxpu sim replay`'s order
// (seed 42, to 130% of the GPUs) at the extender's Service with the vxpu policy, CPU and memory
// modelled. Timed per pod: filter (request JSON parsed, engine, answer JSON written) plus, when
// more than one node passes, prioritize the same way; building the request bodies is not timed.
// Two request forms: nodeCacheCapable (NodeNames) and whole Node objects (deploy/kubernetes uses
// these; each node as fuzz/corpus/extender/args_nodes.json has it, 1.4 KB; every 20th pod). Reports p50, p99 and max of
// the wall time, and p50 and p99 of the thread's CPU time (the machine may be busy with other work).
#include <benchmark/benchmark.h>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iterator>

#include "openb_cluster.h"

namespace {

using namespace vxpu::extender;
using nlohmann::json;

// The cluster, read once; each node's Node object as the fuzz corpus has one (1.4 KB).
const test::Openb& Trace() {
  static const test::Openb trace = [] {
    std::ifstream in(VXPU_EXTENDER_CORPUS "/args_nodes.json");
    json node = json::parse(std::string(std::istreambuf_iterator<char>(in), {}))["Nodes"]["items"][0];
    return test::LoadOpenb(VXPU_OPENB_DIR, [&](const std::string& name) {
      node["metadata"]["name"] = name;
      return node;
    });
  }();
  return trace;
}

std::vector<std::string> Passing(const json& result) {
  if (!result["NodeNames"].is_null()) return result["NodeNames"].get<std::vector<std::string>>();
  std::vector<std::string> names;
  for (const json& n : result["Nodes"]["items"]) names.push_back(n["metadata"]["name"]);
  return names;
}

// This thread's CPU time, microseconds: what a request costs whatever else runs on the machine.
double CpuMicros() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_nsec) / 1e3;
}

double Percentile(std::vector<double> v, double q) {
  size_t k = static_cast<size_t>(q * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

// With whole Node objects a request is 1.7 MB: every 20th pod is sent (and timed) so, the others
// by name only (not timed), so that the cluster fills the same way.
constexpr size_t kWholeNodesEvery = 20;

void BM_FilterPrioritize(benchmark::State& state, bool whole_nodes) {
  const test::Openb& t = Trace();
  std::vector<std::string> names;
  for (const auto& n : t.nodes.nodes) names.push_back(n.name);
  std::vector<double> micros, cpu_micros;
  for (auto _ : state) {
    state.PauseTiming();
    auto service = test::ModelledCluster(t, std::string(vxpu::sched::kRecommendedPolicy), 42);
    service->WithEngine([&](Engine& e) { return e.FreeUnits(names[0]); });  // built before the first pod
    state.ResumeTiming();
    for (size_t k = 0; k < t.order.size(); ++k) {
      const auto& r = t.workload[t.order[k]];
      if (r.allowed_models != 0) continue;  // every node a candidate: the full 1,213-node request
      test::PodSpec pod = test::PodOf(r, k);
      bool timed = !whole_nodes || k % kWholeNodesEvery == 0;
      std::string body =
          whole_nodes && timed ? test::ArgsWithNodes(pod, t.node_objects) : test::ArgsWithNames(pod, names);
      double cpu = CpuMicros();
      auto start = std::chrono::steady_clock::now();
      HttpAnswer filter = service->Filter(body, 0);
      double spent = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
      cpu = CpuMicros() - cpu;
      std::vector<std::string> passing = Passing(json::parse(filter.body));
      if (passing.size() > 1) {
        std::string again = test::ArgsWithNames(pod, passing);
        double cpu_start = CpuMicros();
        start = std::chrono::steady_clock::now();
        benchmark::DoNotOptimize(service->Prioritize(again, 0));
        spent += std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
        cpu += CpuMicros() - cpu_start;
      }
      if (!timed) continue;
      micros.push_back(spent);
      cpu_micros.push_back(cpu);
    }
  }
  state.counters["pods"] = static_cast<double>(micros.size());
  state.counters["p50_us"] = Percentile(micros, 0.50);
  state.counters["p99_us"] = Percentile(micros, 0.99);
  state.counters["max_us"] = Percentile(micros, 1.0);
  state.counters["cpu_p50_us"] = Percentile(cpu_micros, 0.50);
  state.counters["cpu_p99_us"] = Percentile(cpu_micros, 0.99);
}

}  // namespace

BENCHMARK_CAPTURE(BM_FilterPrioritize, node_names, false)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK_CAPTURE(BM_FilterPrioritize, whole_nodes, true)->Unit(benchmark::kMillisecond)->Iterations(1);

BENCHMARK_MAIN();
