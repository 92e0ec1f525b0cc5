#include "sched/arrival_replay.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "sched/cluster_state.h"
#include "sched/rng.h"

namespace vxpu::sched {

std::vector<int> ArrivalOrder(const std::vector<PodRequest>& workload, int64_t capacity_milli, double load,
                              uint64_t seed) {
  Rng rng(seed);
  std::vector<int> order(workload.size());
  int64_t requested = 0;
  for (size_t i = 0; i < workload.size(); ++i) {
    order[i] = static_cast<int>(i);
    requested += workload[i].TotalGpuMilli();
  }
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.Below(i)]);
  double target = load * static_cast<double>(capacity_milli);
  while (!workload.empty()) {
    int drawn = static_cast<int>(rng.Below(workload.size()));
    if (static_cast<double>(requested + workload[drawn].TotalGpuMilli()) > target) break;
    requested += workload[drawn].TotalGpuMilli();
    order.push_back(drawn);
  }
  return order;
}

ArrivalCurve ReplayArrivals(const std::vector<NodeSpec>& nodes, const std::vector<std::string>& model_names,
                            const std::vector<PodRequest>& workload, const std::vector<int>& order, Policy& policy,
                            int max_arrived_pct) {
  ClusterState cluster(nodes, model_names);
  double capacity = static_cast<double>(cluster.total_gpu_milli());
  auto percent = [capacity](int64_t milli) { return capacity > 0 ? 100.0 * static_cast<double>(milli) / capacity : 0; };

  ArrivalCurve curve;
  curve.allocated_pct.assign(max_arrived_pct + 1, 0.0);
  int next_pct = 0;  // the first whole percent not yet recorded
  int64_t arrived = 0;
  for (int index : order) {
    const PodRequest& pod = workload[index];
    arrived += pod.TotalGpuMilli();
    double allocated_before = percent(cluster.allocated_gpu_milli());
    while (next_pct <= max_arrived_pct && next_pct < percent(arrived))
      curve.allocated_pct[next_pct++] = allocated_before;
    ++curve.pods_arrived;
    if (!Schedule(cluster, policy, pod).placed()) ++curve.pods_failed;
  }
  while (next_pct <= max_arrived_pct) curve.allocated_pct[next_pct++] = percent(cluster.allocated_gpu_milli());
  curve.idle_at_end = DescribeIdle(cluster, workload);
  return curve;
}

}  // namespace vxpu::sched
