// vxpu, our policy: FGD that also counts the GPUs a node's CPU can no longer feed.
//
// On the openb traces CPU runs out as well as GPU (at 130% arrived, pods ask for more CPU than
// the GPU nodes have), and FGD sees a lack of CPU only when a whole typical pod no longer fits.
// vxpu adds to FGD's fragmentation of a node the idle milli-GPUs beyond what its free CPU can
// serve at the typical pods' CPU-per-GPU ratio: max(0, idle GPU - free CPU / ratio). Placing a
// pod where it eats CPU that idle GPUs will need (a CPU-only pod on an 8-GPU node, say) then
// counts as fragmentation growth, so such pods drift to nodes with CPU to spare. It is as online
// as FGD: one pod at a time, knowing only the typical-pod distribution, never moving a pod.
#include "sched/fgd_policy.h"

namespace vxpu::sched {

std::unique_ptr<Policy> NewVxpuPolicy(const PolicyOptions& options) {
  return NewFragmentationGradientPolicy("vxpu", options, 1.0);
}

}  // namespace vxpu::sched
