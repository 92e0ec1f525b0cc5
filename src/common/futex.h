// Sleeping on a word in memory shared between processes (Linux futex): the waits of state in
// shared segments. Dependency-free (libc) so the interposer can use it.
#pragma once

#include <atomic>
#include <cstdint>

namespace vxpu {

// Sleeps while *word == seen, at most timeout_ns (spurious wake-ups are possible).
void FutexWait(std::atomic<uint32_t>* word, uint32_t seen, uint64_t timeout_ns);

// Bumps *word and wakes every process sleeping on it.
void FutexWakeAll(std::atomic<uint32_t>* word);

}  // namespace vxpu
