// Facts about processes that state shared between processes needs: a clock they agree on and
// whether a recorded process is still alive (not dead, not a zombie, not a reused pid).
// Dependency-free (libc only) so the interposer can use it.
#pragma once

#include <cstdint>

namespace vxpu {

// CLOCK_MONOTONIC in nanoseconds (comparable across processes of one machine).
uint64_t MonotonicNs();

// Start time of `pid` in clock ticks since boot (/proc/PID/stat field 22); 0 if unknown.
uint64_t ProcessStartTicks(int32_t pid);

// True if `pid` is running and is the process that started at `start_ticks` (0: don't check).
// A killed process that its parent has not reaped yet counts as dead. `pid` is a pid of the
// caller's pid namespace, as seen in its /proc.
bool ProcessAlive(int32_t pid, uint64_t start_ticks);

// The calling process's start time, read from /proc/self/stat (right even where /proc is
// another pid namespace's); 0 if unknown.
uint64_t ThisProcessStartTicks();

// A pid namespace: the device and inode of /proc/PID/ns/pid; {0, 0} if unknown.
struct PidNamespace {
  uint64_t dev = 0;
  uint64_t ino = 0;
  bool known() const { return ino != 0; }
  bool operator==(const PidNamespace& o) const { return dev == o.dev && ino == o.ino; }
};

// The calling process's pid namespace (that of getpid(), not of its future children).
PidNamespace ThisPidNamespace();

// True if /proc is the calling process's own pid namespace's (/proc/self is getpid()), so
// that /proc/PID means the caller's PID. A container sharing the host's /proc has it false.
bool ProcIsOfThisNamespace();

}  // namespace vxpu
