#include "extender/pending_placements.h"

#include <algorithm>

namespace vxpu::extender {
namespace {

int HeldOn(const NodeReport* report, const std::string& uuid) {
  if (!report) return 0;
  for (const GpuReport& g : report->gpus) {
    if (g.uuid == uuid) return g.units_held;
  }
  return 0;
}

bool ConfirmedBy(const PendingPlacement& p, const NodeReport& report) {
  for (size_t i = 0; i < p.gpu_uuids.size(); ++i) {
    auto gpu = std::find_if(report.gpus.begin(), report.gpus.end(),
                            [&](const GpuReport& g) { return g.uuid == p.gpu_uuids[i]; });
    if (gpu == report.gpus.end() || gpu->units_held < p.held_target[i]) return false;
  }
  return true;
}

}  // namespace

void PendingPlacements::Add(PendingPlacement placement, const NodeReport* last_report) {
  placement.held_target.clear();
  for (const std::string& uuid : placement.gpu_uuids) {
    int target = HeldOn(last_report, uuid) + placement.units_per_gpu;
    for (const PendingPlacement* other : OnNode(placement.node)) {
      if (std::find(other->gpu_uuids.begin(), other->gpu_uuids.end(), uuid) != other->gpu_uuids.end()) {
        target += other->units_per_gpu;
      }
    }
    placement.held_target.push_back(target);
  }
  by_node_[placement.node].insert({placement.recorded_at, placement.pod});
  by_time_.insert({placement.recorded_at, placement.pod});
  std::string pod = placement.pod;
  by_pod_[pod] = std::move(placement);
}

std::optional<PendingPlacement> PendingPlacements::Remove(const std::string& pod) {
  auto it = by_pod_.find(pod);
  if (it == by_pod_.end()) return std::nullopt;
  PendingPlacement p = std::move(it->second);
  by_pod_.erase(it);
  auto node = by_node_.find(p.node);
  node->second.erase({p.recorded_at, pod});
  by_time_.erase({p.recorded_at, pod});
  if (node->second.empty()) by_node_.erase(node);
  return p;
}

std::vector<PendingPlacement> PendingPlacements::TakeConfirmed(const std::string& node, const NodeReport& report) {
  std::vector<std::string> confirmed;
  for (const PendingPlacement* p : OnNode(node)) {
    if (ConfirmedBy(*p, report)) confirmed.push_back(p->pod);
  }
  std::vector<PendingPlacement> taken;
  for (const std::string& pod : confirmed) taken.push_back(*Remove(pod));
  return taken;
}

std::vector<PendingPlacement> PendingPlacements::TakeExpired(double now) {
  std::vector<std::string> expired;
  for (auto it = by_time_.begin(); it != by_time_.end() && now - it->first > ttl_; ++it) expired.push_back(it->second);
  std::vector<PendingPlacement> taken;
  for (const std::string& pod : expired) taken.push_back(*Remove(pod));
  return taken;
}

const PendingPlacement* PendingPlacements::Find(const std::string& pod) const {
  auto it = by_pod_.find(pod);
  return it == by_pod_.end() ? nullptr : &it->second;
}

std::vector<const PendingPlacement*> PendingPlacements::OnNode(const std::string& node) const {
  std::vector<const PendingPlacement*> out;
  auto it = by_node_.find(node);
  if (it == by_node_.end()) return out;
  for (const auto& [at, pod] : it->second) out.push_back(&by_pod_.at(pod));
  return out;
}

}  // namespace vxpu::extender
