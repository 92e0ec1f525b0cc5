#include "simgpu/shared_device.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>

#include "common/futex.h"
#include "common/process.h"
#include "common/process_table.h"
#include "common/shared_segment.h"

namespace simgpu {

namespace {
// Layout 5: ProcessEntry records the pid namespace.
constexpr uint32_t kLayoutVersion = 5;
constexpr uint64_t kMagic = 0x5653494d47500000ull | kLayoutVersion;  // "VSIMGP" + layout
}  // namespace

struct Slot {
  vxpu::ProcessEntry process;
  uint64_t start_ns;
  uint64_t memory_used;
  uint64_t busy_ns;
  uint32_t wants_device;
  uint32_t reserved;
};

struct SharedState {
  vxpu::SegmentHeader header;
  std::atomic<uint32_t> wake_word;  // futex: bumped whenever the holder changes
  int32_t holder;                   // slot index, -1 when the device is idle
  uint64_t holder_since_ns;
  uint64_t total_memory;
  Slot slots[kMaxClients];
};

namespace {

void WakeAll(SharedState* s) { vxpu::FutexWakeAll(&s->wake_word); }

int NextWanter(SharedState* s, int after) {
  for (int step = 1; step <= kMaxClients; ++step) {
    int i = (after + step) % kMaxClients;
    if (s->slots[i].process.in_use && s->slots[i].wants_device) return i;
  }
  return -1;
}

// Hands the device to the next client in round-robin order after `from` (maybe `from` itself).
void PassOn(SharedState* s, int from) {
  s->holder = NextWanter(s, from);
  s->holder_since_ns = MonotonicNs();
  WakeAll(s);
}

void FreeSlot(SharedState* s, int i) {
  s->slots[i] = Slot{};
  if (s->holder == i) PassOn(s, i);
}

void SweepDead(SharedState* s) {
  vxpu::FreeAbandonedEntries(s->slots, [s](int i) { FreeSlot(s, i); });
}

uint64_t SumMemory(const SharedState* s) {
  uint64_t used = 0;
  for (const Slot& slot : s->slots) used += slot.process.in_use ? slot.memory_used : 0;
  return used;
}

std::string SegmentName(const DeviceSpec& spec) {
  // The layout and the device's size are part of the name, so a changed config never meets an
  // incompatible segment left by an earlier run.
  uint64_t hash = 1469598103934665603ull;
  auto mix = [&hash](uint64_t v) {
    for (int i = 0; i < 8; ++i) hash = (hash ^ ((v >> (8 * i)) & 0xff)) * 1099511628211ull;
  };
  mix(spec.total_memory);
  mix(kLayoutVersion);  // a new layout never meets an old segment
  char name[128];
  std::snprintf(name, sizeof(name), "/vxpu-simgpu-%u-%s-%08llx", static_cast<unsigned>(getuid()), spec.uuid.c_str(),
                static_cast<unsigned long long>(hash & 0xffffffffull));
  return name;
}

void InitState(vxpu::SegmentHeader* header, const void* arg) {
  auto* s = reinterpret_cast<SharedState*>(header);
  s->holder = -1;
  s->total_memory = static_cast<const DeviceSpec*>(arg)->total_memory;
}

bool NoClients(const SharedState* s) {
  for (const Slot& slot : s->slots) {
    if (slot.process.in_use) return false;
  }
  return true;
}

}  // namespace

std::unique_ptr<SharedDevice> SharedDevice::Open(const DeviceSpec& spec, std::string* error) {
  if (spec.uuid.empty() || spec.uuid.find('/') != std::string::npos) {
    *error = "bad device uuid \"" + spec.uuid + "\"";
    return nullptr;
  }
  std::string path;
  if (!vxpu::SegmentPath(SegmentName(spec), &path, error)) return nullptr;  // VXPU_STATE_DIR is bad
  return std::unique_ptr<SharedDevice>(new SharedDevice(spec, SegmentName(spec)));
}

SharedDevice::~SharedDevice() = default;

void SharedDevice::Unlink(const DeviceSpec& spec) { vxpu::UnlinkSegment(SegmentName(spec)); }

int SharedDevice::Register(std::string* error) {
  if (state_ != nullptr) {
    *error = "this process is a client of the device already";
    return -1;
  }
  int slot = -1;
  auto join = [&](vxpu::SegmentLock& lock, const vxpu::SegmentMapping& mapping) {
    auto* s = mapping.As<SharedState>();
    SweepDead(s);
    Slot fresh{};
    fresh.start_ns = MonotonicNs();
    slot = vxpu::ClaimEntry(s->slots, fresh);
    if (slot >= 0) return;
    *error = "the device has " + std::to_string(kMaxClients) + " clients already";
    if (NoClients(s)) lock.Retire(name_);
  };
  vxpu::SegmentMapping mapping =
      vxpu::OpenLiveSegment(name_, sizeof(SharedState), kMagic, InitState, &spec_, error, join);
  if (slot < 0) return -1;
  mapping_.emplace(std::move(mapping));
  state_ = mapping_->As<SharedState>();
  return slot;
}

void SharedDevice::Unregister(int slot) {
  {
    vxpu::SegmentLock lock(*mapping_);
    FreeSlot(state_, slot);
    vxpu::ProcessEntry::ReleasedByThisProcess();
    if (NoClients(state_)) lock.Retire(name_);
  }
  state_ = nullptr;
  mapping_.reset();
}

template <typename Read>
bool SharedDevice::ReadLocked(Read read, bool sweep) {
  if (state_ != nullptr) {
    vxpu::SegmentLock lock(*mapping_);
    if (sweep) SweepDead(state_);
    read(state_);
    return true;
  }
  vxpu::SegmentMapping mapping = vxpu::MapExistingSegment(name_, sizeof(SharedState), kMagic);
  if (!mapping) return false;
  auto* s = mapping.As<SharedState>();
  vxpu::SegmentLock lock(mapping);
  if (lock.retired()) return false;
  if (sweep) SweepDead(s);
  bool live = !NoClients(s);
  if (live) {
    read(s);
  } else if (sweep) {
    lock.Retire(name_);  // left by clients that were killed
  }
  return live;
}

bool SharedDevice::Charge(int slot, uint64_t bytes) {
  vxpu::SegmentLock lock(*mapping_);
  if (SumMemory(state_) + bytes > state_->total_memory || SumMemory(state_) + bytes < bytes) {
    SweepDead(state_);
    if (SumMemory(state_) + bytes > state_->total_memory || SumMemory(state_) + bytes < bytes) return false;
  }
  state_->slots[slot].memory_used += bytes;
  return true;
}

void SharedDevice::Uncharge(int slot, uint64_t bytes) {
  vxpu::SegmentLock lock(*mapping_);
  uint64_t& used = state_->slots[slot].memory_used;
  used = used >= bytes ? used - bytes : 0;
}

uint64_t SharedDevice::total_memory() const { return spec_.total_memory; }

uint64_t SharedDevice::UsedMemory() {
  uint64_t used = 0;
  ReadLocked([&](const SharedState* s) { used = SumMemory(s); });
  return used;
}

std::vector<ClientInfo> SharedDevice::Clients() {
  std::vector<ClientInfo> clients;
  ReadLocked([&](const SharedState* s) {
    for (const Slot& slot : s->slots) {
      if (slot.process.in_use) clients.push_back({slot.process.pid, slot.memory_used, slot.busy_ns, slot.start_ns});
    }
  });
  return clients;
}

void SharedDevice::Acquire(int slot) {
  vxpu::SegmentLock lock(*mapping_);
  state_->slots[slot].wants_device = 1;
  uint64_t last_check = MonotonicNs();
  while (state_->holder != slot) {
    if (state_->holder < 0) {
      state_->holder = slot;
      state_->holder_since_ns = MonotonicNs();
      break;
    }
    uint64_t now = MonotonicNs();
    if (now - last_check >= kLivenessCheckMs * 1000000ull) {
      last_check = now;
      const vxpu::ProcessEntry& holder = state_->slots[state_->holder].process;
      if (!holder.in_use || holder.Abandoned()) {
        FreeSlot(state_, state_->holder);
        continue;
      }
    }
    uint32_t seen = state_->wake_word.load(std::memory_order_acquire);
    lock.WaitUnlocked(&state_->wake_word, seen, kLivenessCheckMs * 1000000ull);
  }
}

uint64_t SharedDevice::QuantumLeft(int slot) {
  vxpu::SegmentLock lock(*mapping_);
  if (state_->holder != slot) return 0;
  uint64_t used = MonotonicNs() - state_->holder_since_ns;
  uint64_t quantum = uint64_t{quantum_us()} * 1000;
  return used >= quantum ? 0 : quantum - used;
}

void SharedDevice::EndQuantum(int slot) {
  vxpu::SegmentLock lock(*mapping_);
  if (state_->holder != slot) return;
  if (MonotonicNs() - state_->holder_since_ns < uint64_t{quantum_us()} * 1000) return;
  PassOn(state_, slot);  // the next waiting client, or this one again for a fresh quantum
}

void SharedDevice::Release(int slot) {
  vxpu::SegmentLock lock(*mapping_);
  state_->slots[slot].wants_device = 0;
  if (state_->holder == slot) PassOn(state_, slot);
}

void SharedDevice::AddBusy(int slot, uint64_t ns) {
  vxpu::SegmentLock lock(*mapping_);
  state_->slots[slot].busy_ns += ns;
}

int32_t SharedDevice::HolderPid() {
  int32_t pid = 0;
  ReadLocked([&](const SharedState* s) { pid = s->holder >= 0 ? s->slots[s->holder].process.pid : 0; },
             /*sweep=*/false);
  return pid;
}

}  // namespace simgpu
