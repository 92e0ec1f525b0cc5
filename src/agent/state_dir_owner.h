// One vxpud per state directory: the agent holds an exclusive lock on <state dir>/vxpud.lock
// (common/registered_terms.h: AgentServes) for as long as it runs (the kernel lets go when it
// exits, however it exits). A second agent
// on the same directory, whatever its socket, is refused instead of keeping a registry of its
// own beside the first one's.
#pragma once

#include <memory>
#include <string>

namespace vxpu {

class StateDirOwner {
 public:
  // Takes the directory `state_dir`; nullptr with *error set (naming the other agent's pid when
  // it can) if another process holds it or the lock file cannot be made.
  static std::unique_ptr<StateDirOwner> Take(const std::string& state_dir, std::string* error);
  ~StateDirOwner();
  StateDirOwner(const StateDirOwner&) = delete;
  StateDirOwner& operator=(const StateDirOwner&) = delete;

 private:
  explicit StateDirOwner(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace vxpu
