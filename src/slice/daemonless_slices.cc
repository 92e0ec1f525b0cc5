#include "slice/daemonless_slices.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/process.h"
#include "common/state_dir.h"

namespace vxpu {
namespace {

// <state dir>/vxpu-run-UID<suffix>; false with *error if the state directory is bad.
bool PathOf(const char* suffix, std::string* path, std::string* error) {
  std::string dir;
  if (!StateDir(&dir, error)) return false;
  *path = dir + "/vxpu-run-" + std::to_string(getuid()) + suffix;
  return true;
}

bool Alive(const SliceRecord& r) {
  if (ProcessAlive(r.spec.owner.pid, r.spec.owner.pid_start)) return true;
  for (const SliceHolder& h : r.joined) {
    if (ProcessAlive(h.pid, h.pid_start)) return true;
  }
  return false;
}

}  // namespace

std::unique_ptr<DaemonlessSlices> DaemonlessSlices::Lock(std::string* error) {
  std::string path;
  if (!PathOf(".lock", &path, error)) return nullptr;
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0 || flock(fd, LOCK_EX) != 0) {
    *error = "cannot lock " + path + ": " + std::strerror(errno);
    if (fd >= 0) close(fd);
    return nullptr;
  }
  return std::unique_ptr<DaemonlessSlices>(new DaemonlessSlices(fd));
}

DaemonlessSlices::~DaemonlessSlices() { close(lock_fd_); }

bool DaemonlessSlices::List(std::vector<SliceRecord>* records, std::string* error) {
  std::string path;
  if (!PathOf(".json", &path, error)) return false;
  std::ifstream in(path);
  if (!in) return true;  // none yet
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json all = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (!all.is_array()) {
    *error = path + " is not a list of slices (remove it if no vxpu run is running)";
    return false;
  }
  for (const nlohmann::json& j : all) {
    std::string why;
    std::optional<SliceRecord> record = SliceRecordFromJson(j, &why);
    if (!record) {
      *error = path + ": bad slice: " + why + " (remove it if no vxpu run is running)";
      return false;
    }
    if (Alive(*record)) records->push_back(std::move(*record));
  }
  return true;
}

bool DaemonlessSlices::Store(const std::vector<SliceRecord>& records, std::string* error) {
  std::string path;
  if (!PathOf(".json", &path, error)) return false;
  nlohmann::json all = nlohmann::json::array();
  for (const SliceRecord& r : records) all.push_back(SliceRecordToJson(r));
  std::string text = all.dump() + "\n";
  std::string temporary = path + ".new";
  int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  bool written = fd >= 0 && write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  int why = errno;
  if (fd >= 0) close(fd);
  if (!written || rename(temporary.c_str(), path.c_str()) != 0) {
    if (written) why = errno;
    *error = "cannot write " + path + ": " + std::strerror(why);
    unlink(temporary.c_str());
    return false;
  }
  return true;
}

}  // namespace vxpu
