// Slices shared across pid namespaces, end to end: real workload processes on simgpu, preloaded
// with the real interposer, each in a pid namespace of its own (with its own /proc), sharing
// only VXPU_STATE_DIR, as containers of a pod without hostPID do. Each one's pid means nothing
// to the others (all are pid 1), so they must judge each other by life locks: a live one's usage
// holds the quota for the others and for the host's `vxpu ps`; a killed one's is released.
//
// The namespaces are made by this binary itself, run as
//   pid_namespace_test --in-new-pid-namespace PROGRAM ARGS...
// which prints "pid-namespace child N" (N: the program's pid here) and exits as the program
// did (128 + signal if it was killed). Needs root; the tests skip without it.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dirent.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../simgpu/sim_env.h"
#include "common/child_process.h"

namespace {

constexpr char kHelperFlag[] = "--in-new-pid-namespace";
const std::string kProbe = VXPU_BIN_DIR "/vxpu-quota-probe";
const std::string kVxpu = VXPU_BIN_DIR "/vxpu";
std::string g_self;  // this binary

int RunInNewPidNamespace(char** argv) {
  if (unshare(CLONE_NEWPID | CLONE_NEWNS) != 0) {
    std::perror("unshare(CLONE_NEWPID | CLONE_NEWNS)");
    return 120;
  }
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    std::perror("mount --make-rprivate /");
    return 120;
  }
  pid_t child = fork();
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // goes with this helper
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
      std::perror("mount -t proc");
      _exit(121);
    }
    execv(argv[0], argv);
    std::perror("execv");
    _exit(122);
  }
  if (child < 0) return 120;
  std::printf("pid-namespace child %d\n", static_cast<int>(child));
  std::fflush(stdout);
  int status = 0;
  if (waitpid(child, &status, 0) != child) return 120;
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

class StateDirectory {
 public:
  StateDirectory() {
    char pattern[] = "/tmp/vxpu-pidns-XXXXXX";
    if (mkdtemp(pattern) != nullptr) path_ = pattern;
  }
  ~StateDirectory() {
    if (!path_.empty()) std::system(("rm -rf '" + path_ + "'").c_str());
  }
  const std::string& path() const { return path_; }
  std::string env() const { return "VXPU_STATE_DIR=" + path_; }
  std::vector<std::string> Files() const {
    std::vector<std::string> files;
    DIR* dir = opendir(path_.c_str());
    if (dir == nullptr) return files;
    while (dirent* entry = readdir(dir)) {
      std::string name = entry->d_name;
      if (name != "." && name != "..") files.push_back(name);
    }
    closedir(dir);
    return files;
  }

 private:
  std::string path_;
};

std::string CannotMakeNamespaces() {
  static const std::string why = [] {
    if (geteuid() != 0) return std::string("needs root to create pid namespaces");
    vxpu::ChildProcess probe;
    std::string error;
    if (!probe.Start({g_self, kHelperFlag, "/bin/true"}, {}, &error, true)) return "cannot start: " + error;
    int code = probe.Wait();
    return code == 0
               ? std::string()
               : "pid and mount namespaces not permitted here (exit " + std::to_string(code) + "): " + probe.output();
  }();
  return why;
}

#define SKIP_UNLESS_NAMESPACES()                                                 \
  do {                                                                           \
    if (!CannotMakeNamespaces().empty()) GTEST_SKIP() << CannotMakeNamespaces(); \
  } while (0)

std::vector<std::string> SliceEnv(const std::string& slice, const StateDirectory& dir) {
  return {"LD_LIBRARY_PATH=" VXPU_SIMGPU_DIR, "LD_PRELOAD=" VXPU_INTERPOSER, "VXPU_MEMORY=1GiB", "VXPU_SLICE=" + slice,
          dir.env()};
}

std::vector<std::string> Contained(std::vector<std::string> argv) {
  argv.insert(argv.begin(), {g_self, kHelperFlag});
  return argv;
}

// The program's pid here, from the helper's first line; 0 if not printed yet.
pid_t ContainedPid(const vxpu::ChildProcess& helper) {
  int pid = 0;
  size_t at = helper.output().find("pid-namespace child ");
  if (at != std::string::npos) std::sscanf(helper.output().c_str() + at, "pid-namespace child %d", &pid);
  return pid;
}

TEST(PidNamespaces, AMemorySliceHoldsAcrossPidNamespacesAndAKilledProcessReleasesIt) {
  SKIP_UNLESS_NAMESPACES();
  StateDirectory dir;
  ASSERT_FALSE(dir.path().empty());
  // A holds 600 MiB of slice "ns" (1 GiB) in a pid namespace of its own.
  auto a = simtest::StartChild(Contained({kProbe, "alloc", "600", "1", "--hold", "30"}), SliceEnv("ns", dir));
  ASSERT_TRUE(simtest::PollFor(std::chrono::seconds(10), [&] {
    a->Poll();
    return a->output().find("holding") != std::string::npos || !a->running();
  }));
  ASSERT_NE(a->output().find("\"holding\":1"), std::string::npos) << a->output();
  const pid_t a_pid = ContainedPid(*a);
  ASSERT_GT(a_pid, 0) << a->output();

  // B, in another: 600 MiB more does not fit beside A's (B is pid 1 too, and sweeps the ledger
  // before refusing: A must not be taken for dead).
  auto b = simtest::StartChild(Contained({kProbe, "alloc", "600", "1"}), SliceEnv("ns", dir));
  nlohmann::json refused = simtest::ReportOf(*b);
  EXPECT_EQ(refused["succeeded"], 0) << b->output();
  EXPECT_EQ(refused["refused"], CUDA_ERROR_OUT_OF_MEMORY) << b->output();

  // The host (vxpu ps, as vxpud reads ledgers) counts A as live, with its 600 MiB.
  auto ps = simtest::StartChild({kVxpu, "ps", "-o", "json"}, {dir.env()});
  ASSERT_EQ(ps->Wait(), 0) << ps->output();
  EXPECT_NE(ps->output().find("\"ns\""), std::string::npos) << ps->output();
  EXPECT_NE(ps->output().find(std::to_string(600ull << 20)), std::string::npos) << ps->output();

  // A is killed: C, in a third namespace, gets its memory (A's entry swept as dead).
  ASSERT_EQ(kill(a_pid, SIGKILL), 0);
  EXPECT_EQ(a->Wait(), 128 + SIGKILL) << a->output();
  auto c = simtest::StartChild(Contained({kProbe, "alloc", "600", "1"}), SliceEnv("ns", dir));
  nlohmann::json after = simtest::ReportOf(*c);
  EXPECT_EQ(after["succeeded"], 1) << c->output();
  // A's life file went with the sweep, B's and C's with their exits, the segments with C.
  EXPECT_EQ(dir.Files(), std::vector<std::string>{}) << ::testing::PrintToString(dir.Files());
}

TEST(PidNamespaces, AProcessInThisNamespaceAndOneInAnotherShareASlice) {
  SKIP_UNLESS_NAMESPACES();
  StateDirectory dir;
  ASSERT_FALSE(dir.path().empty());
  // The host's process holds; the contained one is refused, then gets the memory once the
  // host's is killed (and the other way round, judged by pid, it is judged by its lock).
  auto host = simtest::StartChild({kProbe, "alloc", "600", "1", "--hold", "30"}, SliceEnv("mixed", dir));
  ASSERT_TRUE(simtest::PollFor(std::chrono::seconds(10), [&] {
    host->Poll();
    return host->output().find("holding") != std::string::npos || !host->running();
  }));
  ASSERT_NE(host->output().find("\"holding\":1"), std::string::npos) << host->output();
  auto contained = simtest::StartChild(Contained({kProbe, "alloc", "600", "1"}), SliceEnv("mixed", dir));
  EXPECT_EQ(simtest::ReportOf(*contained)["succeeded"], 0) << contained->output();
  host->Kill();
  EXPECT_EQ(host->Wait(), 128 + SIGKILL);
  auto again = simtest::StartChild(Contained({kProbe, "alloc", "600", "1"}), SliceEnv("mixed", dir));
  EXPECT_EQ(simtest::ReportOf(*again)["succeeded"], 1) << again->output();
  EXPECT_EQ(dir.Files(), std::vector<std::string>{}) << ::testing::PrintToString(dir.Files());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && std::strcmp(argv[1], kHelperFlag) == 0) return RunInNewPidNamespace(argv + 2);
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  g_self = n > 0 ? std::string(self, static_cast<size_t>(n)) : std::string(argv[0]);
  return simtest::RunAllTestsOn(argc, argv, {simtest::SimDevice{}});
}
