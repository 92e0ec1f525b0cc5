#include "sched/granularity.h"

namespace vxpu::sched {

std::optional<Granularity> ParseGranularity(std::string_view text) {
  if (text == "milli") return Granularity::kMilli;
  if (text == "10pct") return Granularity::kTenPercent;
  return std::nullopt;
}

std::string_view GranularityName(Granularity granularity) {
  return granularity == Granularity::kMilli ? "milli" : "10pct";
}

PodRequest RoundRequest(const PodRequest& pod, Granularity granularity) {
  int64_t step = granularity == Granularity::kMilli ? 1 : kMilliPerGpu / 10;
  PodRequest rounded = pod;
  rounded.gpu_milli = (pod.gpu_milli + step - 1) / step * step;
  return rounded;
}

}  // namespace vxpu::sched
