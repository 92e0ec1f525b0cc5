// BestFit: the node whose free CPU and total free GPU, after the pod, are the smallest (each
// scaled by the largest node spec and weighted half). Score 0..100 in whole points.
#include "sched/policy.h"
#include "sched/selection.h"

namespace vxpu::sched {
namespace {

constexpr double kMaxSpecCpu = 128000;
constexpr double kMaxSpecGpu = 8000;

class BestFitPolicy : public Policy {
 public:
  explicit BestFitPolicy(uint64_t seed) : ties_(seed) {}
  std::string_view name() const override { return "bestfit"; }

  Placement Choose(const ClusterState& cluster, const PodRequest& pod) override {
    BestOf<int64_t> best(ties_, cluster.node_count());
    for (int node = 0; node < cluster.node_count(); ++node) {
      if (!cluster.Fits(pod, node)) continue;
      double left = static_cast<double>(cluster.cpu_free(node) - pod.cpu_milli) / kMaxSpecCpu * 0.5;
      left += static_cast<double>(cluster.gpu_free_total(node) - pod.TotalGpuMilli()) / kMaxSpecGpu * 0.5;
      best.Offer(static_cast<int64_t>((1.0 - left) * 100), PlacementOf(pod, node, 0));
    }
    Placement where = best.best();
    if (where.placed()) where.gpus = TightestGpus(cluster, pod, where.node);
    return where;
  }

 private:
  TieOrder ties_;
};

}  // namespace

std::unique_ptr<Policy> NewBestFitPolicy(const PolicyOptions& options) {
  return std::make_unique<BestFitPolicy>(options.seed);
}

}  // namespace vxpu::sched
