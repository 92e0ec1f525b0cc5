// What a process needs to run under its slice, in the words every launcher speaks: environment,
// mounts, device nodes. For `vxpu run` (and vxpu remoted) the process is started here: the
// VXPU_* settings and the preload go into its environment. For a container (the device plugin's
// Allocate answer, docs/kubernetes.md) the image does not cooperate: libvxpu.so and an
// /etc/ld.so.preload naming it are mounted in so every process of the container is preloaded,
// the slice's registered terms are mounted read-only (they prevail over the VXPU_* settings),
// the state directory is mounted where the host has it, and the devices' nodes are passed in.
// Vendor-free: the device nodes come from the device's backend. Pure but for InstallHostLib.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "node/slice.h"

namespace vxpu {

struct SliceMount {
  std::string container_path;
  std::string host_path;
  bool read_only = true;
};

struct DeviceNode {
  std::string container_path;
  std::string host_path;
  std::string permissions = "rw";
};

struct SliceEdits {
  std::map<std::string, std::string> env;  // an empty value: the variable is to be unset
  std::vector<SliceMount> mounts;
  std::vector<DeviceNode> devices;
};

// The slice's terms as the interposer reads them from the environment, each as text ("" for
// none: unset, so that an inherited one never applies).
struct SliceEnvTerms {
  std::string slice;
  std::string memory;         // a size or a percentage of each device
  std::string compute;        // percent
  std::string compute_limit;  // percent
  std::string priority;       // "normal" or "high"; "" without compute
};

// VXPU_SLICE, VXPU_MEMORY, VXPU_COMPUTE, VXPU_COMPUTE_LIMIT, VXPU_PRIORITY for `terms`.
std::map<std::string, std::string> SliceEnvironment(const SliceEnvTerms& terms);

// Where the files containers get mounted are on the host.
struct PluginPaths {
  std::string state_dir;     // the slices' shared state; the same path inside the container
  std::string host_lib_dir;  // holds lib/libvxpu.so and ld.so.preload (InstallHostLib)
  std::string dev_dir = "/dev";
};

inline constexpr char kContainerPreload[] = "/etc/ld.so.preload";

// Where the terms files that containers get mounted are kept: <host_lib_dir>/slices.
std::string TermsDir(const PluginPaths& paths);

// The edits for a container running under the registered `slice`, whose devices' nodes (host
// paths under paths.dev_dir, those that exist) are `device_nodes`.
SliceEdits ContainerEditsFor(const SliceSpec& slice, const std::vector<std::string>& device_nodes,
                             const PluginPaths& paths);

// Copies `interposer` to <host_lib_dir>/lib/libvxpu.so and writes <host_lib_dir>/ld.so.preload
// naming it, each replaced atomically (a running container keeps the file it has). False with
// *error naming the path that failed.
bool InstallHostLib(const std::string& interposer, const std::string& host_lib_dir, std::string* error);

}  // namespace vxpu
