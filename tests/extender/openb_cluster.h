// Test and benchmark support: the openb cluster as the extender sees it. The 1,213 GPU nodes and
// the default trace's GPU pods in units (shares rounded up as `--granularity 10pct` does), in
// `vxpu sim replay`'s arrival order (seed 42, to 130% of the GPUs); a Service whose engine models
// every node (CPU and memory too) with all units free, its placements never expiring; and a pod's
// request in kube-scheduler's form. Shared by tests/extender/openb_test.cc and bench/extender.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "extender/service.h"
#include "extender_requests.h"
#include "sched/arrival_replay.h"
#include "sched/granularity.h"
#include "sched/trace.h"

namespace vxpu::extender::test {

struct Openb {
  sched::NodeList nodes;
  std::vector<sched::PodRequest> workload;
  std::vector<int> order;
  std::vector<json> node_objects;  // one core/v1 Node per node, as `node_object` made it
};

// Reads the trace from `dir` (tests/data/openb); `node_object(name)` is each node's Node object.
inline Openb LoadOpenb(const std::string& dir, const std::function<json(const std::string&)>& node_object) {
  Openb t;
  t.nodes = sched::ReadNodeCsv(dir + "/openb_node_list_gpu_node.csv");
  for (const sched::PodRecord& p : sched::ReadPodCsv(dir + "/openb_pod_list_default.csv", t.nodes)) {
    sched::PodRequest r = sched::RoundRequest(p.request, sched::Granularity::kTenPercent);
    if (r.UsesGpu()) t.workload.push_back(r);
  }
  int64_t capacity = 0;
  for (const sched::NodeSpec& n : t.nodes.nodes) {
    capacity += n.gpu_count * sched::kMilliPerGpu;
    t.node_objects.push_back(node_object(n.name));
  }
  t.order = sched::ArrivalOrder(t.workload, capacity, 1.3, 42);
  return t;
}

// The extender's Service on that cluster, placing with `policy` seeded with `seed`.
inline std::unique_ptr<Service> ModelledCluster(const Openb& t, const std::string& policy, uint64_t seed) {
  EngineOptions options;
  options.policy = policy;
  options.seed = seed;
  options.typical = sched::ComputeTypicalPods(t.workload);
  options.model_names = t.nodes.model_names;
  options.pending_ttl_seconds = 1e12;  // no agent confirms them here: every placement stays pending
  options.model_cpu_memory = true;
  std::string error;
  auto service = std::make_unique<Service>(Engine::Create(options, &error));
  for (const sched::NodeSpec& n : t.nodes.nodes) {
    service->Report(n.name, Gpus(n.name, std::vector<int>(n.gpu_count, 10), {}, t.nodes.model_names[n.gpu_model]), 0);
    service->WithEngine([&](Engine& e) {
      e.SetResources(n.name, {n.cpu_milli, n.memory_mib});
      return 0;
    });
  }
  return service;
}

// The `k`th pod of the replay asking for `r` in units, with its CPU and memory requests.
inline PodSpec PodOf(const sched::PodRequest& r, size_t k) {
  int units = r.SharesGpu() ? static_cast<int>(r.gpu_milli / kMilliPerUnit) : r.num_gpu * kUnitsPerGpu;
  PodSpec pod = Pod(std::to_string(units), "pod-" + std::to_string(k), "openb-" + std::to_string(k));
  pod.cpu = std::to_string(r.cpu_milli) + "m";
  pod.memory = std::to_string(r.memory_mib) + "Mi";
  return pod;
}

}  // namespace vxpu::extender::test
