// The fragmentation-gradient family of policies: put the pod where a node's fragmentation grows
// least. FGD (ATC'23) measures fragmentation as fragmentation.h defines it; our vxpu policy adds
// the GPUs that the node's remaining CPU could not feed (see vxpu_policy.cc). Shared here so both
// score, pick GPUs and break ties the same way and differ only in what they measure.
#pragma once

#include <memory>
#include <string>

#include "sched/policy.h"

namespace vxpu::sched {

// `stranding_weight` scales the CPU-stranding term added to FGD's fragmentation (0: plain FGD).
std::unique_ptr<Policy> NewFragmentationGradientPolicy(std::string name, const PolicyOptions& options,
                                                       double stranding_weight);

}  // namespace vxpu::sched
