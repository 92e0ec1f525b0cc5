#include "sched/policy.h"

namespace vxpu::sched {

Placement Schedule(ClusterState& cluster, Policy& policy, const PodRequest& pod) {
  Placement where = policy.Choose(cluster, pod);
  if (where.placed()) {
    cluster.Place(pod, where);
    policy.Placed(pod, where);
  }
  return where;
}

void Release(ClusterState& cluster, Policy& policy, const PodRequest& pod, const Placement& where) {
  cluster.Remove(pod, where);
  policy.Removed(pod, where);
}

const std::vector<std::string>& PolicyNames() {
  static const std::vector<std::string> names = {"vxpu",    "random",  "dotprod", "clustering",
                                                 "packing", "bestfit", "fgd"};
  return names;
}

std::unique_ptr<Policy> MakePolicy(std::string_view name, const PolicyOptions& options) {
  if (name == "random") return NewRandomPolicy(options);
  if (name == "dotprod") return NewDotProductPolicy(options);
  if (name == "clustering") return NewClusteringPolicy(options);
  if (name == "packing") return NewPackingPolicy(options);
  if (name == "bestfit") return NewBestFitPolicy(options);
  if (name == "fgd") return NewFgdPolicy(options);
  if (name == "vxpu") return NewVxpuPolicy(options);
  return nullptr;
}

}  // namespace vxpu::sched
