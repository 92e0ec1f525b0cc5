// What a container needs to run under its slice without the image's cooperation (the answer of
// the device plugin's Allocate, docs/kubernetes.md): the VXPU_* settings `vxpu run` sets, the
// GPUs named for the NVIDIA runtime and CUDA, libvxpu.so and an /etc/ld.so.preload naming it
// mounted in so every process of the container is preloaded, the slice's registered terms
// mounted read-only (they prevail over the VXPU_* settings), the state directory mounted where
// the host has it, and the GPUs' device nodes. Pure: file existence is asked of `exists`.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "agent_api/node_view.h"
#include "agent_api/slice.h"

namespace vxpu {

struct ContainerMount {
  std::string container_path;
  std::string host_path;
  bool read_only = true;
};

struct ContainerDevice {
  std::string container_path;
  std::string host_path;
  std::string permissions = "rw";
};

struct ContainerEdits {
  std::map<std::string, std::string> env;
  std::vector<ContainerMount> mounts;
  std::vector<ContainerDevice> devices;
};

// Where the plugin's files are on the host.
struct PluginPaths {
  std::string state_dir;     // the slices' shared state; the same path inside the container
  std::string host_lib_dir;  // holds lib/libvxpu.so and ld.so.preload (InstallHostLib)
  std::string dev_dir = "/dev";
};

inline constexpr char kContainerPreload[] = "/etc/ld.so.preload";

// Where the terms files that containers get mounted are kept: <host_lib_dir>/slices.
std::string TermsDir(const PluginPaths& paths);

// The edits for a container running under `slice` (one of SliceForUnits's).
ContainerEdits EditsForSlice(const SliceSpec& slice, const std::vector<DeviceView>& devices, const PluginPaths& paths,
                             const std::function<bool(const std::string&)>& exists);

// Copies `interposer` to <host_lib_dir>/lib/libvxpu.so and writes <host_lib_dir>/ld.so.preload
// naming it, each replaced atomically (a running container keeps the file it has). False with
// *error naming the path that failed.
bool InstallHostLib(const std::string& interposer, const std::string& host_lib_dir, std::string* error);

}  // namespace vxpu
