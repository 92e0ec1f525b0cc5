// Engine: vxpu-scheduler's decisions, pure and deterministic (no I/O, no clock: callers pass the
// time). It holds the cluster as the node agents last reported it (per node, per GPU: uuid,
// health, free and held units) plus its own placements not yet in those reports
// (pending_placements.h), as one sched::ClusterState, and the Hi Scheduler policy that places on it.
//
// Filter: a node passes when the pod's units fit there: 1-9 units on one GPU with that many free
// units (not the node's total: kube-scheduler's count alone would admit a share that no single GPU
// holds), 10k units on k GPUs with all ten free; and, when CPU and memory are modelled, its CPU and
// memory. Otherwise it fails with the reason: in FailedAndUnresolvableNodes when nothing can change
// it (an invalid count, no GPUs, fewer GPUs than asked), in FailedNodes when freeing units could
// (also: no report from its vxpud yet, or vxpud unreachable). Pods that do not ask for units pass
// every node untouched.
// Prioritize: the policy's choice among the given nodes scores 10, every other node 0 (policies
// choose, they do not rank), so kube-scheduler picks the policy's node.
// A placement becomes pending when the choice is made: at prioritize, or at filter when exactly one
// node passes (kube-scheduler then binds it without prioritizing). Filtering or prioritizing a pod
// again first forgets its pending placement (it is being scheduled anew).
//
// Node order (and so the policy's tie order) is by name; nodes join when first reported.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "extender/node_report.h"
#include "extender/pending_placements.h"
#include "extender/unit_request.h"
#include "k8s/extender_protocol.h"
#include "sched/cluster_state.h"
#include "sched/policy.h"

namespace vxpu::extender {

struct EngineOptions {
  std::string policy = std::string(sched::kRecommendedPolicy);
  uint64_t seed = 0;
  sched::TypicalPods typical;            // what fgd and vxpu know of the workload
  std::vector<std::string> model_names;  // GPU models known from the start (typical pods' masks index them)
  double pending_ttl_seconds = 30;
  bool model_cpu_memory = false;  // also place by the nodes' CPU and memory (SetResources)
  std::string kind = "gpu";       // whose units it places (the reports' devices of that kind); messages say so
};

// A node's CPU and memory, when the engine models them.
struct NodeResources {
  int64_t cpu_milli = 0;
  int64_t memory_mib = 0;
};

struct FilterOutcome {
  std::vector<std::string> passing;                 // in the order given
  std::map<std::string, std::string> failed;        // node -> reason
  std::map<std::string, std::string> unresolvable;  // node -> reason
};

class Engine {
 public:
  // nullptr and *error when options.policy names no policy.
  static std::unique_ptr<Engine> Create(EngineOptions options, std::string* error);

  // The node's report from its vxpud: replaces the last one; confirms the pending placements it shows.
  void Report(const std::string& node, const NodeReport& report, double now);
  // The node's vxpud did not answer: the node fails filter with `why` until its next report.
  void ReportUnreachable(const std::string& node, const std::string& why);
  void SetResources(const std::string& node, const NodeResources& resources);

  FilterOutcome Filter(const std::string& pod, const UnitRequest& request, const std::vector<std::string>& nodes,
                       double now);
  std::vector<HostPriority> Prioritize(const std::string& pod, const UnitRequest& request,
                                       const std::vector<std::string>& nodes, double now);

  const EngineOptions& options() const { return options_; }
  const PendingPlacement* PendingOf(const std::string& pod) const { return pending_.Find(pod); }
  size_t pending_count() const { return pending_.size(); }
  // Free units per GPU of `node` as the engine counts them (report less pending); empty if unknown.
  std::vector<int> FreeUnits(const std::string& node);

 private:
  struct Applied {
    sched::PodRequest request;
    sched::Placement where;
  };
  struct NodeEntry {
    bool reported = false;
    NodeReport report;
    std::string unreachable;
    NodeResources resources;
    int index = -1;                // in cluster_
    std::vector<Applied> applied;  // what cluster_ holds for this node
  };

  Engine(EngineOptions options, std::unique_ptr<sched::Policy> policy);

  void EnsureBuilt();
  void Rebuild();
  void Apply(const std::string& name, NodeEntry& node);
  void Unapply(NodeEntry& node);
  void Place(NodeEntry& node, const sched::PodRequest& request, const sched::Placement& where);
  void Forget(const std::string& pod);
  void ExpirePending(double now);
  void Refresh(const std::string& name);
  std::string WhyNot(const NodeEntry& node, const sched::PodRequest& pod, const UnitRequest& request,
                     bool* unresolvable) const;
  sched::Placement ChooseAmong(const sched::PodRequest& pod, const std::vector<int>& candidates);
  void RecordPending(const std::string& pod, const sched::PodRequest& request, const sched::Placement& where,
                     double now);
  int ModelIndex(const NodeReport& report);

  EngineOptions options_;
  std::unique_ptr<sched::Policy> policy_;
  std::unique_ptr<sched::ClusterState> cluster_;
  std::unordered_map<std::string, NodeEntry> nodes_;
  std::vector<std::string> order_;  // cluster_ index -> node name
  PendingPlacements pending_;
  bool dirty_ = true;
};

}  // namespace vxpu::extender
