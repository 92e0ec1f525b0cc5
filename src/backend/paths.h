// Where the CLI finds its companions: the simulated driver and the sample workloads live
// beside the vxpu binary (build tree: bin/ and lib/simgpu/; install: the same layout).
#pragma once

#include <string>

namespace vxpu {

// Directory of the running vxpu executable.
std::string ExecutableDir();

// simgpu's libcuda.so.1 / libnvidia-ml.so.1: $VXPU_SIMGPU_DIR, else <exe>/../lib/simgpu.
std::string SimgpuDir();

// The interposer: $VXPU_INTERPOSER, else <exe>/../lib/libvxpu.so.
std::string InterposerPath();

// The remote client's libcuda.so.1 / libnvidia-ml.so.1: <exe>/../lib/remote.
std::string RemoteClientDir();

// A program installed beside vxpu (e.g. "vxpu-burn").
std::string CompanionPath(const std::string& name);

bool FileExists(const std::string& path);

// True if the real NVIDIA driver (libcuda.so.1) can be loaded.
bool RealDriverPresent();

}  // namespace vxpu
