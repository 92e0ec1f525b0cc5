// The memory ledger of one slice on one device: how much device memory each process of the
// slice holds, against the slice's limit. Every process launched under the slice opens the
// same ledger (a shared segment named after slice and device), so the limit holds for all of
// them together; two slices never share a ledger.
//
// Crash safety: entries of dead processes (even SIGKILLed, even unreaped) are dropped by the
// next process that reserves or reads, so their memory is released without a daemon and no
// file ever needs deleting by hand. The segment goes with the slice's last process (or, if
// that one was killed, with the next ListSlices). Dependency-free (libc, pthreads).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/shared_segment.h"

namespace vxpu {

struct LedgerState;

struct SliceProcess {
  int32_t pid = 0;
  uint64_t used = 0;  // bytes
};

struct SliceSummary {
  std::string slice;
  std::string device;  // UUID
  uint64_t limit = 0;
  std::vector<SliceProcess> processes;
};

class SliceLedger {
 public:
  static constexpr int kMaxProcesses = 256;

  // Opens the ledger of `slice` on the device `device_uuid` with a limit of `limit` bytes and
  // registers this process in it. Fails (nullptr, *error set) for a malformed slice name, when
  // the slice already runs with another limit (a contradictory configuration), or when it has
  // kMaxProcesses live processes.
  static std::unique_ptr<SliceLedger> Open(const std::string& slice, const std::string& device_uuid, uint64_t limit,
                                           std::string* error);
  // Removes the ledger's segment (tests; a ledger left behind is harmless and reused).
  static void Unlink(const std::string& slice, const std::string& device_uuid);
  // Every slice of this user on this machine that has live processes (for `vxpu ps`);
  // removes the ledgers whose processes are all gone.
  static std::vector<SliceSummary> ListSlices();
  // Slice names: 1-64 of [A-Za-z0-9._-].
  static bool ValidSliceName(const std::string& slice);

  ~SliceLedger();
  SliceLedger(const SliceLedger&) = delete;
  SliceLedger& operator=(const SliceLedger&) = delete;

  // Reserves `bytes` for this process if the slice stays within its limit; otherwise reserves
  // nothing and returns false. *slice_used (optional) is the slice's usage afterwards.
  bool Reserve(uint64_t bytes, uint64_t* slice_used = nullptr);
  // Charges `bytes` even past the limit: memory the driver has already handed out.
  void Charge(uint64_t bytes);
  // Gives back bytes this process reserved.
  void Release(uint64_t bytes);
  // Takes this process out of the slice (as the destructor does) while the object stays usable:
  // for exit, when hooks may still run. Afterwards Reserve refuses and Charge/Release do nothing.
  void Leave();

  uint64_t limit() const { return limit_; }
  uint64_t Used();                        // by all live processes of the slice
  std::vector<SliceProcess> Processes();  // live processes and what each holds

 private:
  SliceLedger(SegmentMapping mapping, int entry, uint64_t limit, std::string segment_name);

  SegmentMapping mapping_;
  LedgerState* state_;  // in mapping_
  int entry_;
  uint64_t limit_;
  std::string segment_name_;
  bool left_ = false;         // guarded by the segment's mutex
  int32_t owner_ = getpid();  // the process whose entry this is
};

}  // namespace vxpu
