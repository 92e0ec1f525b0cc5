#include "common/shared_segment.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/futex.h"

#include "common/state_dir.h"

namespace vxpu {
namespace {

constexpr int kInitWaitSteps = 200;  // x 5 ms: how long a creator may take to initialise

// What glibc's shm_open does in /dev/shm: no symbolic link followed, mode 0600 (less the umask).
int OpenFile(const std::string& path, int flags) { return open(path.c_str(), flags | O_NOFOLLOW | O_CLOEXEC, 0600); }

// Makes sure every page of the existing `size`-byte segment behind `fd` is backed by storage
// before it is touched: a sparse one (left by a creator that died, or by an older vxpu) would
// fault on a full tmpfs. 0, or the errno (ENOSPC). fallocate(2) leaves allocated pages and their
// data alone; a file system without it (EOPNOTSUPP) is taken as it is, since posix_fallocate's
// emulation writes zeros another process may be racing.
int AllocateExisting(int fd, size_t size) {
  int rc;
  do rc = fallocate(fd, 0, 0, static_cast<off_t>(size)) == 0 ? 0 : errno;
  while (rc == EINTR);
  return rc == EOPNOTSUPP ? 0 : rc;
}

// Removes `path` if it is still the file behind `fd` (not a fresh one made there meanwhile).
void UnlinkIfSame(const std::string& path, int fd) {
  struct stat mine, named;
  if (fstat(fd, &mine) == 0 && stat(path.c_str(), &named) == 0 && mine.st_dev == named.st_dev &&
      mine.st_ino == named.st_ino)
    unlink(path.c_str());
}

SegmentHeader* Map(int fd, size_t size) {
  void* addr = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  return addr == MAP_FAILED ? nullptr : static_cast<SegmentHeader*>(addr);
}

// Sizes the new file `fd` for real, maps and initialises it; empty with *err (an errno) set on failure.
SegmentMapping Create(int fd, size_t size, uint64_t magic, void (*init)(SegmentHeader*, const void*), const void* arg,
                      int* err) {
  do *err = posix_fallocate(fd, 0, static_cast<off_t>(size));  // nobody else writes a new one yet
  while (*err == EINTR);
  if (*err != 0) return SegmentMapping();
  SegmentHeader* segment = Map(fd, size);
  if (segment == nullptr) {
    *err = errno;
    return SegmentMapping();
  }
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&segment->mutex, &attr);
  pthread_mutexattr_destroy(&attr);
  if (init != nullptr) init(segment, arg);
  segment->magic.store(magic, std::memory_order_release);
  return SegmentMapping(segment, size);
}

// Waits for the creator to publish `magic`; empty if it never does or the segment is foreign,
// or with *err set (an errno) if its pages cannot be backed.
SegmentMapping AwaitInitialised(int fd, size_t size, uint64_t magic, int* err) {
  for (int step = 0; step < kInitWaitSteps; ++step, usleep(5000)) {
    struct stat st;
    if (fstat(fd, &st) != 0) return SegmentMapping();
    if (static_cast<size_t>(st.st_size) < size) continue;
    if (static_cast<size_t>(st.st_size) > size) return SegmentMapping();
    if ((*err = AllocateExisting(fd, size)) != 0) return SegmentMapping();
    SegmentMapping mapping(Map(fd, size), size);
    if (!mapping) return mapping;
    for (; step < kInitWaitSteps; ++step, usleep(5000)) {
      uint64_t seen = mapping.header()->magic.load(std::memory_order_acquire);
      if (seen == magic) return mapping;
      if (seen != 0) break;  // another layout
    }
    return SegmentMapping();
  }
  return SegmentMapping();
}

void Lock(SegmentHeader* segment) {
  if (pthread_mutex_lock(&segment->mutex) == EOWNERDEAD) pthread_mutex_consistent(&segment->mutex);
}

}  // namespace

SegmentMapping::~SegmentMapping() {
  if (header_ != nullptr) munmap(header_, size_);
}

SegmentLock::SegmentLock(const SegmentMapping& mapping) : header_(mapping.header()) { Lock(header_); }

SegmentLock::~SegmentLock() { pthread_mutex_unlock(&header_->mutex); }

void SegmentLock::Retire(const std::string& name) {
  header_->retired.store(1, std::memory_order_relaxed);
  UnlinkSegment(name);
}

void SegmentLock::WaitUnlocked(std::atomic<uint32_t>* word, uint32_t seen, uint64_t timeout_ns) {
  pthread_mutex_unlock(&header_->mutex);
  FutexWait(word, seen, timeout_ns);
  Lock(header_);
}

SegmentMapping OpenSharedSegment(const std::string& name, size_t size, uint64_t magic,
                                 void (*init)(SegmentHeader*, const void*), const void* arg, std::string* error) {
  std::string path;
  if (!SegmentPath(name, &path, error)) return SegmentMapping();
  for (int attempt = 0; attempt < 3; ++attempt) {
    int fd = OpenFile(path, O_RDWR | O_CREAT | O_EXCL);
    if (fd >= 0) {
      int rc = 0;
      SegmentMapping created = Create(fd, size, magic, init, arg, &rc);
      close(fd);
      if (created) return created;
      unlink(path.c_str());
      *error = "cannot create shared segment " + path + ": " + std::strerror(rc);
      return SegmentMapping();
    }
    if (errno != EEXIST) {
      *error = "cannot open shared segment " + path + ": " + std::strerror(errno);
      return SegmentMapping();
    }
    fd = OpenFile(path, O_RDWR);
    if (fd < 0) continue;  // removed meanwhile: create it
    int err = 0;
    SegmentMapping mapping = AwaitInitialised(fd, size, magic, &err);
    if (!mapping && err == 0) UnlinkIfSame(path, fd);  // abandoned half-way, or foreign: start afresh
    close(fd);
    if (mapping) return mapping;
    if (err != 0) {
      *error = "cannot use shared segment " + path + ": " + std::strerror(err);
      return SegmentMapping();
    }
  }
  *error = "shared segment " + path + " is unusable";
  return SegmentMapping();
}

SegmentMapping MapExistingSegment(const std::string& name, size_t size, uint64_t magic) {
  std::string path, error;
  if (!SegmentPath(name, &path, &error)) return SegmentMapping();
  int fd = OpenFile(path, O_RDWR);
  if (fd < 0) return SegmentMapping();
  struct stat st;
  bool usable = fstat(fd, &st) == 0 && static_cast<size_t>(st.st_size) == size && AllocateExisting(fd, size) == 0;
  SegmentMapping mapping(usable ? Map(fd, size) : nullptr, size);
  close(fd);
  if (mapping && mapping.header()->magic.load(std::memory_order_acquire) == magic) return mapping;
  return SegmentMapping();
}
bool SegmentPath(const std::string& name, std::string* path, std::string* error) {
  std::string dir;
  if (!StateDir(&dir, error)) return false;
  size_t start = name.find_first_not_of('/');
  std::string file = start == std::string::npos ? std::string() : name.substr(start);
  if (file.empty() || file == "." || file == ".." || file.find('/') != std::string::npos) {
    *error = "bad shared segment name \"" + name + "\"";
    return false;
  }
  if (dir != "/") dir += '/';
  *path = dir.append(file);
  return true;
}

void UnlinkSegment(const std::string& name) {
  std::string path, error;
  if (SegmentPath(name, &path, &error)) unlink(path.c_str());
}

std::vector<std::string> SegmentsWithPrefix(const std::string& prefix) {
  std::vector<std::string> names;
  std::string dir, error;
  if (!StateDir(&dir, &error)) return names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* entry = readdir(d)) {
    if (std::string(entry->d_name).rfind(prefix, 0) == 0) names.push_back(entry->d_name);
  }
  closedir(d);
  return names;
}

void UnlinkSegmentsOfDevice(const std::string& device_uuid) {
  if (device_uuid.empty()) return;
  for (const std::string& name : SegmentsWithPrefix("vxpu-")) {
    if (name.find(device_uuid) != std::string::npos) UnlinkSegment(name);
  }
}

}  // namespace vxpu
