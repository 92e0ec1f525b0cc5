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
#include "interposer/slice_config.h"
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

struct PoolCharge {
  CUdevice device;
  bool device_memory;
  uint64_t charged = 0;  // what the slice's ledger holds for this pool
};

struct State {
  std::mutex mu;
  Config config;
  std::map<std::string, DeviceQuota> ledgers;  // by device UUID
  std::map<CUdevice, std::string> uuids;       // driver ordinal -> UUID ("" if unknown)
  std::map<std::pair<AllocationKind, uint64_t>, Tracked> allocations;
  std::map<CUmemoryPool, PoolCharge> pools;
};

State& TheState() {
  static State* state = new State;  // never destroyed: hooks may run during exit
  return *state;
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

void LogRefusalLocked(const State& s, const std::string& device, uint64_t bytes, uint64_t used, uint64_t limit) {
  std::fprintf(stderr, "vxpu: slice %s: out of memory on %s: request %s, used %s, limit %s\n", s.config.slice.c_str(),
               device.c_str(), FormatBytes(bytes).c_str(), FormatBytes(used).c_str(), FormatBytes(limit).c_str());
}

bool PoolAttribute(CUmemoryPool pool, CUmemPool_attribute attribute, uint64_t* value) {
  static const auto get = RealSymbolAs<decltype(&cuMemPoolGetAttribute)>("cuMemPoolGetAttribute");
  cuuint64_t v = 0;
  if (get == nullptr || get(pool, attribute, &v) != CUDA_SUCCESS) return false;
  *value = v;
  return true;
}

// Sets the pool's charge to what the driver says it holds reserved; `provisional` bytes were
// reserved for it beforehand. If the driver cannot say, the charge stays (fail closed).
void SettlePoolLocked(State& s, CUmemoryPool pool, PoolCharge& p, uint64_t provisional) {
  SliceLedger* ledger = p.device_memory ? LedgerLocked(s, p.device) : nullptr;
  if (ledger == nullptr) return;
  uint64_t held = p.charged + provisional;
  uint64_t reserved = held;
  PoolAttribute(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, &reserved);
  if (reserved >= held) {
    ledger->Charge(reserved - held);
  } else {
    ledger->Release(held - reserved);
  }
  p.charged = reserved;
}

void SettleAllPoolsLocked(State& s) {
  for (auto& [pool, charge] : s.pools) SettlePoolLocked(s, pool, charge, 0);
}

}  // namespace

void LoadQuotaConfig() {
  Config& config = TheState().config;
  const char* quota = std::getenv("VXPU_MEMORY");
  const char* slice = std::getenv("VXPU_SLICE");
  if (quota == nullptr) {
    if (slice != nullptr && std::getenv("VXPU_COMPUTE") == nullptr)
      RefuseToRun("VXPU_SLICE=" + std::string(slice) + " is set but neither VXPU_MEMORY nor VXPU_COMPUTE is");
    return;
  }
  std::string error;
  // The percentage form is checked against the device later; the syntax is checked now.
  if (!ParseMemoryQuota(quota, UINT64_MAX, &error)) RefuseToRun("VXPU_MEMORY: " + error);
  config.slice = SliceNameFromEnv();
  config.quota_text = quota;
  config.enabled = true;
}

bool QuotaEnabled() { return TheState().config.enabled; }

void LeaveSliceLedgers() {
  State& s = TheState();
  std::lock_guard<std::mutex> lock(s.mu);
  for (auto& [uuid, quota] : s.ledgers) {
    if (quota.ledger != nullptr) quota.ledger->Leave();
  }
}

bool ReserveMemory(CUdevice device, uint64_t bytes) {
  State& s = TheState();
  std::lock_guard<std::mutex> lock(s.mu);
  SliceLedger* ledger = LedgerLocked(s, device);
  if (ledger == nullptr) return false;
  uint64_t used = 0;
  if (ledger->Reserve(bytes, &used)) return true;
  if (!s.pools.empty()) {
    SettleAllPoolsLocked(s);  // pools may have given memory back since they were last read
    if (ledger->Reserve(bytes, &used)) return true;
  }
  LogRefusalLocked(s, "device " + std::to_string(device), bytes, used, ledger->limit());
  return false;
}

bool ReserveMemoryOn(const std::string& uuid, uint64_t total, uint64_t bytes, const std::string& device_label) {
  State& s = TheState();
  std::lock_guard<std::mutex> lock(s.mu);
  SliceLedger* ledger = LedgerLocked(s, uuid, total);
  if (ledger == nullptr) return false;
  uint64_t used = 0;
  if (ledger->Reserve(bytes, &used)) return true;
  LogRefusalLocked(s, device_label, bytes, used, ledger->limit());
  return false;
}

void ReleaseMemoryOn(const std::string& uuid, uint64_t total, uint64_t bytes) {
  State& s = TheState();
  std::lock_guard<std::mutex> lock(s.mu);
  if (SliceLedger* ledger = LedgerLocked(s, uuid, total)) ledger->Release(bytes);
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

void NotePool(CUmemoryPool pool, CUdevice device, bool device_memory) {
  State& s = TheState();
  std::lock_guard<std::mutex> lock(s.mu);
  s.pools.try_emplace(pool, PoolCharge{device, device_memory});
}

bool PoolKnown(CUmemoryPool pool) {
  State& s = TheState();
  std::lock_guard<std::mutex> lock(s.mu);
  return s.pools.count(pool) != 0;
}

bool ReservePoolGrowth(CUmemoryPool pool, uint64_t bytes, uint64_t* growth) {
  *growth = 0;
  CUdevice device = 0;
  {
    State& s = TheState();
    std::lock_guard<std::mutex> lock(s.mu);
    auto it = s.pools.find(pool);
    if (it == s.pools.end() || !it->second.device_memory) return true;
    device = it->second.device;
  }
  uint64_t reserved = 0, used = 0;
  if (PoolAttribute(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, &reserved) &&
      PoolAttribute(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &used)) {
    *growth = used + bytes > reserved ? used + bytes - reserved : 0;
  } else {
    *growth = bytes;
  }
  return *growth == 0 || ReserveMemory(device, *growth);
}

bool SettlePool(CUmemoryPool pool, uint64_t provisional) {
  State& s = TheState();
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.pools.find(pool);
  if (it == s.pools.end() || !it->second.device_memory) return true;
  SettlePoolLocked(s, pool, it->second, provisional);
  SliceLedger* ledger = LedgerLocked(s, it->second.device);
  return ledger != nullptr && ledger->Used() <= ledger->limit();
}

void SettleAllPools() {
  State& s = TheState();
  std::lock_guard<std::mutex> lock(s.mu);
  SettleAllPoolsLocked(s);
}

void ReportPoolRefusal(CUmemoryPool pool, uint64_t bytes) {
  State& s = TheState();
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.pools.find(pool);
  SliceLedger* ledger = it != s.pools.end() ? LedgerLocked(s, it->second.device) : nullptr;
  if (ledger != nullptr)
    LogRefusalLocked(s, "device " + std::to_string(it->second.device), bytes, ledger->Used(), ledger->limit());
}

void RetirePool(CUmemoryPool pool) {
  State& s = TheState();
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.pools.find(pool);
  if (it == s.pools.end()) return;
  PoolCharge& p = it->second;
  SettlePoolLocked(s, pool, p, 0);
  SliceLedger* ledger = p.device_memory ? LedgerLocked(s, p.device) : nullptr;
  uint64_t in_use = p.charged;
  PoolAttribute(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &in_use);
  if (ledger != nullptr && in_use < p.charged) ledger->Release(p.charged - in_use);
  s.pools.erase(it);
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
  SettleAllPoolsLocked(s);
  return View(LedgerLocked(s, uuid, device_total), limit, used);
}

bool SliceView(CUdevice device, uint64_t* limit, uint64_t* used) {
  if (!QuotaEnabled()) return false;
  State& s = TheState();
  std::lock_guard<std::mutex> lock(s.mu);
  SettleAllPoolsLocked(s);
  return View(LedgerLocked(s, device), limit, used);
}

}  // namespace vxpu::interposer
