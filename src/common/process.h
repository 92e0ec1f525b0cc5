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
// A killed process that its parent has not reaped yet counts as dead.
bool ProcessAlive(int32_t pid, uint64_t start_ticks);

}  // namespace vxpu
