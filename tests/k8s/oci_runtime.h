// A real OCI runtime for the tests: containers of vxpu's image run by runc, as a node's
// containerd runs them. A container's spec is the image's root (read-only, shared), its command
// and environment, bind mounts and device nodes; FromAllocateAnswer adds a device plugin's
// Allocate answer exactly as containerd's CRI plugin turns it into the OCI spec (envs into the
// process environment, mounts into bind mounts, read-only ones remounted so, device specs into
// linux.devices and the device cgroup's allow list). The spec has no rlimits and no cgroup
// namespace: runc on this host's hybrid cgroups runs nothing else. Root only.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/child_process.h"
#include "k8s/proto/deviceplugin_v1beta1.pb.h"

namespace testkubelet {

struct OciMount {
  std::string source, destination;
  bool read_only = false;
};

struct OciDevice {
  std::string container_path, host_path, permissions;
};

struct OciSpec {
  std::vector<std::string> args;  // args[0] a path inside the image
  std::vector<std::string> env;   // "NAME=value", the image's first
  std::vector<OciMount> mounts;   // bind mounts, after the standard /proc, /dev, /sys, /tmp
  std::vector<OciDevice> devices;
  bool host_pid = false;      // hostPID: no pid namespace of its own
  bool host_network = false;  // hostNetwork
  bool privileged = false;    // every capability (the DaemonSet's securityContext.privileged)
};

// Adds `answer` to `spec` as containerd does.
void AddAllocateAnswer(const v1beta1::ContainerAllocateResponse& answer, OciSpec* spec);

// One container: `runc run` in the foreground, its output collected. Killed and deleted when
// dropped.
class RuncContainer {
 public:
  // `runc_root` holds runc's state, `bundles` the containers' bundles; `rootfs` is the image's.
  RuncContainer(std::string runc_root, std::string bundles, std::string rootfs);
  ~RuncContainer();

  // Writes the bundle's config.json and starts the container named `id`.
  bool Start(const std::string& id, const OciSpec& spec, std::string* error);
  // `runc kill ID SIG`: the runtime's own way to stop a container.
  bool Signal(const std::string& signal);
  // Waits for the container's end: its exit code (128 + signal if killed).
  int Wait() { return process_.Wait(); }
  bool running() {
    process_.Poll();
    return process_.running();
  }
  std::string output() {
    process_.Poll();
    return process_.output();
  }

 private:
  std::string runc_root_, bundles_, rootfs_, id_;
  vxpu::ChildProcess process_;
};

// `runc run` of `spec` to its end: its exit code and output.
struct ContainerResult {
  int exit_code = -1;
  std::string output;
};
ContainerResult RunToEnd(RuncContainer& container, const std::string& id, const OciSpec& spec);

}  // namespace testkubelet
