#include "agent/pod_resources.h"

#include <grpcpp/grpcpp.h>

#include <chrono>

#include "k8s/proto/podresources_v1.grpc.pb.h"

namespace vxpu {

std::optional<std::vector<ContainerUnits>> ListContainerUnits(const std::string& socket, const std::string& resource,
                                                              std::string* error) {
  auto stub =
      ::v1::PodResourcesLister::NewStub(grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  ::v1::ListPodResourcesResponse response;
  grpc::Status status = stub->List(&context, ::v1::ListPodResourcesRequest(), &response);
  if (!status.ok()) {
    *error = "pod resources " + socket + ": " + status.error_message();
    return std::nullopt;
  }
  std::vector<ContainerUnits> out;
  for (const ::v1::PodResources& pod : response.pod_resources()) {
    for (const ::v1::ContainerResources& c : pod.containers()) {
      ContainerUnits units{pod.namespace_(), pod.name(), c.name(), {}};
      for (const ::v1::ContainerDevices& d : c.devices()) {
        if (d.resource_name() == resource)
          units.ids.insert(units.ids.end(), d.device_ids().begin(), d.device_ids().end());
      }
      if (!units.ids.empty()) out.push_back(std::move(units));
    }
  }
  return out;
}

}  // namespace vxpu
