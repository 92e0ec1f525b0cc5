// kubelet's pod resources API (v1, List) as the device plugin reads it: which containers hold
// which of our units. It is how vxpud learns that a container ended (kubelet never tells a
// device plugin) and which pod a kubelet-owned slice serves.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace vxpu {

struct ContainerUnits {
  std::string pod_namespace;
  std::string pod;
  std::string container;
  std::vector<std::string> ids;  // of `resource` only
};

// The containers holding devices of `resource`, asked of kubelet on the unix socket `socket`;
// nullopt with *error if kubelet does not answer within two seconds.
std::optional<std::vector<ContainerUnits>> ListContainerUnits(const std::string& socket, const std::string& resource,
                                                              std::string* error);

}  // namespace vxpu
