// Where vxpu's programs find their companions: the interposer, simgpu, the remote client and the
// helper programs. Installed (`cmake --install`, the packages: FHS) they are in
// <prefix>/lib/vxpu/ beside <prefix>/bin/; in the build tree, in lib/ beside bin/ (helpers in
// bin/). The installed layout is recognised by lib/vxpu/libvxpu.so.
#pragma once

#include <string>

namespace vxpu {

// Directory of the running vxpu executable.
std::string ExecutableDir();

// vxpu's own library directory: <exe>/../lib/vxpu installed, else <exe>/../lib; or the one
// UseLibDir named.
std::string LibDir();

// For vxpu code loaded into another program (the Slurm plugin): vxpu's libraries are in `dir`
// (the plugin's own directory), not beside the program.
void UseLibDir(const std::string& dir);

// simgpu's libcuda.so.1 / libnvidia-ml.so.1: $VXPU_SIMGPU_DIR, else LibDir()/simgpu.
std::string SimgpuDir();

// simnpu's libascendcl.so / libruntime.so / libdcmi.so: $VXPU_SIMNPU_DIR, else LibDir()/simnpu.
std::string SimnpuDir();

// The interposer: $VXPU_INTERPOSER, else LibDir()/libvxpu.so.
std::string InterposerPath();

// The remote client's libcuda.so.1 / libnvidia-ml.so.1: LibDir()/remote.
std::string RemoteClientDir();

// A program of vxpu's (e.g. "vxpu", "vxpu-burn"): beside the running one, else in LibDir()
// (where the installed layout keeps helpers).
std::string CompanionPath(const std::string& name);

bool FileExists(const std::string& path);

// True if the real NVIDIA driver (libcuda.so.1) can be loaded.
bool RealDriverPresent();

// True if Ascend's AscendCL (libascendcl.so) can be loaded.
bool RealAscendPresent();

}  // namespace vxpu
