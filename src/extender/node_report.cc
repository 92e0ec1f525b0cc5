#include "extender/node_report.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "common/untrusted_json.h"
#include "sched/model.h"

namespace vxpu::extender {
namespace {

using nlohmann::json;

bool Refuse(std::string* error, const std::string& message) {
  *error = message;
  return false;
}

bool Field(const json& device, const char* key, json::value_t type, const std::string& at, const json** out,
           std::string* error) {
  auto it = device.find(key);
  if (it == device.end()) return Refuse(error, at + "." + key + ": missing (a vxpud without gpu-units?)");
  bool ok = type == json::value_t::number_integer ? it->is_number_integer() : it->type() == type;
  if (!ok) return Refuse(error, at + "." + key + ": wrong type: " + QuotedValue(*it));
  *out = &*it;
  return true;
}

bool Int(const json& device, const char* key, const std::string& at, int lo, int hi, int* out, std::string* error) {
  const json* v = nullptr;
  if (!Field(device, key, json::value_t::number_integer, at, &v, error)) return false;
  int64_t n = v->get<int64_t>();
  if (n < lo || n > hi)
    return Refuse(error, at + "." + key + ": " + std::to_string(n) + " outside " + std::to_string(lo) + ".." +
                             std::to_string(hi));
  *out = static_cast<int>(n);
  return true;
}

// The device's kind: "gpu" (also when absent: a vxpud before NPUs) or "npu".
bool Kind(const json& device, const std::string& at, std::string* kind, std::string* error) {
  auto it = device.find("kind");
  *kind = "gpu";
  if (it == device.end()) return true;
  if (!it->is_string() || (*it != "gpu" && *it != "npu"))
    return Refuse(error, at + ".kind: want \"gpu\" or \"npu\": " + QuotedValue(*it));
  *kind = it->get<std::string>();
  return true;
}

bool ParseGpu(const json& device, const std::string& at, GpuReport* gpu, std::string* error) {
  if (!device.is_object()) return Refuse(error, at + ": want an object");
  const json* v = nullptr;
  if (!Field(device, "uuid", json::value_t::string, at, &v, error)) return false;
  gpu->uuid = v->get<std::string>();
  if (gpu->uuid.empty() || gpu->uuid.size() > 128) return Refuse(error, at + ".uuid: bad: " + QuotedValue(*v));
  if (!Field(device, "name", json::value_t::string, at, &v, error)) return false;
  gpu->name = v->get<std::string>().substr(0, 256);
  if (!Field(device, "healthy", json::value_t::boolean, at, &v, error)) return false;
  gpu->healthy = v->get<bool>();
  if (!Int(device, "index", at, 0, 1 << 20, &gpu->index, error)) return false;
  if (!Int(device, "units_total", at, 10, 10, &gpu->units_total, error)) return false;  // ten units per GPU
  if (!Int(device, "units_free", at, 0, gpu->units_total, &gpu->units_free, error)) return false;
  if (!Int(device, "units_held", at, 0, gpu->units_total, &gpu->units_held, error)) return false;
  if (gpu->units_free + gpu->units_held > gpu->units_total) {
    return Refuse(error, at + ": units_free + units_held above units_total");
  }
  return true;
}

}  // namespace

bool ParseDevicesReport(const std::string& body, NodeReport* out, std::string* error) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Refuse(error, "devices: not JSON");
  if (!NestsAtMost(j, 16)) return Refuse(error, "devices: nested too deep");
  if (!j.is_array()) return Refuse(error, "devices: want a JSON array");
  if (j.size() > static_cast<size_t>(sched::kMaxGpusPerNode)) return Refuse(error, "devices: more than 64");
  NodeReport report;
  std::set<std::string> uuids;
  std::set<std::pair<std::string, int>> indexes;  // an index is its kind's
  for (size_t i = 0; i < j.size(); ++i) {
    const std::string at = "devices[" + std::to_string(i) + "]";
    GpuReport device;
    std::string kind;
    if (!ParseGpu(j[i], at, &device, error) || !Kind(j[i], at, &kind, error)) return false;
    if (!uuids.insert(device.uuid).second || !indexes.insert({kind, device.index}).second) {
      return Refuse(error, at + ": uuid or index given twice");
    }
    (kind == "npu" ? report.npus : report.gpus).push_back(std::move(device));
  }
  for (auto* list : {&report.gpus, &report.npus})
    std::sort(list->begin(), list->end(), [](const GpuReport& a, const GpuReport& b) { return a.index < b.index; });
  *out = std::move(report);
  return true;
}

}  // namespace vxpu::extender
