#include "extender/default_workload.h"

#include <vector>

#include "extender/unit_request.h"

namespace vxpu::extender {

const std::map<int, int>& DefaultUnitCounts() {
  static const std::map<int, int> counts = {{1, 7},   {2, 99},   {3, 207},   {4, 388}, {5, 899}, {6, 147},
                                            {7, 253}, {9, 1078}, {10, 3911}, {20, 16}, {40, 15}, {80, 44}};
  return counts;
}

sched::TypicalPods DefaultTypicalPods() {
  std::vector<sched::PodRequest> pods;
  for (const auto& [units, count] : DefaultUnitCounts()) {
    UnitRequest request;
    request.asks = true;
    request.units = units;
    pods.insert(pods.end(), static_cast<size_t>(count), SchedRequestOf(request, false));
  }
  return sched::ComputeTypicalPods(pods);
}

}  // namespace vxpu::extender
