#include "cli/devices.h"

#include <fmt/format.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "backend/device_list.h"
#include "backend/paths.h"
#include "common/units.h"
#include "slice/node_link.h"

namespace vxpu {

int RunDevices(const DevicesOptions& options) {
  std::string error;
  std::optional<std::vector<Device>> listed = ListDevices(options.sim, &error);
  if (!listed) {
    std::fprintf(stderr, "vxpu devices: %s%s\n", error.c_str(),
                 options.sim ? "" : " (no driver found; try --sim for the simulated devices)");
    return 1;
  }
  const std::vector<Device>& devices = *listed;
  if (options.json) {
    // The agent's GET /v1/devices shape; capacity counted against the node's slices.
    std::unique_ptr<AgentClient> agent = LinkAgent(&error);
    std::optional<nlohmann::json> slices = error.empty() ? SlicesJson(agent.get(), &error) : std::nullopt;
    std::optional<uint64_t> reserve = slices ? ContextReserve(&error) : std::nullopt;
    if (!reserve) {
      std::fprintf(stderr, "vxpu devices: %s\n", error.c_str());
      return 1;
    }
    std::printf("%s\n", DevicesToJson(DeviceViews(devices, RecordsOf(*slices), *reserve)).dump().c_str());
    return 0;
  }
  std::printf("%s\n", fmt::format("{:<7} {:<5} {:<28} {:<42} {:>10} {:>10} {:>5}", "VENDOR", "INDEX", "NAME", "UUID",
                                  "MEMORY", "USED", "PROCS")
                          .c_str());
  for (const Device& d : devices) {
    std::printf("%s\n", fmt::format("{:<7} {:<5} {:<28} {:<42} {:>10} {:>10} {:>5}", d.vendor, d.index, d.name, d.uuid,
                                    FormatBytes(d.memory_total), FormatBytes(d.memory_used), d.processes.size())
                            .c_str());
  }
  return 0;
}

}  // namespace vxpu
