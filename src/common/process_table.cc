#include "common/process_table.h"

#include "common/life_lock.h"
#include "common/process.h"

namespace vxpu {

ProcessEntry ProcessEntry::OfThisProcess() {
  HoldLifeLock();  // if it cannot, other pid namespaces take the entry for dead (nothing else can)
  ProcessIdentity self = ThisProcessIdentity();
  return ProcessEntry{self.pid, 1, self.start_ticks, self.ns.dev, self.ns.ino};
}

void ProcessEntry::ReleasedByThisProcess() { ReleaseLifeLock(); }

bool ProcessEntry::Abandoned() const {
  if (!in_use) return false;
  const ProcessIdentity owner{PidNamespace{pid_ns_dev, pid_ns_ino}, pid, start_ticks};
  if (JudgedByPid(owner.ns)) {
    if (ProcessAlive(pid, start_ticks)) return false;
    // Its life lock has the last word (e.g. the two saw start times through different time
    // namespaces); the file of a dead one is removed.
    return ProbeLifeLock(owner) != LifeLockState::kHeld;
  }
  LifeLockState state = ProbeLifeLock(owner);
  return state == LifeLockState::kFree || state == LifeLockState::kAbsent;
}

}  // namespace vxpu
