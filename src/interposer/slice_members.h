// The processes of this process's slice on one device, for the views that must show a slice
// its own processes only (NVML's process lists and utilization).
//
// A process belongs to the slice on a device if it is this process, or a live process in the
// slice's memory ledger of that device (it allocated or queried memory there under the slice),
// or a live tenant of the slice in that device's compute arbiter (it launched work there under
// the slice). A process of the slice that has done neither on the device is not known to be
// the slice's there, and is not counted. Pids are as each process recorded them, in its own
// pid namespace (liveness across namespaces is judged by life locks: common/life_lock.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vxpu::interposer {

// True inside a slice: a memory quota or a compute share is configured.
bool InSlice();

// The pids of this process's slice on the device `uuid` ("GPU-..."), sorted, this process's
// among them. Reads the user's slice ledgers and compute arbiters (a few system calls each).
std::vector<int32_t> SlicePidsOn(const std::string& uuid);

}  // namespace vxpu::interposer
