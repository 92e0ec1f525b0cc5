// vxpu: placeholder, being tuned.
#include <cmath>
#include <vector>

#include "sched/fragmentation.h"
#include "sched/policy.h"
#include "sched/selection.h"

namespace vxpu::sched {
namespace {

class VxpuPolicy : public Policy {
 public:
  VxpuPolicy(uint64_t seed, TypicalPods typical) : ties_(seed), typical_(std::move(typical)), memo_(typical_) {}
  std::string_view name() const override { return "vxpu"; }

  Placement Choose(const ClusterState& cluster, const PodRequest& pod) override {
    before_.resize(cluster.node_count(), kUnknown);
    BestOf<double> best(ties_, cluster.node_count());
    for (int node = 0; node < cluster.node_count(); ++node) {
      if (!cluster.Fits(pod, node)) continue;
      if (!pod.SharesGpu()) {
        GpuMask gpus = TightestGpus(cluster, pod, node);
        best.Offer(Score(cluster, pod, node, gpus), PlacementOf(pod, node, gpus));
        continue;
      }
      for (int g = 0; g < cluster.spec(node).gpu_count; ++g) {
        if (cluster.GpuCanTake(pod, node, g))
          best.Offer(Score(cluster, pod, node, GpuMask{1} << g), PlacementOf(pod, node, GpuMask{1} << g));
      }
    }
    return best.best();
  }

  void Placed(const PodRequest&, const Placement& where) override { Forget(where.node); }
  void Removed(const PodRequest&, const Placement& where) override { Forget(where.node); }

 private:
  static constexpr double kUnknown = -1;

  void Forget(int node) {
    if (node >= static_cast<int>(before_.size())) before_.resize(node + 1, kUnknown);
    before_[node] = kUnknown;
  }

  double Before(const ClusterState& cluster, int node) {
    if (before_[node] == kUnknown) {
      before_[node] = memo_.Get({cluster.cpu_free(node), cluster.spec(node).gpu_model, cluster.gpu_free(node)});
    }
    return before_[node];
  }

  double Score(const ClusterState& cluster, const PodRequest& pod, int node, GpuMask gpus) {
    auto free = cluster.gpu_free(node);
    int32_t after[kMaxGpusPerNode];
    for (size_t g = 0; g < free.size(); ++g) {
      after[g] = static_cast<int32_t>(((gpus >> g) & 1) ? free[g] - pod.gpu_milli : free[g]);
    }
    double frag_after = memo_.Get({cluster.cpu_free(node) - pod.cpu_milli, cluster.spec(node).gpu_model,
                                   std::span<const int32_t>(after, free.size())});
    return -(frag_after - Before(cluster, node));
  }

  TieOrder ties_;
  TypicalPods typical_;
  FragmentationMemo memo_;
  std::vector<double> before_;
};

}  // namespace

std::unique_ptr<Policy> NewVxpuPolicy(const PolicyOptions& options) {
  return std::make_unique<VxpuPolicy>(options.seed, options.typical);
}

}  // namespace vxpu::sched
