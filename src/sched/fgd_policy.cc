// FGD (Fragmentation Gradient Descent, ATC'23): put the pod where the node's fragmentation
// (fragmentation.h) grows least. As in the paper's artifact, the growth d (milli-GPU) becomes a
// whole-point score sigmoid(-d/1000) * 100, the best node wins (ties by the TieOrder), and a
// shared GPU is the lowest-indexed one of best score.
#include "sched/fgd_policy.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "sched/fragmentation.h"
#include "sched/selection.h"

namespace vxpu::sched {
namespace {

// CPU per milli-GPU that the typical GPU pods ask for.
double TypicalCpuPerGpuMilli(const TypicalPods& typical) {
  double cpu = 0, gpu = 0;
  for (const TypicalPod& t : typical) {
    if (!t.shape.UsesGpu()) continue;
    cpu += t.probability * static_cast<double>(t.shape.cpu_milli);
    gpu += t.probability * static_cast<double>(t.shape.TotalGpuMilli());
  }
  return gpu > 0 ? cpu / gpu : 0;
}

class FragmentationGradientPolicy : public Policy {
 public:
  FragmentationGradientPolicy(std::string name, const PolicyOptions& options, double stranding_weight)
      : name_(std::move(name)),
        ties_(options.seed),
        typical_(options.typical),
        memo_(typical_),
        stranding_weight_(stranding_weight),
        cpu_per_gpu_milli_(TypicalCpuPerGpuMilli(typical_)) {}

  std::string_view name() const override { return name_; }

  Placement Choose(const ClusterState& cluster, const PodRequest& pod) override {
    before_.resize(cluster.node_count(), kUnknown);
    BestOf<int64_t> best(ties_, cluster.node_count());
    for (int node = 0; node < cluster.node_count(); ++node) {
      if (!cluster.Fits(pod, node)) continue;
      if (!pod.SharesGpu()) {
        GpuMask gpus = TightestGpus(cluster, pod, node);
        best.Offer(Score(cluster, pod, node, gpus), PlacementOf(pod, node, gpus));
        continue;
      }
      for (int g = 0; g < cluster.spec(node).gpu_count; ++g) {
        if (!cluster.GpuCanTake(pod, node, g) || SameFreeSeenBefore(cluster, pod, node, g)) continue;
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

  // Fragmentation as measured, plus the weighted CPU-stranded GPUs.
  double Measure(const NodeShape& shape, int64_t gpu_free_total) {
    double measured = memo_.Get(shape);
    if (stranding_weight_ > 0 && cpu_per_gpu_milli_ > 0) {
      double fed = static_cast<double>(shape.cpu_free) / cpu_per_gpu_milli_;
      measured += stranding_weight_ * std::max(0.0, static_cast<double>(gpu_free_total) - fed);
    }
    return measured;
  }

  double Before(const ClusterState& cluster, int node) {
    if (before_[node] == kUnknown) {
      before_[node] = Measure({cluster.cpu_free(node), cluster.spec(node).gpu_model, cluster.gpu_free(node)},
                              cluster.gpu_free_total(node));
    }
    return before_[node];
  }

  int64_t Score(const ClusterState& cluster, const PodRequest& pod, int node, GpuMask gpus) {
    auto free = cluster.gpu_free(node);
    int32_t after[kMaxGpusPerNode];
    for (size_t g = 0; g < free.size(); ++g) {
      after[g] = static_cast<int32_t>(((gpus >> g) & 1) ? free[g] - pod.gpu_milli : free[g]);
    }
    NodeShape shape{cluster.cpu_free(node) - pod.cpu_milli, cluster.spec(node).gpu_model,
                    std::span<const int32_t>(after, free.size())};
    double growth = Measure(shape, cluster.gpu_free_total(node) - pod.TotalGpuMilli()) - Before(cluster, node);
    return static_cast<int64_t>(100.0 / (1.0 + std::exp(growth / 1000)));
  }

  // GPUs with equal free share give equal scores; the first of them is the one that counts.
  static bool SameFreeSeenBefore(const ClusterState& cluster, const PodRequest& pod, int node, int g) {
    auto free = cluster.gpu_free(node);
    for (int h = 0; h < g; ++h) {
      if (free[h] == free[g] && cluster.GpuCanTake(pod, node, h)) return true;
    }
    return false;
  }

  std::string name_;
  TieOrder ties_;
  TypicalPods typical_;
  FragmentationMemo memo_;
  double stranding_weight_;
  double cpu_per_gpu_milli_;
  std::vector<double> before_;  // measure of each node as it is; kUnknown after a change
};

}  // namespace

std::unique_ptr<Policy> NewFragmentationGradientPolicy(std::string name, const PolicyOptions& options,
                                                       double stranding_weight) {
  return std::make_unique<FragmentationGradientPolicy>(std::move(name), options, stranding_weight);
}

std::unique_ptr<Policy> NewFgdPolicy(const PolicyOptions& options) {
  return NewFragmentationGradientPolicy("fgd", options, 0);
}

}  // namespace vxpu::sched
