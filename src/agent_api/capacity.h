// What a device can still offer slices, and whether a new slice fits beside the others. The
// memory check keeps room for contexts: a context's own memory (hundreds of MiB on a real GPU,
// 512 MiB on simgpu) is not charged to its slice, so each slice is counted at its quota plus
// `context_reserve` (docs/agent.md). Pure: vxpud and `vxpu run` both decide with it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent_api/node_view.h"
#include "agent_api/slice.h"

namespace vxpu {

// simgpu's per-context memory; vxpud's and `vxpu run`'s default (VXPU_CONTEXT_RESERVE).
inline constexpr uint64_t kDefaultContextReserve = 512ull << 20;

// 300 -> "30%", 125 -> "12.5%".
std::string PercentText(uint32_t permille);

// Sets each device's memory_for_slices and compute_free_permille from the slices on it.
void FillCapacity(const std::vector<SliceRecord>& slices, uint64_t context_reserve, std::vector<DeviceView>* devices);

// Why `spec` does not fit beside `slices` on `devices` (a device it names is unknown or
// unhealthy, its quota or guarantee is more than is left), or nullopt if it fits. Slices of the
// same name are not counted (that is the slice joined, not a second one).
std::optional<std::string> RefuseSlice(const SliceSpec& spec, const std::vector<SliceRecord>& slices,
                                       uint64_t context_reserve, const std::vector<DeviceView>& devices);

// "memory 4.0 GiB, compute 30%": a slice's terms, for messages.
std::string TermsText(const SliceSpec& spec);

// What admitting a slice request did to the node's records.
enum class Admission {
  kCreated,  // a new slice, appended
  kJoined,   // a process joined the slice of that name (same terms): added to its `joined`
  kHeld,     // the process already owns or holds that slice: nothing changed
  kRefused,  // another slice of that name has other terms, or it does not fit (*error says)
};

// Admits `spec` beside `records` (vxpud's registry, or `vxpu run`'s without one). *at is the
// index of the record created or joined. A pod's request for a slice of its name is kHeld.
Admission AdmitSlice(const SliceSpec& spec, int64_t now_unix, uint64_t context_reserve,
                     const std::vector<DeviceView>& devices, std::vector<SliceRecord>* records, size_t* at,
                     std::string* error);

}  // namespace vxpu
