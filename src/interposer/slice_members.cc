#include "interposer/slice_members.h"

#include <unistd.h>

#include <algorithm>

#include "interposer/compute_arbiter.h"
#include "interposer/compute_gate.h"
#include "interposer/memory_quota.h"
#include "interposer/slice_config.h"
#include "interposer/slice_ledger.h"

namespace vxpu::interposer {
namespace {

const std::string& SliceName() {
  static const std::string* name = new std::string(SliceNameFromEnv());  // never destroyed: hooks may run at exit
  return *name;
}

}  // namespace

bool InSlice() { return QuotaEnabled() || ComputeEnabled(); }

std::vector<int32_t> SlicePidsOn(const std::string& uuid) {
  std::vector<int32_t> pids = {static_cast<int32_t>(getpid())};
  for (const SliceSummary& s : SliceLedger::ListSlices()) {
    if (s.slice != SliceName() || s.device != uuid) continue;
    for (const SliceProcess& p : s.processes) pids.push_back(p.pid);
  }
  for (const ComputeSliceUsage& s : ComputeArbiter::ListSlices()) {
    if (s.slice == SliceName() && s.device == uuid) pids.insert(pids.end(), s.pids.begin(), s.pids.end());
  }
  std::sort(pids.begin(), pids.end());
  pids.erase(std::unique(pids.begin(), pids.end()), pids.end());
  return pids;
}

}  // namespace vxpu::interposer
