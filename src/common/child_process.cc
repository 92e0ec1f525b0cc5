#include "common/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace vxpu {
namespace {

std::vector<std::string> MergedEnvironment(const std::vector<std::string>& overrides) {
  std::vector<std::string> merged;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry = *e;
    std::string name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const std::string& o : overrides) replaced = replaced || o.compare(0, name.size() + 1, name + "=") == 0;
    if (!replaced) merged.push_back(entry);
  }
  merged.insert(merged.end(), overrides.begin(), overrides.end());
  return merged;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

bool ChildProcess::Start(const std::vector<std::string>& argv, const std::vector<std::string>& env, std::string* error,
                         bool with_stderr) {
  if (argv.empty()) {
    *error = "cannot start a child without a program";
    return false;
  }
  if (running()) {
    *error = "cannot start " + argv[0] + ": the last child still runs";
    return false;
  }
  Reset();
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    *error = std::string("pipe: ") + std::strerror(errno);
    return false;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  if (with_stderr) posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
  std::vector<std::string> args = argv;
  std::vector<std::string> envs = MergedEnvironment(env);
  std::vector<char*> c_args = CStrings(args);
  std::vector<char*> c_envs = CStrings(envs);
  int rc = posix_spawn(&pid_, c_args[0], &actions, nullptr, c_args.data(), c_envs.data());
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    pid_ = -1;
    *error = "cannot start " + argv[0] + ": " + std::strerror(rc);
    return false;
  }
  stdout_fd_ = fds[0];
  fcntl(stdout_fd_, F_SETFL, O_NONBLOCK);
  return true;
}

void ChildProcess::Poll() {
  char buf[4096];
  // The pipe's end can be read before the child is reaped (its descriptors close as it exits,
  // before it becomes a zombie): reaping must not wait for output, or a child seen at EOF once
  // would stay "running" for good.
  while (stdout_fd_ >= 0) {
    ssize_t n = read(stdout_fd_, buf, sizeof(buf));
    if (n > 0) {
      output_.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) {
      close(stdout_fd_);
      stdout_fd_ = -1;
    }
    break;
  }
  if (!exited_ && pid_ > 0) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
  }
}

void ChildProcess::Reset() {
  if (stdout_fd_ >= 0) close(stdout_fd_);
  stdout_fd_ = -1;
  pid_ = -1;
  exited_ = false;
  exit_code_ = kNotStarted;
  output_.clear();
}

int ChildProcess::Wait() {
  if (stdout_fd_ >= 0) fcntl(stdout_fd_, F_SETFL, 0);
  while (stdout_fd_ >= 0) Poll();
  if (!exited_ && pid_ > 0) {
    int status = 0;
    pid_t waited = 0;
    while ((waited = waitpid(pid_, &status, 0)) < 0 && errno == EINTR) {
    }
    exited_ = true;
    if (waited == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    } else {
      exit_code_ = kWaitFailed;
      output_ += std::string("\n[ChildProcess: waitpid(") + std::to_string(pid_) + "): " + std::strerror(errno) + "]\n";
    }
  }
  return exit_code_;
}

void ChildProcess::Kill() {
  if (running()) kill(pid_, SIGKILL);
}

ChildProcess::~ChildProcess() {
  if (running()) {
    kill(pid_, SIGTERM);
    Wait();
  }
  if (stdout_fd_ >= 0) close(stdout_fd_);
}

}  // namespace vxpu
