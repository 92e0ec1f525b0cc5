// FGD (Fragmentation Gradient Descent, ATC'23): put the pod where the node's fragmentation
// (fragmentation.h) grows least. As in the paper's artifact, the growth d (milli-GPU) becomes a
// whole-point score sigmoid(-d/1000) * 100, the best node wins (ties at random), and a shared
// GPU is the lowest-indexed one of best score.
#include <cmath>
#include <vector>

#include "sched/fragmentation.h"
#include "sched/policy.h"
#include "sched/selection.h"

namespace vxpu::sched {
namespace {

class FgdPolicy : public Policy {
 public:
  FgdPolicy(uint64_t seed, TypicalPods typical) : ties_(seed), typical_(std::move(typical)), memo_(typical_) {}
  std::string_view name() const override { return "fgd"; }

  Placement Choose(const ClusterState& cluster, const PodRequest& pod) override {
    before_.resize(cluster.node_count(), kUnknown);
    BestOf<int64_t> best(ties_, cluster.node_count());
    for (int node = 0; node < cluster.node_count(); ++node) {
      if (!cluster.Fits(pod, node)) continue;
      auto [score, gpus] = BestOnNode(cluster, pod, node);
      best.Offer(score, PlacementOf(pod, node, gpus));
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

  int64_t ScoreAfter(const ClusterState& cluster, const PodRequest& pod, int node, GpuMask gpus) {
    auto free = cluster.gpu_free(node);
    int32_t after[kMaxGpusPerNode];
    for (size_t g = 0; g < free.size(); ++g) {
      after[g] = static_cast<int32_t>(((gpus >> g) & 1) ? free[g] - pod.gpu_milli : free[g]);
    }
    double frag_after = memo_.Get({cluster.cpu_free(node) - pod.cpu_milli, cluster.spec(node).gpu_model,
                                   std::span<const int32_t>(after, free.size())});
    double growth = frag_after - Before(cluster, node);
    return static_cast<int64_t>(100.0 / (1.0 + std::exp(growth / 1000)));
  }

  std::pair<int64_t, GpuMask> BestOnNode(const ClusterState& cluster, const PodRequest& pod, int node) {
    if (!pod.SharesGpu()) {
      GpuMask gpus = TightestGpus(cluster, pod, node);
      return {ScoreAfter(cluster, pod, node, gpus), gpus};
    }
    auto free = cluster.gpu_free(node);
    int64_t best_score = -1;
    GpuMask best_gpu = 0;
    for (int g = 0; g < static_cast<int>(free.size()); ++g) {
      if (!cluster.GpuCanTake(pod, node, g) || SameFreeSeenBefore(cluster, pod, node, g)) continue;
      int64_t score = ScoreAfter(cluster, pod, node, GpuMask{1} << g);
      if (score > best_score) {
        best_score = score;
        best_gpu = GpuMask{1} << g;
      }
    }
    return {best_score, best_gpu};
  }

  // GPUs with equal free share give equal scores; the first of them is the one that counts.
  static bool SameFreeSeenBefore(const ClusterState& cluster, const PodRequest& pod, int node, int g) {
    auto free = cluster.gpu_free(node);
    for (int h = 0; h < g; ++h) {
      if (free[h] == free[g] && cluster.GpuCanTake(pod, node, h)) return true;
    }
    return false;
  }

  TieOrder ties_;
  TypicalPods typical_;
  FragmentationMemo memo_;
  std::vector<double> before_;  // fragmentation of each node as it is; kUnknown after a change
};

}  // namespace

std::unique_ptr<Policy> NewFgdPolicy(const PolicyOptions& options) {
  return std::make_unique<FgdPolicy>(options.seed, options.typical);
}

}  // namespace vxpu::sched
