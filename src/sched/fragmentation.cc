#include "sched/fragmentation.h"

#include <algorithm>
#include <functional>

namespace vxpu::sched {
namespace {

// Milli-GPUs of `node` that typical pod `pod` could not use.
int64_t FragmentFor(const NodeShape& node, const PodRequest& pod, int64_t idle_total) {
  if (!pod.UsesGpu() || !pod.AllowsModel(node.gpu_model) || node.cpu_free < pod.cpu_milli) return idle_total;
  int usable = 0;
  int64_t too_small = 0;
  for (int32_t free : node.gpu_free) {
    if (free >= pod.gpu_milli) {
      ++usable;
    } else {
      too_small += free;
    }
  }
  return usable >= pod.num_gpu ? too_small : idle_total;
}

}  // namespace

double NodeFragmentation(const NodeShape& node, const TypicalPods& typical) {
  int64_t idle_total = 0;
  for (int32_t free : node.gpu_free) idle_total += free;
  if (idle_total == 0) return 0;
  double fragmented = 0;
  for (const TypicalPod& t : typical)
    fragmented += t.probability * static_cast<double>(FragmentFor(node, t.shape, idle_total));
  return fragmented;
}

size_t FragmentationMemo::KeyHash::operator()(const Key& key) const {
  uint64_t h = static_cast<uint64_t>(key.cpu_free) * 0x9e3779b97f4a7c15ULL;
  h ^= (static_cast<uint64_t>(static_cast<uint32_t>(key.gpu_model)) << 32) | static_cast<uint32_t>(key.gpu_count);
  for (int16_t v : key.gpu_free) h = (h ^ static_cast<uint16_t>(v)) * 0x100000001b3ULL;
  return std::hash<uint64_t>{}(h);
}

double FragmentationMemo::Get(const NodeShape& node) {
  int gpu_count = static_cast<int>(node.gpu_free.size());
  if (gpu_count > kMaxKeyGpus) return NodeFragmentation(node, typical_);
  Key key{node.cpu_free, node.gpu_model, gpu_count, {}};
  key.gpu_free.fill(-1);
  std::copy(node.gpu_free.begin(), node.gpu_free.end(), key.gpu_free.begin());
  std::sort(key.gpu_free.begin(), key.gpu_free.begin() + gpu_count, std::greater<>());
  auto [it, inserted] = memo_.try_emplace(key, 0.0);
  if (inserted) it->second = NodeFragmentation(node, typical_);
  return it->second;
}

}  // namespace vxpu::sched
