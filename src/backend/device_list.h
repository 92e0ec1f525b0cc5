// The devices a command works with: every vendor's (backend/device_backend.h), read from the
// simulators with --sim, else from the real drivers. One snapshot, with the processes and usage
// each backend reports.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "backend/device.h"

namespace vxpu {

// The devices of every vendor whose backend answers, or nullopt with *error saying why none
// does.
std::optional<std::vector<Device>> ListDevices(bool sim, std::string* error);

// The devices `selection` names: a comma-separated list of GPU ordinals (as CUDA_VISIBLE_DEVICES
// has them), kinds and ordinals ("gpu0", "npu1") or UUIDs (a unique UUID prefix will do). nullopt with *error naming
// the entry that matches no device, or matches several.
std::optional<std::vector<Device>> SelectDevices(const std::vector<Device>& devices, const std::string& selection,
                                                 std::string* error);

}  // namespace vxpu
