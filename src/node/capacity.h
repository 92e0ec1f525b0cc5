// What a device can still offer slices (whether a new one fits is slice/admission.h). Memory
// keeps room for contexts: a context's own memory (hundreds of MiB on a real GPU,
// 512 MiB on simgpu) is not charged to its slice, so each slice is counted at its quota plus
// `context_reserve` (docs/agent.md). Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "node/node_view.h"
#include "node/slice.h"

namespace vxpu {

// simgpu's per-context memory; vxpud's and `vxpu run`'s default (VXPU_CONTEXT_RESERVE).
inline constexpr uint64_t kDefaultContextReserve = 512ull << 20;

// 300 -> "30%", 125 -> "12.5%".
std::string PercentText(uint32_t permille);

// Sets each device's memory_for_slices and compute_free_permille from the slices on it.
void FillCapacity(const std::vector<SliceRecord>& slices, uint64_t context_reserve, std::vector<DeviceView>* devices);

// Memory committed on device `uuid` by `slices` (their quotas, each plus `context_reserve`) and
// the compute guaranteed there (permille), leaving out slice `except`.
void Committed(const std::vector<SliceRecord>& slices, const std::string& uuid, uint64_t context_reserve,
               const std::string& except, uint64_t* memory, uint32_t* compute);

}  // namespace vxpu
