// The GPUs a CLI command works with: simgpu's (read through its NVML) with --sim, else the
// real driver's. One snapshot, with the processes and usage NVML reports.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "backend/nvml_client.h"

namespace vxpu {

// The devices, or nullopt with *error saying why they cannot be listed.
std::optional<std::vector<GpuDevice>> ListDevices(bool sim, std::string* error);

// The devices `selection` names, as CUDA_VISIBLE_DEVICES would: a comma-separated list of
// ordinals or UUIDs (a unique UUID prefix will do). nullopt with *error naming the entry that
// matches no device, or matches several.
std::optional<std::vector<GpuDevice>> SelectDevices(const std::vector<GpuDevice>& devices, const std::string& selection,
                                                    std::string* error);

}  // namespace vxpu
