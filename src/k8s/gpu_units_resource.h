// The Kubernetes resources vxpu offers (docs/kubernetes.md, "Resource model"): their names, and how
// many units one device is: one resource per device kind, the same ten-unit model. The device
// plugin (node/gpu_units.h) and the extender (src/extender) both count in them, so they are
// stated once, here.
#pragma once

namespace vxpu {

inline constexpr int kUnitsPerGpu = 10;
inline constexpr char kUnitsResource[] = "vxpu.io/gpu-units";
inline constexpr char kNpuUnitsResource[] = "vxpu.io/npu-units";

// The resource of device kind `kind` ("gpu", "npu").
inline const char* UnitsResourceOf(const char* kind) { return kind[0] == 'n' ? kNpuUnitsResource : kUnitsResource; }

}  // namespace vxpu
