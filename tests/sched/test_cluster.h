// Small hand-built clusters and pods for the scheduler tests.
#pragma once

#include <string>
#include <vector>

#include "sched/cluster_state.h"

namespace vxpu::sched::testing {

inline NodeSpec Node(const std::string& name, int64_t cpu_milli, int gpus, int model = 0) {
  return {name, cpu_milli, 1 << 20, gpus, gpus > 0 ? model : kNoGpuModel, 0};
}

inline PodRequest CpuPod(int64_t cpu_milli) { return {cpu_milli, 0, 0, 0, 0, 0}; }
inline PodRequest SharePod(int64_t gpu_milli, int64_t cpu_milli = 1000) { return {cpu_milli, 0, 1, gpu_milli, 0, 0}; }
inline PodRequest WholePod(int gpus, int64_t cpu_milli = 1000) { return {cpu_milli, 0, gpus, kMilliPerGpu, 0, 0}; }

inline ClusterState Cluster(std::vector<NodeSpec> nodes) { return ClusterState(std::move(nodes), {"T4", "V100"}); }

}  // namespace vxpu::sched::testing
