// BestFit: the node whose free CPU and total free GPU, after the pod, are the smallest (each
// scaled by the largest node spec and weighted half). Score 0..100 in whole points.
#include "sched/policy.h"
#include "sched/selection.h"

namespace vxpu::sched {
namespace {

class BestFitPolicy : public Policy {
 public:
  explicit BestFitPolicy(uint64_t seed) : ties_(seed) {}
  std::string_view name() const override { return "bestfit"; }

  Placement Choose(const ClusterState& cluster, const PodRequest& pod) override {
    return BestScoredNode(cluster, pod, ties_, [&](int node) {
      double left = static_cast<double>(cluster.cpu_free(node) - pod.cpu_milli) / kMaxSpecCpuMilli * 0.5;
      left += static_cast<double>(cluster.gpu_free_total(node) - pod.TotalGpuMilli()) / kMaxSpecGpuMilli * 0.5;
      return static_cast<int64_t>((1.0 - left) * 100);
    });
  }

 private:
  TieOrder ties_;
};

}  // namespace

std::unique_ptr<Policy> NewBestFitPolicy(const PolicyOptions& options) {
  return std::make_unique<BestFitPolicy>(options.seed);
}

}  // namespace vxpu::sched
