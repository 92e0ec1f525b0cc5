// State shared by the processes of one machine: a POSIX shared-memory segment created and
// initialised exactly once, guarded by a robust process-shared mutex (a holder's death never
// leaves it locked). Dependency-free (libc, pthreads) so the interposer can use it.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace vxpu {

// Every segment starts with this header; `magic` (which should encode the layout version) is
// published last, when the segment is initialised.
struct SegmentHeader {
  std::atomic<uint64_t> magic;
  pthread_mutex_t mutex;
};

// Maps segment `name` of `size` bytes. A new segment is zeroed, its mutex made robust, then
// `init(segment, arg)` runs before `magic` is published. An existing one is used once its
// magic appears; one whose creator died half-way, or with another magic or size, is replaced.
// Returns nullptr with *error set on failure.
SegmentHeader* OpenSharedSegment(const std::string& name, size_t size, uint64_t magic,
                                 void (*init)(SegmentHeader* segment, const void* arg), const void* arg,
                                 std::string* error);
void CloseSharedSegment(SegmentHeader* segment, size_t size);

// Maps the existing, initialised segment `name` (with or without the leading '/') of `size`
// bytes and `magic`, creating nothing; nullptr if there is none such. For readers like `vxpu ps`.
SegmentHeader* MapExistingSegment(const std::string& name, size_t size, uint64_t magic);

// Names (without '/') of this machine's segments that start with `prefix`.
std::vector<std::string> SegmentsWithPrefix(const std::string& prefix);

// Removes every vxpu segment of this machine that names `device_uuid`: what the simulated
// device, the memory ledgers and the compute arbiter of a throwaway simgpu device leave.
void UnlinkSegmentsOfDevice(const std::string& device_uuid);

// Locks the segment's mutex, making it consistent again if its holder died.
void LockSegment(SegmentHeader* segment);
void UnlockSegment(SegmentHeader* segment);

class SegmentLock {
 public:
  explicit SegmentLock(SegmentHeader* segment) : segment_(segment) { LockSegment(segment_); }
  ~SegmentLock() { UnlockSegment(segment_); }
  SegmentLock(const SegmentLock&) = delete;
  SegmentLock& operator=(const SegmentLock&) = delete;

 private:
  SegmentHeader* segment_;
};

}  // namespace vxpu
