// PendingPlacements: the pods vxpu-scheduler has placed that the nodes' reports do not show yet.
// Each is a pod (by key) on a node, on some of its GPUs, `units` on each, recorded at a time.
//
// A node's vxpud reports, per GPU, the units k8s slices hold (units_held). A placement is
// *confirmed* (and forgotten, the report now counting it) when the node's report shows, on each
// of its GPUs, units_held at or above its target: the units_held of the last report before it
// was recorded, plus the units of the placements still pending there then, plus its own. So a
// report confirms placements in the order they were recorded on a GPU, and never more units than
// the held count grew by. A placement that is never confirmed (the pod went to another node, was
// deleted, or its units replaced a stale slice so that the held count did not grow) *expires*
// `ttl` seconds after it was recorded. Until then it counts: never fewer units than are really
// taken, at worst more, for at most the TTL. Pure code, no clock: callers pass the time.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "extender/node_report.h"
#include "sched/model.h"

namespace vxpu::extender {

struct PendingPlacement {
  std::string pod;  // PodKey
  std::string node;
  sched::PodRequest request;           // as the Hi Scheduler placed it (its CPU and memory too)
  std::vector<std::string> gpu_uuids;  // the GPUs it takes
  int units_per_gpu = 0;
  double recorded_at = 0;
  std::vector<int> held_target;  // per GPU of gpu_uuids: the units_held that confirms it
};

class PendingPlacements {
 public:
  explicit PendingPlacements(double ttl_seconds) : ttl_(ttl_seconds) {}

  // Records `placement` (its held_target computed here from `last_report`, the node's latest
  // report, or none). A placement of the same pod already recorded must be removed first.
  void Add(PendingPlacement placement, const NodeReport* last_report);
  // Forgets the pod's placement; what it was, if any.
  std::optional<PendingPlacement> Remove(const std::string& pod);
  // Forgets and returns the placements on `node` that `report` confirms.
  std::vector<PendingPlacement> TakeConfirmed(const std::string& node, const NodeReport& report);
  // Forgets and returns the placements recorded more than the TTL before `now`.
  std::vector<PendingPlacement> TakeExpired(double now);

  const PendingPlacement* Find(const std::string& pod) const;
  // The node's placements in the order they were recorded.
  std::vector<const PendingPlacement*> OnNode(const std::string& node) const;
  size_t size() const { return by_pod_.size(); }

 private:
  double ttl_;
  std::map<std::string, PendingPlacement> by_pod_;
  using Stamp = std::pair<double, std::string>;  // recorded_at, pod: the order of recording
  std::map<std::string, std::set<Stamp>> by_node_;
  std::set<Stamp> by_time_;
};

}  // namespace vxpu::extender
