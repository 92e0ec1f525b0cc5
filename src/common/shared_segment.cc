#include "common/shared_segment.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/state_dir.h"

namespace vxpu {
namespace {

constexpr int kInitWaitSteps = 200;  // x 5 ms: how long a creator may take to initialise

// What glibc's shm_open does in /dev/shm: no symbolic link followed, mode 0600 (less the umask).
int OpenFile(const std::string& path, int flags) { return open(path.c_str(), flags | O_NOFOLLOW | O_CLOEXEC, 0600); }

SegmentHeader* Map(int fd, size_t size) {
  void* addr = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  return addr == MAP_FAILED ? nullptr : static_cast<SegmentHeader*>(addr);
}

SegmentHeader* Create(int fd, size_t size, uint64_t magic, void (*init)(SegmentHeader*, const void*), const void* arg) {
  if (ftruncate(fd, static_cast<off_t>(size)) != 0) return nullptr;
  SegmentHeader* segment = Map(fd, size);
  if (segment == nullptr) return nullptr;
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&segment->mutex, &attr);
  pthread_mutexattr_destroy(&attr);
  if (init != nullptr) init(segment, arg);
  segment->magic.store(magic, std::memory_order_release);
  return segment;
}

// Waits for the creator to publish `magic`; nullptr if it never does or the segment is foreign.
SegmentHeader* AwaitInitialised(int fd, size_t size, uint64_t magic) {
  for (int step = 0; step < kInitWaitSteps; ++step, usleep(5000)) {
    struct stat st;
    if (fstat(fd, &st) != 0) return nullptr;
    if (static_cast<size_t>(st.st_size) < size) continue;
    if (static_cast<size_t>(st.st_size) > size) return nullptr;
    SegmentHeader* segment = Map(fd, size);
    if (segment == nullptr) return nullptr;
    for (; step < kInitWaitSteps; ++step, usleep(5000)) {
      uint64_t seen = segment->magic.load(std::memory_order_acquire);
      if (seen == magic) return segment;
      if (seen != 0) break;  // another layout
    }
    munmap(segment, size);
    return nullptr;
  }
  return nullptr;
}

}  // namespace

SegmentHeader* OpenSharedSegment(const std::string& name, size_t size, uint64_t magic,
                                 void (*init)(SegmentHeader*, const void*), const void* arg, std::string* error) {
  std::string path;
  if (!SegmentPath(name, &path, error)) return nullptr;
  for (int attempt = 0; attempt < 3; ++attempt) {
    int fd = OpenFile(path, O_RDWR | O_CREAT | O_EXCL);
    if (fd >= 0) {
      SegmentHeader* segment = Create(fd, size, magic, init, arg);
      int saved = errno;
      close(fd);
      if (segment != nullptr) return segment;
      unlink(path.c_str());
      *error = "cannot create shared segment " + path + ": " + std::strerror(saved);
      return nullptr;
    }
    if (errno != EEXIST) {
      *error = "cannot open shared segment " + path + ": " + std::strerror(errno);
      return nullptr;
    }
    fd = OpenFile(path, O_RDWR);
    if (fd < 0) continue;  // removed meanwhile: create it
    SegmentHeader* segment = AwaitInitialised(fd, size, magic);
    close(fd);
    if (segment != nullptr) return segment;
    unlink(path.c_str());  // abandoned half-way, or foreign: start afresh
  }
  *error = "shared segment " + path + " is unusable";
  return nullptr;
}

void CloseSharedSegment(SegmentHeader* segment, size_t size) { munmap(segment, size); }

SegmentHeader* OpenLockedSegment(const std::string& name, size_t size, uint64_t magic,
                                 void (*init)(SegmentHeader*, const void*), const void* arg, std::string* error) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    SegmentHeader* segment = OpenSharedSegment(name, size, magic, init, arg, error);
    if (segment == nullptr) return nullptr;
    LockSegment(segment);
    if (segment->retired.load(std::memory_order_relaxed) == 0) return segment;
    UnlockSegment(segment);
    CloseSharedSegment(segment, size);
  }
  *error = "shared segment " + name + " keeps being retired";
  return nullptr;
}

void RetireSegment(SegmentHeader* segment, const std::string& name) {
  segment->retired.store(1, std::memory_order_relaxed);
  UnlinkSegment(name);
}

SegmentHeader* MapExistingSegment(const std::string& name, size_t size, uint64_t magic) {
  std::string path, error;
  if (!SegmentPath(name, &path, &error)) return nullptr;
  int fd = OpenFile(path, O_RDWR);
  if (fd < 0) return nullptr;
  struct stat st;
  void* addr = MAP_FAILED;
  if (fstat(fd, &st) == 0 && static_cast<size_t>(st.st_size) == size)
    addr = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (addr == MAP_FAILED) return nullptr;
  auto* segment = static_cast<SegmentHeader*>(addr);
  if (segment->magic.load(std::memory_order_acquire) == magic) return segment;
  munmap(addr, size);
  return nullptr;
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

void LockSegment(SegmentHeader* segment) {
  if (pthread_mutex_lock(&segment->mutex) == EOWNERDEAD) pthread_mutex_consistent(&segment->mutex);
}

void UnlockSegment(SegmentHeader* segment) { pthread_mutex_unlock(&segment->mutex); }

}  // namespace vxpu
