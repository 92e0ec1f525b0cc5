#include "node/gpu_units.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "common/units.h"
#include "interposer/slice_ledger.h"

namespace vxpu {
namespace {

constexpr char kSlicePrefix[] = "k8s-";
constexpr uint64_t kMiB = 1ull << 20;

// An untrusted ID as an error shows it: quoted, non-printable bytes as \xNN, at most 80 bytes.
std::string Shown(const std::string& text) {
  std::string out = "\"";
  for (size_t i = 0; i < text.size() && i < 80; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "\\x%02x", c);
      out += hex;
    }
  }
  return out + (text.size() > 80 ? "...\"" : "\"");
}

uint64_t CeilDiv(uint64_t a, uint64_t b) { return b == 0 ? 0 : a / b + (a % b != 0 ? 1 : 0); }

const DeviceView* FindDevice(const std::vector<DeviceView>& devices, const std::string& uuid) {
  for (const DeviceView& d : devices) {
    if (d.uuid == uuid) return &d;
  }
  return nullptr;
}

// The units local (not kubelet-owned) slices use on `device`.
unsigned LocalUnits(const DeviceView& device, const std::vector<SliceRecord>& slices, uint64_t reserve) {
  uint64_t compute = 0, memory = 0;
  for (const SliceRecord& r : slices) {
    if (r.spec.owner.kubelet) continue;
    if (std::find(r.spec.devices.begin(), r.spec.devices.end(), device.uuid) == r.spec.devices.end()) continue;
    if (r.spec.compute) compute += r.spec.compute->guarantee_permille;
    if (r.spec.memory_limit) memory = AddCapped(memory, AddCapped(*r.spec.memory_limit, reserve));
  }
  uint64_t by_compute = CeilDiv(compute, 1000 / kUnitsPerGpu);
  uint64_t by_memory = CeilDiv(memory, device.memory_total / kUnitsPerGpu);
  return static_cast<unsigned>(std::min<uint64_t>(kUnitsPerGpu, std::max(by_compute, by_memory)));
}

// Groups parsed IDs by device, in the order of `devices`; false with *error on a bad or
// repeated ID or an unknown device.
bool GroupByDevice(const std::vector<std::string>& ids, const std::vector<DeviceView>& devices,
                   std::vector<std::pair<const DeviceView*, std::vector<unsigned>>>* groups, std::string* error) {
  std::map<std::string, std::vector<unsigned>> units;
  for (const std::string& text : ids) {
    auto id = ParseUnitId(text, error);
    if (!id) return false;
    if (!FindDevice(devices, id->device)) {
      *error = "device ID " + Shown(text) + ": no GPU " + id->device + " on this node";
      return false;
    }
    std::vector<unsigned>& list = units[id->device];
    if (std::find(list.begin(), list.end(), id->unit) != list.end()) {
      *error = "device ID " + Shown(text) + " is listed twice";
      return false;
    }
    list.push_back(id->unit);
  }
  for (const DeviceView& d : devices) {
    auto it = units.find(d.uuid);
    if (it == units.end()) continue;
    std::sort(it->second.begin(), it->second.end());
    groups->push_back({&d, it->second});
  }
  return true;
}

SliceSpec FractionSlice(const DeviceView& device, const std::vector<unsigned>& units, uint64_t reserve) {
  SliceSpec spec;
  spec.name = kSlicePrefix + device.uuid + "-u";
  for (unsigned u : units) spec.name += static_cast<char>('0' + u);
  spec.devices = {device.uuid};
  uint64_t share = device.memory_total / kUnitsPerGpu * units.size();
  spec.memory_limit = share > reserve ? (share - reserve) / kMiB * kMiB : 0;
  uint32_t permille = static_cast<uint32_t>(units.size() * (1000 / kUnitsPerGpu));
  spec.compute = SliceCompute{permille, permille, false};
  return spec;
}

SliceSpec WholeSlice(const std::vector<std::pair<const DeviceView*, std::vector<unsigned>>>& groups, uint64_t reserve) {
  SliceSpec spec;
  spec.name = kSlicePrefix + groups.front().first->uuid + "-w" + std::to_string(groups.size());
  uint64_t smallest = UINT64_MAX;
  for (const auto& [device, units] : groups) {
    spec.devices.push_back(device->uuid);
    smallest = std::min(smallest, device->memory_total);
  }
  spec.memory_limit = smallest > reserve ? (smallest - reserve) / kMiB * kMiB : 0;
  spec.compute = SliceCompute{1000, 1000, false};
  return spec;
}

std::string IdsText(const std::vector<std::string>& ids) {
  std::string out;
  for (size_t i = 0; i < ids.size() && i < 12; ++i) out += (out.empty() ? "" : ",") + Shown(ids[i]);
  return ids.size() > 12 ? out + ",..." : out;
}

}  // namespace

std::string UnitIdText(const UnitId& id) { return id.device + "-u" + std::to_string(id.unit); }

std::optional<UnitId> ParseUnitId(const std::string& text, std::string* error) {
  size_t at = text.rfind("-u");
  bool ok = at != std::string::npos && at > 0 && at + 3 == text.size() && text[at + 2] >= '0' && text[at + 2] <= '9' &&
            SliceLedger::ValidSliceName(text.substr(0, at));
  if (!ok) {
    *error = "bad device ID " + Shown(text) + " (want <GPU UUID>-u<0-9>)";
    return std::nullopt;
  }
  return UnitId{text.substr(0, at), static_cast<unsigned>(text[at + 2] - '0')};
}

std::vector<UnitId> HeldUnits(const SliceRecord& slice) {
  std::vector<UnitId> out;
  const SliceSpec& s = slice.spec;
  if (!s.owner.kubelet || s.devices.empty()) return out;
  const std::string fraction = kSlicePrefix + s.devices.front() + "-u";
  if (s.devices.size() == 1 && s.name.rfind(fraction, 0) == 0) {
    for (char c : s.name.substr(fraction.size())) {
      if (c >= '0' && c <= '9') out.push_back(UnitId{s.devices.front(), static_cast<unsigned>(c - '0')});
    }
    return out;
  }
  for (const std::string& device : s.devices) {
    for (unsigned u = 0; u < kUnitsPerGpu; ++u) out.push_back(UnitId{device, u});
  }
  return out;
}

GpuUnits UnitsOf(const DeviceView& device, const std::vector<SliceRecord>& slices, uint64_t context_reserve) {
  GpuUnits units;
  units.fill(device.healthy ? UnitState::kFree : UnitState::kUnhealthy);
  if (!device.healthy) return units;
  for (const SliceRecord& r : slices) {
    for (const UnitId& id : HeldUnits(r)) {
      if (id.device == device.uuid && id.unit < kUnitsPerGpu) units[id.unit] = UnitState::kHeld;
    }
  }
  unsigned taken = LocalUnits(device, slices, context_reserve);
  for (unsigned u = kUnitsPerGpu; u-- > 0 && taken > 0;) {
    if (units[u] != UnitState::kFree) continue;
    units[u] = UnitState::kTaken;
    --taken;
  }
  return units;
}

std::optional<SliceSpec> SliceForUnits(const std::vector<std::string>& ids, const std::vector<DeviceView>& devices,
                                       uint64_t context_reserve, std::string* error) {
  if (ids.empty()) {
    *error = "no device IDs";
    return std::nullopt;
  }
  std::vector<std::pair<const DeviceView*, std::vector<unsigned>>> groups;
  if (!GroupByDevice(ids, devices, &groups, error)) return std::nullopt;
  std::optional<SliceSpec> spec;
  if (groups.size() == 1 && groups.front().second.size() < kUnitsPerGpu) {
    spec = FractionSlice(*groups.front().first, groups.front().second, context_reserve);
  } else if (std::all_of(groups.begin(), groups.end(), [](const auto& g) { return g.second.size() == kUnitsPerGpu; })) {
    spec = WholeSlice(groups, context_reserve);
  } else {
    *error = "device IDs " + IdsText(ids) + " are neither 1-9 units of one GPU nor all units of whole GPUs";
    return std::nullopt;
  }
  if (*spec->memory_limit == 0) {
    *error = "device IDs " + IdsText(ids) + ": their memory does not cover the context reserve";
    return std::nullopt;
  }
  if (!SliceLedger::ValidSliceName(spec->name)) {
    *error = "device IDs " + IdsText(ids) + ": the GPU UUID is too long for a slice name";
    return std::nullopt;
  }
  spec->owner.kubelet = true;
  return spec;
}

std::vector<std::string> PreferredUnits(const std::vector<std::string>& available,
                                        const std::vector<std::string>& must_include, size_t size,
                                        const std::vector<DeviceView>& devices) {
  std::string ignored;
  std::map<std::string, std::vector<std::string>> by_device;  // available IDs per GPU, must_include first
  for (const auto* list : {&must_include, &available}) {
    for (const std::string& text : *list) {
      auto id = ParseUnitId(text, &ignored);
      if (!id) continue;
      std::vector<std::string>& ids = by_device[id->device];
      if (std::find(ids.begin(), ids.end(), text) == ids.end()) ids.push_back(text);
    }
  }
  std::vector<std::string> musts_on;  // the GPUs must_include names
  bool musts_valid = true;
  for (const std::string& text : must_include) {
    auto id = ParseUnitId(text, &ignored);
    musts_valid = musts_valid && id.has_value();
    if (id && std::find(musts_on.begin(), musts_on.end(), id->device) == musts_on.end()) musts_on.push_back(id->device);
  }
  std::vector<std::string> out;
  if (!musts_valid) {
    // Not our IDs: answer with them first, below; Allocate refuses the set.
  } else if (size >= 1 && size < kUnitsPerGpu && musts_on.size() <= 1) {
    const std::vector<std::string>* best = nullptr;
    for (const DeviceView& d : devices) {
      auto it = by_device.find(d.uuid);
      if (it == by_device.end() || it->second.size() < size) continue;
      if (!musts_on.empty() && musts_on.front() != d.uuid) continue;
      if (best == nullptr || it->second.size() < best->size()) best = &it->second;
    }
    if (best) out.assign(best->begin(), best->begin() + static_cast<std::ptrdiff_t>(size));
  } else if (size > 0 && size % kUnitsPerGpu == 0) {
    for (bool musts_pass : {true, false}) {  // the GPUs must_include names first
      for (const DeviceView& d : devices) {
        bool must = std::find(musts_on.begin(), musts_on.end(), d.uuid) != musts_on.end();
        auto it = by_device.find(d.uuid);
        if (must != musts_pass || it == by_device.end() || it->second.size() < kUnitsPerGpu || out.size() >= size)
          continue;
        out.insert(out.end(), it->second.begin(), it->second.end());
      }
    }
    if (out.size() != size) out.clear();
  }
  for (const std::string& must : must_include) {
    if (std::find(out.begin(), out.end(), must) == out.end()) out.clear();
  }
  if (out.empty()) {
    for (const auto* list : {&must_include, &available}) {
      for (const std::string& id : *list) {
        if (out.size() < size && std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
      }
    }
  }
  return out;
}

}  // namespace vxpu
