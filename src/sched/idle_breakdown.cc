#include "sched/idle_breakdown.h"

#include <algorithm>
#include <numeric>
#include <set>
#include <tuple>

namespace vxpu::sched {
namespace {

// The distinct requests of the workload's GPU pods.
std::vector<PodRequest> GpuPodShapes(const std::vector<PodRequest>& workload) {
  using Key = std::tuple<int64_t, int64_t, int, int64_t, int64_t, uint64_t>;
  std::set<Key> seen;
  std::vector<PodRequest> shapes;
  for (const PodRequest& pod : workload) {
    if (!pod.UsesGpu()) continue;
    Key key{pod.cpu_milli, pod.memory_mib, pod.num_gpu, pod.gpu_milli, pod.gpu_memory_mib, pod.allowed_models};
    if (seen.insert(key).second) shapes.push_back(pod);
  }
  return shapes;
}

bool SomePodFits(const ClusterState& cluster, const std::vector<PodRequest>& shapes, int node) {
  return std::any_of(shapes.begin(), shapes.end(), [&](const PodRequest& pod) { return cluster.Fits(pod, node); });
}

size_t LeftoverBand(int32_t free) {
  const auto& ends = IdleBreakdown::kLeftoverBandEnds;
  return static_cast<size_t>(std::upper_bound(ends.begin(), ends.end(), free) - ends.begin());
}

}  // namespace

int64_t IdleBreakdown::total() const {
  return std::accumulate(leftover.begin(), leftover.end(), whole_usable + whole_stranded);
}

IdleBreakdown DescribeIdle(const ClusterState& cluster, const std::vector<PodRequest>& workload) {
  std::vector<PodRequest> shapes = GpuPodShapes(workload);
  IdleBreakdown idle;
  for (int node = 0; node < cluster.node_count(); ++node) {
    for (int32_t free : cluster.gpu_free(node)) {
      if (free > 0 && free < kMilliPerGpu) idle.leftover[LeftoverBand(free)] += free;
    }
    int64_t whole = int64_t{cluster.whole_free_gpus(node)} * kMilliPerGpu;
    if (whole == 0) continue;
    (SomePodFits(cluster, shapes, node) ? idle.whole_usable : idle.whole_stranded) += whole;
  }
  return idle;
}

}  // namespace vxpu::sched
