// `vxpu devices`: the accelerators this machine has, as NVML reports them.
#pragma once

namespace vxpu {

struct DevicesOptions {
  bool sim = false;  // read simgpu's NVML instead of the real driver's
  bool json = false;
};

int RunDevices(const DevicesOptions& options);

}  // namespace vxpu
