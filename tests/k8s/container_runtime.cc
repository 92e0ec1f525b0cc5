#include "container_runtime.h"

#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <set>

namespace testkubelet {
namespace {

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "container_runtime: %s: %s\n", what, std::strerror(errno));
  _exit(120);
}

// Makes `path` exist as a mount point for a file: a directory that lacks it gets an overlay (the
// host's own untouched), once, before anything is bound under it (an overlay laid over a
// directory later would hide what was bound there).
void MakeFileTarget(const std::string& path, std::set<std::string>* overlaid) {
  if (access(path.c_str(), F_OK) == 0) return;
  std::string dir = path.substr(0, path.rfind('/'));
  if (overlaid->insert(dir).second) {
    char scratch[] = "/tmp/vxpu-container-XXXXXX";
    if (mkdtemp(scratch) == nullptr) Fail("mkdtemp");
    if (mount("none", scratch, "tmpfs", 0, nullptr) != 0) Fail("tmpfs");
    std::string upper = std::string(scratch) + "/upper", work = std::string(scratch) + "/work";
    mkdir(upper.c_str(), 0755);
    mkdir(work.c_str(), 0755);
    std::string options = "lowerdir=" + dir + ",upperdir=" + upper + ",workdir=" + work;
    if (mount("overlay", dir.c_str(), "overlay", 0, options.c_str()) != 0) Fail("overlay");
  }
  int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) Fail("create mount point");
  close(fd);
}

void ApplyMounts(const v1beta1::ContainerAllocateResponse& answer) {
  std::set<std::string> overlaid;
  for (const v1beta1::Mount& m : answer.mounts()) {
    struct stat st;
    if (stat(m.host_path().c_str(), &st) != 0) Fail(("host path " + m.host_path()).c_str());
    if (!S_ISDIR(st.st_mode)) MakeFileTarget(m.container_path(), &overlaid);
  }
  for (const v1beta1::Mount& m : answer.mounts()) {
    if (mount(m.host_path().c_str(), m.container_path().c_str(), nullptr, MS_BIND, nullptr) != 0) Fail("bind");
    if (m.read_only() &&
        mount(nullptr, m.container_path().c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) != 0)
      Fail("read-only");
  }
}

// The container's first process: pid 1 of its namespace.
[[noreturn]] void ContainerInit(const v1beta1::ContainerAllocateResponse& answer, const std::vector<std::string>& argv,
                                const std::vector<std::string>& extra_env) {
  if (mount("proc", "/proc", "proc", 0, nullptr) != 0) Fail("proc");
  ApplyMounts(answer);
  std::vector<std::string> env(extra_env);
  for (const auto& [key, value] : answer.envs()) env.push_back(key + "=" + value);
  std::vector<char*> envp, args;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execve(args[0], args.data(), envp.data());
  Fail("execve");
}

int ExitCode(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

}  // namespace

ContainerRun RunInContainer(const v1beta1::ContainerAllocateResponse& answer, const std::vector<std::string>& argv,
                            const std::vector<std::string>& extra_env) {
  ContainerRun run;
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return run;
  pid_t runtime = fork();
  if (runtime == 0) {
    dup2(out[1], STDOUT_FILENO);
    if (unshare(CLONE_NEWNS | CLONE_NEWPID) != 0) Fail("unshare");
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) Fail("private mounts");
    pid_t init = fork();
    if (init == 0) ContainerInit(answer, argv, extra_env);
    int status = 0;
    if (init < 0 || waitpid(init, &status, 0) != init) Fail("wait");
    _exit(ExitCode(status));
  }
  close(out[1]);
  char buf[4096];
  ssize_t n;
  while ((n = read(out[0], buf, sizeof(buf))) > 0) run.output.append(buf, static_cast<size_t>(n));
  close(out[0]);
  int status = 0;
  if (runtime > 0 && waitpid(runtime, &status, 0) == runtime) run.exit_code = ExitCode(status);
  return run;
}

}  // namespace testkubelet
