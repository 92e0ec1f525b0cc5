// State shared by the processes of one machine: a segment created and initialised exactly once,
// guarded by a robust process-shared mutex (a holder's death never leaves it locked). A segment
// is a file of the state directory (state_dir.h: /dev/shm, where it is a POSIX shared-memory
// object, unless VXPU_STATE_DIR names another), mapped MAP_SHARED by every process that uses
// it; the mutexes and futexes in it work across processes on any file system. Every function
// here fails (or finds nothing) when VXPU_STATE_DIR is bad. Dependency-free (libc, pthreads) so
// the interposer can use it.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace vxpu {

// Every segment starts with this header; `magic` (which should encode the layout version) is
// published last, when the segment is initialised. `retired` is set, under the mutex, by the
// last user as it removes the segment's name (RetireSegment); whoever finds it set afterwards
// starts over with a fresh segment.
struct SegmentHeader {
  std::atomic<uint64_t> magic;
  pthread_mutex_t mutex;
  std::atomic<uint32_t> retired;
};

// Maps segment `name` of `size` bytes. A new segment is zeroed, its mutex made robust, then
// `init(segment, arg)` runs before `magic` is published. An existing one is used once its
// magic appears; one whose creator died half-way, or with another magic or size, is replaced.
// Returns nullptr with *error set on failure.
SegmentHeader* OpenSharedSegment(const std::string& name, size_t size, uint64_t magic,
                                 void (*init)(SegmentHeader* segment, const void* arg), const void* arg,
                                 std::string* error);
void CloseSharedSegment(SegmentHeader* segment, size_t size);

// Opens segment `name` as OpenSharedSegment does and returns it with its mutex locked and not
// retired: one retired meanwhile by its last user is left for the fresh one that replaces it.
// The caller joins it and unlocks it.
SegmentHeader* OpenLockedSegment(const std::string& name, size_t size, uint64_t magic,
                                 void (*init)(SegmentHeader* segment, const void* arg), const void* arg,
                                 std::string* error);

// With the segment's mutex held and no live user left in it: marks it retired and removes
// `name`, so that nothing is left behind and the next user starts a fresh segment.
void RetireSegment(SegmentHeader* segment, const std::string& name);

// Maps the existing, initialised segment `name` (with or without the leading '/') of `size`
// bytes and `magic`, creating nothing; nullptr if there is none such. For readers like `vxpu ps`
// (a reader that locks it should skip it if it is retired).
SegmentHeader* MapExistingSegment(const std::string& name, size_t size, uint64_t magic);

// Names (without '/') of the state directory's segments that start with `prefix`.
std::vector<std::string> SegmentsWithPrefix(const std::string& prefix);

// The file of segment `name` (with or without the leading '/'): <state directory>/<name>.
// false with *error set if the state directory is bad or `name` is not one file name.
bool SegmentPath(const std::string& name, std::string* path, std::string* error);

// Removes segment `name` (with or without the leading '/'), if there is one. Processes that
// have it mapped keep using it; a later opener creates a fresh one.
void UnlinkSegment(const std::string& name);

// Removes every vxpu segment of the state directory that names `device_uuid`: what the simulated
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
