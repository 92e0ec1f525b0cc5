// The tenants of one device taking turns at it: time leases granted one at a time, by the
// share policy (share_policy.h), between all processes on this machine that run under a
// compute slice of that device. The state lives in a shared segment per (user, device UUID),
// guarded by a robust mutex; waiting sleeps on a futex.
//
// A lease lets its holder submit work for `lease_ns`. When it ends, the holder drains what it
// submitted and reports the device time it used (from taking it up to drained), which is charged to its
// slice, so long kernels that overrun a lease are paid back in later turns. A holder that
// dies is noticed by the waiters within kLivenessCheckMs and the device passes on. The segment
// goes with the device's last tenant (or, if that one was killed, with the next ListSlices).
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/shared_segment.h"

namespace vxpu {

struct ArbiterState;

struct ComputeTerms {
  std::string slice;
  uint32_t request = 0;   // permille of the device
  uint32_t limit = 1000;  // permille, >= request
  bool high_priority = false;
};

struct ComputeSliceUsage {
  std::string slice;
  std::string device;  // UUID
  ComputeTerms terms;
  uint64_t used_ns = 0;  // device time charged since the slice first ran
  std::vector<int32_t> pids;
};

class ComputeArbiter {
 public:
  static constexpr int kMaxTenants = 64;
  static constexpr int kLivenessCheckMs = 50;

  // Joins the arbiter of device `device_uuid` as a process of the slice `terms.slice`. Fails
  // (nullptr, *error set) when that slice already runs with other terms, or it is full.
  static std::unique_ptr<ComputeArbiter> Open(const std::string& device_uuid, const ComputeTerms& terms,
                                              uint64_t lease_ns, std::string* error);
  // Every compute slice of this user on this machine with live processes (for `vxpu top`);
  // removes the arbiters whose tenants are all gone.
  static std::vector<ComputeSliceUsage> ListSlices();
  // The pid holding the lease of device `device_uuid`, 0 if none. A pure read: nothing is swept,
  // so a dead holder shows until a waiter notices its death (tests watch that hand-over).
  static int32_t HolderPid(const std::string& device_uuid);
  static void Unlink(const std::string& device_uuid);  // tests

  ~ComputeArbiter();
  ComputeArbiter(const ComputeArbiter&) = delete;
  ComputeArbiter& operator=(const ComputeArbiter&) = delete;

  // Takes this process out of the device's tenants (as the destructor does) while the object
  // stays usable: for exit, when launches may still run. Afterwards nothing waits or is charged.
  void Leave();

  // Blocks until this process holds the device (returns at once once it has left).
  void Acquire();
  // Ends this process's lease, `used_ns` of device time after it took it up, its work drained.
  // `more` tells whether it is still busy and wants the device again. Returns true if the
  // device was granted straight back to this process (a new lease has begun).
  bool Finish(uint64_t used_ns, bool more);
  // Extends the lease for another turn if no other slice may run now; charges `used_ns` so
  // far. Returns whether it did (false: Finish it).
  bool Renew(uint64_t used_ns);

  // Set while another slice that should preempt this holder waits (read on the launch path).
  bool YieldRequested() const;
  // True while some other process waits for the device.
  bool OthersWaiting();
  // Sleeps until the arbiter's state changes or `timeout_ns` passes.
  void WaitForChange(uint64_t timeout_ns);

  uint64_t lease_ns() const { return lease_ns_; }

 private:
  ComputeArbiter(SegmentMapping mapping, int tenant, uint64_t lease_ns, std::string segment_name);

  SegmentMapping mapping_;
  ArbiterState* state_;  // in mapping_
  int tenant_;
  uint64_t lease_ns_;
  std::string segment_name_;
  bool left_ = false;         // guarded by the segment's mutex
  int32_t owner_ = getpid();  // the process whose tenant this is
};

}  // namespace vxpu
