// GpuClustering: keep pods of one kind together. A pod's kind is "shares a GPU" or "takes N whole
// GPUs". Best are nodes holding only pods of its kind, then nodes holding its kind among others,
// then empty nodes, then the rest; within a band, the fuller node. CPU-only pods go anywhere.
#include <map>
#include <vector>

#include "sched/policy.h"
#include "sched/selection.h"

namespace vxpu::sched {
namespace {

int KindOf(const PodRequest& pod) { return pod.SharesGpu() ? 0 : pod.num_gpu; }

class ClusteringPolicy : public Policy {
 public:
  explicit ClusteringPolicy(uint64_t seed) : ties_(seed) {}
  std::string_view name() const override { return "clustering"; }

  Placement Choose(const ClusterState& cluster, const PodRequest& pod) override {
    kinds_on_node_.resize(cluster.node_count());
    return BestScoredNode(cluster, pod, ties_, [&](int node) { return Score(cluster, pod, node); });
  }

  void Placed(const PodRequest& pod, const Placement& where) override {
    if (where.node >= static_cast<int>(kinds_on_node_.size())) kinds_on_node_.resize(where.node + 1);
    if (pod.UsesGpu()) ++kinds_on_node_[where.node][KindOf(pod)];
  }

  void Removed(const PodRequest& pod, const Placement& where) override {
    if (!pod.UsesGpu()) return;
    auto& kinds = kinds_on_node_[where.node];
    if (--kinds[KindOf(pod)] == 0) kinds.erase(KindOf(pod));
  }

 private:
  int64_t Score(const ClusterState& cluster, const PodRequest& pod, int node) const {
    if (!pod.UsesGpu()) return 0;
    const auto& kinds = kinds_on_node_[node];
    int64_t fullness = 100 / 4 * (kMaxSpecGpuMilli - cluster.gpu_free_total(node)) / kMaxSpecGpuMilli;
    if (kinds.contains(KindOf(pod))) return fullness + (kinds.size() == 1 ? 75 : 50);
    return fullness + (kinds.empty() ? 25 : 0);
  }

  TieOrder ties_;
  std::vector<std::map<int, int>> kinds_on_node_;  // kind -> pods of that kind on the node
};

}  // namespace

std::unique_ptr<Policy> NewClusteringPolicy(const PolicyOptions& options) {
  return std::make_unique<ClusteringPolicy>(options.seed);
}

}  // namespace vxpu::sched
