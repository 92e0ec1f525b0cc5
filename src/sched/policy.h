// Policy: decides where one pod goes, given the cluster as it is now. One pod at a time, no
// knowledge of later pods beyond the typical-pod distribution, no moving of placed pods.
// Policies are deterministic given their seed (it breaks ties) and never change the cluster.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sched/cluster_state.h"
#include "sched/typical_pods.h"

namespace vxpu::sched {

class Policy {
 public:
  virtual ~Policy() = default;
  virtual std::string_view name() const = 0;
  // Where `pod` should go; an unplaced Placement when it fits nowhere.
  virtual Placement Choose(const ClusterState& cluster, const PodRequest& pod) = 0;
  // Told after the cluster took or released a pod, so that policies may keep per-node state.
  virtual void Placed(const PodRequest& /*pod*/, const Placement& /*where*/) {}
  virtual void Removed(const PodRequest& /*pod*/, const Placement& /*where*/) {}
};

// Places `pod` where `policy` chooses and tells the policy; the placement (unplaced if none fits).
Placement Schedule(ClusterState& cluster, Policy& policy, const PodRequest& pod);
// Removes a placed pod and tells the policy.
void Release(ClusterState& cluster, Policy& policy, const PodRequest& pod, const Placement& where);

struct PolicyOptions {
  uint64_t seed = 0;
  TypicalPods typical;  // the workload's typical pods, for fgd and vxpu
};

// The baselines of the FGD paper (ATC'23), scored as its artifact scores them.
std::unique_ptr<Policy> NewRandomPolicy(const PolicyOptions& options);
std::unique_ptr<Policy> NewDotProductPolicy(const PolicyOptions& options);
std::unique_ptr<Policy> NewClusteringPolicy(const PolicyOptions& options);
std::unique_ptr<Policy> NewPackingPolicy(const PolicyOptions& options);
std::unique_ptr<Policy> NewBestFitPolicy(const PolicyOptions& options);
std::unique_ptr<Policy> NewFgdPolicy(const PolicyOptions& options);
// Ours: see vxpu_policy.cc and docs/scheduler.md.
std::unique_ptr<Policy> NewVxpuPolicy(const PolicyOptions& options);

// All policy names, the recommended one first.
const std::vector<std::string>& PolicyNames();
inline constexpr std::string_view kRecommendedPolicy = "vxpu";
// The policy called `name`; nullptr when there is none.
std::unique_ptr<Policy> MakePolicy(std::string_view name, const PolicyOptions& options);

}  // namespace vxpu::sched
