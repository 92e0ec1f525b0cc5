// Typical pods: the popularity of each pod shape (CPU, GPU count, GPU share, allowed models) in a
// workload, as FGD (ATC'23) uses it: shapes sorted by how many pods have them, the most popular
// kept until they cover `coverage` of all pods, their frequencies renormalised to sum to 1.
// Memory is not part of a shape (the FGD artifact ignores it). This is all that FGD and our own
// policy know of the workload to come.
#pragma once

#include <cstdint>
#include <vector>

#include "sched/model.h"

namespace vxpu::sched {

struct TypicalPod {
  PodRequest shape;
  double probability = 0;
};

using TypicalPods = std::vector<TypicalPod>;

TypicalPods ComputeTypicalPods(const std::vector<PodRequest>& workload, double coverage = 0.95);

}  // namespace vxpu::sched
