#include "agent_api/capacity.h"

#include <algorithm>

#include "agent_api/gpu_units.h"
#include "common/units.h"

namespace vxpu {
namespace {

bool OnDevice(const SliceSpec& spec, const std::string& uuid) {
  return std::find(spec.devices.begin(), spec.devices.end(), uuid) != spec.devices.end();
}

// Memory committed on `uuid` (quotas plus context room) and the guarantees there, without
// slice `except`.
void Committed(const std::vector<SliceRecord>& slices, const std::string& uuid, uint64_t context_reserve,
               const std::string& except, uint64_t* memory, uint32_t* compute) {
  *memory = 0;
  *compute = 0;
  for (const SliceRecord& r : slices) {
    if (r.spec.name == except || !OnDevice(r.spec, uuid)) continue;
    if (r.spec.memory_limit) *memory = AddCapped(*memory, AddCapped(*r.spec.memory_limit, context_reserve));
    if (r.spec.compute) *compute += r.spec.compute->guarantee_permille;
  }
}

}  // namespace

std::string PercentText(uint32_t permille) {
  std::string text = std::to_string(permille / 10);
  if (permille % 10 != 0) text.append(".").append(std::to_string(permille % 10));
  return text.append("%");
}

void FillCapacity(const std::vector<SliceRecord>& slices, uint64_t context_reserve, std::vector<DeviceView>* devices) {
  for (DeviceView& d : *devices) {
    uint64_t memory = 0;
    uint32_t compute = 0;
    Committed(slices, d.uuid, context_reserve, "", &memory, &compute);
    memory = AddCapped(memory, context_reserve);  // the new slice's own context
    d.memory_for_slices = d.memory_total > memory ? d.memory_total - memory : 0;
    d.compute_free_permille = compute >= 1000 ? 0 : 1000 - compute;
    GpuUnits units = UnitsOf(d, slices, context_reserve);
    d.units_free = static_cast<unsigned>(std::count(units.begin(), units.end(), UnitState::kFree));
    d.units_held = static_cast<unsigned>(std::count(units.begin(), units.end(), UnitState::kHeld));
  }
}

std::optional<std::string> RefuseSlice(const SliceSpec& spec, const std::vector<SliceRecord>& slices,
                                       uint64_t context_reserve, const std::vector<DeviceView>& devices) {
  for (const std::string& uuid : spec.devices) {
    const DeviceView* device = nullptr;
    for (const DeviceView& d : devices) {
      if (d.uuid == uuid) device = &d;
    }
    if (device == nullptr) return "device " + uuid + ": no such device on this node";
    if (!device->healthy) return "device " + uuid + " is unhealthy (" + device->health_reason + ")";
    uint64_t memory = 0;
    uint32_t compute = 0;
    Committed(slices, uuid, context_reserve, spec.name, &memory, &compute);
    if (spec.memory_limit) {
      if (*spec.memory_limit > device->memory_total)
        return "memory " + FormatBytes(*spec.memory_limit) + ": more than device " + uuid + " has (" +
               FormatBytes(device->memory_total) + ")";
      uint64_t wanted = AddCapped(*spec.memory_limit, context_reserve);
      if (AddCapped(memory, wanted) > device->memory_total) {
        uint64_t kept = AddCapped(memory, context_reserve);
        uint64_t left = device->memory_total > kept ? device->memory_total - kept : 0;
        return "memory " + FormatBytes(*spec.memory_limit) + ": device " + uuid + " has " +
               FormatBytes(device->memory_total) + ", " + FormatBytes(memory) + " promised to other slices and " +
               FormatBytes(context_reserve) + " kept for this slice's context; " + FormatBytes(left) + " is left";
      }
    }
    if (spec.compute && compute + spec.compute->guarantee_permille > 1000) {
      return "compute " + PercentText(spec.compute->guarantee_permille) + ": device " + uuid + " has " +
             PercentText(compute) + " guaranteed to other slices; " + PercentText(1000 - compute) + " is left";
    }
  }
  return std::nullopt;
}

std::string TermsText(const SliceSpec& s) {
  std::string out;
  if (s.memory_limit) out += "memory " + FormatBytes(*s.memory_limit);
  if (s.compute) {
    out += out.empty() ? "" : ", ";
    out += "compute " + PercentText(s.compute->guarantee_permille);
  }
  return out;
}

Admission AdmitSlice(const SliceSpec& spec, int64_t now_unix, uint64_t context_reserve,
                     const std::vector<DeviceView>& devices, std::vector<SliceRecord>* records, size_t* at,
                     std::string* error) {
  for (size_t i = 0; i < records->size(); ++i) {
    SliceRecord& r = (*records)[i];
    if (r.spec.name != spec.name) continue;
    *at = i;
    if (!r.spec.SameTerms(spec)) {
      *error = "slice " + spec.name + " already exists with other terms (" + TermsText(r.spec) + " on " +
               std::to_string(r.spec.devices.size()) + " device(s))";
      return Admission::kRefused;
    }
    SliceHolder holder{spec.owner.pid, spec.owner.pid_start};
    bool known = r.spec.owner.pid == holder.pid && r.spec.owner.pid_start == holder.pid_start;
    for (const SliceHolder& h : r.joined) known = known || h == holder;
    if (known || spec.owner.is_pod()) return Admission::kHeld;
    r.joined.push_back(holder);
    return Admission::kJoined;
  }
  if (auto refusal = RefuseSlice(spec, *records, context_reserve, devices)) {
    *error = "slice " + spec.name + " does not fit: " + *refusal;
    return Admission::kRefused;
  }
  records->push_back(SliceRecord{spec, now_unix, false, {}});
  *at = records->size() - 1;
  return Admission::kCreated;
}

}  // namespace vxpu
