#include "extender/engine.h"

#include <algorithm>
#include <set>
#include <stdexcept>

namespace vxpu::extender {
namespace {

using sched::ClusterState;
using sched::GpuMask;
using sched::kMilliPerGpu;
using sched::Placement;
using sched::PodRequest;

constexpr int kFullScore = 10;

// A request for `milli` of one GPU, nothing else: how reported usage sits in the ClusterState.
PodRequest ShareOf(int64_t milli) { return PodRequest{0, 0, 1, milli, 0, 0}; }

// Takes every free share of `node` in `view`, so that no GPU pod fits there.
void Block(ClusterState& view, int node) {
  for (int g = 0; g < view.spec(node).gpu_count; ++g) {
    int64_t free = view.gpu_free(node)[g];
    if (free > 0) view.Place(ShareOf(free), {node, GpuMask{1} << g, free});
  }
}

std::vector<std::string> UuidsOf(const NodeReport& report) {
  std::vector<std::string> uuids;
  for (const GpuReport& g : report.gpus) uuids.push_back(g.uuid);
  return uuids;
}

}  // namespace

std::unique_ptr<Engine> Engine::Create(EngineOptions options, std::string* error) {
  std::unique_ptr<sched::Policy> policy = sched::MakePolicy(options.policy, {options.seed, options.typical});
  if (!policy) {
    *error = "unknown policy '" + options.policy + "'";
    return nullptr;
  }
  return std::unique_ptr<Engine>(new Engine(std::move(options), std::move(policy)));
}

Engine::Engine(EngineOptions options, std::unique_ptr<sched::Policy> policy)
    : options_(std::move(options)), policy_(std::move(policy)), pending_(options_.pending_ttl_seconds) {}

void Engine::Report(const std::string& name, const NodeReport& report, double now) {
  ExpirePending(now);
  NodeEntry& node = nodes_[name];
  node.unreachable.clear();
  std::vector<PendingPlacement> confirmed = pending_.TakeConfirmed(name, report);
  if (node.reported && node.report == report && confirmed.empty()) return;
  bool reshaped = !node.reported || UuidsOf(node.report) != UuidsOf(report) ||
                  (!report.gpus.empty() && node.report.gpus.front().name != report.gpus.front().name);
  node.report = report;
  node.reported = true;
  if (reshaped) {
    dirty_ = true;
    return;
  }
  Refresh(name);
}

void Engine::ReportUnreachable(const std::string& name, const std::string& why) {
  nodes_[name].unreachable = why.empty() ? "no answer" : why;
}

void Engine::SetResources(const std::string& name, const NodeResources& resources) {
  nodes_[name].resources = resources;
  dirty_ = true;
}

int Engine::ModelIndex(const NodeReport& report) {
  if (report.gpus.empty()) return sched::kNoGpuModel;
  std::vector<std::string>& models = options_.model_names;
  auto it = std::find(models.begin(), models.end(), report.gpus.front().name);
  if (it != models.end()) return static_cast<int>(it - models.begin());
  if (models.size() >= static_cast<size_t>(sched::kMaxGpuModels)) return sched::kMaxGpuModels - 1;
  models.push_back(report.gpus.front().name);
  return static_cast<int>(models.size()) - 1;
}

void Engine::Rebuild() {
  order_.clear();
  std::vector<std::string> names;
  for (const auto& entry : nodes_) names.push_back(entry.first);
  std::sort(names.begin(), names.end());
  std::vector<sched::NodeSpec> specs;
  for (const std::string& name : names) {
    NodeEntry& node = nodes_[name];
    node.applied.clear();
    node.index = -1;
    if (!node.reported) continue;
    node.index = static_cast<int>(order_.size());
    order_.push_back(name);
    NodeResources r = options_.model_cpu_memory ? node.resources : NodeResources{};
    specs.push_back(
        {name, r.cpu_milli, r.memory_mib, static_cast<int>(node.report.gpus.size()), ModelIndex(node.report), 0});
  }
  cluster_ = std::make_unique<ClusterState>(std::move(specs), options_.model_names);
  policy_ = sched::MakePolicy(options_.policy, {options_.seed, options_.typical});
  dirty_ = false;
  for (const std::string& name : order_) Apply(name, nodes_[name]);
}

void Engine::EnsureBuilt() {
  if (dirty_ || !cluster_) Rebuild();
}

void Engine::Place(NodeEntry& node, const PodRequest& request, const Placement& where) {
  cluster_->Place(request, where);
  policy_->Placed(request, where);
  node.applied.push_back({request, where});
}

// The node's reported usage and its pending placements into cluster_. A GPU's reported usage is
// 10 - units_free units (all ten when unhealthy), less room than its pending units need: what is
// pending there is counted once, whether the report shows it yet or not.
void Engine::Apply(const std::string& name, NodeEntry& node) {
  const std::vector<GpuReport>& gpus = node.report.gpus;
  std::vector<int64_t> pending_milli(gpus.size(), 0);
  std::vector<std::pair<const PendingPlacement*, GpuMask>> pendings;
  for (const PendingPlacement* p : pending_.OnNode(name)) {
    GpuMask mask = 0;
    for (const std::string& uuid : p->gpu_uuids) {
      auto g = std::find_if(gpus.begin(), gpus.end(), [&](const GpuReport& r) { return r.uuid == uuid; });
      if (g == gpus.end()) continue;
      mask |= GpuMask{1} << (g - gpus.begin());
      pending_milli[g - gpus.begin()] += p->request.gpu_milli;
    }
    pendings.emplace_back(p, mask);
  }
  for (size_t g = 0; g < gpus.size(); ++g) {
    int64_t used = gpus[g].healthy ? (kUnitsPerGpu - gpus[g].units_free) * kMilliPerUnit : kMilliPerGpu;
    int64_t counted = std::min(used, kMilliPerGpu - pending_milli[g]);
    if (counted > 0) Place(node, ShareOf(counted), {node.index, GpuMask{1} << g, counted});
  }
  for (const auto& [p, mask] : pendings) {
    if (std::popcount(mask) != p->request.num_gpu) continue;  // a GPU of it is gone: it cannot be there
    try {
      Place(node, p->request, {node.index, mask, p->request.gpu_milli});
    } catch (const std::logic_error&) {
      // The node's CPU or memory shrank below what is pending: the GPUs' count still holds.
    }
  }
}

void Engine::Unapply(NodeEntry& node) {
  for (auto it = node.applied.rbegin(); it != node.applied.rend(); ++it) {
    cluster_->Remove(it->request, it->where);
    policy_->Removed(it->request, it->where);
  }
  node.applied.clear();
}

void Engine::Refresh(const std::string& name) {
  auto it = nodes_.find(name);
  if (dirty_ || !cluster_ || it == nodes_.end() || it->second.index < 0) return;
  Unapply(it->second);
  Apply(name, it->second);
}

void Engine::Forget(const std::string& pod) {
  if (std::optional<PendingPlacement> p = pending_.Remove(pod)) Refresh(p->node);
}

void Engine::ExpirePending(double now) {
  std::set<std::string> touched;
  for (const PendingPlacement& p : pending_.TakeExpired(now)) touched.insert(p.node);
  for (const std::string& node : touched) Refresh(node);
}

std::string Engine::WhyNot(const NodeEntry& node, const PodRequest& pod, const UnitRequest& request,
                           bool* unresolvable) const {
  const sched::NodeSpec& spec = cluster_->spec(node.index);
  const std::string device = options_.kind == "npu" ? "NPU" : "GPU";
  *unresolvable = true;
  if (spec.gpu_count == 0) return "the node has no " + device + "s (its vxpud reports none)";
  if (!request.fractional() && spec.gpu_count < request.whole_gpus()) {
    return "the node has " + std::to_string(spec.gpu_count) + " " + device + "s, the pod asks for " +
           std::to_string(request.whole_gpus()) + " whole " + device + "s";
  }
  *unresolvable = false;
  // One text per cause, the same on every node: kube-scheduler's event counts nodes by reason
  // ("0/1213 nodes are available: 1200 no single GPU has 5 free vxpu.io/gpu-units, ...").
  if (cluster_->cpu_free(node.index) < pod.cpu_milli)
    return "not enough CPU for " + std::to_string(pod.cpu_milli) + "m";
  if (cluster_->memory_free(node.index) < pod.memory_mib) {
    return "not enough memory for " + std::to_string(pod.memory_mib) + " MiB";
  }
  if (request.fractional()) {
    return "no single " + device + " has " + std::to_string(request.units) + " free " +
           UnitsResourceOf(options_.kind.c_str());
  }
  return "fewer than " + std::to_string(request.whole_gpus()) + " " + device + "s with all 10 units free";
}

FilterOutcome Engine::Filter(const std::string& pod, const UnitRequest& request, const std::vector<std::string>& nodes,
                             double now) {
  FilterOutcome out;
  if (!request.asks) {
    out.passing = nodes;
    return out;
  }
  if (!request.invalid.empty()) {
    for (const std::string& name : nodes) out.unresolvable[name] = request.invalid;
    return out;
  }
  ExpirePending(now);
  Forget(pod);
  EnsureBuilt();
  PodRequest sched_pod = SchedRequestOf(request, options_.model_cpu_memory);
  std::vector<int> passing;
  for (const std::string& name : nodes) {
    auto it = nodes_.find(name);
    if (it == nodes_.end() || !it->second.unreachable.empty() || it->second.index < 0) {
      bool known = it != nodes_.end() && !it->second.unreachable.empty();
      out.failed[name] = known ? "its vxpud did not answer: " + it->second.unreachable : "no report from its vxpud yet";
      continue;
    }
    if (cluster_->Fits(sched_pod, it->second.index)) {
      out.passing.push_back(name);
      passing.push_back(it->second.index);
      continue;
    }
    bool unresolvable = false;
    std::string why = WhyNot(it->second, sched_pod, request, &unresolvable);
    (unresolvable ? out.unresolvable : out.failed)[name] = why;
  }
  if (passing.size() == 1) {
    Placement where = ChooseAmong(sched_pod, passing);
    if (where.placed()) RecordPending(pod, sched_pod, where, now);
  }
  return out;
}

std::vector<HostPriority> Engine::Prioritize(const std::string& pod, const UnitRequest& request,
                                             const std::vector<std::string>& nodes, double now) {
  std::vector<HostPriority> out;
  for (const std::string& name : nodes) out.push_back({name, 0});
  if (!request.asks || !request.invalid.empty()) return out;
  ExpirePending(now);
  Forget(pod);
  EnsureBuilt();
  PodRequest sched_pod = SchedRequestOf(request, options_.model_cpu_memory);
  std::vector<int> candidates;
  for (const std::string& name : nodes) {
    auto it = nodes_.find(name);
    if (it != nodes_.end() && it->second.unreachable.empty() && it->second.index >= 0) {
      candidates.push_back(it->second.index);
    }
  }
  Placement where = ChooseAmong(sched_pod, candidates);
  if (!where.placed()) return out;
  for (HostPriority& p : out) {
    if (p.host == order_[where.node]) p.score = kFullScore;
  }
  RecordPending(pod, sched_pod, where, now);
  return out;
}

// The policy's choice with only `candidates` open: on cluster_ itself when no other node fits,
// else on a copy where the other nodes that fit are filled (the policy's per-node state is
// about the nodes it scores, which are the same in both).
Placement Engine::ChooseAmong(const PodRequest& pod, const std::vector<int>& candidates) {
  std::vector<char> open(cluster_->node_count(), 0);
  for (int c : candidates) open[c] = 1;
  bool others_fit = false;
  for (int n = 0; n < cluster_->node_count() && !others_fit; ++n) others_fit = !open[n] && cluster_->Fits(pod, n);
  if (!others_fit) return policy_->Choose(*cluster_, pod);
  ClusterState view = *cluster_;
  for (int n = 0; n < view.node_count(); ++n) {
    if (!open[n] && view.Fits(pod, n)) Block(view, n);
  }
  return policy_->Choose(view, pod);
}

void Engine::RecordPending(const std::string& pod, const PodRequest& request, const Placement& where, double now) {
  const std::string& name = order_[where.node];
  NodeEntry& node = nodes_[name];
  PendingPlacement p;
  p.pod = pod;
  p.node = name;
  p.request = request;
  for (size_t g = 0; g < node.report.gpus.size(); ++g) {
    if ((where.gpus >> g) & 1) p.gpu_uuids.push_back(node.report.gpus[g].uuid);
  }
  p.units_per_gpu = static_cast<int>(request.gpu_milli / kMilliPerUnit);
  p.recorded_at = now;
  pending_.Add(std::move(p), &node.report);
  Place(node, request, where);
}

std::vector<int> Engine::FreeUnits(const std::string& name) {
  EnsureBuilt();
  std::vector<int> free;
  auto it = nodes_.find(name);
  if (it == nodes_.end() || it->second.index < 0) return free;
  for (int32_t milli : cluster_->gpu_free(it->second.index)) free.push_back(static_cast<int>(milli / kMilliPerUnit));
  return free;
}

}  // namespace vxpu::extender
