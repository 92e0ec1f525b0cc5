#include "sched/typical_pods.h"

#include <algorithm>
#include <map>
#include <tuple>

namespace vxpu::sched {
namespace {

using ShapeKey = std::tuple<int64_t, int64_t, int, uint64_t>;  // cpu, gpu share, GPU count, models

ShapeKey KeyOf(const PodRequest& pod) { return {pod.cpu_milli, pod.gpu_milli, pod.num_gpu, pod.allowed_models}; }

}  // namespace

TypicalPods ComputeTypicalPods(const std::vector<PodRequest>& workload, double coverage) {
  std::map<ShapeKey, int64_t> counts;
  std::map<ShapeKey, PodRequest> shapes;
  for (const PodRequest& pod : workload) {
    ShapeKey key = KeyOf(pod);
    ++counts[key];
    shapes.try_emplace(key, PodRequest{pod.cpu_milli, 0, pod.num_gpu, pod.gpu_milli, 0, pod.allowed_models});
  }
  std::vector<std::pair<int64_t, ShapeKey>> ranked;
  for (const auto& [key, count] : counts) ranked.emplace_back(count, key);
  // Most popular first; among equals, the larger shape first (the artifact's order).
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a > b; });

  TypicalPods typical;
  double total = static_cast<double>(workload.size());
  double covered = 0;
  for (const auto& [count, key] : ranked) {
    if (covered >= coverage * total) break;
    typical.push_back({shapes[key], static_cast<double>(count)});
    covered += static_cast<double>(count);
  }
  for (TypicalPod& t : typical) t.probability /= covered;
  return typical;
}

}  // namespace vxpu::sched
