#include "interposer/compute_arbiter.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "common/futex.h"
#include "common/process.h"
#include "common/process_table.h"
#include "common/shared_segment.h"
#include "interposer/share_policy.h"
#include "interposer/slice_ledger.h"

namespace vxpu {

namespace {
// Layout 4: ProcessEntry records the pid namespace.
constexpr uint64_t kArbiterLayout = 4;
constexpr uint64_t kArbiterMagic = 0x5658505541520000ull | kArbiterLayout;  // "VXPUAR" + layout
constexpr int kSliceNameMax = 64;
constexpr uint64_t kBurstNs = 100000000ull;  // a ceiling's budget holds at most 100 ms of wall time
}  // namespace

struct SliceRecord {
  uint32_t in_use;
  char name[kSliceNameMax + 1];
  ShareAccount account;
  uint64_t refilled_at_ns;
  uint64_t active_at_ns;  // when it last held the device
  uint64_t used_ns;
};

struct TenantRecord {
  ProcessEntry process;
  int32_t slice;   // index into ArbiterState::slices
  uint32_t wants;  // waiting for the device
};

struct ArbiterState {
  SegmentHeader header;
  std::atomic<uint32_t> wake_word;
  std::atomic<uint32_t> yield_requested;
  int32_t holder;  // tenant index, -1 when nobody holds the device
  SliceRecord slices[ComputeArbiter::kMaxTenants];
  TenantRecord tenants[ComputeArbiter::kMaxTenants];
};

namespace {

constexpr int kMax = ComputeArbiter::kMaxTenants;

std::string SegmentPrefix() { return "vxpu-compute-" + std::to_string(getuid()) + "-"; }

std::string SegmentName(const std::string& device_uuid) {
  std::string name = "/";  // appended, not "/" + ...: GCC 12 -O3 warns falsely (-Wrestrict) on that
  return name.append(SegmentPrefix()).append(device_uuid);
}

void InitState(SegmentHeader* header, const void*) { reinterpret_cast<ArbiterState*>(header)->holder = -1; }

bool SliceWants(const ArbiterState* s, int slice) {
  for (const TenantRecord& t : s->tenants) {
    if (t.process.in_use && t.slice == slice && t.wants) return true;
  }
  return false;
}

bool SliceActive(const ArbiterState* s, int slice) {
  return SliceWants(s, slice) || (s->holder >= 0 && s->tenants[s->holder].slice == slice);
}

// The least virtual time among the slices other than `except` (only those wanting or holding
// the device if `active_only`); -1 if there are none.
double MinVtime(const ArbiterState* s, bool active_only, int except) {
  double least = -1;
  for (int i = 0; i < kMax; ++i) {
    const SliceRecord& r = s->slices[i];
    if (i == except || !r.in_use || (active_only && !SliceActive(s, i))) continue;
    if (least < 0 || r.account.vtime < least) least = r.account.vtime;
  }
  return least;
}

// Brings every slice's wants and ceiling budget up to date.
void Refresh(ArbiterState* s, uint64_t now) {
  for (int i = 0; i < kMax; ++i) {
    SliceRecord& r = s->slices[i];
    if (!r.in_use) continue;
    r.account.wants = SliceWants(s, i);
    RefillCeiling(&r.account, now - r.refilled_at_ns, kBurstNs);
    r.refilled_at_ns = now;
  }
}

int PickSlice(ArbiterState* s, uint64_t lease_ns) {
  ShareAccount accounts[kMax];
  for (int i = 0; i < kMax; ++i) accounts[i] = s->slices[i].in_use ? s->slices[i].account : ShareAccount{};
  return PickNextSlice(accounts, kMax, 2.0 * static_cast<double>(lease_ns));
}

// The waiting tenant of `slice` that goes first (round robin by lowest index after the last).
int PickTenant(const ArbiterState* s, int slice, int after) {
  for (int step = 1; step <= kMax; ++step) {
    int i = (after + step + kMax) % kMax;
    const TenantRecord& t = s->tenants[i];
    if (t.process.in_use && t.slice == slice && t.wants) return i;
  }
  return -1;
}

// Grants the device to whoever should have it next, if it is free.
void PassOn(ArbiterState* s, uint64_t lease_ns, int after) {
  if (s->holder >= 0) return;
  uint64_t now = MonotonicNs();
  Refresh(s, now);
  int slice = PickSlice(s, lease_ns);
  if (slice < 0) return;
  int tenant = PickTenant(s, slice, after);
  s->slices[slice].active_at_ns = now;
  s->holder = tenant;
  s->tenants[tenant].wants = 0;
  s->yield_requested.store(0, std::memory_order_relaxed);
  FutexWakeAll(&s->wake_word);
}

// Frees slice record `slice` if no tenant runs in it any more.
void FreeSliceIfEmpty(ArbiterState* s, int slice) {
  for (const TenantRecord& t : s->tenants) {
    if (t.process.in_use && t.slice == slice) return;
  }
  s->slices[slice] = SliceRecord{};
}

void FreeTenant(ArbiterState* s, int i, uint64_t lease_ns) {
  int slice = s->tenants[i].slice;
  s->tenants[i] = TenantRecord{};
  FreeSliceIfEmpty(s, slice);
  if (s->holder == i) {
    s->holder = -1;
    PassOn(s, lease_ns, i);
  }
}

void SweepDead(ArbiterState* s, uint64_t lease_ns) {
  FreeAbandonedEntries(s->tenants, [s, lease_ns](int i) { FreeTenant(s, i, lease_ns); });
}

// Removes the arbiter if it has no tenant left.
void RetireIfUnused(SegmentLock& lock, ArbiterState* s, const std::string& name) {
  for (const TenantRecord& t : s->tenants) {
    if (t.process.in_use) return;
  }
  lock.Retire(name);
}

std::string Describe(const ComputeTerms& t) {
  char text[96];
  std::snprintf(text, sizeof(text), "compute %.1f%%, limit %.1f%%, %s priority", t.request / 10.0, t.limit / 10.0,
                t.high_priority ? "high" : "normal");
  return text;
}

ComputeTerms TermsOf(const SliceRecord& r) {
  return ComputeTerms{r.name, r.account.request, r.account.limit, r.account.high_priority};
}

// The slice record for `terms`, created if new; -1 with *error if the terms contradict a live
// slice's or the device's guarantees would exceed the whole device.
int JoinSlice(ArbiterState* s, const ComputeTerms& terms, const std::string& device, std::string* error) {
  uint32_t reserved = 0;
  int free_record = -1;
  for (int i = 0; i < kMax; ++i) {
    const SliceRecord& r = s->slices[i];
    if (!r.in_use) {
      if (free_record < 0) free_record = i;
      continue;
    }
    if (terms.slice != r.name) {
      reserved += r.account.request;
      continue;
    }
    ComputeTerms live = TermsOf(r);
    if (live.request == terms.request && live.limit == terms.limit && live.high_priority == terms.high_priority)
      return i;
    *error = "slice " + terms.slice + " already runs with " + Describe(live) + ", not " + Describe(terms);
    return -1;
  }
  if (reserved + terms.request > kFullShare) {
    char text[160];
    std::snprintf(text, sizeof(text), "device %s has %.1f%% of its compute guaranteed to running slices; %.1f%% more",
                  device.c_str(), reserved / 10.0, terms.request / 10.0);
    *error = std::string(text) + " does not fit";
    return -1;
  }
  if (free_record < 0) {
    *error = "device " + device + " has too many compute slices";
    return -1;
  }
  SliceRecord& r = s->slices[free_record];
  r = SliceRecord{};
  r.in_use = 1;
  std::snprintf(r.name, sizeof(r.name), "%s", terms.slice.c_str());
  r.account.request = terms.request;
  r.account.limit = terms.limit;
  r.account.high_priority = terms.high_priority;
  r.account.tokens_ns = static_cast<double>(kBurstNs) * terms.limit / kFullShare;
  r.refilled_at_ns = MonotonicNs();
  // A new slice starts level with the slices already running, not behind them.
  double min_vtime = MinVtime(s, /*active_only=*/false, free_record);
  r.account.vtime = min_vtime < 0 ? 0 : min_vtime;
  return free_record;
}

}  // namespace

std::unique_ptr<ComputeArbiter> ComputeArbiter::Open(const std::string& device_uuid, const ComputeTerms& terms,
                                                     uint64_t lease_ns, std::string* error) {
  if (!SliceLedger::ValidSliceName(terms.slice) || !SliceLedger::ValidSliceName(device_uuid)) {
    *error = "bad slice or device name";
    return nullptr;
  }
  if (terms.request == 0 || terms.request > kFullShare || terms.limit < terms.request || terms.limit > kFullShare) {
    *error = "bad compute terms (" + Describe(terms) + ")";
    return nullptr;
  }
  const std::string name = SegmentName(device_uuid);
  int tenant = -1;
  auto join = [&](SegmentLock& lock, const SegmentMapping& mapping) {
    auto* s = mapping.As<ArbiterState>();
    SweepDead(s, lease_ns);
    int slice = JoinSlice(s, terms, device_uuid, error);
    if (slice >= 0) {
      tenant = ClaimEntry(s->tenants, TenantRecord{{}, slice, 0});
      if (tenant < 0) {
        *error = "device " + device_uuid + " has " + std::to_string(kMax) + " compute tenants already";
        FreeSliceIfEmpty(s, slice);  // it may have just been created for this process
      }
    }
    if (tenant < 0) RetireIfUnused(lock, s, name);
  };
  SegmentMapping mapping = OpenLiveSegment(name, sizeof(ArbiterState), kArbiterMagic, InitState, nullptr, error, join);
  if (tenant < 0) return nullptr;
  return std::unique_ptr<ComputeArbiter>(new ComputeArbiter(std::move(mapping), tenant, lease_ns, name));
}

std::vector<ComputeSliceUsage> ComputeArbiter::ListSlices() {
  std::vector<ComputeSliceUsage> slices;
  for (const std::string& file : SegmentsWithPrefix(SegmentPrefix())) {
    SegmentMapping mapping = MapExistingSegment(file, sizeof(ArbiterState), kArbiterMagic);
    if (!mapping) continue;
    auto* s = mapping.As<ArbiterState>();
    SegmentLock lock(mapping);
    if (lock.retired()) continue;
    SweepDead(s, 0);
    RetireIfUnused(lock, s, file);  // left by tenants that were killed
    for (int i = 0; i < kMax && !lock.retired(); ++i) {
      if (!s->slices[i].in_use) continue;
      ComputeSliceUsage usage{
          s->slices[i].name, file.substr(SegmentPrefix().size()), TermsOf(s->slices[i]), s->slices[i].used_ns, {}};
      for (const TenantRecord& t : s->tenants) {
        if (t.process.in_use && t.slice == i) usage.pids.push_back(t.process.pid);
      }
      slices.push_back(std::move(usage));
    }
  }
  return slices;
}

int32_t ComputeArbiter::HolderPid(const std::string& device_uuid) {
  SegmentMapping mapping = MapExistingSegment(SegmentName(device_uuid), sizeof(ArbiterState), kArbiterMagic);
  if (!mapping) return 0;
  auto* s = mapping.As<ArbiterState>();
  SegmentLock lock(mapping);
  return s->holder >= 0 ? s->tenants[s->holder].process.pid : 0;
}

void ComputeArbiter::Unlink(const std::string& device_uuid) { UnlinkSegment(SegmentName(device_uuid)); }

ComputeArbiter::ComputeArbiter(SegmentMapping mapping, int tenant, uint64_t lease_ns, std::string segment_name)
    : mapping_(std::move(mapping)),
      state_(mapping_.As<ArbiterState>()),
      tenant_(tenant),
      lease_ns_(lease_ns),
      segment_name_(std::move(segment_name)) {}

ComputeArbiter::~ComputeArbiter() { Leave(); }

void ComputeArbiter::Leave() {
  SegmentLock lock(mapping_);
  if (left_) return;
  left_ = true;
  if (getpid() != owner_) return;  // a forked child: the entry is its parent's
  FreeTenant(state_, tenant_, lease_ns_);
  ProcessEntry::ReleasedByThisProcess();
  RetireIfUnused(lock, state_, segment_name_);
  FutexWakeAll(&state_->wake_word);  // this process's own waiters return
}

void ComputeArbiter::Acquire() {
  ArbiterState* s = state_;
  SegmentLock lock(mapping_);
  if (left_) return;
  TenantRecord& me = s->tenants[tenant_];
  SliceRecord& mine = s->slices[me.slice];
  // A slice that idled for a while rejoins level with the active ones (no credit banked while
  // idle); one that paused briefly keeps its place.
  if (!SliceActive(s, me.slice) && MonotonicNs() - mine.active_at_ns > kBurstNs) {
    double min_active = MinVtime(s, /*active_only=*/true, me.slice);
    if (min_active >= 0) mine.account.vtime = RejoinVtime(mine.account.vtime, min_active);
  }
  me.wants = 1;
  if (s->holder < 0) PassOn(s, lease_ns_, tenant_);
  if (s->holder >= 0 && s->holder != tenant_) {
    // Ask the holder to end its lease early if the policy would pick this slice over it now.
    Refresh(s, MonotonicNs());
    s->slices[s->tenants[s->holder].slice].account.wants = true;
    if (PickSlice(s, lease_ns_) == me.slice && mine.account.high_priority &&
        !s->slices[s->tenants[s->holder].slice].account.high_priority) {
      s->yield_requested.store(1, std::memory_order_relaxed);
      FutexWakeAll(&s->wake_word);
    }
  }
  uint64_t last_check = MonotonicNs();
  while (s->holder != tenant_ && !left_) {
    uint64_t now = MonotonicNs();
    if (s->holder >= 0 && now - last_check >= kLivenessCheckMs * 1000000ull) {
      last_check = now;
      if (s->tenants[s->holder].process.Abandoned()) FreeTenant(s, s->holder, lease_ns_);
    }
    if (s->holder < 0) PassOn(s, lease_ns_, tenant_);  // e.g. a ceiling's budget refilled
    if (s->holder == tenant_) break;
    uint32_t seen = s->wake_word.load(std::memory_order_acquire);
    uint64_t wait_ns = s->holder < 0 ? 1000000ull : kLivenessCheckMs * 1000000ull;
    lock.WaitUnlocked(&s->wake_word, seen, wait_ns);
  }
}

bool ComputeArbiter::Finish(uint64_t used_ns, bool more) {
  SegmentLock lock(mapping_);
  if (left_ || state_->holder != tenant_) return false;
  SliceRecord& slice = state_->slices[state_->tenants[tenant_].slice];
  ChargeDeviceTime(&slice.account, used_ns);
  slice.used_ns += used_ns;
  slice.active_at_ns = MonotonicNs();
  state_->tenants[tenant_].wants = more ? 1 : 0;
  state_->holder = -1;
  PassOn(state_, lease_ns_, tenant_);
  if (state_->holder < 0) FutexWakeAll(&state_->wake_word);  // waiters re-check (ceilings)
  return state_->holder == tenant_;
}

bool ComputeArbiter::Renew(uint64_t used_ns) {
  SegmentLock lock(mapping_);
  if (left_ || state_->holder != tenant_ || state_->yield_requested.load(std::memory_order_relaxed)) return false;
  int slice = state_->tenants[tenant_].slice;
  ShareAccount& account = state_->slices[slice].account;
  double before_vtime = account.vtime;
  ChargeDeviceTime(&account, used_ns);
  Refresh(state_, MonotonicNs());
  account.wants = true;
  if (PickSlice(state_, lease_ns_) != slice || PickTenant(state_, slice, tenant_) >= 0) {
    // Not renewed: Finish charges the whole lease.
    account.vtime = before_vtime;
    if (account.limit < kFullShare) account.tokens_ns += static_cast<double>(used_ns);
    return false;
  }
  state_->slices[slice].used_ns += used_ns;
  return true;
}

bool ComputeArbiter::YieldRequested() const { return state_->yield_requested.load(std::memory_order_relaxed) != 0; }

bool ComputeArbiter::OthersWaiting() {
  SegmentLock lock(mapping_);
  if (left_) return false;
  for (int i = 0; i < kMax; ++i) {
    if (i != tenant_ && state_->tenants[i].process.in_use && state_->tenants[i].wants) return true;
  }
  return false;
}

void ComputeArbiter::WaitForChange(uint64_t timeout_ns) {
  FutexWait(&state_->wake_word, state_->wake_word.load(std::memory_order_acquire), timeout_ns);
}

}  // namespace vxpu
