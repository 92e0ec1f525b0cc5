#include "sched/model.h"

namespace vxpu::sched {

std::string ValidateRequest(const PodRequest& pod) {
  if (pod.cpu_milli < 0) return "negative CPU request";
  if (pod.memory_mib < 0) return "negative memory request";
  if (pod.num_gpu < 0) return "negative GPU count";
  if (pod.num_gpu > kMaxGpusPerNode) return "more GPUs than any node can have";
  if (pod.gpu_milli < 0 || pod.gpu_milli > kMilliPerGpu) return "GPU share outside 0..1000 milli";
  if (pod.gpu_memory_mib < 0) return "negative GPU memory request";
  if (pod.num_gpu == 0 && pod.gpu_milli != 0) return "GPU share without a GPU count";
  if (pod.num_gpu > 0 && pod.gpu_milli == 0) return "GPU count without a GPU share";
  if (pod.num_gpu > 1 && pod.gpu_milli != kMilliPerGpu) return "multi-GPU pods must take whole GPUs";
  return {};
}

std::string ValidateNode(const NodeSpec& node) {
  if (node.cpu_milli < 0) return "negative CPU capacity";
  if (node.memory_mib < 0) return "negative memory capacity";
  if (node.gpu_count < 0) return "negative GPU count";
  if (node.gpu_count > kMaxGpusPerNode) return "more than 64 GPUs";
  if (node.gpu_count > 0 && node.gpu_model == kNoGpuModel) return "GPUs without a model";
  if (node.gpu_memory_mib < 0) return "negative GPU memory";
  return {};
}

}  // namespace vxpu::sched
