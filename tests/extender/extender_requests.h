// Test support: extender requests in the real wire format (a core/v1 Pod as kube-scheduler
// marshals it, NodeNames for a nodeCacheCapable extender or whole Node objects otherwise), and
// node reports in the shape vxpud's GET /v1/devices gives them.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "extender/node_report.h"

namespace vxpu::extender::test {

using nlohmann::json;

struct PodSpec {
  std::string name = "train-0";
  std::string uid;    // "" : none (the key is namespace/name)
  std::string units;  // the resource's limit (and request); "" : the pod does not ask
  std::string resource = "vxpu.io/gpu-units";
  std::string cpu = "1";       // requests
  std::string memory = "1Gi";  // requests
};

inline PodSpec Pod(std::string units, std::string uid = "", std::string name = "train-0") {
  PodSpec spec;
  spec.units = std::move(units);
  spec.uid = std::move(uid);
  spec.name = std::move(name);
  return spec;
}

inline json PodJson(const PodSpec& spec) {
  json resources = {{"requests", {{"cpu", spec.cpu}, {"memory", spec.memory}}}, {"limits", json::object()}};
  if (!spec.units.empty()) {
    resources["limits"][spec.resource] = spec.units;
    resources["requests"][spec.resource] = spec.units;
  }
  return {{"metadata", {{"name", spec.name}, {"namespace", "ml"}, {"uid", spec.uid}, {"labels", {{"app", "t"}}}}},
          {"spec",
           {{"containers", json::array({{{"name", "main"}, {"image", "pytorch/pytorch"}, {"resources", resources}}})},
            {"schedulerName", "default-scheduler"}}},
          {"status", {{"phase", "Pending"}}}};
}

// A core/v1 Node with an InternalIP.
inline json NodeJson(const std::string& name, const std::string& ip = "10.0.0.1") {
  return {{"metadata", {{"name", name}, {"labels", {{"kubernetes.io/hostname", name}}}}},
          {"spec", {{"podCIDR", "10.244.1.0/24"}}},
          {"status",
           {{"allocatable", {{"cpu", "16"}, {"memory", "128Gi"}, {"vxpu.io/gpu-units", "80"}}},
            {"addresses",
             json::array({{{"type", "InternalIP"}, {"address", ip}}, {{"type", "Hostname"}, {"address", name}}})}}}};
}

// ExtenderArgs as kube-scheduler sends them to a nodeCacheCapable extender.
inline std::string ArgsWithNames(const PodSpec& pod, const std::vector<std::string>& nodes) {
  return json{{"Pod", PodJson(pod)}, {"Nodes", nullptr}, {"NodeNames", nodes}}.dump();
}

// ExtenderArgs as kube-scheduler sends them to an extender that is not nodeCacheCapable.
inline std::string ArgsWithNodes(const PodSpec& pod, const std::vector<json>& nodes) {
  return json{
      {"Pod", PodJson(pod)}, {"Nodes", {{"metadata", json::object()}, {"items", nodes}}}, {"NodeNames", nullptr}}
      .dump();
}

// A node's report: one GPU per entry of `free` (held units in `held`, default 0), all healthy.
inline NodeReport Gpus(const std::string& node, const std::vector<int>& free, const std::vector<int>& held = {},
                       const std::string& model = "NVIDIA H100 80GB HBM3") {
  NodeReport report;
  for (size_t i = 0; i < free.size(); ++i) {
    report.gpus.push_back({static_cast<int>(i), "GPU-" + node + "-" + std::to_string(i), model, true, 10, free[i],
                           i < held.size() ? held[i] : 0});
  }
  return report;
}

// A pod asking `units` of vxpu.io/npu-units.
inline PodSpec NpuPod(std::string units, std::string uid = "") {
  PodSpec spec = Pod(std::move(units), std::move(uid));
  spec.resource = "vxpu.io/npu-units";
  return spec;
}

}  // namespace vxpu::extender::test
