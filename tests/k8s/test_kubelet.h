// A test kubelet: the kubelet's side of the device plugin API v1beta1 and of the pod resources
// API v1, built from the same .protos as the plugin. It serves Registration on
// <dir>/kubelet.sock (checking each request as kubelet does) and PodResourcesLister on the
// socket given (listing what the test says containers hold), restarts as kubelet does (plugin
// sockets deleted, kubelet.sock made anew), and is a DevicePlugin client: it watches
// ListAndWatch and calls the allocation RPCs.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "k8s/proto/deviceplugin_v1beta1.grpc.pb.h"
#include "k8s/proto/podresources_v1.grpc.pb.h"

namespace testkubelet {

class RegistrationService;
class PodResourcesService;

// A container and the device IDs of one resource kubelet allocated to it.
struct HeldDevices {
  std::string pod_namespace, pod, container, resource;
  std::vector<std::string> ids;
};

class TestKubelet {
 public:
  TestKubelet(std::string dir, std::string pod_resources_socket);
  ~TestKubelet();

  bool Start();
  void Stop();
  // As kubelet restarting: stops, deletes every socket in the directory (unless told not to:
  // then only kubelet.sock is made anew), starts anew.
  bool Restart(bool delete_plugin_sockets = true);

  // Registrations accepted so far.
  std::vector<v1beta1::RegisterRequest> registrations();
  // Waits until `count` registrations were accepted.
  bool WaitForRegistrations(size_t count, std::chrono::milliseconds timeout);
  // Requests refused (with why), for the tests of bad input.
  std::vector<std::string> refusals();

  // What pod resources' List answers from now on.
  void SetHeld(std::vector<HeldDevices> held);

  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::string pod_resources_socket_;
  std::unique_ptr<RegistrationService> service_;
  std::unique_ptr<PodResourcesService> pod_resources_;
  std::unique_ptr<grpc::Server> server_;
};

// A connection to a plugin's socket, as kubelet's device manager makes after Register.
class PluginClient {
 public:
  explicit PluginClient(const std::string& socket);
  ~PluginClient();

  grpc::Status Options(v1beta1::DevicePluginOptions* out);
  // Starts reading ListAndWatch in the background.
  void Watch();
  // Waits until the latest list satisfies `condition` (id -> health).
  bool WaitForList(const std::function<bool(const std::map<std::string, std::string>&)>& condition,
                   std::chrono::milliseconds timeout);
  std::map<std::string, std::string> latest();
  size_t lists_received();
  bool watch_ended();

  grpc::Status Preferred(const std::vector<std::string>& available, const std::vector<std::string>& must_include,
                         int size, std::vector<std::string>* out);
  grpc::Status Allocate(const std::vector<std::vector<std::string>>& containers, v1beta1::AllocateResponse* out);

 private:
  std::unique_ptr<v1beta1::DevicePlugin::Stub> stub_;
  std::unique_ptr<grpc::ClientContext> watch_context_;
  std::thread watcher_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::map<std::string, std::string> latest_;
  size_t lists_ = 0;
  bool ended_ = false;
};

}  // namespace testkubelet
