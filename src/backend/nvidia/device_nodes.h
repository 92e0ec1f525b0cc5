// The device nodes a process needs to use NVIDIA GPUs: /dev/nvidia<index> of each GPU (its NVML
// index is taken to be its minor number) and the driver's shared nodes (nvidiactl, nvidia-uvm,
// nvidia-uvm-tools). What a container is given besides its slice's edits (slice/slice_edits.h).
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace vxpu {

// The host paths under `dev_dir` of the nodes for the GPUs of NVML indices `indices`, those
// that `exists`.
std::vector<std::string> GpuDeviceNodes(const std::vector<unsigned>& indices, const std::string& dev_dir,
                                        const std::function<bool(const std::string&)>& exists);

}  // namespace vxpu
