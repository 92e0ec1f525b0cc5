#include "cli/devices.h"

#include <fmt/format.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "backend/nvml_client.h"
#include "backend/paths.h"
#include "common/units.h"
#include "slice/node_link.h"

namespace vxpu {

int RunDevices(const DevicesOptions& options) {
  std::string library = options.sim ? SimgpuDir() + "/libnvidia-ml.so.1" : "libnvidia-ml.so.1";
  std::string error;
  std::unique_ptr<NvmlClient> nvml = NvmlClient::Open(library, &error);
  if (!nvml) {
    std::fprintf(stderr, "vxpu devices: %s%s\n", error.c_str(),
                 options.sim ? "" : " (no NVIDIA driver found; try --sim for the simulated GPU)");
    return 1;
  }
  std::vector<GpuDevice> devices;
  if (!nvml->Snapshot(&devices, &error)) {
    std::fprintf(stderr, "vxpu devices: %s\n", error.c_str());
    return 1;
  }
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
  std::printf("%s\n",
              fmt::format("{:<5} {:<28} {:<42} {:>10} {:>10} {:>5}", "INDEX", "NAME", "UUID", "MEMORY", "USED", "PROCS")
                  .c_str());
  for (const GpuDevice& d : devices) {
    std::printf("%s\n", fmt::format("{:<5} {:<28} {:<42} {:>10} {:>10} {:>5}", d.index, d.name, d.uuid,
                                    FormatBytes(d.memory_total), FormatBytes(d.memory_used), d.processes.size())
                            .c_str());
  }
  return 0;
}

}  // namespace vxpu
