// The time-based replay: pods arrive at their creation time and run for as long as the trace
// says (deletion minus creation). A pod that fits nowhere waits in a queue; whenever a pod
// leaves, the waiting pods that now fit start, oldest first (later arrivals that fit do not wait
// behind them). Reports GPU allocation over time and how long pods waited. Pure and
// deterministic given the policy's seed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sched/model.h"
#include "sched/policy.h"

namespace vxpu::sched {

struct TimedPod {
  PodRequest request;
  int64_t arrival = 0;   // seconds
  int64_t duration = 0;  // seconds it runs once started
};

struct TimedSample {
  int64_t time = 0;
  double allocated_pct = 0;  // GPU allocated, percent of the cluster's milli-GPU
  int64_t queued = 0;        // pods waiting
};

struct TimedResult {
  std::vector<TimedSample> samples;  // every `sample_every` seconds from the first arrival
  std::vector<int64_t> waits;        // seconds from arrival to start, for every pod that started
  int64_t pods_waited = 0;           // pods that started late
  int64_t pods_never_started = 0;    // still waiting when the trace ends
  double mean_allocated_pct = 0;     // time-weighted, from the first arrival to the last departure
  double peak_allocated_pct = 0;     // the most ever allocated at once (not only at sample times)
};

TimedResult ReplayTimed(const std::vector<NodeSpec>& nodes, const std::vector<std::string>& model_names,
                        const std::vector<TimedPod>& pods, Policy& policy, int64_t sample_every = 3600);

}  // namespace vxpu::sched
