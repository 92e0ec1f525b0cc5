#include "node/node_view.h"

#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/process.h"
#include "node/gpu_units.h"

namespace vxpu {
namespace {

using nlohmann::json;

SliceDeviceUsage NoUsage(const std::string& device) {
  SliceDeviceUsage usage;
  usage.device = device;
  return usage;
}

SliceView* FindSlice(std::vector<SliceView>* views, const std::string& name) {
  for (SliceView& v : *views) {
    if (v.record.spec.name == name) return &v;
  }
  return nullptr;
}

SliceDeviceUsage* UsageOn(SliceView* view, const std::string& device) {
  for (SliceDeviceUsage& u : view->usage) {
    if (u.device == device) return &u;
  }
  view->usage.push_back(NoUsage(device));
  if (view->record.discovered) view->record.spec.devices.push_back(device);
  return &view->usage.back();
}

// A slice found running without a record: what the segments tell of it.
SliceView* Discover(std::vector<SliceView>* views, const std::string& name, int32_t first_pid, int64_t now_unix) {
  SliceRecord record;
  record.spec.name = name;
  record.spec.owner.pid = first_pid;
  record.spec.owner.pid_start = ProcessStartTicks(first_pid);
  record.spec.owner.uid = static_cast<uint32_t>(getuid());
  record.created_unix = now_unix;
  record.discovered = true;
  views->push_back(SliceView{std::move(record), {}});
  return &views->back();
}

void AddPid(SliceDeviceUsage* usage, int32_t pid, uint64_t memory) {
  for (SliceProcess& p : usage->processes) {
    if (p.pid == pid) {
      p.used += memory;
      return;
    }
  }
  usage->processes.push_back(SliceProcess{pid, memory});
}

}  // namespace

DeviceView DeviceViewOf(const Device& g) {
  DeviceView d;
  d.vendor = g.vendor;
  d.kind = g.kind;
  d.index = g.index;
  d.uuid = g.uuid;
  d.name = g.name;
  d.memory_total = g.memory_total;
  d.memory_used = g.memory_used;
  d.busy_ratio = g.utilization / 100.0;
  d.processes = static_cast<unsigned>(g.processes.size());
  return d;
}

bool SliceView::HasLiveProcesses() const {
  for (const SliceDeviceUsage& u : usage) {
    if (!u.processes.empty()) return true;
  }
  return false;
}

std::vector<SliceView> JoinSlices(const std::vector<SliceRecord>& registered, const std::vector<SliceSummary>& ledgers,
                                  const std::vector<ComputeSliceUsage>& arbiters, int64_t now_unix) {
  std::vector<SliceView> views;
  for (const SliceRecord& r : registered) {
    SliceView view{r, {}};
    for (const std::string& device : r.spec.devices) view.usage.push_back(NoUsage(device));
    views.push_back(std::move(view));
  }
  for (const SliceSummary& l : ledgers) {
    if (l.processes.empty()) continue;
    SliceView* view = FindSlice(&views, l.slice);
    if (view == nullptr) view = Discover(&views, l.slice, l.processes.front().pid, now_unix);
    if (view->record.discovered) view->record.spec.memory_limit = l.limit;
    SliceDeviceUsage* usage = UsageOn(view, l.device);
    for (const SliceProcess& p : l.processes) {
      usage->memory_used += p.used;
      AddPid(usage, p.pid, p.used);
    }
  }
  for (const ComputeSliceUsage& a : arbiters) {
    if (a.pids.empty()) continue;
    SliceView* view = FindSlice(&views, a.slice);
    if (view == nullptr) view = Discover(&views, a.slice, a.pids.front(), now_unix);
    if (view->record.discovered)
      view->record.spec.compute = SliceCompute{a.terms.request, a.terms.limit, a.terms.high_priority};
    SliceDeviceUsage* usage = UsageOn(view, a.device);
    usage->device_time_ns = a.used_ns;
    for (int32_t pid : a.pids) AddPid(usage, pid, 0);
  }
  for (SliceView& v : views) {
    for (SliceDeviceUsage& u : v.usage) {
      std::sort(u.processes.begin(), u.processes.end(),
                [](const SliceProcess& a, const SliceProcess& b) { return a.pid < b.pid; });
    }
  }
  return views;
}

json DevicesToJson(const std::vector<DeviceView>& devices) {
  json out = json::array();
  for (const DeviceView& d : devices) {
    out.push_back({{"vendor", d.vendor},
                   {"kind", d.kind},
                   {"index", d.index},
                   {"uuid", d.uuid},
                   {"name", d.name},
                   {"healthy", d.healthy},
                   {"health_reason", d.health_reason},
                   {"memory_total_bytes", d.memory_total},
                   {"memory_used_bytes", d.memory_used},
                   {"memory_for_slices_bytes", d.memory_for_slices},
                   {"compute_free_percent", d.compute_free_permille / 10.0},
                   {"units_total", kUnitsPerGpu},
                   {"units_free", d.units_free},
                   {"units_held", d.units_held},
                   {"busy_ratio", d.busy_ratio ? json(*d.busy_ratio) : json(nullptr)},
                   {"processes", d.processes}});
  }
  return out;
}

json SlicesToJson(const std::vector<SliceView>& slices) {
  json out = json::array();
  for (const SliceView& s : slices) {
    json slice = SliceRecordToJson(s.record);
    json usage = json::array();
    for (const SliceDeviceUsage& u : s.usage) {
      json processes = json::array();
      for (const SliceProcess& p : u.processes) processes.push_back({{"pid", p.pid}, {"memory_used_bytes", p.used}});
      usage.push_back({{"device", u.device},
                       {"memory_used_bytes", u.memory_used},
                       {"device_seconds", static_cast<double>(u.device_time_ns) / 1e9},
                       {"share_ratio", u.share_ratio ? json(*u.share_ratio) : json(nullptr)},
                       {"processes", processes}});
    }
    slice["usage"] = usage;
    out.push_back(slice);
  }
  return out;
}

}  // namespace vxpu
