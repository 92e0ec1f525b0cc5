// Tables of live processes kept in shared segments (simgpu's clients of a device, a memory
// slice's processes, a device's compute tenants). An entry begins with a ProcessEntry: who
// holds it, by pid and start time, so that a reused pid is never taken for the same process.
// The caller holds the segment's lock around every call. Dependency-free (libc only).
#pragma once

#include <cstddef>
#include <cstdint>

namespace vxpu {

struct ProcessEntry {
  int32_t pid;
  uint32_t in_use;
  uint64_t start_ticks;

  // An entry in use by the calling process.
  static ProcessEntry OfThisProcess();
  // In use by a process that has exited (or been killed, even if not yet reaped).
  bool Abandoned() const;
};

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
