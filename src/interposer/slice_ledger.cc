#include "interposer/slice_ledger.h"

#include <unistd.h>

#include <cstdio>

#include "common/process_table.h"
#include "common/shared_segment.h"
#include "common/units.h"

namespace vxpu {

namespace {
// Layout 4: ProcessEntry records the pid namespace.
constexpr uint64_t kLedgerLayout = 4;
constexpr uint64_t kLedgerMagic = 0x56585055534c0000ull | kLedgerLayout;  // "VXPUSL" + layout
}  // namespace

struct LedgerEntry {
  ProcessEntry process;
  uint64_t used;
};

struct LedgerState {
  SegmentHeader header;
  uint64_t limit;
  uint64_t total;  // sum of the live entries' use, kept so a reservation reads one number
  LedgerEntry entries[SliceLedger::kMaxProcesses];
};

namespace {

constexpr size_t kUuidLength = 40;  // "GPU-" + 8-4-4-4-12

std::string SegmentPrefix() { return "vxpu-slice-" + std::to_string(getuid()) + "-"; }

std::string SegmentName(const std::string& slice, const std::string& device_uuid) {
  std::string name = "/";  // appended, not "/" + ...: GCC 12 -O3 warns falsely (-Wrestrict) on that
  return name.append(SegmentPrefix()).append(device_uuid).append("-").append(slice);
}

void Drop(LedgerState* s, LedgerEntry* e) {
  s->total -= e->used;
  *e = LedgerEntry{};
}

// Drops the entries of dead processes and recounts the total from the entries (which also
// repairs it should a process have died between updating its entry and the total).
void SweepDead(LedgerState* s) {
  FreeAbandonedEntries(s->entries, [s](int i) { s->entries[i] = LedgerEntry{}; });
  s->total = 0;
  for (const LedgerEntry& e : s->entries) s->total += e.process.in_use ? e.used : 0;
}

bool AnyAlive(LedgerState* s) {
  SweepDead(s);
  for (const LedgerEntry& e : s->entries) {
    if (e.process.in_use) return true;
  }
  return false;
}

// Removes the ledger if none of its processes lives any more.
void RetireIfUnused(SegmentLock& lock, LedgerState* s, const std::string& name) {
  if (!AnyAlive(s)) lock.Retire(name);
}

// Sets the slice's limit if it has no live process, else checks it agrees, then registers this
// process. Returns its entry, or -1 with *error set. Expects the lock held.
int JoinLocked(LedgerState* s, const std::string& slice, uint64_t limit, std::string* error) {
  if (AnyAlive(s) && s->limit != limit) {
    *error =
        "slice " + slice + " already runs with a limit of " + FormatBytes(s->limit) + ", not " + FormatBytes(limit);
    if (FormatBytes(s->limit) == FormatBytes(limit))
      *error += " (" + std::to_string(s->limit) + " and " + std::to_string(limit) + " bytes)";
    return -1;
  }
  s->limit = limit;
  int entry = ClaimEntry(s->entries, LedgerEntry{});
  if (entry < 0)
    *error = "slice " + slice + " has " + std::to_string(SliceLedger::kMaxProcesses) + " processes already";
  return entry;
}

// Reads one ledger without joining it; false if it is not a ledger or has no live process.
bool Summarise(const std::string& file, SliceSummary* out) {
  std::string rest = file.substr(SegmentPrefix().size());
  if (rest.size() < kUuidLength + 2 || rest[kUuidLength] != '-') return false;
  SegmentMapping mapping = MapExistingSegment(file, sizeof(LedgerState), kLedgerMagic);
  if (!mapping) return false;
  auto* s = mapping.As<LedgerState>();
  SegmentLock lock(mapping);
  if (lock.retired()) return false;
  RetireIfUnused(lock, s, file);  // left by processes that were killed
  out->slice = rest.substr(kUuidLength + 1);
  out->device = rest.substr(0, kUuidLength);
  out->limit = s->limit;
  for (const LedgerEntry& e : s->entries) {
    if (e.process.in_use) out->processes.push_back({e.process.pid, e.used});
  }
  return !out->processes.empty();
}

}  // namespace

bool SliceLedger::ValidSliceName(const std::string& slice) {
  if (slice.empty() || slice.size() > 64) return false;
  for (char c : slice) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return slice != "." && slice != "..";
}

std::unique_ptr<SliceLedger> SliceLedger::Open(const std::string& slice, const std::string& device_uuid, uint64_t limit,
                                               std::string* error) {
  if (!ValidSliceName(slice)) {
    *error = "bad slice name \"" + slice + "\" (want 1-64 of A-Z a-z 0-9 . _ -)";
    return nullptr;
  }
  if (!ValidSliceName(device_uuid)) {
    *error = "bad device id \"" + device_uuid + "\"";
    return nullptr;
  }
  const std::string name = SegmentName(slice, device_uuid);
  int entry = -1;
  SegmentMapping mapping = OpenLiveSegment(name, sizeof(LedgerState), kLedgerMagic, nullptr, nullptr, error,
                                           [&](SegmentLock& lock, const SegmentMapping& m) {
                                             entry = JoinLocked(m.As<LedgerState>(), slice, limit, error);
                                             if (entry < 0) RetireIfUnused(lock, m.As<LedgerState>(), name);
                                           });
  if (entry < 0) return nullptr;
  return std::unique_ptr<SliceLedger>(new SliceLedger(std::move(mapping), entry, limit, name));
}

std::vector<SliceSummary> SliceLedger::ListSlices() {
  std::vector<SliceSummary> slices;
  for (const std::string& file : SegmentsWithPrefix(SegmentPrefix())) {
    SliceSummary summary;
    if (Summarise(file, &summary)) slices.push_back(std::move(summary));
  }
  return slices;
}

void SliceLedger::Unlink(const std::string& slice, const std::string& device_uuid) {
  UnlinkSegment(SegmentName(slice, device_uuid));
}

SliceLedger::SliceLedger(SegmentMapping mapping, int entry, uint64_t limit, std::string segment_name)
    : mapping_(std::move(mapping)),
      state_(mapping_.As<LedgerState>()),
      entry_(entry),
      limit_(limit),
      segment_name_(std::move(segment_name)) {}

SliceLedger::~SliceLedger() { Leave(); }

void SliceLedger::Leave() {
  SegmentLock lock(mapping_);
  if (left_) return;
  left_ = true;
  if (getpid() != owner_) return;  // a forked child: the entry is its parent's
  Drop(state_, &state_->entries[entry_]);
  ProcessEntry::ReleasedByThisProcess();
  RetireIfUnused(lock, state_, segment_name_);
}

bool SliceLedger::Reserve(uint64_t bytes, uint64_t* slice_used) {
  SegmentLock lock(mapping_);
  if (left_) return false;
  auto fits = [&] { return state_->total + bytes <= limit_ && state_->total + bytes >= bytes; };
  if (!fits()) SweepDead(state_);  // the dead may be holding what we need
  bool ok = fits();
  if (ok) {
    state_->entries[entry_].used += bytes;
    state_->total += bytes;
  }
  if (slice_used != nullptr) *slice_used = state_->total;
  return ok;
}

void SliceLedger::Charge(uint64_t bytes) {
  SegmentLock lock(mapping_);
  if (left_) return;
  state_->entries[entry_].used += bytes;
  state_->total += bytes;
}

void SliceLedger::Release(uint64_t bytes) {
  SegmentLock lock(mapping_);
  if (left_) return;
  uint64_t& used = state_->entries[entry_].used;
  uint64_t released = used >= bytes ? bytes : used;
  used -= released;
  state_->total -= released;
}

uint64_t SliceLedger::Used() {
  SegmentLock lock(mapping_);
  SweepDead(state_);
  return state_->total;
}

std::vector<SliceProcess> SliceLedger::Processes() {
  SegmentLock lock(mapping_);
  SweepDead(state_);
  std::vector<SliceProcess> out;
  for (const LedgerEntry& e : state_->entries) {
    if (e.process.in_use) out.push_back({e.process.pid, e.used});
  }
  return out;
}

}  // namespace vxpu
