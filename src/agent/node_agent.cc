#include "agent/node_agent.h"

#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <set>

#include "agent/terms_files.h"
#include "common/ascend_api.h"
#include "common/process.h"
#include "common/units.h"
#include "node/capacity.h"
#include "slice/admission.h"

namespace vxpu {
namespace {

ApiReply Error(int status, const std::string& message) { return ApiReply{status, {{"error", message}}}; }

bool OwnerAlive(const SliceRecord& r) {
  if (ProcessAlive(r.spec.owner.pid, r.spec.owner.pid_start)) return true;
  for (const SliceHolder& h : r.joined) {
    if (ProcessAlive(h.pid, h.pid_start)) return true;
  }
  return false;
}

std::string OwnerText(const SliceOwner& o) {
  if (o.kubelet) return o.pod.empty() ? "kubelet" : "kubelet, pod " + o.pod_namespace + "/" + o.pod;
  if (o.is_pod()) return "pod " + o.pod_namespace + "/" + o.pod + " container " + o.container;
  return "pid " + std::to_string(o.pid) + (o.job.empty() ? "" : ", job " + o.job);
}

// The user owning process `pid` (its /proc entry's owner), or false if it has none.
bool ProcessUid(int32_t pid, uint32_t* uid) {
  struct stat st;
  if (stat(("/proc/" + std::to_string(pid)).c_str(), &st) != 0) return false;
  *uid = st.st_uid;
  return true;
}

}  // namespace

std::unique_ptr<NodeAgent> NodeAgent::Start(const AgentOptions& options, Log log, std::string* error) {
  auto registry = SliceRegistry::Open(options.state_dir + "/registry.db", error);
  if (!registry) return nullptr;
  std::unique_ptr<NodeAgent> agent(new NodeAgent(options, std::move(log), std::move(registry)));
  std::vector<std::string> unreadable;
  std::vector<SliceRecord> records;
  if (!agent->registry_->List(&records, &unreadable, error)) return nullptr;
  for (const std::string& line : unreadable) agent->log_(line);
  agent->log_("registry " + options.state_dir + "/registry.db: " + std::to_string(records.size()) + " slice(s)");
  agent->Poll();
  return agent;
}

void NodeAgent::Poll() {
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::string& event : inventory_.Refresh()) log_(event);
  std::vector<SliceRecord> stored;
  std::string error;
  if (!ReadRegistry(&stored, &error)) return;  // nothing is adopted or reaped on a guess
  std::vector<SliceView> views = SlicesLocked(stored);
  SampleShares(views);
  AdoptAndReap(views, stored);
  SyncTermsFiles();
}

void NodeAgent::AddTermsDir(const std::string& dir) {
  std::lock_guard<std::mutex> lock(mu_);
  terms_dirs_.push_back(dir);
  SyncTermsFiles();
}

void NodeAgent::SyncTermsFiles() {
  std::vector<SliceRecord> records;
  std::string error;
  if (!ReadRegistry(&records, &error)) return;
  std::set<std::string> names;
  bool written = true;
  for (const SliceRecord& r : records) {
    names.insert(r.spec.name);
    if (WriteTerms(r.spec, &error)) continue;
    written = false;
    if (error != terms_error_) log_("slice " + r.spec.name + ": " + error);
    terms_error_ = error;
  }
  if (written) terms_error_.clear();
  for (const std::string& dir : terms_dirs_) RemoveTermsFilesExcept(dir, names);
}

bool NodeAgent::WriteTerms(const SliceSpec& spec, std::string* error) {
  for (const std::string& dir : terms_dirs_) {
    if (!WriteTermsFile(dir, spec, options_.state_dir, error)) return false;
  }
  return true;
}

bool NodeAgent::Register(const SliceRecord& record, std::string* error) {
  if (!registry_->Put(record, error)) return false;
  if (WriteTerms(record.spec, error)) return true;
  // Unregistered again: its processes would run on whatever their environment says.
  *error = "slice " + record.spec.name + " not registered: its terms could not be kept: " + *error;
  std::string ignored;
  registry_->Remove(record.spec.name, &ignored);
  SyncTermsFiles();
  return false;
}

void NodeAgent::SampleShares(const std::vector<SliceView>& views) {
  uint64_t now = MonotonicNs();
  std::map<std::pair<std::string, std::string>, Sample> next;
  for (const SliceView& v : views) {
    for (const SliceDeviceUsage& u : v.usage) {
      if (!v.record.spec.compute) continue;
      auto key = std::make_pair(v.record.spec.name, u.device);
      Sample sample{u.device_time_ns, now, 0, false};
      auto previous = samples_.find(key);
      if (previous != samples_.end() && now > previous->second.at_ns && u.device_time_ns >= previous->second.used_ns) {
        sample.share = static_cast<double>(u.device_time_ns - previous->second.used_ns) /
                       static_cast<double>(now - previous->second.at_ns);
        sample.has_share = true;
      }
      next[key] = sample;
    }
  }
  samples_ = std::move(next);
}

void NodeAgent::AdoptAndReap(const std::vector<SliceView>& views, const std::vector<SliceRecord>& records) {
  std::set<std::string> stored;
  for (const SliceRecord& s : records) stored.insert(s.spec.name);
  for (const SliceView& v : views) {
    const SliceRecord& r = v.record;
    bool live = v.HasLiveProcesses();
    if (live && r.discovered && !stored.count(r.spec.name)) {
      Store(r);
      log_("slice " + r.spec.name + " discovered running unregistered (" + OwnerText(r.spec.owner) + ", " +
           TermsText(r.spec) + ")");
      continue;
    }
    if (live || r.spec.owner.is_pod() || r.spec.owner.kubelet || OwnerAlive(r)) continue;
    std::string error;
    if (registry_->Remove(r.spec.name, &error)) {
      log_("slice " + r.spec.name + " reaped: " + OwnerText(r.spec.owner) + " is gone and no process runs in it");
    } else if (!error.empty()) {
      log_(error);
    }
  }
}

void NodeAgent::Store(const SliceRecord& record) {
  std::string error;
  if (!registry_->Put(record, &error)) log_(error);
}

bool NodeAgent::ReadRegistry(std::vector<SliceRecord>* records, std::string* error) {
  if (registry_->List(records, nullptr, error)) {
    if (!registry_error_.empty()) log_("registry readable again");
    registry_error_.clear();
    return true;
  }
  if (*error != registry_error_) log_(*error);
  registry_error_ = *error;
  return false;
}

bool NodeAgent::SlicesLocked(std::vector<SliceView>* views, std::string* error) {
  std::vector<SliceRecord> stored;
  if (!ReadRegistry(&stored, error)) return false;
  *views = SlicesLocked(stored);
  return true;
}

std::vector<SliceView> NodeAgent::SlicesLocked(const std::vector<SliceRecord>& stored) {
  std::vector<SliceView> views = JoinSlices(stored, SliceLedger::ListSlices(), ComputeArbiter::ListSlices(),
                                            static_cast<int64_t>(std::time(nullptr)));
  for (SliceView& v : views) {
    for (SliceDeviceUsage& u : v.usage) {
      auto sample = samples_.find(std::make_pair(v.record.spec.name, u.device));
      if (sample != samples_.end() && sample->second.has_share) u.share_ratio = sample->second.share;
    }
  }
  return views;
}

std::vector<DeviceView> NodeAgent::DevicesLocked(const std::vector<SliceRecord>& records) {
  std::vector<DeviceView> devices = inventory_.devices();
  FillCapacity(records, options_.context_reserve, &devices);
  return devices;
}

std::vector<DeviceView> NodeAgent::Devices(std::string* error) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<SliceRecord> records;
  std::string why;
  if (!ReadRegistry(&records, &why)) {
    if (error != nullptr) *error = why;
    return {};
  }
  return DevicesLocked(records);
}

std::vector<SliceView> NodeAgent::Slices(std::string* error) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<SliceView> views;
  std::string why;
  if (!SlicesLocked(&views, &why) && error != nullptr) *error = why;
  return views;
}

ApiReply NodeAgent::GetSlice(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<SliceView> views;
  std::string error;
  if (!SlicesLocked(&views, &error)) return Error(500, error);
  for (const SliceView& v : views) {
    if (v.record.spec.name == name) return ApiReply{200, SlicesToJson({v})[0]};
  }
  return Error(404, "no slice named " + name);
}

ApiReply NodeAgent::CreateSlice(const std::string& request_body) {
  std::string error;
  std::optional<SliceSpec> spec = ParseSliceRequest(request_body, &error);
  if (!spec) return Error(400, "bad slice: " + error);
  if (!spec->owner.is_pod() && !spec->owner.kubelet) {
    spec->owner.pid_start = ProcessStartTicks(spec->owner.pid);
    if (spec->owner.pid_start == 0 || !ProcessUid(spec->owner.pid, &spec->owner.uid))
      return Error(400, "bad slice: owner.pid " + std::to_string(spec->owner.pid) + ": no such process");
  }
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<SliceView> views;
  if (!SlicesLocked(&views, &error)) return Error(500, error);
  std::vector<SliceRecord> records;
  for (const SliceView& v : views) records.push_back(v.record);
  size_t at = 0;
  std::vector<DeviceView> devices = DevicesLocked(records);
  switch (AdmitSlice(*spec, std::time(nullptr), options_.context_reserve, devices, &records, &at, &error)) {
    case Admission::kRefused: return Error(409, error);
    case Admission::kHeld: return ApiReply{200, SliceRecordToJson(records[at])};
    case Admission::kJoined:
      if (!registry_->Put(records[at], &error)) return Error(500, error);
      log_("slice " + spec->name + " joined by " + OwnerText(spec->owner));
      return ApiReply{200, SliceRecordToJson(records[at])};
    case Admission::kCreated: break;
  }
  const SliceRecord& record = records[at];
  if (!Register(record, &error)) return Error(500, error);
  log_("slice " + record.spec.name + " registered (" + OwnerText(record.spec.owner) + ", " + TermsText(record.spec) +
       ", " + std::to_string(record.spec.devices.size()) + " device(s))");
  return ApiReply{201, SliceRecordToJson(record)};
}

ApiReply NodeAgent::DeleteSlice(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<SliceView> views;
  std::string error;
  if (!SlicesLocked(&views, &error)) return Error(500, error);
  for (const SliceView& v : views) {
    if (v.record.spec.name != name) continue;
    if (v.HasLiveProcesses())
      return Error(409, "slice " + name + " still has processes running; it goes once they are gone");
    if (!registry_->Remove(name, &error) && !error.empty()) return Error(500, error);
    SyncTermsFiles();
    log_("slice " + name + " deleted");
    return ApiReply{200, {{"deleted", name}}};
  }
  return Error(404, "no slice named " + name);
}

std::vector<std::pair<DeviceView, GpuUnits>> NodeAgent::Units(const std::string& kind) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<SliceRecord> records;
  std::string error;
  bool readable = ReadRegistry(&records, &error);
  std::vector<std::pair<DeviceView, GpuUnits>> out;
  for (DeviceView& d : DevicesLocked(records)) {
    if (d.kind != kind) continue;
    if (!readable) {  // nothing is handed out while what is taken cannot be known
      d.healthy = false;
      d.health_reason = "the slice registry cannot be read";
    }
    out.push_back({d, UnitsOf(d, records, options_.context_reserve)});
  }
  return out;
}

bool NodeAgent::DropEarlierHolders(const SliceSpec& spec, const std::vector<SliceView>& views, std::string* error) {
  SliceRecord wanted{spec, 0, false, {}};
  std::vector<UnitId> units = HeldUnits(wanted);
  for (const SliceView& v : views) {
    if (v.record.spec.name == spec.name) continue;
    bool overlaps = false;
    for (const UnitId& id : HeldUnits(v.record)) {
      overlaps = overlaps || std::find(units.begin(), units.end(), id) != units.end();
    }
    if (!overlaps) continue;
    if (v.HasLiveProcesses()) {
      *error = "units of slice " + v.record.spec.name + " are handed out again while processes still run in it";
      return false;
    }
    if (!registry_->Remove(v.record.spec.name, error) && !error->empty()) return false;
    log_("slice " + v.record.spec.name + " dropped: kubelet allocated its units to another container");
  }
  return true;
}

std::optional<SliceSpec> NodeAgent::AllocateUnits(const std::vector<std::string>& ids, const std::string& kind,
                                                  std::string* error) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<SliceView> views;
  if (!SlicesLocked(&views, error)) return std::nullopt;
  std::vector<SliceRecord> records;
  for (const SliceView& v : views) records.push_back(v.record);
  std::vector<DeviceView> devices;  // the resource's: IDs of another kind's units name no device
  for (const DeviceView& d : DevicesLocked(records)) {
    if (d.kind == kind) devices.push_back(d);
  }
  std::optional<SliceSpec> spec = SliceForUnits(ids, devices, options_.context_reserve, error);
  if (!spec || !DropEarlierHolders(*spec, views, error)) return std::nullopt;
  if (!ReadRegistry(&records, error)) return std::nullopt;
  for (const SliceRecord& r : records) {
    if (r.spec.name == spec->name && r.spec.SameTerms(*spec)) return spec;  // the same units again
  }
  if (auto refusal = RefuseSlice(*spec, records, options_.context_reserve, DevicesLocked(records))) {
    *error = "slice " + spec->name + " does not fit: " + *refusal;
    return std::nullopt;
  }
  SliceRecord record{*spec, static_cast<int64_t>(std::time(nullptr)), false, {}};
  if (!Register(record, error)) return std::nullopt;
  log_("slice " + spec->name + " registered (kubelet, " + TermsText(*spec) + ", " +
       std::to_string(spec->devices.size()) + " device(s))");
  return spec;
}

namespace {

std::vector<std::string> SortedIds(const SliceRecord& record) {
  std::vector<std::string> ids;
  for (const UnitId& id : HeldUnits(record)) ids.push_back(UnitIdText(id));
  std::sort(ids.begin(), ids.end());
  return ids;
}

// `record` with its owner named after `c`, if those names make a valid record.
std::optional<SliceRecord> NamedAfter(const SliceRecord& record, const ContainerUnits& c) {
  SliceRecord named = record;
  named.spec.owner.pod_namespace = c.pod_namespace;
  named.spec.owner.pod = c.pod;
  named.spec.owner.container = c.container;
  std::string ignored;
  if (!SliceRecordFromJson(SliceRecordToJson(named), &ignored)) return std::nullopt;
  return named;
}

}  // namespace

// The kind of the device `uuid`: the inventory's, else what its UUID says (an NPU's is NpuUuid's).
std::string NodeAgent::KindOfLocked(const std::string& uuid) {
  if (const DeviceView* d = inventory_.Find(uuid)) return d->kind;
  return IsNpuUuid(uuid) ? "npu" : "gpu";
}

void NodeAgent::ReconcileWithKubelet(const std::vector<ContainerUnits>& holders, const std::string& kind,
                                     int64_t now_unix) {
  std::lock_guard<std::mutex> lock(mu_);
  std::set<std::string> held;
  std::map<std::vector<std::string>, const ContainerUnits*> by_ids;  // each container by its sorted IDs
  for (const ContainerUnits& c : holders) {
    held.insert(c.ids.begin(), c.ids.end());
    std::vector<std::string> ids = c.ids;
    std::sort(ids.begin(), ids.end());
    by_ids[ids] = &c;
  }
  std::vector<SliceView> views;
  std::string error;
  if (!SlicesLocked(&views, &error)) return;
  for (const SliceView& v : views) {
    const SliceRecord& r = v.record;
    if (!r.spec.owner.kubelet || r.spec.devices.empty() || KindOfLocked(r.spec.devices.front()) != kind) continue;
    std::vector<std::string> ids = SortedIds(r);
    auto found = by_ids.find(ids);
    const ContainerUnits* holder = found == by_ids.end() ? nullptr : found->second;
    if (holder != nullptr) {
      auto named = NamedAfter(r, *holder);
      if (named && !(named->spec.owner == r.spec.owner)) {
        Store(*named);
        log_("slice " + r.spec.name + " serves pod " + holder->pod_namespace + "/" + holder->pod + " container " +
             holder->container);
      }
      continue;
    }
    bool any_held = std::any_of(ids.begin(), ids.end(), [&](const std::string& id) { return held.count(id) > 0; });
    if (any_held || v.HasLiveProcesses() || now_unix - r.created_unix <= kReleaseGraceSeconds) continue;
    error.clear();
    if (registry_->Remove(r.spec.name, &error)) {
      log_("slice " + r.spec.name + " removed: kubelet lists no container holding its units (" +
           OwnerText(r.spec.owner) + ")");
    } else if (!error.empty()) {
      log_(error);
    }
  }
}

}  // namespace vxpu
