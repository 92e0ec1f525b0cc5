// DotProd (Tetris-style, as the FGD artifact configures it: "merge" dimensions, "max" norm): the
// node's free (CPU, total GPU) and the pod's request, each scaled by the largest node spec
// (128 CPUs, 8 GPUs); the smaller their dot product, the better. Score 0..100 in whole points.
#include "sched/policy.h"
#include "sched/selection.h"

namespace vxpu::sched {
namespace {

constexpr double kMaxSpecCpu = 128000;
constexpr double kMaxSpecGpu = 8000;

class DotProductPolicy : public Policy {
 public:
  explicit DotProductPolicy(uint64_t seed) : ties_(seed) {}
  std::string_view name() const override { return "dotprod"; }

  Placement Choose(const ClusterState& cluster, const PodRequest& pod) override {
    BestOf<int64_t> best(ties_, cluster.node_count());
    for (int node = 0; node < cluster.node_count(); ++node) {
      if (!cluster.Fits(pod, node)) continue;
      double dot = static_cast<double>(cluster.cpu_free(node)) / kMaxSpecCpu *
                       (static_cast<double>(pod.cpu_milli) / kMaxSpecCpu) +
                   static_cast<double>(cluster.gpu_free_total(node)) / kMaxSpecGpu *
                       (static_cast<double>(pod.TotalGpuMilli()) / kMaxSpecGpu);
      double score = 1 - dot / 2;
      best.Offer(static_cast<int64_t>(100 * score), PlacementOf(pod, node, 0));
    }
    return WithGpus(cluster, pod, best.best());
  }

 private:
  static Placement WithGpus(const ClusterState& cluster, const PodRequest& pod, Placement where) {
    if (where.placed()) where.gpus = TightestGpus(cluster, pod, where.node);
    return where;
  }

  TieOrder ties_;
};

}  // namespace

std::unique_ptr<Policy> NewDotProductPolicy(const PolicyOptions& options) {
  return std::make_unique<DotProductPolicy>(options.seed);
}

}  // namespace vxpu::sched
