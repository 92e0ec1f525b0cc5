// Whether a slice fits on this node: the one place where every caller (vxpu run, vxpu remoted,
// vxpud's API and its device plugin) decides. A slice is checked against the node's devices and
// the slices registered there, each counted at its quota plus `context_reserve` for its contexts
// (a context's own memory is not charged to its slice; docs/agent.md), and against the slices
// running in the shared segments, registered or not. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "interposer/compute_arbiter.h"
#include "interposer/slice_ledger.h"
#include "node/node_view.h"
#include "node/slice.h"

namespace vxpu {

// Why `spec` does not fit beside `slices` on `devices` (a device it names is unknown or
// unhealthy, its quota or guarantee is more than is left), or nullopt if it fits. Slices of the
// same name are not counted (that is the slice joined, not a second one).
std::optional<std::string> RefuseSlice(const SliceSpec& spec, const std::vector<SliceRecord>& slices,
                                       uint64_t context_reserve, const std::vector<DeviceView>& devices);

// Why a slice of `memory` (a quota as given: a size or a percentage of each device; "" for
// none) and `compute` (request 0 for none) does not fit beside the slices running on `devices`
// (their shared segments: a slice of the same name must have the same terms, the guarantees
// must add up to one device at most), or nullopt.
std::optional<std::string> RefuseBesideRunning(const std::string& memory, const ComputeTerms& compute,
                                               const std::vector<DeviceView>& devices,
                                               const std::vector<SliceSummary>& running_memory,
                                               const std::vector<ComputeSliceUsage>& running_compute);

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
