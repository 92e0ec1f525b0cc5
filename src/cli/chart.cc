#include "cli/chart.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/child_process.h"

namespace vxpu {
namespace {

constexpr int kWidth = 1200;
constexpr int kPanelHeight = 560;
constexpr int kStyles = 8;  // colour, dash and mark cycle together, so neighbours differ in all three

std::string Extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

// A gnuplot string literal: single quotes, a quote doubled.
std::string Quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'')
      out += "''";
    else if (c == '\n')
      out += ' ';
    else
      out += c;
  }
  return out + "'";
}

// A label, drawn as written: a double-quoted gnuplot string (a newline starts a line), without
// the enhanced text mode, which would read _ ^ @ & { } as markup.
std::string Label(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '\\' || c == '"') out += '\\';
    out += c == '\n' ? std::string("\\n") : std::string(1, c);
  }
  return out + "\" noenhanced";
}

std::string Terminal(const std::string& path, size_t panels) {
  int height = static_cast<int>(panels) * kPanelHeight + 60;
  if (Extension(path) == ".svg")
    return fmt::format("set terminal svg size {},{} dynamic background rgb 'white' font 'sans,12'", kWidth, height);
  return fmt::format("set terminal pngcairo size {},{} font 'sans,11' linewidth 1.5", kWidth, height);
}

// The data file: one block per series of each panel, blocks apart by two blank lines (gnuplot's
// `index`).
void WriteData(std::ofstream& out, const Chart& chart) {
  for (const ChartPanel& panel : chart.panels) {
    for (const ChartSeries& s : panel.series) {
      for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) out << fmt::format("{} {}\n", s.x[i], s.y[i]);
      out << "\n\n";
    }
  }
}

std::string Range(const char* axis, const std::optional<std::pair<double, double>>& range) {
  if (!range) return fmt::format("set autoscale {}\n", axis);
  return fmt::format("set {}range [{}:{}]\n", axis, range->first, range->second);
}

std::string Script(const std::string& path, const std::string& data, const Chart& chart) {
  std::string s = Terminal(path, chart.panels.size()) + "\n";
  s += "set output " + Quoted(path) + "\n";
  for (int i = 1; i <= kStyles; ++i)
    s += fmt::format("set linetype {0} dashtype {0} pointtype {1} pointsize 1.1\n", i, i + 3);
  s += "set linetype cycle " + std::to_string(kStyles) + "\n";
  s += "set grid\nset key outside right top box opaque\nset border 3\nset tics nomirror\n";
  s += fmt::format("set multiplot layout {},1 title {} font ',14'\n", chart.panels.size(), Label(chart.title));
  size_t block = 0;
  for (const ChartPanel& panel : chart.panels) {
    s += "set title " + Label(panel.title) + "\n";
    s += "set xlabel " + Label(panel.x_axis) + "\nset ylabel " + Label(panel.y_axis) + "\n";
    s += Range("x", panel.x_range) + Range("y", panel.y_range);
    std::string plots;
    for (size_t i = 0; i < panel.series.size(); ++i) {
      const ChartSeries& series = panel.series[i];
      int style = (series.style >= 0 ? series.style : static_cast<int>(i)) % kStyles + 1;
      size_t marks = std::max<size_t>(1, series.x.size() / 12);  // a dozen marks a line, whatever its length
      std::string how = series.reference ? fmt::format("with lines linetype {} dashtype (3,6) linewidth 1", style)
                                         : fmt::format("with linespoints linetype {} pointinterval {}", style, marks);
      plots += fmt::format("{}{} index {} using 1:2 {} title {}", plots.empty() ? "plot " : ", ", Quoted(data), block++,
                           how, Label(series.label));
    }
    s += (plots.empty() ? "plot NaN notitle" : plots) + "\n";
  }
  return s + "unset multiplot\nset output\n";
}

// gnuplot's path on $PATH, or "".
std::string FindGnuplot() {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  for (size_t start = 0; start <= dirs.size();) {
    size_t colon = std::min(dirs.find(':', start), dirs.size());
    std::string candidate = dirs.substr(start, colon - start) + "/gnuplot";
    if (colon > start && access(candidate.c_str(), X_OK) == 0) return candidate;
    start = colon + 1;
  }
  return "";
}

}  // namespace

std::string ChartPathError(const std::string& flag, const std::string& path) {
  std::string ext = Extension(path);
  if (ext == ".png" || ext == ".svg") return "";
  return flag + " " + path + ": want a .png or .svg file (the format follows the extension)";
}

std::string WriteChart(const std::string& path, const Chart& chart) {
  std::string error = ChartPathError("chart", path);
  if (!error.empty()) return error;
  char dir_pattern[] = "/tmp/vxpu-chart-XXXXXX";
  if (mkdtemp(dir_pattern) == nullptr) return "cannot make a temporary directory for the chart's data";
  std::string dir = dir_pattern, data = dir + "/data", script = dir + "/chart.gp";
  {
    std::ofstream out(data);
    WriteData(out, chart);
    std::ofstream gp(script);
    gp << Script(path, data, chart);
    if (!out || !gp) error = "cannot write the chart's data in " + dir;
  }
  std::string gnuplot_path = FindGnuplot();
  if (error.empty() && gnuplot_path.empty()) error = "drawing " + path + " needs gnuplot (apt-get install gnuplot-nox)";
  if (error.empty()) {
    ChildProcess gnuplot;
    if (!gnuplot.Start({gnuplot_path, script}, {}, &error, /*with_stderr=*/true)) {
      error = "cannot start " + gnuplot_path + ": " + error;
    } else if (int code = gnuplot.Wait(); code != 0) {
      std::string said = gnuplot.output();
      while (!said.empty() && (said.back() == '\n' || said.back() == ' ')) said.pop_back();
      error = fmt::format("gnuplot failed to draw {} (exit {}): {}", path, code, said);
    }
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return error;
}

}  // namespace vxpu
