// Starts a process the way a container runtime starts a container's from a device plugin's
// Allocate answer: in new mount and pid namespaces, with the answer's mounts bound in (an
// /etc/ld.so.preload the host lacks is made in an overlay, the host's /etc untouched), /proc
// of its own, and exactly the answer's environment plus `extra_env`. Root only.
#pragma once

#include <string>
#include <vector>

#include "k8s/proto/deviceplugin_v1beta1.pb.h"

namespace testkubelet {

struct ContainerRun {
  int exit_code = -1;  // 128 + signal if killed; -1 if it could not start
  std::string output;  // its standard output
};

// Runs `argv` (argv[0] a path) to completion inside the container.
ContainerRun RunInContainer(const v1beta1::ContainerAllocateResponse& answer, const std::vector<std::string>& argv,
                            const std::vector<std::string>& extra_env);

}  // namespace testkubelet
