#include "sched/cluster_state.h"

#include <bit>
#include <stdexcept>

namespace vxpu::sched {

ClusterState::ClusterState(std::vector<NodeSpec> nodes, std::vector<std::string> model_names)
    : nodes_(std::move(nodes)), model_names_(std::move(model_names)) {
  free_.reserve(nodes_.size());
  gpu_offset_.reserve(nodes_.size());
  for (const NodeSpec& node : nodes_) {
    if (std::string why = ValidateNode(node); !why.empty()) throw std::invalid_argument(node.name + ": " + why);
    gpu_offset_.push_back(gpu_milli_free_.size());
    for (int g = 0; g < node.gpu_count; ++g) {
      gpu_milli_free_.push_back(static_cast<int32_t>(kMilliPerGpu));
      gpu_memory_free_.push_back(node.gpu_memory_mib);
    }
    free_.push_back({node.cpu_milli, node.memory_mib, node.gpu_count * kMilliPerGpu, node.gpu_count, 0});
    total_gpu_milli_ += node.gpu_count * kMilliPerGpu;
  }
}

std::span<const int32_t> ClusterState::gpu_free(int node) const {
  return {gpu_milli_free_.data() + gpu_offset_[node], static_cast<size_t>(nodes_[node].gpu_count)};
}

bool ClusterState::GpuCanTake(const PodRequest& pod, int node, int gpu) const {
  size_t i = gpu_offset_[node] + gpu;
  if (gpu_milli_free_[i] < pod.gpu_milli) return false;
  return pod.gpu_memory_mib == 0 || nodes_[node].gpu_memory_mib == 0 || gpu_memory_free_[i] >= pod.gpu_memory_mib;
}

bool ClusterState::Fits(const PodRequest& pod, int node) const {
  const NodeFree& f = free_[node];
  if (f.cpu_milli < pod.cpu_milli || f.memory_mib < pod.memory_mib) return false;
  if (!pod.UsesGpu()) return true;
  if (!pod.AllowsModel(nodes_[node].gpu_model)) return false;
  if (pod.gpu_milli == kMilliPerGpu && pod.gpu_memory_mib == 0) return f.whole_free_gpus >= pod.num_gpu;
  int usable = 0;
  for (int g = 0; g < nodes_[node].gpu_count && usable < pod.num_gpu; ++g) usable += GpuCanTake(pod, node, g);
  return usable >= pod.num_gpu;
}

void ClusterState::CheckPlacement(const PodRequest& pod, const Placement& where) const {
  if (where.node < 0 || where.node >= node_count()) throw std::logic_error("placement on a node that does not exist");
  if (where.gpu_milli != (pod.UsesGpu() ? pod.gpu_milli : 0) || std::popcount(where.gpus) != pod.num_gpu) {
    throw std::logic_error("placement does not match the pod's GPU request");
  }
  int gpu_count = nodes_[where.node].gpu_count;
  if (gpu_count < kMaxGpusPerNode && (where.gpus >> gpu_count) != 0) {
    throw std::logic_error("placement names a GPU the node does not have");
  }
}

void ClusterState::ApplyGpus(int node, GpuMask gpus, int64_t milli, int64_t memory_mib) {
  NodeFree& f = free_[node];
  for (int g = 0; g < nodes_[node].gpu_count; ++g) {
    if (!((gpus >> g) & 1)) continue;
    size_t i = gpu_offset_[node] + g;
    f.whole_free_gpus -= gpu_milli_free_[i] == kMilliPerGpu;
    gpu_milli_free_[i] = static_cast<int32_t>(gpu_milli_free_[i] - milli);
    gpu_memory_free_[i] -= memory_mib;
    f.whole_free_gpus += gpu_milli_free_[i] == kMilliPerGpu;
  }
  f.gpu_milli_total -= milli * std::popcount(gpus);
  allocated_gpu_milli_ += milli * std::popcount(gpus);
}

void ClusterState::Place(const PodRequest& pod, const Placement& where) {
  CheckPlacement(pod, where);
  NodeFree& f = free_[where.node];
  if (f.cpu_milli < pod.cpu_milli || f.memory_mib < pod.memory_mib) {
    throw std::logic_error("placement over-allocates the CPU or memory of " + nodes_[where.node].name);
  }
  if (pod.UsesGpu() && !pod.AllowsModel(nodes_[where.node].gpu_model)) {
    throw std::logic_error("placement on a GPU model the pod does not allow");
  }
  for (int g = 0; g < nodes_[where.node].gpu_count; ++g) {
    if (((where.gpus >> g) & 1) && !GpuCanTake(pod, where.node, g)) {
      throw std::logic_error("placement over-allocates GPU " + std::to_string(g) + " of " + nodes_[where.node].name);
    }
  }
  f.cpu_milli -= pod.cpu_milli;
  f.memory_mib -= pod.memory_mib;
  f.pods += 1;
  ApplyGpus(where.node, where.gpus, pod.gpu_milli, pod.gpu_memory_mib);
}

void ClusterState::Remove(const PodRequest& pod, const Placement& where) {
  CheckPlacement(pod, where);
  const NodeSpec& spec = nodes_[where.node];
  NodeFree& f = free_[where.node];
  if (f.pods == 0 || f.cpu_milli + pod.cpu_milli > spec.cpu_milli || f.memory_mib + pod.memory_mib > spec.memory_mib) {
    throw std::logic_error("removing a pod that is not on " + spec.name);
  }
  for (int g = 0; g < spec.gpu_count; ++g) {
    if (((where.gpus >> g) & 1) && gpu_milli_free_[gpu_offset_[where.node] + g] + pod.gpu_milli > kMilliPerGpu) {
      throw std::logic_error("removing a share that GPU " + std::to_string(g) + " of " + spec.name + " does not hold");
    }
  }
  f.cpu_milli += pod.cpu_milli;
  f.memory_mib += pod.memory_mib;
  f.pods -= 1;
  ApplyGpus(where.node, where.gpus, -pod.gpu_milli, -pod.gpu_memory_mib);
}

}  // namespace vxpu::sched
