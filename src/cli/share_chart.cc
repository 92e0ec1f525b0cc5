#include "cli/share_chart.h"

#include <fmt/format.h>

namespace vxpu {

void ShareHistory::Add(double at_seconds, const std::vector<SliceShare>& shares,
                       const std::map<std::string, std::string>& name_of) {
  std::map<std::string, int> devices_of;
  for (const SliceShare& s : shares) ++devices_of[s.usage.slice];
  for (const SliceShare& s : shares) {
    if (!s.percent) continue;
    auto renamed = name_of.find(s.usage.slice);
    std::string key = renamed != name_of.end() ? renamed->second : s.usage.slice;
    if (devices_of[s.usage.slice] > 1) key += " on " + s.usage.device.substr(0, 12);
    ChartSeries& line = lines_[key];
    line.label = key;
    line.x.push_back(at_seconds);
    line.y.push_back(*s.percent);
    guarantees_[key] = s.usage.terms.request / 10.0;
  }
  last_at_ = std::max(last_at_, at_seconds);
}

Chart ShareHistory::ToChart(const std::string& title) const {
  ChartPanel panel{"each slice's share of its device's time, and (dotted, in its colour) its guarantee",
                   "time (s)",
                   "share of device time (%)",
                   std::make_pair(0.0, std::max(1.0, last_at_)),
                   std::make_pair(0.0, 100.0),
                   {}};
  int style = 0;
  for (const auto& [key, line] : lines_) {
    panel.series.push_back(line);
    panel.series.back().style = style;
    double percent = guarantees_.at(key);
    panel.series.push_back(ChartSeries{fmt::format("{} guarantee {:g}%", key, percent),
                                       {0.0, last_at_},
                                       {percent, percent},
                                       style++,
                                       /*reference=*/true});
  }
  return Chart{title, {panel}};
}

}  // namespace vxpu
