#include "cli/ps.h"

#include <fmt/format.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/units.h"
#include "interposer/slice_ledger.h"

namespace vxpu {

int ListSlices(bool json) {
  std::vector<SliceSummary> slices = SliceLedger::ListSlices();
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const SliceSummary& s : slices) {
      nlohmann::json processes = nlohmann::json::array();
      uint64_t used = 0;
      for (const SliceProcess& p : s.processes) {
        processes.push_back({{"pid", p.pid}, {"memory_used", p.used}});
        used += p.used;
      }
      out.push_back({{"slice", s.slice},
                     {"device", s.device},
                     {"memory_limit", s.limit},
                     {"memory_used", used},
                     {"processes", processes}});
    }
    std::printf("%s\n", out.dump().c_str());
    return 0;
  }
  std::printf("%s\n",
              fmt::format("{:<20} {:<42} {:>8} {:>10} {:>10}", "SLICE", "DEVICE", "PID", "USED", "LIMIT").c_str());
  for (const SliceSummary& s : slices) {
    for (const SliceProcess& p : s.processes) {
      std::printf("%s\n", fmt::format("{:<20} {:<42} {:>8} {:>10} {:>10}", s.slice, s.device, p.pid,
                                      FormatBytes(p.used), FormatBytes(s.limit))
                              .c_str());
    }
  }
  return 0;
}

}  // namespace vxpu
