// GPU fragmentation of a node as FGD (ATC'23) defines it: for a pod drawn from the typical-pod
// distribution, the idle milli-GPUs of the node that this pod could not use (all of them when the
// pod cannot run there at all, for lack of GPUs, CPU or the right model, or needs no GPU; only
// the GPUs with less free than its share when it can); averaged over the distribution.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <unordered_map>

#include "sched/typical_pods.h"

namespace vxpu::sched {

struct NodeShape {
  int64_t cpu_free = 0;
  int gpu_model = kNoGpuModel;
  std::span<const int32_t> gpu_free;  // milli-GPU free on each GPU
};

// Expected fragmented milli-GPUs of `node` under `typical`.
double NodeFragmentation(const NodeShape& node, const TypicalPods& typical);

// NodeFragmentation, remembered per distinct node shape (CPU free, model, multiset of GPU free):
// a cluster holds few distinct shapes at a time, and the same ones recur from pod to pod.
class FragmentationMemo {
 public:
  explicit FragmentationMemo(const TypicalPods& typical) : typical_(typical) {}

  double Get(const NodeShape& node);

 private:
  static constexpr int kMaxKeyGpus = 16;  // larger nodes are computed every time
  struct Key {
    int64_t cpu_free;
    int32_t gpu_model;
    int32_t gpu_count;
    std::array<int16_t, kMaxKeyGpus> gpu_free;  // sorted, descending; unused slots -1
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& key) const;
  };

  const TypicalPods& typical_;
  std::unordered_map<Key, double, KeyHash> memo_;
};

}  // namespace vxpu::sched
