#include "remote/worker/image_cache.h"

#include "remote/protocol.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <vector>

namespace vxpu::remote {
namespace {

bool ReadWhole(const std::string& path, std::string* out) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return false;
  struct stat st {};
  bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  if (ok) {
    out->resize(static_cast<size_t>(st.st_size));
    size_t done = 0;
    while (ok && done < out->size()) {
      ssize_t n = read(fd, out->data() + done, out->size() - done);
      ok = n > 0;
      if (ok) done += static_cast<size_t>(n);
    }
  }
  close(fd);
  return ok;
}

bool WriteWhole(const std::string& path, const std::string& data) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  return close(fd) == 0 && done == data.size();
}

}  // namespace

bool ImageCache::Find(const Sha256Digest& digest, std::string* image) const {
  if (dir_.empty()) return false;
  std::string path = dir_ + "/" + HexOf(digest);
  if (!ReadWhole(path, image) || Sha256(image->data(), image->size()) != digest) return false;
  utimensat(AT_FDCWD, path.c_str(), nullptr, 0);  // used now: the last to be trimmed
  std::fprintf(stderr, "vxpu remote worker: image %.12s (%zu bytes) loaded as kept, not sent again\n",
               HexOf(digest).c_str(), image->size());
  return true;
}

void ImageCache::Keep(const std::string& image) const {
  if (dir_.empty() || image.size() < kImageByDigestBytes || image.size() > max_bytes_) return;
  std::string name = HexOf(Sha256(image.data(), image.size()));
  std::string path = dir_ + "/" + name;
  struct stat st {};
  if (stat(path.c_str(), &st) == 0) return;  // kept already (by this session or another)
  std::string partial = dir_ + "/.partial-" + std::to_string(getpid()) + "-" + name;
  if (!WriteWhole(partial, image) || rename(partial.c_str(), path.c_str()) != 0) {
    unlink(partial.c_str());
    return;
  }
  std::fprintf(stderr, "vxpu remote worker: keeps image %.12s (%zu bytes) for later sessions\n", name.c_str(),
               image.size());
  Trim();
}

void ImageCache::Trim() const {
  struct Entry {
    timespec used;
    uint64_t bytes;
    std::string path;
  };
  std::vector<Entry> entries;
  uint64_t total = 0;
  DIR* dir = opendir(dir_.c_str());
  if (dir == nullptr) return;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    std::string path = dir_ + "/" + e->d_name;
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    entries.push_back({st.st_mtim, static_cast<uint64_t>(st.st_size), path});
    total += static_cast<uint64_t>(st.st_size);
  }
  closedir(dir);
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.used.tv_sec != b.used.tv_sec ? a.used.tv_sec < b.used.tv_sec : a.used.tv_nsec < b.used.tv_nsec;
  });
  for (const Entry& e : entries) {
    if (total <= max_bytes_) break;
    if (unlink(e.path.c_str()) == 0) total -= e.bytes;
  }
}

}  // namespace vxpu::remote
