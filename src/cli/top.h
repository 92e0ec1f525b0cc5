// `vxpu top`: each compute slice's share of device time, live. Reads the device time the
// arbiters charged each slice (interposer/compute_arbiter.h) twice, `interval` apart; the share
// is the difference over the interval. Accurate to about one lease (10 ms) per interval.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "interposer/compute_arbiter.h"

namespace vxpu {

struct TopOptions {
  double interval = 1.0;  // seconds between looks
  int iterations = 0;     // frames to show; 0: until interrupted (table only)
  bool json = false;      // one sample, as JSON, then exit
  std::string plot;       // a chart of the shares over time, redrawn each frame; "" for none
};

struct SliceShare {
  ComputeSliceUsage usage;
  std::optional<double> percent;  // of the device over the interval; none for a slice just seen
};

// The shares between two listings taken `seconds` apart. A slice missing from `before`, or
// whose account restarted (its processes all left and it came back), has no share yet. A
// device's shares add up to at most 100% (leases are charged when they end, so an interval may
// be charged up to a lease more than it lasted: the shares are then scaled down together).
std::vector<SliceShare> SharesBetween(const std::vector<ComputeSliceUsage>& before,
                                      const std::vector<ComputeSliceUsage>& after, double seconds);

int RunTop(const TopOptions& options);

}  // namespace vxpu
