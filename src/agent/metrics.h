// vxpud's Prometheus metrics: computed from the node agent at each scrape (no stale copies),
// served by prometheus-cpp's exposer at /metrics. Names and labels: docs/agent.md.
#pragma once

#include <prometheus/collectable.h>

#include <vector>

#include "agent/node_agent.h"

namespace vxpu {

class AgentMetrics : public prometheus::Collectable {
 public:
  explicit AgentMetrics(NodeAgent* agent) : agent_(agent) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  NodeAgent* agent_;
};

// The families for a snapshot of the node (what Collect returns; pure, for tests).
std::vector<prometheus::MetricFamily> NodeMetrics(const std::vector<DeviceView>& devices,
                                                  const std::vector<SliceView>& slices);

}  // namespace vxpu
