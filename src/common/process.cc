#include "common/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace vxpu {
namespace {

// Reads the state letter and start time (field 22) of `path`, a /proc/PID/stat.
bool ReadStat(const char* path, char* state, uint64_t* start_ticks) {
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

bool ReadProcStat(int32_t pid, char* state, uint64_t* start_ticks) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  return ReadStat(path, state, start_ticks);
}

}  // namespace

uint64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

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
  if (state == 'Z' || state == 'X') return false;
  return start_ticks == 0 || ticks == start_ticks;
}

uint64_t ThisProcessStartTicks() {
  char state = 0;
  uint64_t ticks = 0;
  return ReadStat("/proc/self/stat", &state, &ticks) ? ticks : 0;
}

PidNamespace ThisPidNamespace() {
  struct stat st;
  if (stat("/proc/self/ns/pid", &st) != 0) return PidNamespace{};
  return PidNamespace{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
}

bool ProcIsOfThisNamespace() {
  char link[32];
  ssize_t n = readlink("/proc/self", link, sizeof(link) - 1);
  if (n <= 0) return false;
  link[n] = '\0';
  char self[32];
  std::snprintf(self, sizeof(self), "%d", static_cast<int>(getpid()));
  return std::strcmp(link, self) == 0;
}

}  // namespace vxpu
