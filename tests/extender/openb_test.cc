// The extender against `vxpu sim replay` on the openb cluster (1,213 GPU nodes, 6,212 GPUs): the
// default trace's GPU pods, shares rounded up to whole units as `--granularity 10pct` rounds them
// (every GPU pod of the trace is then expressible in vxpu.io/gpu-units; the 1,088 CPU-only pods
// are left out, as the extender passes them untouched and does not place them), arrive in the
// replay's order (sched::ArrivalOrder, to 130% of the GPUs, seed 42). Each is sent as real-format
// filter and prioritize requests (names only, every 25th with whole Node objects), with the nodes
// whose GPU model the pod allows as candidates (kube-scheduler's node affinity would leave those;
// no GPU pod of the openb traces restricts its model, so that is every node).
// The node the extender scores 10 (or the one its filter leaves), and the GPUs it records, must be
// where sched::Schedule, the replay's entry point, puts the pod, for every pod; and pods the
// replay could not place must pass no node.
#include <gtest/gtest.h>

#include "extender/service.h"
#include "extender_requests.h"
#include "sched/arrival_replay.h"
#include "sched/granularity.h"
#include "sched/trace.h"

namespace vxpu::extender {
namespace {

using test::json;

struct Openb {
  sched::NodeList nodes;
  std::vector<sched::PodRequest> workload;
  std::vector<int> order;
  std::vector<json> node_objects;
};

const Openb& Trace() {
  static const Openb trace = [] {
    Openb t;
    const std::string dir = VXPU_OPENB_DIR;
    t.nodes = sched::ReadNodeCsv(dir + "/openb_node_list_gpu_node.csv");
    for (const sched::PodRecord& p : sched::ReadPodCsv(dir + "/openb_pod_list_default.csv", t.nodes)) {
      sched::PodRequest r = sched::RoundRequest(p.request, sched::Granularity::kTenPercent);
      if (r.UsesGpu()) t.workload.push_back(r);
    }
    int64_t capacity = 0;
    for (const sched::NodeSpec& n : t.nodes.nodes) {
      capacity += n.gpu_count * sched::kMilliPerGpu;
      t.node_objects.push_back(test::NodeJson(n.name));
    }
    t.order = sched::ArrivalOrder(t.workload, capacity, 1.3, 42);
    return t;
  }();
  return trace;
}

// As `vxpu sim replay` seeds a policy (src/cli/sim.cc, PolicySeed).
uint64_t PolicySeed(uint64_t seed) { return seed * 0x9e3779b97f4a7c15ULL + 1; }

// The replay's placements, pod by pod.
std::vector<sched::Placement> Replay(const std::string& policy_name) {
  const Openb& t = Trace();
  sched::ClusterState cluster(t.nodes.nodes, t.nodes.model_names);
  auto policy = sched::MakePolicy(policy_name, {PolicySeed(42), sched::ComputeTypicalPods(t.workload)});
  std::vector<sched::Placement> out;
  for (int i : t.order) out.push_back(sched::Schedule(cluster, *policy, t.workload[i]));
  return out;
}

std::unique_ptr<Service> ModelledCluster(const std::string& policy_name) {
  const Openb& t = Trace();
  EngineOptions options;
  options.policy = policy_name;
  options.seed = PolicySeed(42);
  options.typical = sched::ComputeTypicalPods(t.workload);
  options.model_names = t.nodes.model_names;
  options.pending_ttl_seconds = 1e12;  // no agent confirms them here: every placement stays pending
  options.model_cpu_memory = true;
  std::string error;
  auto service = std::make_unique<Service>(Engine::Create(options, &error));
  for (const sched::NodeSpec& n : t.nodes.nodes) {
    service->Report(n.name, test::Gpus(n.name, std::vector<int>(n.gpu_count, 10), {}, t.nodes.model_names[n.gpu_model]),
                    0);
    service->WithEngine([&](Engine& e) {
      e.SetResources(n.name, {n.cpu_milli, n.memory_mib});
      return 0;
    });
  }
  return service;
}

test::PodSpec PodOf(const sched::PodRequest& r, int k) {
  int units = r.SharesGpu() ? static_cast<int>(r.gpu_milli / kMilliPerUnit) : r.num_gpu * kUnitsPerGpu;
  test::PodSpec pod = test::Pod(std::to_string(units), "pod-" + std::to_string(k), "openb-" + std::to_string(k));
  pod.cpu = std::to_string(r.cpu_milli) + "m";
  pod.memory = std::to_string(r.memory_mib) + "Mi";
  return pod;
}

std::vector<std::string> Names(const json& filter_result) {
  std::vector<std::string> names;
  if (!filter_result["NodeNames"].is_null()) return filter_result["NodeNames"].get<std::vector<std::string>>();
  for (const json& n : filter_result["Nodes"]["items"]) names.push_back(n["metadata"]["name"]);
  return names;
}

// The node the extender picks for the k-th arrival: filter, then prioritize if more than one passes.
std::string Pick(Service& service, const sched::PodRequest& r, int k) {
  const Openb& t = Trace();
  test::PodSpec pod = PodOf(r, k);
  bool whole = k % 25 == 0;
  std::vector<std::string> candidates;
  std::vector<json> objects;
  for (size_t n = 0; n < t.nodes.nodes.size(); ++n) {
    if (!r.AllowsModel(t.nodes.nodes[n].gpu_model)) continue;
    candidates.push_back(t.nodes.nodes[n].name);
    if (whole) objects.push_back(t.node_objects[n]);
  }
  HttpAnswer filter =
      service.Filter(whole ? test::ArgsWithNodes(pod, objects) : test::ArgsWithNames(pod, candidates), k);
  EXPECT_EQ(filter.status, 200) << filter.body.substr(0, 200);
  std::vector<std::string> passing = Names(json::parse(filter.body));
  if (passing.size() <= 1) return passing.empty() ? "" : passing[0];
  HttpAnswer scores = service.Prioritize(test::ArgsWithNames(pod, passing), k);
  std::string top;
  for (const json& p : json::parse(scores.body)) {
    if (p["Score"] == 10) {
      EXPECT_TRUE(top.empty()) << "two top scores for arrival " << k;
      top = p["Host"];
    }
  }
  return top;
}

sched::GpuMask PendingGpus(Service& service, int k) {
  return service.WithEngine([k](Engine& e) {
    sched::GpuMask mask = 0;
    const PendingPlacement* p = e.PendingOf("pod-" + std::to_string(k));
    if (!p) return mask;
    for (const std::string& uuid : p->gpu_uuids)
      mask |= sched::GpuMask{1} << std::stoi(uuid.substr(uuid.rfind('-') + 1));
    return mask;
  });
}

class OpenbEquality : public ::testing::TestWithParam<std::string> {};

TEST_P(OpenbEquality, EveryPodGoesWhereTheReplayPutsIt) {
  const Openb& t = Trace();
  ASSERT_EQ(t.nodes.nodes.size(), 1213u);
  std::vector<sched::Placement> replay = Replay(GetParam());
  auto service = ModelledCluster(GetParam());
  int placed = 0, differ = 0;
  for (size_t k = 0; k < t.order.size(); ++k) {
    const sched::Placement& want = replay[k];
    std::string got = Pick(*service, t.workload[t.order[k]], static_cast<int>(k));
    std::string expected = want.placed() ? t.nodes.nodes[want.node].name : "";
    sched::GpuMask gpus = PendingGpus(*service, static_cast<int>(k));
    if (got != expected || (want.placed() && gpus != want.gpus)) {
      if (++differ <= 5)
        ADD_FAILURE() << "arrival " << k << ": extender " << got << " gpus " << gpus << ", replay " << expected
                      << " gpus " << want.gpus;
    }
    placed += want.placed();
  }
  EXPECT_EQ(differ, 0) << "of " << t.order.size() << " arrivals";
  // The loop above is the replay: it fails as many pods as ReplayArrivals does.
  auto policy = sched::MakePolicy(GetParam(), {PolicySeed(42), sched::ComputeTypicalPods(t.workload)});
  sched::ArrivalCurve curve = sched::ReplayArrivals(t.nodes.nodes, t.nodes.model_names, t.workload, t.order, *policy);
  EXPECT_EQ(curve.pods_arrived - curve.pods_failed, placed);
  EXPECT_GT(curve.pods_failed, 0);  // the cluster filled: failures were compared too
  RecordProperty("arrivals", static_cast<int>(t.order.size()));
}

INSTANTIATE_TEST_SUITE_P(Policies, OpenbEquality, ::testing::Values("vxpu", "random", "clustering"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace vxpu::extender
