// Random: any node that fits, each with equal chance; a shared GPU also at random.
#include "sched/policy.h"
#include "sched/selection.h"

namespace vxpu::sched {
namespace {

class RandomPolicy : public Policy {
 public:
  explicit RandomPolicy(uint64_t seed) : rng_(seed) {}
  std::string_view name() const override { return "random"; }

  Placement Choose(const ClusterState& cluster, const PodRequest& pod) override {
    int chosen = -1;
    uint64_t seen = 0;
    for (int node = 0; node < cluster.node_count(); ++node) {
      if (cluster.Fits(pod, node) && rng_.Below(++seen) == 0) chosen = node;
    }
    if (chosen < 0) return {};
    return PlacementOf(pod, chosen, RandomFittingGpus(cluster, pod, chosen, rng_));
  }

 private:
  Rng rng_;
};

}  // namespace

std::unique_ptr<Policy> NewRandomPolicy(const PolicyOptions& options) {
  return std::make_unique<RandomPolicy>(options.seed);
}

}  // namespace vxpu::sched
