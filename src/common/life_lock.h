// Proof of life across pid namespaces. A process table entry (process_table.h) names its owner
// by pid, start time and pid namespace; a checker in the owner's pid namespace asks the kernel
// about that pid (process.h), but to one in another namespace (another container sharing the
// state directory, or the host) the pid means nothing. So an owner also holds a life lock while
// it has entries: the file <state dir>/vxpu-life-<nsdev>-<nsino>-<pid>-<start ticks>, opened
// O_CLOEXEC, with an open-file-description read lock (F_OFD_SETLK, F_RDLCK) on it. The kernel
// drops the lock when the process dies, however it dies; a checker anywhere that sees the same
// directory tries a write lock on the file of the entry: refused, the owner lives; granted, or
// no file, it is dead (and the checker removes the file, under its write lock).
//
// - Open-file-description locks, not classic POSIX ones: a process holds classic locks per
//   process, so closing any descriptor of the file in it (a second copy of this code, e.g. the
//   interposer's and simgpu's, or a checker) would drop them. A read lock lets the copies of one
//   process share one file; a checker's write lock conflicts with any of them.
// - A forked child inherits the descriptor (so the lock) until it closes it: a fork handler
//   closes it in the child at once, so a parent's death is never hidden by its children. A child
//   that claims an entry gets a file of its own (its pid differs).
// - A thread exiting changes nothing (the descriptor is the process's).
// - exec closes the descriptor (O_CLOEXEC): entries claimed before exec look dead to other
//   namespaces afterwards (the new image gets a lock of its own when it claims).
// - A program that closes descriptors it did not open (closefrom, close_range) drops the lock
//   until this process next claims an entry (each claim re-checks it).
// - Removal protocol: a file is unlinked only by a holder of its write lock that has checked
//   the name still names the file it locked; an owner takes its read lock, then checks its name
//   names the file it locked (else starts over). So an owner's verified file is never removed.
// - The file's name is built from the entry alone, so owner and checker agree whatever their
//   views of /proc (start ticks as the owner read them: time namespaces change them, a caveat
//   for the same-namespace check only). Needs Linux >= 3.15 and a file system with OFD locks
//   (tmpfs, ext4, xfs, overlay's upper). Dependency-free (libc, pthreads).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/process.h"

namespace vxpu {

// Who holds an entry, as it recorded itself.
struct ProcessIdentity {
  PidNamespace ns;
  int32_t pid = 0;
  uint64_t start_ticks = 0;
};

// The calling process (cached; recomputed after fork).
ProcessIdentity ThisProcessIdentity();

// True if entries of `who` can be judged by pid (ProcessAlive): it is in the caller's pid
// namespace, known to both, and the caller's /proc is its namespace's.
bool JudgedByPid(const PidNamespace& who);

// The calling process is about to hold one more entry: takes its life lock if it has none
// (creating the file) or re-checks it. false if it cannot (the state directory is bad or not
// writable): the entry then looks dead from other pid namespaces.
bool HoldLifeLock();
// The calling process freed one of the entries it held (after HoldLifeLock): with the last,
// its lock goes and its file is removed (unless another copy of this code still holds it).
void ReleaseLifeLock();

enum class LifeLockState {
  kHeld,     // its owner lives
  kFree,     // its owner has died (the file is removed)
  kAbsent,   // no file: its owner has died, or never held one
  kUnknown,  // the file cannot be opened or locked (permissions, descriptors): taken as alive
};

// Tries the life lock of `who` (open, fcntl, close; a dead one's file is removed).
LifeLockState ProbeLifeLock(const ProcessIdentity& who);

// Removes the life files of the state directory that no process holds, with their entries'
// owners dead (processes that were killed and nobody checked since). The number removed. It runs
// by itself now and then when a process takes its lock (about one in kSweepOneIn).
size_t SweepStaleLifeFiles();
inline constexpr int kSweepOneIn = 16;

// The file name (no directory) of the life lock of `who`.
std::string LifeFileName(const ProcessIdentity& who);

}  // namespace vxpu
