// A line chart as PNG (cairo), for `vxpu sim replay --plot`: one line per series, like the FGD
// paper's figure of GPU allocation against arrived workload.
#pragma once

#include <string>
#include <vector>

namespace vxpu {

struct PlotSeries {
  std::string label;
  std::vector<double> x;
  std::vector<double> y;
};

struct PlotLabels {
  std::string title;
  std::string x_axis;
  std::string y_axis;
};

// Writes the chart to `path`; an empty string on success, otherwise why it failed.
std::string WriteLinePlot(const std::string& path, const std::vector<PlotSeries>& series, const PlotLabels& labels);

}  // namespace vxpu
