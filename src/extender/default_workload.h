// The workload the live vxpu-scheduler's fgd and vxpu policies expect by default: the GPU pods of
// the openb default trace (tests/data/openb/openb_pod_list_default.csv, also in ../shared/data/openb: 7,064 of its
// 8,152 pods ask for GPUs) as unit requests, shares rounded up to whole units as `vxpu sim replay
// --granularity 10pct` rounds them. CPU is left out: the live extender does not see the nodes'
// free CPU. tests/extender checks the counts against the trace. Pure data.
#pragma once

#include <map>

#include "sched/typical_pods.h"

namespace vxpu::extender {

// Units asked (1-9, 10k) -> pods of the trace asking that.
const std::map<int, int>& DefaultUnitCounts();

// sched::ComputeTypicalPods over those pods.
sched::TypicalPods DefaultTypicalPods();

}  // namespace vxpu::extender
