// State shared by the processes of one machine: a segment created and initialised exactly once,
// guarded by a robust process-shared mutex (a holder's death never leaves it locked). A segment
// is a file of the state directory (state_dir.h: /dev/shm, where it is a POSIX shared-memory
// object, unless VXPU_STATE_DIR names another), mapped MAP_SHARED by every process that uses
// it; the mutexes and futexes in it work across processes on any file system. Every function
// here fails (or finds nothing) when VXPU_STATE_DIR is bad. Dependency-free (libc, pthreads) so
// the interposer can use it.
//
// Lifetimes are held by construction: a SegmentMapping owns one mapping and unmaps it when it
// is destroyed, a SegmentLock holds the mutex of a mapping for its scope. A mapping can be
// neither reassigned nor unmapped by hand, so a lock, declared after its mapping, always ends
// before the memory it unlocks goes away.
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
// last user as it removes the segment's name (SegmentLock::Retire); whoever finds it set
// afterwards starts over with a fresh segment.
struct SegmentHeader {
  std::atomic<uint64_t> magic;
  pthread_mutex_t mutex;
  std::atomic<uint32_t> retired;
};

// One mapping of a segment by this process; unmapped when destroyed. Empty when an open failed.
class SegmentMapping {
 public:
  SegmentMapping() = default;
  SegmentMapping(SegmentHeader* header, size_t size) : header_(header), size_(size) {}
  SegmentMapping(SegmentMapping&& other) noexcept : header_(other.header_), size_(other.size_) {
    other.header_ = nullptr;
  }
  SegmentMapping& operator=(SegmentMapping&&) = delete;
  SegmentMapping(const SegmentMapping&) = delete;
  SegmentMapping& operator=(const SegmentMapping&) = delete;
  ~SegmentMapping();

  explicit operator bool() const { return header_ != nullptr; }
  SegmentHeader* header() const { return header_; }
  // The segment as its full layout, which starts with a SegmentHeader.
  template <typename State>
  State* As() const {
    return reinterpret_cast<State*>(header_);
  }

 private:
  SegmentHeader* header_ = nullptr;
  size_t size_ = 0;
};

// Holds a mapping's mutex for its scope, making it consistent again if its holder died.
class SegmentLock {
 public:
  explicit SegmentLock(const SegmentMapping& mapping);
  ~SegmentLock();
  SegmentLock(const SegmentLock&) = delete;
  SegmentLock& operator=(const SegmentLock&) = delete;

  // Whether the segment's last user removed it (a reader skips it; a user opens a fresh one).
  bool retired() const { return header_->retired.load(std::memory_order_relaxed) != 0; }
  // For the last user, with no live user left in it: marks the segment retired and removes
  // `name`, so that nothing is left behind and the next user starts a fresh segment.
  void Retire(const std::string& name);
  // Lets go of the mutex while sleeping on the futex `word` (while it is `seen`, at most
  // timeout_ns), and takes it again before returning.
  void WaitUnlocked(std::atomic<uint32_t>* word, uint32_t seen, uint64_t timeout_ns);

 private:
  SegmentHeader* header_;
};

// Maps segment `name` of `size` bytes. A new segment gets its space allocated (ENOSPC is an
// error, not a SIGBUS later), zeroed, its mutex made robust, then `init(segment, arg)` runs
// before `magic` is published. An existing one is used once its magic appears; one whose creator
// died half-way, or with another magic or size, is replaced. Empty with *error set on failure;
// nothing half-made is left behind.
SegmentMapping OpenSharedSegment(const std::string& name, size_t size, uint64_t magic,
                                 void (*init)(SegmentHeader* segment, const void* arg), const void* arg,
                                 std::string* error);

// Opens segment `name` as OpenSharedSegment does, locks it, and once it is live (not retired by
// its last user meanwhile: such a one is left for the fresh one that replaces it) calls
// `use(lock, mapping)` before unlocking. Returns the mapping, or an empty one with *error set.
template <typename Use>
SegmentMapping OpenLiveSegment(const std::string& name, size_t size, uint64_t magic,
                               void (*init)(SegmentHeader* segment, const void* arg), const void* arg,
                               std::string* error, Use use) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    SegmentMapping mapping = OpenSharedSegment(name, size, magic, init, arg, error);
    if (!mapping) return mapping;
    bool live = false;
    {
      SegmentLock lock(mapping);
      live = !lock.retired();
      if (live) use(lock, mapping);
    }
    if (live) return mapping;
  }
  *error = "shared segment " + name + " keeps being retired";
  return SegmentMapping();
}

// Maps the existing, initialised segment `name` (with or without the leading '/') of `size`
// bytes and `magic`, creating nothing; empty if there is none such, or if its pages cannot all be
// backed by storage (touching them would fault). For readers like `vxpu ps` (a reader that locks it
// should skip it if it is retired).
SegmentMapping MapExistingSegment(const std::string& name, size_t size, uint64_t magic);

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

}  // namespace vxpu
