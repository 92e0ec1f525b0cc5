#include "simgpu/shared_device.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <new>

namespace simgpu {

namespace {
constexpr uint64_t kMagic = 0x5653494d47505531ull;  // "VSIMGPU1"
constexpr uint32_t kLayoutVersion = 2;
}  // namespace

struct Slot {
  int32_t pid;
  uint32_t in_use;
  uint64_t start_ticks;
  uint64_t start_ns;
  uint64_t memory_used;
  uint64_t busy_ns;
  uint32_t wants_device;
  uint32_t reserved;
};

struct SharedState {
  std::atomic<uint64_t> magic;
  uint32_t layout_version;
  pthread_mutex_t mutex;
  std::atomic<uint32_t> wake_word;  // futex: bumped whenever the holder changes
  int32_t holder;                   // slot index, -1 when the device is idle
  uint64_t holder_since_ns;
  uint64_t total_memory;
  Slot slots[kMaxClients];
};

namespace {

static_assert(std::atomic<uint64_t>::is_always_lock_free && std::atomic<uint32_t>::is_always_lock_free);

void Lock(SharedState* s) {
  if (pthread_mutex_lock(&s->mutex) == EOWNERDEAD) pthread_mutex_consistent(&s->mutex);
}
void Unlock(SharedState* s) { pthread_mutex_unlock(&s->mutex); }

class Guard {
 public:
  explicit Guard(SharedState* s) : s_(s) { Lock(s_); }
  ~Guard() { Unlock(s_); }
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;

 private:
  SharedState* s_;
};

uint32_t* FutexWord(SharedState* s) { return reinterpret_cast<uint32_t*>(&s->wake_word); }

void WakeAll(SharedState* s) {
  s->wake_word.fetch_add(1, std::memory_order_release);
  syscall(SYS_futex, FutexWord(s), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

void WaitForWake(SharedState* s, uint32_t seen, int timeout_ms) {
  timespec timeout{timeout_ms / 1000, static_cast<long>(timeout_ms % 1000) * 1000000L};
  syscall(SYS_futex, FutexWord(s), FUTEX_WAIT, seen, &timeout, nullptr, 0);
}

int NextWanter(SharedState* s, int after) {
  for (int step = 1; step <= kMaxClients; ++step) {
    int i = (after + step) % kMaxClients;
    if (s->slots[i].in_use && s->slots[i].wants_device) return i;
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

bool SlotAlive(const Slot& slot) { return ProcessAlive(slot.pid, slot.start_ticks); }

void SweepDead(SharedState* s) {
  for (int i = 0; i < kMaxClients; ++i) {
    if (s->slots[i].in_use && !SlotAlive(s->slots[i])) FreeSlot(s, i);
  }
}

uint64_t SumMemory(const SharedState* s) {
  uint64_t used = 0;
  for (const Slot& slot : s->slots) used += slot.in_use ? slot.memory_used : 0;
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
  mix(kLayoutVersion);
  char name[128];
  std::snprintf(name, sizeof(name), "/vxpu-simgpu-%u-%s-%08llx", static_cast<unsigned>(getuid()), spec.uuid.c_str(),
                static_cast<unsigned long long>(hash & 0xffffffffull));
  return name;
}

void InitState(SharedState* s, const DeviceSpec& spec) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&s->mutex, &attr);
  pthread_mutexattr_destroy(&attr);
  s->layout_version = kLayoutVersion;
  s->holder = -1;
  s->total_memory = spec.total_memory;
  s->magic.store(kMagic, std::memory_order_release);
}

SharedState* MapSegment(int fd) {
  void* addr = mmap(nullptr, sizeof(SharedState), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  return addr == MAP_FAILED ? nullptr : static_cast<SharedState*>(addr);
}

// Waits for the creator to finish initialising; false if it never does (creator died).
bool AwaitInitialised(int fd, SharedState** out) {
  for (int attempt = 0; attempt < 200; ++attempt) {
    struct stat st;
    if (fstat(fd, &st) == 0 && static_cast<size_t>(st.st_size) >= sizeof(SharedState)) {
      SharedState* s = MapSegment(fd);
      if (s == nullptr) return false;
      for (; attempt < 200; ++attempt) {
        if (s->magic.load(std::memory_order_acquire) == kMagic) {
          *out = s;
          return true;
        }
        usleep(5000);
      }
      munmap(s, sizeof(SharedState));
      return false;
    }
    usleep(5000);
  }
  return false;
}

}  // namespace

uint64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

namespace {
// Reads the state letter and start time (field 22) of /proc/PID/stat.
bool ReadProcStat(int32_t pid, char* state, uint64_t* start_ticks) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[1024];
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  const char* p = std::strrchr(buf, ')');  // the command name may contain spaces and ')'
  if (p == nullptr) return false;
  unsigned long long ticks = 0;
  if (std::sscanf(p + 2, "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu", state,
                  &ticks) != 2)
    return false;
  *start_ticks = ticks;
  return true;
}
}  // namespace

uint64_t ProcessStartTicks(int32_t pid) {
  char state = 0;
  uint64_t ticks = 0;
  return ReadProcStat(pid, &state, &ticks) ? ticks : 0;
}

bool ProcessAlive(int32_t pid, uint64_t start_ticks) {
  if (pid <= 0) return false;
  if (kill(pid, 0) != 0 && errno != EPERM) return false;
  char state = 0;
  uint64_t ticks = 0;
  if (!ReadProcStat(pid, &state, &ticks)) return false;
  if (state == 'Z' || state == 'X') return false;  // killed, not yet reaped: its memory is gone
  return start_ticks == 0 || ticks == start_ticks;
}

std::unique_ptr<SharedDevice> SharedDevice::Open(const DeviceSpec& spec, std::string* error) {
  const std::string name = SegmentName(spec);
  for (int attempt = 0; attempt < 2; ++attempt) {
    int fd = shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      SharedState* s = nullptr;
      if (ftruncate(fd, sizeof(SharedState)) == 0) s = MapSegment(fd);
      close(fd);
      if (s == nullptr) {
        *error = "cannot create shared segment " + name + ": " + std::strerror(errno);
        shm_unlink(name.c_str());
        return nullptr;
      }
      InitState(s, spec);
      return std::unique_ptr<SharedDevice>(new SharedDevice(s, sizeof(SharedState), spec.timeslice_us));
    }
    if (errno != EEXIST) {
      *error = "cannot open shared segment " + name + ": " + std::strerror(errno);
      return nullptr;
    }
    fd = shm_open(name.c_str(), O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) continue;  // removed meanwhile: create it
    SharedState* s = nullptr;
    bool ready = AwaitInitialised(fd, &s);
    close(fd);
    if (ready && s->layout_version == kLayoutVersion && s->total_memory == spec.total_memory)
      return std::unique_ptr<SharedDevice>(new SharedDevice(s, sizeof(SharedState), spec.timeslice_us));
    if (s != nullptr) munmap(s, sizeof(SharedState));
    shm_unlink(name.c_str());  // its creator died half-way, or it is foreign: start afresh
  }
  *error = "shared segment " + name + " is unusable";
  return nullptr;
}

SharedDevice::~SharedDevice() { munmap(state_, size_); }

void SharedDevice::Unlink(const DeviceSpec& spec) { shm_unlink(SegmentName(spec).c_str()); }

int SharedDevice::Register() {
  Guard g(state_);
  SweepDead(state_);
  for (int i = 0; i < kMaxClients; ++i) {
    Slot& slot = state_->slots[i];
    if (slot.in_use) continue;
    slot = Slot{};
    slot.pid = getpid();
    slot.start_ticks = ProcessStartTicks(slot.pid);
    slot.start_ns = MonotonicNs();
    slot.in_use = 1;
    return i;
  }
  return -1;
}

void SharedDevice::Unregister(int slot) {
  Guard g(state_);
  FreeSlot(state_, slot);
}

bool SharedDevice::Charge(int slot, uint64_t bytes) {
  Guard g(state_);
  if (SumMemory(state_) + bytes > state_->total_memory || SumMemory(state_) + bytes < bytes) {
    SweepDead(state_);
    if (SumMemory(state_) + bytes > state_->total_memory || SumMemory(state_) + bytes < bytes) return false;
  }
  state_->slots[slot].memory_used += bytes;
  return true;
}

void SharedDevice::Uncharge(int slot, uint64_t bytes) {
  Guard g(state_);
  uint64_t& used = state_->slots[slot].memory_used;
  used = used >= bytes ? used - bytes : 0;
}

uint64_t SharedDevice::total_memory() const { return state_->total_memory; }

uint64_t SharedDevice::UsedMemory() {
  Guard g(state_);
  SweepDead(state_);
  return SumMemory(state_);
}

std::vector<ClientInfo> SharedDevice::Clients() {
  Guard g(state_);
  SweepDead(state_);
  std::vector<ClientInfo> clients;
  for (const Slot& slot : state_->slots) {
    if (slot.in_use) clients.push_back({slot.pid, slot.memory_used, slot.busy_ns, slot.start_ns});
  }
  return clients;
}

void SharedDevice::Acquire(int slot) {
  Lock(state_);
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
      const Slot& holder = state_->slots[state_->holder];
      if (!holder.in_use || !SlotAlive(holder)) {
        FreeSlot(state_, state_->holder);
        continue;
      }
    }
    uint32_t seen = state_->wake_word.load(std::memory_order_acquire);
    Unlock(state_);
    WaitForWake(state_, seen, kLivenessCheckMs);
    Lock(state_);
  }
  Unlock(state_);
}

uint64_t SharedDevice::QuantumLeft(int slot) {
  Guard g(state_);
  if (state_->holder != slot) return 0;
  uint64_t used = MonotonicNs() - state_->holder_since_ns;
  uint64_t quantum = uint64_t{quantum_us_} * 1000;
  return used >= quantum ? 0 : quantum - used;
}

void SharedDevice::EndQuantum(int slot) {
  Guard g(state_);
  if (state_->holder != slot) return;
  if (MonotonicNs() - state_->holder_since_ns < uint64_t{quantum_us_} * 1000) return;
  PassOn(state_, slot);  // the next waiting client, or this one again for a fresh quantum
}

void SharedDevice::Release(int slot) {
  Guard g(state_);
  state_->slots[slot].wants_device = 0;
  if (state_->holder == slot) PassOn(state_, slot);
}

void SharedDevice::AddBusy(int slot, uint64_t ns) {
  Guard g(state_);
  state_->slots[slot].busy_ns += ns;
}

}  // namespace simgpu
