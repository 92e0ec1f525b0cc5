// What a pod asks of vxpu-scheduler: its count of `vxpu.io/gpu-units` or `vxpu.io/npu-units`
// (docs/kubernetes.md, "Resource model"; a pod asking both is refused) and, for a cluster whose CPU and memory the
// extender models, its CPU and memory requests. Pure code: reads the pod as src/k8s/extender_protocol.h parsed it.
//
// The count is the one container's that asks for units (requests, or limits when requests do not
// name the resource; both given must agree). 1-9 units: a share of one GPU; 10k units: k whole
// GPUs (k <= 64); 0 or no such container: the pod does not ask. Refused, with one line naming the
// value: any other count, a quantity that is not a whole number, and a pod with more than one
// container (app or init) asking for units (the extender places one slice per pod).
#pragma once

#include <cstdint>
#include <string>

#include "k8s/extender_protocol.h"
#include "k8s/gpu_units_resource.h"
#include "sched/model.h"

namespace vxpu::extender {

inline constexpr int64_t kMilliPerUnit = sched::kMilliPerGpu / kUnitsPerGpu;

struct UnitRequest {
  std::string kind = "gpu";  // whose units: "gpu" (vxpu.io/gpu-units) or "npu" (vxpu.io/npu-units)
  bool asks = false;         // the pod asks for units
  std::string invalid;       // non-empty: the count is refused, and why
  int units = 0;             // 1-9, or a multiple of 10
  int64_t cpu_milli = 0;     // the pod's effective requests (max of the init containers', sum of the others')
  int64_t memory_mib = 0;    // rounded up

  bool fractional() const { return units < kUnitsPerGpu; }
  int whole_gpus() const { return units / kUnitsPerGpu; }
};

UnitRequest UnitRequestOf(const ExtenderPod& pod);

// The request as the Hi Scheduler's model states it: one GPU with units x 100 milli, or k whole
// GPUs; CPU and memory only when `with_cpu_memory`.
sched::PodRequest SchedRequestOf(const UnitRequest& request, bool with_cpu_memory);

// The pod's key for its pending placement: its uid, else namespace/name.
std::string PodKey(const ExtenderPod& pod);

}  // namespace vxpu::extender
