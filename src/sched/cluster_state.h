// ClusterState: the free resources of every node, updated in place as pods are placed and
// removed. Each update touches only the one node it concerns. Placing a pod where it does not
// fit, or removing one that is not there, throws std::logic_error: the state never
// over-allocates a GPU or a node.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "sched/model.h"

namespace vxpu::sched {

class ClusterState {
 public:
  ClusterState(std::vector<NodeSpec> nodes, std::vector<std::string> model_names);

  int node_count() const { return static_cast<int>(nodes_.size()); }
  const NodeSpec& spec(int node) const { return nodes_[node]; }
  const std::vector<std::string>& model_names() const { return model_names_; }

  int64_t cpu_free(int node) const { return free_[node].cpu_milli; }
  int64_t memory_free(int node) const { return free_[node].memory_mib; }
  std::span<const int32_t> gpu_free(int node) const;  // milli-GPU free on each GPU
  int64_t gpu_free_total(int node) const { return free_[node].gpu_milli_total; }
  int whole_free_gpus(int node) const { return free_[node].whole_free_gpus; }
  int pods_on(int node) const { return free_[node].pods; }

  // True when `pod` fits on `node`: CPU, memory, model, and enough GPUs that can each take its share.
  bool Fits(const PodRequest& pod, int node) const;
  // True when GPU `gpu` of `node` can take one share of `pod` (share and GPU memory).
  bool GpuCanTake(const PodRequest& pod, int node, int gpu) const;

  void Place(const PodRequest& pod, const Placement& where);
  void Remove(const PodRequest& pod, const Placement& where);

  int64_t total_gpu_milli() const { return total_gpu_milli_; }
  int64_t allocated_gpu_milli() const { return allocated_gpu_milli_; }

 private:
  struct NodeFree {
    int64_t cpu_milli;
    int64_t memory_mib;
    int64_t gpu_milli_total;
    int whole_free_gpus;
    int pods;
  };

  void CheckPlacement(const PodRequest& pod, const Placement& where) const;
  void ApplyGpus(int node, GpuMask gpus, int64_t milli, int64_t memory_mib);

  std::vector<NodeSpec> nodes_;
  std::vector<std::string> model_names_;
  std::vector<NodeFree> free_;
  std::vector<size_t> gpu_offset_;        // first GPU of each node in the flat arrays
  std::vector<int32_t> gpu_milli_free_;   // per GPU
  std::vector<int64_t> gpu_memory_free_;  // per GPU, MiB; meaningful only where the model's memory is known
  int64_t total_gpu_milli_ = 0;
  int64_t allocated_gpu_milli_ = 0;
};

}  // namespace vxpu::sched
