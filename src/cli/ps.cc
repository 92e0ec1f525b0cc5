#include "cli/ps.h"

#include <fmt/format.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "common/units.h"
#include "slice/node_link.h"

namespace vxpu {
namespace {

using nlohmann::json;

std::string Row(const std::string& slice, const std::string& device, const std::string& pid, const std::string& used,
                const std::string& limit, const std::string& compute, const std::string& job) {
  return fmt::format("{:<20} {:<42} {:>8} {:>10} {:>10} {:>9}  {}", slice, device, pid, used, limit, compute, job);
}

std::string Limit(const json& slice) {
  const json& limit = slice["memory_limit_bytes"];
  return limit.is_number_unsigned() ? FormatBytes(limit.get<uint64_t>()) : "-";
}

std::string Compute(const json& slice) {
  const json& c = slice["compute"];
  return c.is_object() ? fmt::format("{:.1f}%", c["guarantee_percent"].get<double>()) : "-";
}

// Before its first CUDA call a slice has no process on its devices yet: its owner is shown.
std::string Owner(const json& slice) {
  const json& owner = slice["owner"];
  return owner.is_object() && owner.value("pid", 0) > 0 ? std::to_string(owner["pid"].get<int>()) : "-";
}

// The batch job a slice is held for (a Slurm job step's: "slurm:123.0"), or "-".
std::string Job(const json& slice) {
  const json& owner = slice["owner"];
  return owner.is_object() && owner.value("job", json()).is_string() ? owner["job"].get<std::string>() : "-";
}

void PrintTable(const json& slices) {
  std::printf("%s\n", Row("SLICE", "DEVICE", "PID", "USED", "LIMIT", "COMPUTE", "JOB").c_str());
  if (slices.empty())
    std::printf("  (no slices: start one with `vxpu run --memory 4GiB -- COMMAND`, or see `vxpu demo`)\n");
  for (const json& s : slices) {
    const std::string name = s["name"].get<std::string>();
    for (const json& u : s["usage"]) {
      const std::string device = u["device"].get<std::string>();
      if (u["processes"].empty())
        std::printf("%s\n", Row(name, device, Owner(s), "-", Limit(s), Compute(s), Job(s)).c_str());
      for (const json& p : u["processes"]) {
        std::printf("%s\n", Row(name, device, std::to_string(p["pid"].get<int>()),
                                FormatBytes(p["memory_used_bytes"].get<uint64_t>()), Limit(s), Compute(s), Job(s))
                                .c_str());
      }
    }
  }
}

}  // namespace

int ListSlices(bool json_output) {
  std::string error;
  std::unique_ptr<AgentClient> agent = LinkAgent(&error);
  std::optional<json> slices = error.empty() ? SlicesJson(agent.get(), &error) : std::nullopt;
  if (!slices || !slices->is_array()) {
    std::fprintf(stderr, "vxpu ps: %s\n", error.empty() ? "vxpud answered no list of slices" : error.c_str());
    return 1;
  }
  if (json_output) {
    std::printf("%s\n", slices->dump().c_str());
    return 0;
  }
  try {
    PrintTable(*slices);
  } catch (const nlohmann::json::exception& e) {
    std::fprintf(stderr, "vxpu ps: malformed list of slices from vxpud: %s\n", e.what());
    return 1;
  }
  return 0;
}

}  // namespace vxpu
