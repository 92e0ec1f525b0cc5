// The cluster model of the Hi Scheduler: what a node offers, what a pod asks for, and where a
// pod was put. Compute shares are in milli-GPU (1000 = one whole GPU); the trace's arbitrary
// shares and vXPU's 10% steps both fit. Plain data, no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vxpu::sched {

inline constexpr int64_t kMilliPerGpu = 1000;
inline constexpr int kMaxGpusPerNode = 64;  // GPU sets are 64-bit masks
inline constexpr int kMaxGpuModels = 64;    // allowed-model sets are 64-bit masks
inline constexpr int kNoGpuModel = -1;

using GpuMask = uint64_t;  // bit i set: GPU i of the node

struct NodeSpec {
  std::string name;
  int64_t cpu_milli = 0;
  int64_t memory_mib = 0;
  int gpu_count = 0;
  int gpu_model = kNoGpuModel;  // index into the cluster's model names
  int64_t gpu_memory_mib = 0;   // per GPU; 0 when unknown (then no per-GPU memory limit applies)
};

struct PodRequest {
  int64_t cpu_milli = 0;
  int64_t memory_mib = 0;
  int num_gpu = 0;
  int64_t gpu_milli = 0;        // share of each GPU; kMilliPerGpu for whole GPUs
  int64_t gpu_memory_mib = 0;   // per GPU; 0 when the pod states none
  uint64_t allowed_models = 0;  // bit m set: model m allowed; 0: any model

  bool UsesGpu() const { return num_gpu > 0; }
  bool SharesGpu() const { return num_gpu == 1 && gpu_milli < kMilliPerGpu; }
  int64_t TotalGpuMilli() const { return num_gpu * gpu_milli; }
  bool AllowsModel(int model) const { return allowed_models == 0 || (model >= 0 && (allowed_models >> model) & 1); }
};

// Where a pod went: a node and the GPUs it uses there, each holding `gpu_milli` of the pod.
struct Placement {
  int node = -1;
  GpuMask gpus = 0;
  int64_t gpu_milli = 0;

  bool placed() const { return node >= 0; }
};

// Empty when the request is well formed; otherwise why not. Multi-GPU pods take whole GPUs.
std::string ValidateRequest(const PodRequest& pod);

// Empty when the node is well formed; otherwise why not.
std::string ValidateNode(const NodeSpec& node);

}  // namespace vxpu::sched
