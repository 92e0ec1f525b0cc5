#include "sched/selection.h"

#include <utility>

namespace vxpu::sched {
namespace {

GpuMask LowestFittingGpus(const ClusterState& cluster, const PodRequest& pod, int node) {
  GpuMask chosen = 0;
  int needed = pod.num_gpu;
  for (int g = 0; g < cluster.spec(node).gpu_count && needed > 0; ++g) {
    if (cluster.GpuCanTake(pod, node, g)) {
      chosen |= GpuMask{1} << g;
      --needed;
    }
  }
  return needed == 0 ? chosen : 0;
}

}  // namespace

void TieOrder::Shuffle(int node_count) {
  Rng rng(seed_);
  rank_.resize(node_count);
  for (int i = 0; i < node_count; ++i) rank_[i] = static_cast<uint32_t>(i);
  for (size_t i = rank_.size(); i > 1; --i) std::swap(rank_[i - 1], rank_[rng.Below(i)]);
}

GpuMask TightestGpus(const ClusterState& cluster, const PodRequest& pod, int node) {
  if (!pod.UsesGpu()) return 0;
  if (!pod.SharesGpu()) return LowestFittingGpus(cluster, pod, node);
  auto free = cluster.gpu_free(node);
  int best = -1;
  for (int g = 0; g < static_cast<int>(free.size()); ++g) {
    if (cluster.GpuCanTake(pod, node, g) && (best < 0 || free[g] < free[best])) best = g;
  }
  return best < 0 ? 0 : GpuMask{1} << best;
}

GpuMask RandomFittingGpus(const ClusterState& cluster, const PodRequest& pod, int node, Rng& rng) {
  if (!pod.SharesGpu()) return TightestGpus(cluster, pod, node);
  int chosen = -1;
  uint64_t seen = 0;
  for (int g = 0; g < cluster.spec(node).gpu_count; ++g) {
    if (cluster.GpuCanTake(pod, node, g) && rng.Below(++seen) == 0) chosen = g;
  }
  return chosen < 0 ? 0 : GpuMask{1} << chosen;
}

}  // namespace vxpu::sched
