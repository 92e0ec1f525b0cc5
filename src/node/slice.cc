#include "node/slice.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "common/untrusted_json.h"
#include "interposer/slice_ledger.h"

namespace vxpu {
namespace {

using nlohmann::json;

constexpr size_t kMaxDevices = 64;
constexpr size_t kMaxLabel = 253;  // a Kubernetes name (DNS subdomain) at most

constexpr int kMaxNesting = 8;  // a request is 3 levels deep; a listed slice 5

double Percent(uint32_t permille) { return permille / 10.0; }

// A process id: an integer in 1..2^31-1.
bool IsPid(const json& value) {
  if (value.is_number_unsigned()) return value.get<uint64_t>() >= 1 && value.get<uint64_t>() <= INT32_MAX;
  return value.is_number_integer() && value.get<int64_t>() >= 1 && value.get<int64_t>() <= INT32_MAX;
}

// A bad value as an error quotes it (untrusted_json.h).
std::string Shown(const json& value) { return QuotedValue(value); }

// Every key of `object` must be one of `known`.
bool OnlyKnownKeys(const json& object, std::initializer_list<const char*> known, const std::string& where,
                   std::string* error) {
  for (const auto& [key, value] : object.items()) {
    bool found = false;
    for (const char* k : known) found = found || key == k;
    if (!found) {
      *error = where + ": unknown field " + Shown(json(key));
      return false;
    }
  }
  return true;
}

// A percentage of a device in 0.1 steps, in (0, 100], as permille.
std::optional<uint32_t> PermilleField(const json& object, const char* key, const std::string& where,
                                      std::string* error) {
  const json& value = object.at(key);
  if (!value.is_number()) {
    *error = where + "." + key + ": want a number of percent, got " + Shown(value);
    return std::nullopt;
  }
  double percent = value.get<double>();
  double tenths = percent * 10.0;
  if (!(percent > 0.0 && percent <= 100.0) || std::fabs(tenths - std::round(tenths)) > 1e-6 ||
      std::lround(tenths) < 1) {
    *error = where + "." + key + ": bad value " + Shown(value) + " (want more than 0 and at most 100, in 0.1 steps)";
    return std::nullopt;
  }
  return static_cast<uint32_t>(std::lround(tenths));
}

std::optional<SliceCompute> ParseCompute(const json& c, std::string* error) {
  if (!c.is_object()) {
    *error = "compute: want an object, got " + Shown(c);
    return std::nullopt;
  }
  if (!OnlyKnownKeys(c, {"guarantee_percent", "limit_percent", "priority"}, "compute", error)) return std::nullopt;
  if (!c.contains("guarantee_percent")) {
    *error = "compute: guarantee_percent is missing";
    return std::nullopt;
  }
  SliceCompute out;
  auto guarantee = PermilleField(c, "guarantee_percent", "compute", error);
  if (!guarantee) return std::nullopt;
  out.guarantee_permille = *guarantee;
  if (c.contains("limit_percent")) {
    auto limit = PermilleField(c, "limit_percent", "compute", error);
    if (!limit) return std::nullopt;
    out.limit_permille = *limit;
  }
  if (out.limit_permille < out.guarantee_permille) {
    *error = "compute: limit_percent " + Shown(c.at("limit_percent")) + " is below guarantee_percent " +
             Shown(c.at("guarantee_percent"));
    return std::nullopt;
  }
  if (c.contains("priority")) {
    const json& p = c.at("priority");
    if (p != "normal" && p != "high") {
      *error = "compute.priority: bad value " + Shown(p) + " (want \"normal\" or \"high\")";
      return std::nullopt;
    }
    out.high_priority = p == "high";
  }
  return out;
}

bool ValidLabel(const json& value) {
  if (!value.is_string()) return false;
  const std::string& s = value.get_ref<const std::string&>();
  if (s.empty() || s.size() > kMaxLabel) return false;
  for (char ch : s) {
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.')) return false;
  }
  return true;
}

// A batch job as a slice's owner names it: "<scheduler>:<job id>" with an optional ".<step>",
// 1-64 of a-z 0-9 . _ : - (e.g. "slurm:123.0", "slurm:123.batch").
bool ValidJob(const json& value) {
  if (!value.is_string()) return false;
  const std::string& s = value.get_ref<const std::string&>();
  size_t colon = s.find(':');
  if (s.size() > 64 || colon == 0 || colon == std::string::npos || colon + 1 == s.size()) return false;
  for (char ch : s) {
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == ':'))
      return false;
  }
  return true;
}

// {"pid": N} (and "job") or {"namespace", "pod", "container"}; with `stored`, also pid_start and uid.
std::optional<SliceOwner> ParseOwner(const json& o, bool stored, std::string* error) {
  if (!o.is_object()) {
    *error = "owner: want an object, got " + Shown(o);
    return std::nullopt;
  }
  SliceOwner out;
  if (o.contains("pid")) {
    bool known = stored ? OnlyKnownKeys(o, {"pid", "pid_start", "uid", "job"}, "owner", error)
                        : OnlyKnownKeys(o, {"pid", "job"}, "owner", error);
    if (!known) return std::nullopt;
    const json& pid = o.at("pid");
    if (!IsPid(pid)) {
      *error = "owner.pid: bad value " + Shown(pid) + " (want a process id)";
      return std::nullopt;
    }
    out.pid = static_cast<int32_t>(pid.get<int64_t>());
    if (o.contains("job")) {
      if (!ValidJob(o.at("job"))) {
        *error = "owner.job: bad value " + Shown(o.at("job")) +
                 " (want <scheduler>:<job id>[.<step>], 1-64 of a-z 0-9 . _ : -)";
        return std::nullopt;
      }
      out.job = o.at("job").get<std::string>();
    }
    if (stored) {
      const json uid = o.value("uid", json());
      if (!o.value("pid_start", json()).is_number_unsigned() || !uid.is_number_unsigned() ||
          uid.get<uint64_t>() > UINT32_MAX) {
        *error = "owner: pid_start must be an unsigned integer and uid a 32-bit one";
        return std::nullopt;
      }
      out.pid_start = o.at("pid_start").get<uint64_t>();
      out.uid = o.at("uid").get<uint32_t>();
    }
    return out;
  }
  if (o.contains("kubelet")) {
    if (!stored) {
      *error = "owner.kubelet: only the device plugin makes the slices of kubelet's allocations";
      return std::nullopt;
    }
    if (o.at("kubelet") != true) {
      *error = "owner.kubelet: bad value " + Shown(o.at("kubelet")) + " (want true)";
      return std::nullopt;
    }
    if (!OnlyKnownKeys(o, {"kubelet", "namespace", "pod", "container"}, "owner", error)) return std::nullopt;
    out.kubelet = true;
    if (o.size() == 1) return out;
  } else if (!OnlyKnownKeys(o, {"namespace", "pod", "container"}, "owner", error)) {
    return std::nullopt;
  }
  for (const char* key : {"namespace", "pod", "container"}) {
    if (!o.contains(key) || !ValidLabel(o.at(key))) {
      *error = std::string("owner.") + key + ": bad value " + (o.contains(key) ? Shown(o.at(key)) : "(missing)") +
               " (want a Kubernetes name: lower-case letters, digits, '-' and '.')";
      return std::nullopt;
    }
  }
  out.pod_namespace = o.at("namespace").get<std::string>();
  out.pod = o.at("pod").get<std::string>();
  out.container = o.at("container").get<std::string>();
  return out;
}

bool ValidUuid(const std::string& uuid) {
  if (uuid.size() < 5 || uuid.size() > 96) return false;
  for (char ch : uuid) {
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-')) return false;
  }
  return true;
}

std::optional<std::vector<std::string>> ParseDevices(const json& d, std::string* error) {
  if (!d.is_array() || d.empty() || d.size() > kMaxDevices) {
    *error = "devices: want a list of 1-64 device UUIDs, got " + Shown(d);
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (const json& uuid : d) {
    if (!uuid.is_string() || !ValidUuid(uuid.get<std::string>())) {
      *error = "devices: bad device UUID " + Shown(uuid);
      return std::nullopt;
    }
    for (const std::string& seen : out) {
      if (seen == uuid.get<std::string>()) {
        *error = "devices: " + Shown(uuid) + " is listed twice";
        return std::nullopt;
      }
    }
    out.push_back(uuid.get<std::string>());
  }
  return out;
}

// The fields a request and a stored record share.
std::optional<SliceSpec> ParseSpec(const json& j, bool stored, std::string* error) {
  SliceSpec spec;
  if (!j.contains("name") || !j.at("name").is_string() ||
      !SliceLedger::ValidSliceName(j.at("name").get<std::string>())) {
    *error = "name: bad value " + (j.contains("name") ? Shown(j.at("name")) : std::string("(missing)")) +
             " (want 1-64 of A-Z a-z 0-9 . _ -)";
    return std::nullopt;
  }
  spec.name = j.at("name").get<std::string>();
  if (!j.contains("devices")) {
    *error = "devices: missing";
    return std::nullopt;
  }
  auto devices = ParseDevices(j.at("devices"), error);
  if (!devices) return std::nullopt;
  spec.devices = std::move(*devices);
  if (j.contains("memory_limit_bytes") && !j.at("memory_limit_bytes").is_null()) {
    const json& m = j.at("memory_limit_bytes");
    if (!m.is_number_unsigned() || m.get<uint64_t>() == 0) {
      *error = "memory_limit_bytes: bad value " + Shown(m) + " (want a positive integer)";
      return std::nullopt;
    }
    spec.memory_limit = m.get<uint64_t>();
  }
  if (j.contains("compute") && !j.at("compute").is_null()) {
    auto compute = ParseCompute(j.at("compute"), error);
    if (!compute) return std::nullopt;
    spec.compute = *compute;
  }
  if (!spec.memory_limit && !spec.compute) {
    *error = "a slice needs memory_limit_bytes, compute or both";
    return std::nullopt;
  }
  if (!j.contains("owner")) {
    *error = "owner: missing";
    return std::nullopt;
  }
  auto owner = ParseOwner(j.at("owner"), stored, error);
  if (!owner) return std::nullopt;
  spec.owner = *owner;
  return spec;
}

json OwnerToJson(const SliceOwner& o, bool stored) {
  if (o.kubelet && o.pod.empty()) return {{"kubelet", true}};
  if (o.kubelet) return {{"kubelet", true}, {"namespace", o.pod_namespace}, {"pod", o.pod}, {"container", o.container}};
  if (o.is_pod()) return {{"namespace", o.pod_namespace}, {"pod", o.pod}, {"container", o.container}};
  json out = {{"pid", o.pid}};
  if (!o.job.empty()) out["job"] = o.job;
  if (stored) {
    out["pid_start"] = o.pid_start;
    out["uid"] = o.uid;
  }
  return out;
}

json SpecToJson(const SliceSpec& spec, bool stored) {
  json out = {{"name", spec.name}, {"devices", spec.devices}};
  out["memory_limit_bytes"] = spec.memory_limit ? json(*spec.memory_limit) : json(nullptr);
  if (spec.compute) {
    out["compute"] = {{"guarantee_percent", Percent(spec.compute->guarantee_permille)},
                      {"limit_percent", Percent(spec.compute->limit_permille)},
                      {"priority", spec.compute->high_priority ? "high" : "normal"}};
  } else {
    out["compute"] = nullptr;
  }
  out["owner"] = OwnerToJson(spec.owner, stored);
  return out;
}

}  // namespace

bool SliceSpec::SameTerms(const SliceSpec& other) const {
  return name == other.name && devices == other.devices && memory_limit == other.memory_limit &&
         compute == other.compute;
}

std::optional<SliceSpec> ParseSliceRequest(const std::string& body, std::string* error) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    *error = "request body is not JSON";
    return std::nullopt;
  }
  if (!NestsAtMost(j, kMaxNesting)) {
    *error = "request body: nested deeper than " + std::to_string(kMaxNesting) + " levels";
    return std::nullopt;
  }
  if (!j.is_object()) {
    *error = "request body: want a JSON object";
    return std::nullopt;
  }
  if (!OnlyKnownKeys(j, {"name", "devices", "memory_limit_bytes", "compute", "owner"}, "request", error))
    return std::nullopt;
  return ParseSpec(j, /*stored=*/false, error);
}

std::string SliceRequestJson(const SliceSpec& spec) { return SpecToJson(spec, /*stored=*/false).dump(); }

json SliceRecordToJson(const SliceRecord& record) {
  json out = SpecToJson(record.spec, /*stored=*/true);
  out["created_unix"] = record.created_unix;
  out["discovered"] = record.discovered;
  json joined = json::array();
  for (const SliceHolder& h : record.joined) joined.push_back({{"pid", h.pid}, {"pid_start", h.pid_start}});
  out["joined"] = joined;
  return out;
}

std::optional<SliceRecord> SliceRecordFromJson(const json& j, std::string* error) {
  if (!NestsAtMost(j, kMaxNesting)) {
    *error = "stored slice: nested deeper than " + std::to_string(kMaxNesting) + " levels";
    return std::nullopt;
  }
  if (!j.is_object() || !j.contains("created_unix") || !j.at("created_unix").is_number_integer() ||
      !j.contains("discovered") || !j.at("discovered").is_boolean()) {
    *error = "stored slice: created_unix or discovered missing";
    return std::nullopt;
  }
  const json& created = j.at("created_unix");
  if (created.is_number_unsigned() && created.get<uint64_t>() > INT64_MAX) {
    *error = "stored slice: created_unix " + Shown(created) + " is out of range";
    return std::nullopt;
  }
  // "usage" is what the API adds to a record when it lists it (node_view.h).
  if (!OnlyKnownKeys(j,
                     {"name", "devices", "memory_limit_bytes", "compute", "owner", "created_unix", "discovered",
                      "joined", "usage"},
                     "stored slice", error))
    return std::nullopt;
  json fields = j;
  json joined = fields.value("joined", json::array());
  for (const char* key : {"created_unix", "discovered", "joined", "usage"}) fields.erase(key);
  auto spec = ParseSpec(fields, /*stored=*/true, error);
  if (!spec) return std::nullopt;
  SliceRecord record{std::move(*spec), j.at("created_unix").get<int64_t>(), j.at("discovered").get<bool>(), {}};
  if (!joined.is_array()) {
    *error = "stored slice: joined is not a list";
    return std::nullopt;
  }
  for (const json& h : joined) {
    if (!h.is_object() || !IsPid(h.value("pid", json())) || !h.value("pid_start", json()).is_number_unsigned()) {
      *error = "stored slice: bad joined entry " + Shown(h);
      return std::nullopt;
    }
    record.joined.push_back(SliceHolder{h.at("pid").get<int32_t>(), h.at("pid_start").get<uint64_t>()});
  }
  return record;
}

}  // namespace vxpu
