// DotProd (Tetris-style, as the FGD artifact configures it: "merge" dimensions, "max" norm): the
// node's free (CPU, total GPU) and the pod's request, each scaled by the largest node spec
// (128 CPUs, 8 GPUs); the smaller their dot product, the better. Score 0..100 in whole points.
#include "sched/policy.h"
#include "sched/selection.h"

namespace vxpu::sched {
namespace {

class DotProductPolicy : public Policy {
 public:
  explicit DotProductPolicy(uint64_t seed) : ties_(seed) {}
  std::string_view name() const override { return "dotprod"; }

  Placement Choose(const ClusterState& cluster, const PodRequest& pod) override {
    return BestScoredNode(cluster, pod, ties_, [&](int node) {
      double dot = static_cast<double>(cluster.cpu_free(node)) / kMaxSpecCpuMilli *
                       (static_cast<double>(pod.cpu_milli) / kMaxSpecCpuMilli) +
                   static_cast<double>(cluster.gpu_free_total(node)) / kMaxSpecGpuMilli *
                       (static_cast<double>(pod.TotalGpuMilli()) / kMaxSpecGpuMilli);
      double score = 1 - dot / 2;
      return static_cast<int64_t>(100 * score);
    });
  }

 private:
  TieOrder ties_;
};

}  // namespace

std::unique_ptr<Policy> NewDotProductPolicy(const PolicyOptions& options) {
  return std::make_unique<DotProductPolicy>(options.seed);
}

}  // namespace vxpu::sched
