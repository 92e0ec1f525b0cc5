// The slices `vxpu run` set up without an agent, so that the next one is checked against them
// even before their first CUDA call (a slice's ledger and arbiter appear only then: two
// `--compute 70` could both start). They are this user's records, kept as JSON in the state
// directory (vxpu-run-UID.json, rewritten whole and renamed) beside a lock file; a record
// lasts while its owner or a process that joined it lives.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "node/slice.h"

namespace vxpu {

class DaemonlessSlices {
 public:
  // Takes this user's lock on the records for the object's life (or the process's: the lock
  // goes at exec). nullptr with *error set if the state directory cannot hold it.
  static std::unique_ptr<DaemonlessSlices> Lock(std::string* error);
  // The records whose processes live, read without the lock (for `vxpu ps`). An unreadable
  // file is an error, never no slices.
  static bool List(std::vector<SliceRecord>* records, std::string* error);
  ~DaemonlessSlices();
  DaemonlessSlices(const DaemonlessSlices&) = delete;
  DaemonlessSlices& operator=(const DaemonlessSlices&) = delete;

  // Replaces the records by `records` (dead ones are dropped on the next read).
  bool Store(const std::vector<SliceRecord>& records, std::string* error);

 private:
  explicit DaemonlessSlices(int lock_fd) : lock_fd_(lock_fd) {}
  int lock_fd_;
};

}  // namespace vxpu
