// The node as vxpud's API shows it: its devices, and its slices joined with what runs in them.
// `vxpu ps` / `vxpu devices` build the same view without an agent (no registry, no health), so
// their `-o json` is the agent's answer either way. Pure: callers gather the inputs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "backend/nvidia/nvml_client.h"
#include "interposer/compute_arbiter.h"
#include "interposer/slice_ledger.h"
#include "node/slice.h"

namespace vxpu {

struct DeviceView {
  std::string vendor;  // backend/device.h: "nvidia"
  std::string kind;    // "gpu"
  unsigned index = 0;  // the vendor's ordinal
  std::string uuid;
  std::string name;
  bool healthy = true;
  std::string health_reason;  // why not, when unhealthy
  uint64_t memory_total = 0;
  uint64_t memory_used = 0;
  // The largest memory quota a new slice could get here: the total less the quotas of the
  // registered slices and the room kept for each slice's contexts, its own included
  // (docs/agent.md). And the compute guarantee left, in permille.
  uint64_t memory_for_slices = 0;
  uint32_t compute_free_permille = 1000;
  // Kubernetes units (gpu_units.h): offered to kubelet, and held by its containers' slices.
  unsigned units_free = 0;
  unsigned units_held = 0;
  std::optional<double> busy_ratio;  // share of time busy (0..1); unknown without a reading
  unsigned processes = 0;
};

// A device as NVML reported it (healthy, capacity not filled).
DeviceView DeviceViewOf(const Device& device);

struct SliceDeviceUsage {
  std::string device;  // UUID
  uint64_t memory_used = 0;
  uint64_t device_time_ns = 0;          // charged to the slice there since it first ran
  std::optional<double> share_ratio;    // of the device's time over the agent's last poll
  std::vector<SliceProcess> processes;  // memory per pid; compute-only tenants hold 0
};

struct SliceView {
  SliceRecord record;
  std::vector<SliceDeviceUsage> usage;  // one per device of the slice, in its order

  bool HasLiveProcesses() const;
};

// Joins the registered slices with the live ledgers and arbiters (this user's). A slice that
// runs unregistered comes out `discovered`, its terms as the segments show them, owned by its
// first live process; `now_unix` is its creation time then.
std::vector<SliceView> JoinSlices(const std::vector<SliceRecord>& registered, const std::vector<SliceSummary>& ledgers,
                                  const std::vector<ComputeSliceUsage>& arbiters, int64_t now_unix);

nlohmann::json DevicesToJson(const std::vector<DeviceView>& devices);
nlohmann::json SlicesToJson(const std::vector<SliceView>& slices);

}  // namespace vxpu
