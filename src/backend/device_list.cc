#include "backend/device_list.h"

#include <algorithm>
#include <charconv>

#include "backend/device_backend.h"

namespace vxpu {
namespace {

std::string Describe(const std::vector<Device>& devices) {
  std::string out = std::to_string(devices.size()) + (devices.size() == 1 ? " device" : " devices");
  for (size_t i = 0; i < devices.size(); ++i)
    out += (i == 0 ? ": " : ", ") + devices[i].kind + std::to_string(devices[i].index) + " " + devices[i].uuid;
  return out;
}

// Whether `text` is an ordinal; *ordinal is its value.
bool ParseOrdinal(const std::string& text, unsigned* ordinal) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *ordinal);
  return !text.empty() && error == std::errc() && end == text.data() + text.size();
}

// The devices `entry` names: a GPU ordinal ("0", as CUDA_VISIBLE_DEVICES has it), a kind and
// ordinal ("gpu0", "npu1"), a UUID or a UUID prefix.
std::vector<const Device*> Matches(const std::vector<Device>& devices, const std::string& entry) {
  std::vector<const Device*> found;
  unsigned ordinal = 0;
  std::string kind = "gpu";
  bool is_ordinal = ParseOrdinal(entry, &ordinal);
  for (const char* prefix : {"gpu", "npu"}) {
    if (!is_ordinal && entry.rfind(prefix, 0) == 0 && ParseOrdinal(entry.substr(3), &ordinal)) {
      kind = prefix;
      is_ordinal = true;
    }
  }
  for (const Device& d : devices) {
    bool named = is_ordinal ? d.kind == kind && d.index == ordinal
                            : entry.size() >= 5 && d.uuid.compare(0, entry.size(), entry) == 0;
    if (named) found.push_back(&d);
  }
  return found;
}

}  // namespace

std::optional<std::vector<Device>> ListDevices(bool sim, std::string* error) {
  std::vector<Device> devices;
  std::string failures;
  size_t answered = 0;
  for (const std::string& vendor : Vendors()) {
    std::vector<Device> some;
    std::string why;
    if (MakeBackend(vendor, sim)->Snapshot(&some, &why)) {
      ++answered;
      devices.insert(devices.end(), some.begin(), some.end());
    } else {
      failures += (failures.empty() ? "" : "; ") + why;
    }
  }
  if (answered == 0) {
    *error = failures;
    return std::nullopt;
  }
  return devices;
}

std::optional<std::vector<Device>> SelectDevices(const std::vector<Device>& devices, const std::string& selection,
                                                 std::string* error) {
  std::vector<Device> selected;
  size_t start = 0;
  while (start <= selection.size()) {
    size_t comma = std::min(selection.find(',', start), selection.size());
    std::string entry = selection.substr(start, comma - start);
    std::vector<const Device*> found = Matches(devices, entry);
    if (found.size() != 1) {
      *error = std::string(found.empty() ? "no device \"" : "more than one device matches \"") + entry +
               "\" (this machine has " + Describe(devices) + ")";
      return std::nullopt;
    }
    selected.push_back(*found[0]);
    start = comma + 1;
  }
  return selected;
}

}  // namespace vxpu
