// GpuPacking: best, a GPU already shared (the less it leaves free, the better); then whole free
// GPUs on a node already in use (the fewer, the better); last, a node with every GPU free.
// CPU-only pods go anywhere. Scores as the FGD artifact computes them, in whole points.
#include <algorithm>

#include "sched/policy.h"
#include "sched/selection.h"

namespace vxpu::sched {
namespace {

class PackingPolicy : public Policy {
 public:
  explicit PackingPolicy(uint64_t seed) : ties_(seed) {}
  std::string_view name() const override { return "packing"; }

  Placement Choose(const ClusterState& cluster, const PodRequest& pod) override {
    BestOf<int64_t> best(ties_, cluster.node_count());
    for (int node = 0; node < cluster.node_count(); ++node) {
      if (!cluster.Fits(pod, node)) continue;
      GpuMask gpus = TightestGpus(cluster, pod, node);
      best.Offer(Score(cluster, pod, node, gpus), PlacementOf(pod, node, gpus));
    }
    return best.best();
  }

 private:
  static int64_t Score(const ClusterState& cluster, const PodRequest& pod, int node, GpuMask gpus) {
    if (!pod.UsesGpu()) return 0;
    int64_t whole_free = cluster.whole_free_gpus(node);
    if (whole_free == cluster.spec(node).gpu_count) return std::max(100 / 3 - whole_free, whole_free);
    auto free = cluster.gpu_free(node);
    int64_t whole_used = 0;
    int64_t free_pct_on_used = 0;
    for (int g = 0; g < static_cast<int>(free.size()); ++g) {
      if (!((gpus >> g) & 1)) continue;
      whole_used += free[g] == kMilliPerGpu;
      free_pct_on_used += free[g] * 100 / kMilliPerGpu;
    }
    if (whole_used > 0) return std::max(100 / 2 - whole_used, int64_t{100 / 3});
    return std::max(100 - free_pct_on_used / 10, int64_t{100 / 2});
  }

  TieOrder ties_;
};

}  // namespace

std::unique_ptr<Policy> NewPackingPolicy(const PolicyOptions& options) {
  return std::make_unique<PackingPolicy>(options.seed);
}

}  // namespace vxpu::sched
