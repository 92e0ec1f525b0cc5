// Where a cluster's unallocated GPU sits: whole idle GPUs that a pod of the workload could still
// use, whole idle GPUs on nodes where none could (their CPU, memory or model rules every GPU pod
// out: stranded), and the leftovers of partly used GPUs, by size. This is what separates a
// policy's avoidable waste from the waste the workload's shapes force on any policy.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "sched/cluster_state.h"
#include "sched/model.h"

namespace vxpu::sched {

struct IdleBreakdown {
  static constexpr std::array<int64_t, 4> kLeftoverBandEnds = {100, 200, 500, kMilliPerGpu};

  int64_t whole_usable = 0;    // milli-GPU on idle GPUs of nodes where some GPU pod of the workload fits
  int64_t whole_stranded = 0;  // milli-GPU on idle GPUs of nodes where none fits
  // milli-GPU free on partly used GPUs, leftover below 100, 100-199, 200-499 and 500-999 milli.
  std::array<int64_t, kLeftoverBandEnds.size()> leftover{};

  int64_t total() const;
};

IdleBreakdown DescribeIdle(const ClusterState& cluster, const std::vector<PodRequest>& workload);

}  // namespace vxpu::sched
