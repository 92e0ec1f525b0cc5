// Tables of live processes kept in shared segments (simgpu's clients of a device, a memory
// slice's processes, a device's compute tenants). An entry begins with a ProcessEntry: who
// holds it, by pid, start time and pid namespace, so that a reused pid is never taken for the
// same process and a process of another pid namespace (another container sharing the state
// directory, or the host) is judged by its life lock (life_lock.h), not by a pid that means
// nothing to the checker. The caller holds the segment's lock around every call.
// Dependency-free (libc, pthreads).
#pragma once

#include <cstddef>
#include <cstdint>

namespace vxpu {

struct ProcessEntry {
  int32_t pid;  // in the owner's pid namespace
  uint32_t in_use;
  uint64_t start_ticks;
  uint64_t pid_ns_dev;  // the owner's pid namespace (stat of /proc/self/ns/pid); 0, 0: unknown
  uint64_t pid_ns_ino;

  // An entry in use by the calling process, which holds its life lock from now on: a claim.
  // Once it frees the entry itself, it calls ReleasedByThisProcess.
  static ProcessEntry OfThisProcess();
  // The calling process freed an entry it claimed (with its last, its life lock goes).
  static void ReleasedByThisProcess();
  // In use by a process that has exited (or been killed, even if not yet reaped). In the
  // checker's pid namespace: by pid and start time (a few system calls; one that looks dead is
  // asked for its life lock too); in another: by its life lock alone (open, fcntl, close).
  // A dead process's life file is removed.
  bool Abandoned() const;
};
static_assert(sizeof(ProcessEntry) == 32, "ProcessEntry is part of shared segment layouts");

// Takes the first free entry of `table` for the calling process, `fresh` apart from its
// ProcessEntry; its index, or -1 when every entry is in use.
template <typename Entry, size_t N>
int ClaimEntry(Entry (&table)[N], Entry fresh) {
  for (size_t i = 0; i < N; ++i) {
    if (table[i].process.in_use) continue;
    table[i] = fresh;
    table[i].process = ProcessEntry::OfThisProcess();
    return static_cast<int>(i);
  }
  return -1;
}

// Calls `free_entry(index)` for every entry whose process has gone; it must free the entry.
template <typename Entry, size_t N, typename FreeEntry>
void FreeAbandonedEntries(Entry (&table)[N], FreeEntry free_entry) {
  for (size_t i = 0; i < N; ++i) {
    if (table[i].process.Abandoned()) free_entry(static_cast<int>(i));
  }
}

}  // namespace vxpu
