// What a node's vxpud reports to vxpu-scheduler: its GPUs with their vxpu.io/gpu-units, read from
// `GET /v1/devices` (docs/agent.md; the units fields: docs/kubernetes.md, "Capacity the node
// reports"). Pure code: parsing only.
#pragma once

#include <string>
#include <vector>

namespace vxpu::extender {

struct GpuReport {
  int index = 0;
  std::string uuid;
  std::string name;  // the model, as NVML names it
  bool healthy = false;
  int units_total = 0;  // 10
  int units_free = 0;   // healthy units neither held by a k8s slice nor taken by local slices
  int units_held = 0;   // units k8s slices (kubelet's Allocate) hold

  bool operator==(const GpuReport&) const = default;
};

struct NodeReport {
  std::vector<GpuReport> gpus;  // by index
  std::vector<GpuReport> npus;  // the same for NPUs (vxpu.io/npu-units), by index

  bool operator==(const NodeReport&) const = default;
};

// Parses the body of `GET /v1/devices`: a JSON array of devices, each with index, uuid, name,
// healthy, units_total, units_free and units_held, and kind ("gpu", the default, or "npu"; other
// fields ignored). Refused (false, *error one line naming the field): not JSON, not an array, a
// missing or mistyped field, units outside 0..units_total or free + held above the total, two
// devices with one uuid or two of a kind with one index, more than 64.
bool ParseDevicesReport(const std::string& body, NodeReport* out, std::string* error);

}  // namespace vxpu::extender
