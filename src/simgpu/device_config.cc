#include "simgpu/device_config.h"

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/ascend_api.h"
#include "common/units.h"

namespace simgpu {
namespace {

constexpr uint64_t kGiB = 1024ull * 1024 * 1024;
constexpr uint64_t kMiB = 1024ull * 1024;
constexpr uint32_t kDefaultTimesliceUs = 2000;
constexpr uint64_t kDefaultContextOverhead = 512 * kMiB;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "GPU-" followed by 32 hex digits grouped 8-4-4-4-12.
bool ParseUuid(const std::string& text, unsigned char out[16]) {
  if (text.size() != 40 || text.compare(0, 4, "GPU-") != 0) return false;
  int byte = 0;
  for (size_t i = 4; i < text.size();) {
    if (i == 12 || i == 17 || i == 22 || i == 27) {
      if (text[i] != '-') return false;
      ++i;
      continue;
    }
    int hi = HexValue(text[i]);
    int lo = HexValue(text[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[byte++] = static_cast<unsigned char>(hi * 16 + lo);
    i += 2;
  }
  return byte == 16;
}

std::string DefaultUuid(size_t index) {
  char text[64];
  std::snprintf(text, sizeof(text), "GPU-5a5a0000-0000-4000-8000-%012zx", index);
  return text;
}

DeviceSpec MakeDefaultSpec(size_t index, SimKind kind) {
  DeviceSpec spec;
  if (kind == SimKind::kNpu) {
    char uuid[41];
    vxpu::NpuUuid(static_cast<uint32_t>(index), uuid);
    spec.name = "Ascend910B3";
    spec.uuid = uuid;
    spec.total_memory = 64 * kGiB;
    spec.sm_count = 20;
    spec.context_overhead = 0;
    spec.timeslice_us = kDefaultTimesliceUs;
    return spec;
  }
  spec.name = "NVIDIA H100 80GB HBM3";
  spec.uuid = DefaultUuid(index);
  ParseUuid(spec.uuid, spec.uuid_bytes);
  spec.total_memory = 80 * kGiB;
  spec.sm_count = 132;
  spec.cc_major = 9;
  spec.cc_minor = 0;
  spec.context_overhead = kDefaultContextOverhead;
  spec.timeslice_us = kDefaultTimesliceUs;
  return spec;
}

// Reads a byte quantity given either as a number or as a string with an IEC suffix.
bool ReadBytes(const nlohmann::json& value, uint64_t* out) {
  if (value.is_number_unsigned()) {
    *out = value.get<uint64_t>();
    return true;
  }
  if (!value.is_string()) return false;
  std::optional<uint64_t> parsed = vxpu::ParseBytes(value.get<std::string>());
  if (!parsed) return false;
  *out = *parsed;
  return true;
}

std::string ParseDevice(const nlohmann::json& entry, size_t index, SimKind kind, DeviceSpec* spec) {
  std::string where = "device " + std::to_string(index);
  if (!entry.is_object()) return where + " is not an object";
  *spec = MakeDefaultSpec(index, kind);
  const bool npu = kind == SimKind::kNpu;
  for (auto it = entry.begin(); it != entry.end(); ++it) {
    const std::string& key = it.key();
    const nlohmann::json& v = it.value();
    if (key == "name") {
      if (!v.is_string() || v.get<std::string>().empty()) return where + ": name must be a non-empty string";
      spec->name = v.get<std::string>();
    } else if (key == "uuid" && !npu) {
      if (!v.is_string() || !ParseUuid(v.get<std::string>(), spec->uuid_bytes))
        return where + ": bad uuid " + v.dump() + " (want GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)";
      spec->uuid = v.get<std::string>();
    } else if (key == "memory") {
      if (!ReadBytes(v, &spec->total_memory) || spec->total_memory == 0)
        return where + ": bad memory " + v.dump() + " (want bytes or a size like \"80GiB\")";
    } else if (key == "context_overhead") {
      if (!ReadBytes(v, &spec->context_overhead)) return where + ": bad context_overhead " + v.dump();
    } else if (key == (npu ? "aicore_count" : "sm_count")) {
      if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > 100000)
        return where + ": bad " + key + " " + v.dump();
      spec->sm_count = v.get<int>();
    } else if (key == "compute_capability" && !npu) {
      int major = 0, minor = 0;
      char tail = 0;
      if (!v.is_string() || std::sscanf(v.get<std::string>().c_str(), "%d.%d%c", &major, &minor, &tail) != 2 ||
          major < 1 || minor < 0)
        return where + ": bad compute_capability " + v.dump() + " (want \"9.0\")";
      spec->cc_major = major;
      spec->cc_minor = minor;
    } else if (key == "timeslice_us") {
      if (!v.is_number_unsigned() || v.get<uint64_t>() < 100 || v.get<uint64_t>() > 1000000)
        return where + ": bad timeslice_us " + v.dump() + " (want 100..1000000)";
      spec->timeslice_us = v.get<uint32_t>();
    } else {
      return where + ": unknown key \"" + key + "\"";
    }
  }
  if (spec->context_overhead >= spec->total_memory) return where + ": context_overhead must be smaller than memory";
  return "";
}

}  // namespace

std::vector<DeviceSpec> DefaultDevices(SimKind kind) { return {MakeDefaultSpec(0, kind)}; }

DeviceConfig ParseDeviceConfig(std::string_view json_text, SimKind kind) {
  DeviceConfig config;
  nlohmann::json root = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) {
    config.error = "not valid JSON";
    return config;
  }
  if (!root.is_object() || !root.contains("devices") || !root["devices"].is_array()) {
    config.error = "expected an object with a \"devices\" array";
    return config;
  }
  for (auto it = root.begin(); it != root.end(); ++it) {
    if (it.key() != "devices") {
      config.error = "unknown key \"" + it.key() + "\"";
      return config;
    }
  }
  const nlohmann::json& devices = root["devices"];
  if (devices.empty() && kind == SimKind::kNpu) return config;  // a machine without NPUs
  if (devices.empty()) {
    config.error = "\"devices\" is empty";
    return config;
  }
  for (size_t i = 0; i < devices.size(); ++i) {
    DeviceSpec spec;
    config.error = ParseDevice(devices[i], i, kind, &spec);
    if (!config.error.empty()) {
      config.devices.clear();
      return config;
    }
    for (const DeviceSpec& other : config.devices) {
      if (other.uuid == spec.uuid) {
        config.error = "device " + std::to_string(i) + ": duplicate uuid " + spec.uuid;
        config.devices.clear();
        return config;
      }
    }
    config.devices.push_back(spec);
  }
  return config;
}

std::vector<DeviceSpec> VisibleDevices(const std::vector<DeviceSpec>& devices, const char* visible) {
  if (visible == nullptr) return devices;
  std::vector<DeviceSpec> out;
  std::stringstream list(visible);
  std::string entry;
  while (std::getline(list, entry, ',')) {
    const DeviceSpec* found = nullptr;
    for (size_t i = 0; i < devices.size(); ++i) {
      if (entry == devices[i].uuid || entry == std::to_string(i)) found = &devices[i];
    }
    if (found == nullptr) break;
    out.push_back(*found);
  }
  return out;
}

DeviceConfig LoadDeviceConfig(SimKind kind) {
  const char* env = kind == SimKind::kNpu ? kNpuConfigEnv : kConfigEnv;
  const char* path = std::getenv(env);
  if (path == nullptr || *path == '\0') return DeviceConfig{DefaultDevices(kind), ""};
  std::ifstream in(path);
  if (!in) return DeviceConfig{{}, std::string(env) + "=" + path + ": cannot read file"};
  std::stringstream text;
  text << in.rdbuf();
  DeviceConfig config = ParseDeviceConfig(text.str(), kind);
  if (!config.error.empty()) config.error = std::string(env) + "=" + path + ": " + config.error;
  return config;
}

}  // namespace simgpu
