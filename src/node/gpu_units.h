// The Kubernetes resource model (docs/kubernetes.md): each GPU is ten units, `vxpu.io/gpu-units`,
// one unit being 10% of its compute and of its memory. A unit's device ID names its GPU and its
// number ("GPU-...-u7"), so the slice a container gets follows from the IDs kubelet passes to
// Allocate alone. Pure: the device plugin, the agent's device view and the tests share it.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "k8s/gpu_units_resource.h"
#include "node/node_view.h"
#include "node/slice.h"

namespace vxpu {

struct UnitId {
  std::string device;  // GPU UUID
  unsigned unit = 0;   // 0..9
  bool operator==(const UnitId&) const = default;
};

// "<uuid>-u<k>", and back (nullopt with *error naming the bad ID).
std::string UnitIdText(const UnitId& id);
std::optional<UnitId> ParseUnitId(const std::string& text, std::string* error);

// Free: offered to kubelet. Held: a kubelet-owned slice has it. Taken: local slices (vxpu run)
// use that much of the GPU. Unhealthy: the GPU is.
enum class UnitState : uint8_t { kFree, kHeld, kTaken, kUnhealthy };
using GpuUnits = std::array<UnitState, kUnitsPerGpu>;

// The units of `device` given every slice of the node. Local slices take
// max(ceil(compute / 10%), ceil((quota + reserve) / (memory / 10))) units, the highest-numbered
// ones not held.
GpuUnits UnitsOf(const DeviceView& device, const std::vector<SliceRecord>& slices, uint64_t context_reserve);

// The units a kubelet-owned slice holds (from its name: "k8s-<uuid>-u<digits>" holds those
// units of its device, "k8s-<uuid>-w<n>" all units of each of its devices); empty for others.
std::vector<UnitId> HeldUnits(const SliceRecord& slice);

// The slice for the units kubelet allocated to one container: 1-9 units of one GPU, or all ten
// units of each of its GPUs (docs/kubernetes.md gives the terms). nullopt with *error otherwise.
// The owner is left for the caller to fill.
std::optional<SliceSpec> SliceForUnits(const std::vector<std::string>& ids, const std::vector<DeviceView>& devices,
                                       uint64_t context_reserve, std::string* error);

// `size` IDs from `available` (which includes `must_include`) that make a valid slice if there
// are any: for 1-9 units, on the GPU with the fewest available units that has enough (the
// earliest such GPU in `devices` on a tie); for 10k, k GPUs with all units available. Otherwise
// the first `size` of must_include and then available, which Allocate will refuse.
std::vector<std::string> PreferredUnits(const std::vector<std::string>& available,
                                        const std::vector<std::string>& must_include, size_t size,
                                        const std::vector<DeviceView>& devices);

}  // namespace vxpu
