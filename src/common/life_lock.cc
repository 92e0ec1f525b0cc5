#include "common/life_lock.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "common/state_dir.h"

namespace vxpu {
namespace {

constexpr char kLifePrefix[] = "vxpu-life-";
constexpr int kCreateAttempts = 50;  // x 1 ms: a checker's write lock is held for a few syscalls

// This copy of the code's state in this process. Constant-initialised and never destroyed, so
// it works in constructors and exit handlers of any order.
struct LifeState {
  std::atomic<int32_t> lock_pid;  // pid of the process whose thread holds `this`, 0 if none
  int32_t pid;                    // the process the fields below are of
  ProcessIdentity self;
  bool proc_is_ours;
  bool fork_handler;
  int fd;  // the locked life file, -1 if none
  uint64_t dev, ino;
  long entries;  // held by this process (through this copy)
};
LifeState g_life = {{0}, 0, {}, false, false, -1, 0, 0, 0};

void InChildAfterFork() {
  // Single-threaded here: the descriptor (and the parent's lock) must not live on in the child.
  if (g_life.fd >= 0) close(g_life.fd);
  g_life.fd = -1;
  g_life.entries = 0;
  g_life.pid = 0;
  g_life.lock_pid.store(0, std::memory_order_relaxed);
}

// Holds g_life for this thread; a holder inherited through fork (a thread that does not exist
// in this process) is taken over. Brings g_life to this process if it forked without the handler.
class Guard {
 public:
  Guard() {
    const int32_t me = getpid();
    for (;;) {
      int32_t seen = 0;
      if (g_life.lock_pid.compare_exchange_weak(seen, me, std::memory_order_acquire)) break;
      if (seen != 0 && seen != me && g_life.lock_pid.compare_exchange_strong(seen, me, std::memory_order_acquire))
        break;  // held in the parent when it forked
      sched_yield();
    }
    if (g_life.pid == me) return;
    if (g_life.fd >= 0) close(g_life.fd);  // inherited: releases nothing of the parent's
    g_life.fd = -1;
    g_life.entries = 0;
    g_life.self = ProcessIdentity{ThisPidNamespace(), me, ThisProcessStartTicks()};
    g_life.proc_is_ours = ProcIsOfThisNamespace();
    g_life.pid = me;
    if (!g_life.fork_handler) g_life.fork_handler = pthread_atfork(nullptr, nullptr, InChildAfterFork) == 0;
  }
  ~Guard() { g_life.lock_pid.store(0, std::memory_order_release); }
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;
};

bool LifePath(const ProcessIdentity& who, std::string* path) {
  std::string dir, error;
  if (!StateDir(&dir, &error)) return false;
  if (dir != "/") dir += '/';
  *path = dir.append(LifeFileName(who));
  return true;
}

flock WholeFile(short type) {
  flock lock{};
  lock.l_type = type;
  lock.l_whence = SEEK_SET;
  return lock;  // l_start 0, l_len 0: the whole file; l_pid 0, as OFD locks want
}

// True if `path` still names the file open as `fd`.
bool StillNamed(int fd, const std::string& path) {
  struct stat open_file, named;
  return fstat(fd, &open_file) == 0 && lstat(path.c_str(), &named) == 0 && open_file.st_dev == named.st_dev &&
         open_file.st_ino == named.st_ino;
}

// Tries the write lock of the life file `path`: granted (nobody holds it), the file is removed.
LifeLockState TryRemove(const std::string& path) {
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return errno == ENOENT ? LifeLockState::kAbsent : LifeLockState::kUnknown;
  flock lock = WholeFile(F_WRLCK);
  LifeLockState state;
  if (fcntl(fd, F_OFD_SETLK, &lock) != 0) {
    state = errno == EAGAIN || errno == EACCES ? LifeLockState::kHeld : LifeLockState::kUnknown;
  } else {
    state = LifeLockState::kFree;
    if (StillNamed(fd, path)) unlink(path.c_str());
  }
  close(fd);  // its own lock goes with it
  return state;
}

// Takes the read lock on this process's file, creating it. Expects the guard held.
bool LockOwnFile() {
  std::string path;
  if (!LifePath(g_life.self, &path)) return false;
  for (int attempt = 0; attempt < kCreateAttempts; ++attempt) {
    if (attempt > 0) usleep(1000);
    int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return false;
    flock lock = WholeFile(F_RDLCK);
    struct stat st;
    if (fcntl(fd, F_OFD_SETLK, &lock) == 0 && StillNamed(fd, path) && fstat(fd, &st) == 0) {
      g_life.fd = fd;
      g_life.dev = static_cast<uint64_t>(st.st_dev);
      g_life.ino = static_cast<uint64_t>(st.st_ino);
      return true;
    }
    close(fd);  // a checker holds it, or removed it meanwhile: again
  }
  return false;
}

// True if the descriptor is still this process's locked file (the program may have closed it).
bool OwnFileIntact() {
  struct stat st;
  if (fstat(g_life.fd, &st) != 0) return false;
  if (static_cast<uint64_t>(st.st_dev) != g_life.dev || static_cast<uint64_t>(st.st_ino) != g_life.ino) return false;
  return st.st_nlink > 0;
}

bool Parse(const char* name, ProcessIdentity* who) {
  unsigned long long dev = 0, ino = 0, ticks = 0;
  int pid = 0, end = 0;
  if (std::sscanf(name, "vxpu-life-%llu-%llu-%d-%llu%n", &dev, &ino, &pid, &ticks, &end) != 4 || name[end] != '\0')
    return false;
  *who = ProcessIdentity{PidNamespace{dev, ino}, pid, ticks};
  return LifeFileName(*who) == name;
}

}  // namespace

std::string LifeFileName(const ProcessIdentity& who) {
  char name[128];
  std::snprintf(name, sizeof(name), "%s%" PRIu64 "-%" PRIu64 "-%d-%" PRIu64, kLifePrefix, who.ns.dev, who.ns.ino,
                static_cast<int>(who.pid), who.start_ticks);
  return name;
}

ProcessIdentity ThisProcessIdentity() {
  Guard guard;
  return g_life.self;
}

bool JudgedByPid(const PidNamespace& who) {
  Guard guard;
  return g_life.proc_is_ours && who.known() && who == g_life.self.ns;
}

bool HoldLifeLock() {
  bool sweep = false, held;
  {
    Guard guard;
    ++g_life.entries;
    if (g_life.fd >= 0 && !OwnFileIntact()) {
      // Closed behind our back (the number may be another file's now: not closed), or unlinked.
      struct stat st;
      if (fstat(g_life.fd, &st) == 0 && static_cast<uint64_t>(st.st_ino) == g_life.ino) close(g_life.fd);
      g_life.fd = -1;
    }
    if (g_life.fd < 0 && LockOwnFile())
      sweep = (MonotonicNs() / 1000 ^ static_cast<uint64_t>(g_life.pid)) % kSweepOneIn == 0;
    held = g_life.fd >= 0;
  }
  if (sweep) SweepStaleLifeFiles();
  return held;
}

void ReleaseLifeLock() {
  Guard guard;
  if (g_life.entries <= 0 || --g_life.entries > 0 || g_life.fd < 0) return;
  close(g_life.fd);
  g_life.fd = -1;
  std::string path;
  if (LifePath(g_life.self, &path)) TryRemove(path);  // refused if another copy here holds it
}

LifeLockState ProbeLifeLock(const ProcessIdentity& who) {
  std::string path;
  if (!LifePath(who, &path)) return LifeLockState::kUnknown;
  return TryRemove(path);
}

size_t SweepStaleLifeFiles() {
  std::string dir, error;
  if (!StateDir(&dir, &error)) return 0;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return 0;
  if (dir != "/") dir += '/';
  size_t removed = 0;
  while (dirent* entry = readdir(d)) {
    ProcessIdentity who;
    if (std::strncmp(entry->d_name, kLifePrefix, sizeof(kLifePrefix) - 1) != 0 || !Parse(entry->d_name, &who)) continue;
    if (TryRemove(dir + entry->d_name) == LifeLockState::kFree) ++removed;
  }
  closedir(d);
  return removed;
}

}  // namespace vxpu
