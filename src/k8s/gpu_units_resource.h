// The Kubernetes resource vxpu offers (docs/kubernetes.md, "Resource model"): its name, and how many
// units one GPU is. The device plugin (node/gpu_units.h) and the extender (src/extender) both
// count in it, so it is stated once, here.
#pragma once

namespace vxpu {

inline constexpr int kUnitsPerGpu = 10;
inline constexpr char kUnitsResource[] = "vxpu.io/gpu-units";

}  // namespace vxpu
