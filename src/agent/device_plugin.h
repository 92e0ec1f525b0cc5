// The kubelet device plugin inside vxpud (kubelet's device plugin API v1beta1; the resource model
// is docs/kubernetes.md's): one per device kind, it serves `vxpu.io/<kind>-units` (gpu-units,
// npu-units) on <dir>/vxpu-<kind>-units.sock and registers on <dir>/kubelet.sock. Each resource
// has its own device IDs (units of its kind's devices), so Allocate stays race-free per resource. A watcher thread
// keeps it so: when kubelet restarts (it deletes the plugin sockets and makes kubelet.sock anew) the plugin serves
// again and re-registers within a second; while kubelet is away it waits for it.
//
// ListAndWatch streams the units' health whenever it changes (GPU health, units local slices
// take); Allocate turns the device IDs of each container into its slice (NodeAgent::AllocateUnits)
// and answers with the container's edits (slice/slice_edits.h). Each poll the watcher reads
// kubelet's pod resources (pod_resources.h) so that the slices of ended containers go
// (NodeAgent::ReconcileWithKubelet). Every RPC validates what kubelet
// sends: a bad ID fails that call with INVALID_ARGUMENT and a message naming it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "agent/node_agent.h"
#include "slice/slice_edits.h"

namespace grpc {
class Server;
}

namespace vxpu {

class PluginService;

struct DevicePluginOptions {
  std::string dir;           // kubelet's device-plugins directory
  std::string kind = "gpu";  // whose units it serves: "gpu" or "npu"
  PluginPaths paths;
  double poll_seconds = 1.0;         // how often ListAndWatch looks for changes, and pod resources are read
  std::string pod_resources_socket;  // kubelet's pod resources API
};

class DevicePlugin {
 public:
  // <dir>/vxpu-<kind>-units.sock
  static std::string SocketName(const std::string& kind) { return "vxpu-" + kind + "-units.sock"; }

  // Starts serving and the watcher (registration happens as soon as kubelet.sock is there).
  static std::unique_ptr<DevicePlugin> Start(NodeAgent* agent, const DevicePluginOptions& options, NodeAgent::Log log);
  ~DevicePlugin();  // stops serving, removes the plugin socket

  DevicePlugin(const DevicePlugin&) = delete;
  DevicePlugin& operator=(const DevicePlugin&) = delete;

 private:
  DevicePlugin(NodeAgent* agent, DevicePluginOptions options, NodeAgent::Log log);
  void Watch();
  bool Serve();
  void StopServing();
  bool Register();
  void ReadPodResources();

  NodeAgent* agent_;
  DevicePluginOptions options_;
  NodeAgent::Log log_;
  std::unique_ptr<PluginService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::string resource_;  // vxpu.io/<kind>-units
  std::string socket_;
  std::string kubelet_socket_;
  std::string registered_with_;  // identity of the kubelet.sock last registered on
  std::string last_failure_;     // logged once until it changes
  std::string last_pod_resources_failure_;
  std::chrono::steady_clock::time_point next_pod_resources_read_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread watcher_;
};

}  // namespace vxpu
