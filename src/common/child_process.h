// A child process whose standard output is collected (workloads of `vxpu demo`, tests).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace vxpu {

class ChildProcess {
 public:
  static constexpr int kNotStarted = -1;
  static constexpr int kWaitFailed = -2;

  // Starts argv[0] (a path) with `env` ("NAME=value" entries) added to or replacing the
  // current environment. Standard error is collected too if `with_stderr`, else inherited.
  // Returns false with *error set if it cannot be started, or if the last child started here is
  // still running. Starting again after a child exited begins afresh (exit code, output).
  bool Start(const std::vector<std::string>& argv, const std::vector<std::string>& env, std::string* error,
             bool with_stderr = false);
  // Reads whatever output is available without blocking.
  void Poll();
  // Waits for exit, collecting the rest of the output; returns the exit code (128+signal).
  // Never 0 unless a child really ran and exited with 0: kNotStarted if none was started (or
  // its start failed), kWaitFailed if waitpid failed (the reason is appended to output()).
  int Wait();
  // Sends SIGKILL (Wait then reports 128 + SIGKILL).
  void Kill();
  bool running() const { return pid_ > 0 && !exited_; }
  pid_t pid() const { return pid_; }
  const std::string& output() const { return output_; }
  ~ChildProcess();

 private:
  void Reset();

  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  bool exited_ = false;
  int exit_code_ = kNotStarted;
  std::string output_;
};

}  // namespace vxpu
