#include "interposer/memory_quota.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "common/units.h"
#include "interposer/real_driver.h"
#include "interposer/slice_ledger.h"

namespace vxpu::interposer {
namespace {

struct Config {
  bool enabled = false;
  std::string quota_text;
  std::string slice;
};

struct DeviceQuota {
  std::unique_ptr<SliceLedger> ledger;  // nullptr: the limit could not be set up (fail closed)
};

struct Tracked {
  CUdevice device;
  uint64_t bytes;
};

struct State {
  std::mutex mu;
  Config config;
  std::map<std::string, DeviceQuota> ledgers;  // by device UUID
  std::map<CUdevice, std::string> uuids;       // driver ordinal -> UUID ("" if unknown)
  std::map<std::pair<AllocationKind, uint64_t>, Tracked> allocations;
};

State& TheState() {
  static State* state = new State;  // never destroyed: hooks may run during exit
  return *state;
}

[[noreturn]] void RefuseToRun(const std::string& why) {
  std::fprintf(stderr, "vxpu: %s; refusing to run without the slice's limits\n", why.c_str());
  std::fflush(stderr);
  _exit(125);
}

template <typename Fn>
Fn Real(const char* symbol) {
  return reinterpret_cast<Fn>(RealSymbol(symbol));
}

// The device's UUID as text ("GPU-...") and its memory, from the real driver.
bool DescribeDevice(CUdevice device, std::string* uuid, uint64_t* total) {
  auto get_uuid = Real<decltype(&cuDeviceGetUuid_v2)>("cuDeviceGetUuid_v2");
  auto get_total = Real<decltype(&cuDeviceTotalMem_v2)>("cuDeviceTotalMem_v2");
  CUuuid id;
  size_t bytes = 0;
  if (get_uuid == nullptr || get_total == nullptr || get_uuid(&id, device) != CUDA_SUCCESS ||
      get_total(&bytes, device) != CUDA_SUCCESS)
    return false;
  char text[64];
  const auto* b = reinterpret_cast<const unsigned char*>(id.bytes);
  std::snprintf(text, sizeof(text), "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
                b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  *uuid = text;
  *total = bytes;
  return true;
}

// The slice's ledger on the device `uuid` of `total` bytes, opened on first use; nullptr (and
// one line) if the limit cannot be set up, so the caller fails closed. Expects State::mu held.
SliceLedger* LedgerLocked(State& s, const std::string& uuid, uint64_t total) {
  auto found = s.ledgers.find(uuid);
  if (found != s.ledgers.end()) return found->second.ledger.get();
  DeviceQuota& quota = s.ledgers[uuid];
  std::string error;
  std::optional<uint64_t> limit = ParseMemoryQuota(s.config.quota_text, total, &error);
  if (limit) quota.ledger = SliceLedger::Open(s.config.slice, uuid, *limit, &error);
  if (!quota.ledger)
    std::fprintf(stderr, "vxpu: slice %s on device %s: %s; its allocations are refused\n", s.config.slice.c_str(),
                 uuid.c_str(), error.c_str());
  return quota.ledger.get();
}

SliceLedger* LedgerLocked(State& s, CUdevice device) {
  auto known = s.uuids.find(device);
  std::string uuid;
  uint64_t total = 0;
  if (known == s.uuids.end() || known->second.empty()) {
    if (!DescribeDevice(device, &uuid, &total)) {
      std::fprintf(stderr, "vxpu: slice %s: cannot identify device %d; its allocations are refused\n",
                   s.config.slice.c_str(), device);
      return nullptr;
    }
    s.uuids[device] = uuid;
  } else {
    uuid = known->second;
  }
  return LedgerLocked(s, uuid, total);
}

}  // namespace

void LoadQuotaConfig() {
  Config& config = TheState().config;
  const char* quota = std::getenv("VXPU_MEMORY");
  const char* slice = std::getenv("VXPU_SLICE");
  if (quota == nullptr) {
    if (slice != nullptr) RefuseToRun("VXPU_SLICE=" + std::string(slice) + " is set but VXPU_MEMORY is not");
    return;
  }
  std::string error;
  // The percentage form is checked against the device later; the syntax is checked now.
  if (!ParseMemoryQuota(quota, UINT64_MAX, &error)) RefuseToRun("VXPU_MEMORY: " + error);
  config.slice = slice != nullptr ? slice : "pid-" + std::to_string(getpid());
  if (!SliceLedger::ValidSliceName(config.slice))
    RefuseToRun("VXPU_SLICE: bad slice name \"" + config.slice + "\" (want 1-64 of A-Z a-z 0-9 . _ -)");
  config.quota_text = quota;
  config.enabled = true;
}

bool QuotaEnabled() { return TheState().config.enabled; }

bool ReserveMemory(CUdevice device, uint64_t bytes) {
  State& s = TheState();
  std::lock_guard<std::mutex> lock(s.mu);
  SliceLedger* ledger = LedgerLocked(s, device);
  if (ledger == nullptr) return false;
  uint64_t used = 0;
  if (ledger->Reserve(bytes, &used)) return true;
  std::fprintf(stderr, "vxpu: slice %s: out of memory on device %d: request %s, used %s, limit %s\n",
               s.config.slice.c_str(), device, FormatBytes(bytes).c_str(), FormatBytes(used).c_str(),
               FormatBytes(ledger->limit()).c_str());
  return false;
}

void ReleaseMemory(CUdevice device, uint64_t bytes) {
  State& s = TheState();
  std::lock_guard<std::mutex> lock(s.mu);
  if (SliceLedger* ledger = LedgerLocked(s, device)) ledger->Release(bytes);
}

void TrackAllocation(AllocationKind kind, uint64_t key, CUdevice device, uint64_t bytes) {
  State& s = TheState();
  std::lock_guard<std::mutex> lock(s.mu);
  s.allocations[{kind, key}] = Tracked{device, bytes};
}

bool ReleaseAllocation(AllocationKind kind, uint64_t key) {
  State& s = TheState();
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.allocations.find({kind, key});
  if (it == s.allocations.end()) return false;
  if (SliceLedger* ledger = LedgerLocked(s, it->second.device)) ledger->Release(it->second.bytes);
  s.allocations.erase(it);
  return true;
}

namespace {
// The slice's limit and usage from `ledger` (nullptr: no limit could be set up, shown as 0).
bool View(SliceLedger* ledger, uint64_t* limit, uint64_t* used) {
  *limit = ledger != nullptr ? ledger->limit() : 0;
  *used = ledger != nullptr ? ledger->Used() : 0;
  return true;
}
}  // namespace

bool SliceViewOf(const char* uuid, uint64_t device_total, uint64_t* limit, uint64_t* used) {
  if (!QuotaEnabled()) return false;
  State& s = TheState();
  std::lock_guard<std::mutex> lock(s.mu);
  return View(LedgerLocked(s, uuid, device_total), limit, used);
}

bool SliceView(CUdevice device, uint64_t* limit, uint64_t* used) {
  if (!QuotaEnabled()) return false;
  State& s = TheState();
  std::lock_guard<std::mutex> lock(s.mu);
  return View(LedgerLocked(s, device), limit, used);
}

}  // namespace vxpu::interposer
