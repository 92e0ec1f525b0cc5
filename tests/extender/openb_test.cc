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

#include "openb_cluster.h"

namespace vxpu::extender {
namespace {

using test::json;

const test::Openb& Trace() {
  static const test::Openb trace =
      test::LoadOpenb(VXPU_OPENB_DIR, [](const std::string& name) { return test::NodeJson(name); });
  return trace;
}

// As `vxpu sim replay` seeds a policy (src/cli/sim.cc, PolicySeed).
uint64_t PolicySeed(uint64_t seed) { return seed * 0x9e3779b97f4a7c15ULL + 1; }

// The replay's placements, pod by pod.
std::vector<sched::Placement> Replay(const std::string& policy_name) {
  const test::Openb& t = Trace();
  sched::ClusterState cluster(t.nodes.nodes, t.nodes.model_names);
  auto policy = sched::MakePolicy(policy_name, {PolicySeed(42), sched::ComputeTypicalPods(t.workload)});
  std::vector<sched::Placement> out;
  for (int i : t.order) out.push_back(sched::Schedule(cluster, *policy, t.workload[i]));
  return out;
}

std::unique_ptr<Service> ModelledCluster(const std::string& policy_name) {
  return test::ModelledCluster(Trace(), policy_name, PolicySeed(42));
}

std::vector<std::string> Names(const json& filter_result) {
  std::vector<std::string> names;
  if (!filter_result["NodeNames"].is_null()) return filter_result["NodeNames"].get<std::vector<std::string>>();
  for (const json& n : filter_result["Nodes"]["items"]) names.push_back(n["metadata"]["name"]);
  return names;
}

// The node the extender picks for the k-th arrival: filter, then prioritize if more than one passes.
std::string Pick(Service& service, const sched::PodRequest& r, int k) {
  const test::Openb& t = Trace();
  test::PodSpec pod = test::PodOf(r, static_cast<size_t>(k));
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
  const test::Openb& t = Trace();
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
