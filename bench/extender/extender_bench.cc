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

#include "extender/service.h"
#include "extender_requests.h"
#include "sched/arrival_replay.h"
#include "sched/granularity.h"
#include "sched/trace.h"

namespace {

using namespace vxpu::extender;
using vxpu::kUnitsPerGpu;
using nlohmann::json;

struct Openb {
  vxpu::sched::NodeList nodes;
  std::vector<vxpu::sched::PodRequest> workload;
  std::vector<int> order;
  std::vector<json> node_objects;
};

json NodeTemplate() {
  std::ifstream in(VXPU_EXTENDER_CORPUS "/args_nodes.json");
  json args = json::parse(std::string(std::istreambuf_iterator<char>(in), {}));
  return args["Nodes"]["items"][0];
}

const Openb& Trace() {
  static const Openb trace = [] {
    Openb t;
    t.nodes = vxpu::sched::ReadNodeCsv(VXPU_OPENB_DIR "/openb_node_list_gpu_node.csv");
    for (const auto& p : vxpu::sched::ReadPodCsv(VXPU_OPENB_DIR "/openb_pod_list_default.csv", t.nodes)) {
      auto r = vxpu::sched::RoundRequest(p.request, vxpu::sched::Granularity::kTenPercent);
      if (r.UsesGpu()) t.workload.push_back(r);
    }
    int64_t capacity = 0;
    json node = NodeTemplate();
    for (const auto& n : t.nodes.nodes) {
      capacity += n.gpu_count * vxpu::sched::kMilliPerGpu;
      node["metadata"]["name"] = n.name;
      t.node_objects.push_back(node);
    }
    t.order = vxpu::sched::ArrivalOrder(t.workload, capacity, 1.3, 42);
    return t;
  }();
  return trace;
}

std::unique_ptr<Service> ModelledCluster() {
  const Openb& t = Trace();
  EngineOptions options;
  options.seed = 42;
  options.typical = vxpu::sched::ComputeTypicalPods(t.workload);
  options.model_names = t.nodes.model_names;
  options.pending_ttl_seconds = 1e12;
  options.model_cpu_memory = true;
  std::string error;
  auto service = std::make_unique<Service>(Engine::Create(options, &error));
  for (const auto& n : t.nodes.nodes) {
    service->Report(n.name, test::Gpus(n.name, std::vector<int>(n.gpu_count, 10), {}, t.nodes.model_names[n.gpu_model]),
                    0);
    service->WithEngine([&](Engine& e) {
      e.SetResources(n.name, {n.cpu_milli, n.memory_mib});
      return 0;
    });
  }
  return service;
}

test::PodSpec PodOf(const vxpu::sched::PodRequest& r, size_t k) {
  int units = r.SharesGpu() ? static_cast<int>(r.gpu_milli / kMilliPerUnit) : r.num_gpu * kUnitsPerGpu;
  test::PodSpec pod = test::Pod(std::to_string(units), "pod-" + std::to_string(k), "openb-" + std::to_string(k));
  pod.cpu = std::to_string(r.cpu_milli) + "m";
  pod.memory = std::to_string(r.memory_mib) + "Mi";
  return pod;
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
  const Openb& t = Trace();
  std::vector<std::string> names;
  for (const auto& n : t.nodes.nodes) names.push_back(n.name);
  std::vector<double> micros, cpu_micros;
  for (auto _ : state) {
    state.PauseTiming();
    auto service = ModelledCluster();
    service->WithEngine([&](Engine& e) { return e.FreeUnits(names[0]); });  // built before the first pod
    state.ResumeTiming();
    for (size_t k = 0; k < t.order.size(); ++k) {
      const auto& r = t.workload[t.order[k]];
      if (r.allowed_models != 0) continue;  // every node a candidate: the full 1,213-node request
      test::PodSpec pod = PodOf(r, k);
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
