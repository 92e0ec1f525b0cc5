#include "slice/admission.h"

#include <cstdio>

#include "common/units.h"
#include "node/capacity.h"

namespace vxpu {
namespace {

constexpr uint32_t kWholeDevice = 1000;  // permille

std::string Percent(uint32_t permille) {
  char text[16];
  std::snprintf(text, sizeof(text), "%.1f%%", permille / 10.0);
  return text;
}

std::string Named(const DeviceView& d) { return "device " + std::to_string(d.index) + " (" + d.uuid + ")"; }

// The memory quota must fit each device, and agree with the slice's running processes there.
std::optional<std::string> RefuseQuota(const std::string& quota, const std::string& slice,
                                       const std::vector<DeviceView>& devices,
                                       const std::vector<SliceSummary>& running) {
  for (const DeviceView& d : devices) {
    std::string error;
    auto bytes = ParseMemoryQuota(quota, d.memory_total, &error);
    if (!bytes)
      return "--memory: " + error + " (" + Named(d) + (devices.size() > 1 ? "; --device picks devices)" : ")");
    for (const SliceSummary& s : running) {
      if (s.slice == slice && s.device == d.uuid && s.limit != *bytes) {
        return "slice " + slice + " already runs on " + Named(d) + " with " + FormatBytes(s.limit) +
               " of memory, not " + FormatBytes(*bytes) + " (--name picks another slice)";
      }
    }
  }
  return std::nullopt;
}

// The compute guarantee must fit beside the running slices' on each device (the arbiter refuses
// it at the first launch otherwise, where the workload cannot say why).
std::optional<std::string> RefuseCompute(const ComputeTerms& terms, const std::vector<DeviceView>& devices,
                                         const std::vector<ComputeSliceUsage>& running) {
  for (const DeviceView& d : devices) {
    uint32_t reserved = 0;
    for (const ComputeSliceUsage& s : running) {
      if (s.device != d.uuid) continue;
      if (s.slice != terms.slice) {
        reserved += s.terms.request;
      } else if (s.terms.request != terms.request || s.terms.limit != terms.limit ||
                 s.terms.high_priority != terms.high_priority) {
        return "slice " + terms.slice + " already runs on " + Named(d) + " with compute " + Percent(s.terms.request) +
               ", limit " + Percent(s.terms.limit) + ", " + (s.terms.high_priority ? "high" : "normal") +
               " priority (--name picks another slice)";
      }
    }
    if (reserved + terms.request > kWholeDevice) {
      return "--compute " + Percent(terms.request) + ": " + Named(d) + " has " + Percent(reserved) +
             " of its compute guaranteed to running slices; " + Percent(kWholeDevice - reserved) + " is left";
    }
  }
  return std::nullopt;
}

}  // namespace

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

std::optional<std::string> RefuseBesideRunning(const std::string& memory, const ComputeTerms& compute,
                                               const std::vector<DeviceView>& devices,
                                               const std::vector<SliceSummary>& running_memory,
                                               const std::vector<ComputeSliceUsage>& running_compute) {
  if (!memory.empty()) {
    if (auto refusal = RefuseQuota(memory, compute.slice, devices, running_memory)) return refusal;
  }
  if (compute.request > 0) return RefuseCompute(compute, devices, running_compute);
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
