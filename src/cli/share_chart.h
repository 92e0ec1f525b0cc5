// The shares of device time compute slices got, frame after frame, as a chart over time (for
// `vxpu top --plot` and `vxpu bench share --plot`): one line per slice and, dashed beside it, the
// share it is guaranteed.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "cli/chart.h"
#include "cli/top.h"

namespace vxpu {

class ShareHistory {
 public:
  // The shares measured over the interval that ended `at_seconds` after the start; a slice
  // without a share yet is left out. `name_of` renames slices for the legend (e.g. "tenant 0").
  void Add(double at_seconds, const std::vector<SliceShare>& shares,
           const std::map<std::string, std::string>& name_of = {});
  bool empty() const { return lines_.empty(); }
  Chart ToChart(const std::string& title) const;

 private:
  std::map<std::string, ChartSeries> lines_;  // by slice (and device, when it has several)
  std::map<std::string, double> guarantees_;  // percent, by the same key
  double last_at_ = 0;
};

}  // namespace vxpu
