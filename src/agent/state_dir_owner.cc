#include "agent/state_dir_owner.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/registered_terms.h"

namespace vxpu {

std::unique_ptr<StateDirOwner> StateDirOwner::Take(const std::string& state_dir, std::string* error) {
  const std::string path = AgentLockPath(state_dir);
  // 0644: workloads of the agent's group look at the lock (AgentServes) to know the agent runs.
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) {
    *error = "--state-dir " + state_dir + ": cannot create " + path + ": " + std::strerror(errno);
    return nullptr;
  }
  struct flock whole {};
  whole.l_type = F_WRLCK;
  whole.l_whence = SEEK_SET;
  if (fcntl(fd, F_OFD_SETLK, &whole) != 0) {
    int why = errno;
    char pid[32] = {0};
    ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
    std::string holder = n > 0 ? std::string(pid, static_cast<size_t>(n)) : "";
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    close(fd);
    *error = why == EWOULDBLOCK
                 ? "--state-dir " + state_dir + " is served by another vxpud" +
                       (holder.empty() ? "" : " (pid " + holder + ")") + "; one agent per state directory"
                 : "--state-dir " + state_dir + ": cannot lock " + path + ": " + std::strerror(why);
    return nullptr;
  }
  fchmod(fd, 0644);  // whatever the umask
  std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    // The pid is for the message above only; the lock is what counts.
  }
  return std::unique_ptr<StateDirOwner>(new StateDirOwner(fd));
}

StateDirOwner::~StateDirOwner() { close(fd_); }

}  // namespace vxpu
