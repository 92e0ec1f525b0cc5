// Granularity of GPU shares: the trace's milli-GPU as is, or vXPU's 10% steps. It is a rounding
// applied to requests, not part of the model: a shared-GPU request is rounded up to the step.
#pragma once

#include <optional>
#include <string_view>

#include "sched/model.h"

namespace vxpu::sched {

enum class Granularity { kMilli, kTenPercent };

// "milli" or "10pct".
std::optional<Granularity> ParseGranularity(std::string_view text);
std::string_view GranularityName(Granularity granularity);

// `pod` as a slicer of `granularity` grants it: its per-GPU share rounded up to the step.
PodRequest RoundRequest(const PodRequest& pod, Granularity granularity);

}  // namespace vxpu::sched
