// The FGD paper's experiment (ATC'23, Section 6): pods arrive one at a time and never leave.
// The workload is shuffled with the seed, then pods drawn from it uniformly with replacement are
// appended until the next one would push the total GPU request past `load` times the cluster's
// GPU capacity (the artifact's "workload tuning"). A pod that fits nowhere fails and is skipped.
// After each arrival the arrived GPU request and the allocated GPU are recorded, both in percent
// of the cluster's milli-GPU; at the end, where the idle GPU sits. Pure and deterministic given the seed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sched/idle_breakdown.h"
#include "sched/model.h"
#include "sched/policy.h"

namespace vxpu::sched {

// Indexes into `workload`, in the order the pods arrive.
std::vector<int> ArrivalOrder(const std::vector<PodRequest>& workload, int64_t capacity_milli, double load,
                              uint64_t seed);

struct ArrivalCurve {
  // allocated_pct[k]: GPU allocated, in percent, after the last arrival that kept the arrived
  // GPU request at or below k percent; k = 0 .. max_arrived_pct.
  std::vector<double> allocated_pct;
  int64_t pods_arrived = 0;
  int64_t pods_failed = 0;
  IdleBreakdown idle_at_end;  // where the unallocated GPU sits after the last arrival
};

ArrivalCurve ReplayArrivals(const std::vector<NodeSpec>& nodes, const std::vector<std::string>& model_names,
                            const std::vector<PodRequest>& workload, const std::vector<int>& order, Policy& policy,
                            int max_arrived_pct = 130);

}  // namespace vxpu::sched
