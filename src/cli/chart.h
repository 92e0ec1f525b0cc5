// Charts a person puts in a report, drawn by gnuplot (Debian's gnuplot-nox) rather than by hand:
// line series in one or more panels stacked top to bottom (a whole view and a zoom on where the
// series differ, say), each series in a style of its own (colour, dash and mark), round ticks.
// The format follows the file's extension: .png (cairo) or .svg; anything else is refused.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace vxpu {

struct ChartSeries {
  std::string label;
  std::vector<double> x;
  std::vector<double> y;
  int style = -1;          // the style (colour, dash, mark) of series number `style`; -1: its own number
  bool reference = false;  // a thin dashed line without marks, e.g. a target beside its series
};

struct ChartPanel {
  std::string title;
  std::string x_axis;
  std::string y_axis;
  std::optional<std::pair<double, double>> x_range;  // gnuplot's choice when absent
  std::optional<std::pair<double, double>> y_range;
  std::vector<ChartSeries> series;
};

struct Chart {
  std::string title;
  std::vector<ChartPanel> panels;
};

// Why `path` cannot take a chart ("--plot alloc.jpg: want a .png or .svg file"), or "".
std::string ChartPathError(const std::string& flag, const std::string& path);

// Writes `chart` to `path`; "" on success, otherwise why not (gnuplot missing or failing).
std::string WriteChart(const std::string& path, const Chart& chart);

}  // namespace vxpu
