// VXPU_STATE_DIR end to end: real workload processes on simgpu, preloaded with the real
// interposer, whose slice ledgers, compute arbiters and simulated devices live in a directory
// instead of /dev/shm. The point: processes that do not share /dev/shm (each in a mount
// namespace of its own with a fresh tmpfs there, as containers are) share a slice when they
// share the directory, and are strangers when they do not.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dirent.h>
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "../simgpu/sim_env.h"
#include "common/child_process.h"

namespace {

const std::string kProbe = VXPU_BIN_DIR "/vxpu-quota-probe";
const std::string kBurn = VXPU_BIN_DIR "/vxpu-burn";
const std::string kVxpu = VXPU_BIN_DIR "/vxpu";

// A fresh directory (mode 0700) under /tmp, removed with whatever is left in it.
class StateDirectory {
 public:
  StateDirectory() {
    char pattern[] = "/tmp/vxpu-state-XXXXXX";
    if (mkdtemp(pattern) != nullptr) path_ = pattern;
  }
  ~StateDirectory() {
    if (!path_.empty()) std::system(("rm -rf '" + path_ + "'").c_str());
  }
  const std::string& path() const { return path_; }
  std::string env() const { return "VXPU_STATE_DIR=" + path_; }

  // Its files, by name, with their mode bits.
  std::map<std::string, int> Files() const {
    std::map<std::string, int> files;
    DIR* dir = opendir(path_.c_str());
    if (dir == nullptr) return files;
    while (dirent* entry = readdir(dir)) {
      std::string name = entry->d_name;
      struct stat st;
      if (name != "." && name != ".." && lstat((path_ + "/" + name).c_str(), &st) == 0)
        files[name] = static_cast<int>(st.st_mode & 07777);
    }
    closedir(dir);
    return files;
  }

 private:
  std::string path_;
};

std::string DeviceUuid() { return simgpu::LoadDeviceConfig().devices.at(0).uuid; }

// The names in /dev/shm (this test's own) that name this test's device.
std::vector<std::string> InDevShm() {
  std::vector<std::string> found;
  DIR* dir = opendir("/dev/shm");
  if (dir == nullptr) return found;
  while (dirent* entry = readdir(dir)) {
    if (std::string(entry->d_name).find(DeviceUuid()) != std::string::npos) found.push_back(entry->d_name);
  }
  closedir(dir);
  return found;
}

std::string Uid() { return std::to_string(getuid()); }

// `argv` in a mount namespace of its own with a fresh, empty tmpfs on /dev/shm: what a
// container has. It is the same process (unshare and the shell exec it), so killing the child
// kills the workload.
std::vector<std::string> Isolated(const std::vector<std::string>& argv) {
  std::vector<std::string> wrapped = {"/usr/bin/unshare",
                                      "--mount",
                                      "--propagation",
                                      "private",
                                      "/bin/sh",
                                      "-c",
                                      "mount -t tmpfs vxpu-test /dev/shm && exec \"$0\" \"$@\""};
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  return wrapped;
}

// Why a process cannot be isolated here (not root, no unshare, mounts refused), or "".
std::string CannotIsolate() {
  static const std::string why = [] {
    if (access("/usr/bin/unshare", X_OK) != 0) return std::string("no /usr/bin/unshare");
    vxpu::ChildProcess probe;
    std::string error;
    if (!probe.Start(Isolated({"/bin/sh", "-c", "test -z \"$(ls -A /dev/shm)\""}), {}, &error, true))
      return "cannot start unshare: " + error;
    int code = probe.Wait();
    return code == 0 ? std::string()
                     : "unshare --mount + mount -t tmpfs not permitted here (exit " + std::to_string(code) +
                           "): " + probe.output();
  }();
  return why;
}

#define SKIP_UNLESS_ISOLATABLE()                                   \
  do {                                                             \
    if (!CannotIsolate().empty()) GTEST_SKIP() << CannotIsolate(); \
  } while (0)

std::vector<std::string> MemoryEnv(const std::string& slice, const std::vector<std::string>& more) {
  std::vector<std::string> env = {"LD_LIBRARY_PATH=" VXPU_SIMGPU_DIR, "LD_PRELOAD=" VXPU_INTERPOSER, "VXPU_MEMORY=1GiB",
                                  "VXPU_SLICE=" + slice};
  env.insert(env.end(), more.begin(), more.end());
  return env;
}

// Starts a probe that takes `mib` in `slice` (1 GiB) and holds it for `seconds`; returns once it
// holds.
std::unique_ptr<vxpu::ChildProcess> Holding(const std::string& slice, const std::string& mib,
                                            const std::string& seconds, const std::vector<std::string>& env,
                                            bool isolated) {
  std::vector<std::string> argv = {kProbe, "alloc", mib, "1", "--hold", seconds};
  auto holder = simtest::StartChild(isolated ? Isolated(argv) : argv, MemoryEnv(slice, env));
  simtest::PollFor(std::chrono::seconds(10), [&holder] {
    holder->Poll();
    return holder->output().find("holding") != std::string::npos || !holder->running();
  });
  EXPECT_NE(holder->output().find("\"holding\":1"), std::string::npos) << holder->output();
  return holder;
}

// Runs a probe that allocates `mib` once in `slice`; its report (exit 0 checked).
nlohmann::json Allocate(const std::string& slice, const std::string& mib, const std::vector<std::string>& env,
                        bool isolated) {
  std::vector<std::string> argv = {kProbe, "alloc", mib, "1"};
  auto child = simtest::StartChild(isolated ? Isolated(argv) : argv, MemoryEnv(slice, env));
  return simtest::ReportOf(*child);
}

TEST(StateDir, SegmentsAreFilesOfTheDirectoryAndGoWithTheLastProcess) {
  StateDirectory dir;
  ASSERT_FALSE(dir.path().empty());
  auto holder = Holding("files", "10", "1", {dir.env()}, /*isolated=*/false);
  const std::string uuid = DeviceUuid();
  std::map<std::string, int> files = dir.Files();
  EXPECT_EQ(files["vxpu-slice-" + Uid() + "-" + uuid + "-files"], 0600) << ::testing::PrintToString(files);
  int simgpu_segments = 0;
  for (const auto& [name, mode] : files) {
    if (name.rfind("vxpu-simgpu-" + Uid() + "-" + uuid + "-", 0) == 0) {
      ++simgpu_segments;
      EXPECT_EQ(mode, 0600) << name;
    }
  }
  EXPECT_EQ(simgpu_segments, 1) << ::testing::PrintToString(files);
  EXPECT_EQ(InDevShm(), std::vector<std::string>{});
  simtest::ReportOf(*holder);  // it frees, allocates again and exits on its own
  EXPECT_EQ(dir.Files(), (std::map<std::string, int>{}));
  EXPECT_EQ(InDevShm(), std::vector<std::string>{});
}

TEST(StateDir, AComputeSlicesArbiterIsAFileOfTheDirectory) {
  StateDirectory dir;
  ASSERT_FALSE(dir.path().empty());
  auto burn =
      simtest::StartChild({kBurn, "--seconds", "1"}, {"LD_LIBRARY_PATH=" VXPU_SIMGPU_DIR, "LD_PRELOAD=" VXPU_INTERPOSER,
                                                      "VXPU_COMPUTE=30", "VXPU_SLICE=arbiter", dir.env()});
  const std::string arbiter = "vxpu-compute-" + Uid() + "-" + DeviceUuid();
  EXPECT_TRUE(simtest::PollFor(std::chrono::seconds(5), [&] { return dir.Files().count(arbiter) == 1; }))
      << ::testing::PrintToString(dir.Files());
  EXPECT_EQ(dir.Files()[arbiter], 0600);
  EXPECT_EQ(InDevShm(), std::vector<std::string>{});
  simtest::ReportOf(*burn);
  EXPECT_EQ(dir.Files(), (std::map<std::string, int>{}));
}

TEST(StateDir, ABadDirectoryStopsASliceWithOneLine) {
  StateDirectory dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string file = dir.path() + "/a-file";
  ASSERT_EQ(std::system(("touch '" + file + "'").c_str()), 0);
  struct Case {
    std::string value, says;
  };
  const std::vector<Case> cases = {
      {"relative/x", "VXPU_STATE_DIR=\"relative/x\": not an absolute path"},
      {dir.path() + "/missing", "VXPU_STATE_DIR=\"" + dir.path() + "/missing\": no such directory"},
      {file, "VXPU_STATE_DIR=\"" + file + "\": not a directory"},
  };
  const std::string refusing = "; refusing to run without the slice's limits";
  for (const Case& c : cases) {
    for (const char* slice : {"VXPU_MEMORY=1GiB", "VXPU_COMPUTE=30"}) {
      auto child = simtest::StartChild(
          {kProbe, "alloc", "1"},
          {"LD_LIBRARY_PATH=" VXPU_SIMGPU_DIR, "LD_PRELOAD=" VXPU_INTERPOSER, slice, "VXPU_STATE_DIR=" + c.value});
      EXPECT_EQ(child->Wait(), 125) << child->output();
      EXPECT_EQ(child->output(), "vxpu: " + c.says + refusing + "\n") << slice;
    }
    // simgpu alone: cuInit fails as it does for a bad VXPU_SIMGPU_CONFIG.
    auto plain =
        simtest::StartChild({kProbe, "alloc", "1"}, {"LD_LIBRARY_PATH=" VXPU_SIMGPU_DIR, "VXPU_STATE_DIR=" + c.value});
    EXPECT_EQ(plain->Wait(), 1) << plain->output();
    EXPECT_NE(plain->output().find("simgpu: " + c.says + "\n"), std::string::npos) << plain->output();
    EXPECT_NE(plain->output().find("cuInit returned " + std::to_string(CUDA_ERROR_SYSTEM_NOT_READY)), std::string::npos)
        << plain->output();
  }
  EXPECT_EQ(InDevShm(), std::vector<std::string>{});                           // never a fallback to /dev/shm
  EXPECT_EQ(dir.Files().size(), 1u) << ::testing::PrintToString(dir.Files());  // a-file alone
}

TEST(StateDir, ProcessesWithoutACommonDevShmAreStrangersWithoutIt) {
  SKIP_UNLESS_ISOLATABLE();
  // Both in slice "apart" of 1 GiB: had they one ledger, B's 600 MiB would be refused.
  auto a = Holding("apart", "600", "30", {}, /*isolated=*/true);
  nlohmann::json b = Allocate("apart", "600", {}, /*isolated=*/true);
  EXPECT_EQ(b["succeeded"], 1) << b.dump();
  EXPECT_EQ(InDevShm(), std::vector<std::string>{});  // theirs were in their own tmpfs
  a->Kill();
  EXPECT_EQ(a->Wait(), 128 + SIGKILL);
}

TEST(StateDir, AMemorySliceHoldsForProcessesSharingOnlyTheDirectory) {
  SKIP_UNLESS_ISOLATABLE();
  StateDirectory dir;
  ASSERT_FALSE(dir.path().empty());
  auto a = Holding("together", "600", "30", {dir.env()}, /*isolated=*/true);
  nlohmann::json b = Allocate("together", "600", {dir.env()}, /*isolated=*/true);
  EXPECT_EQ(b["succeeded"], 0) << b.dump();
  EXPECT_EQ(b["refused"], CUDA_ERROR_OUT_OF_MEMORY) << b.dump();

  // `vxpu ps` outside both namespaces sees A and its 600 MiB in the directory (looked for in its
  // output as text: the test is about where ps looks, not about its format).
  auto ps = simtest::StartChild({kVxpu, "ps", "-o", "json"}, {dir.env()});
  ASSERT_EQ(ps->Wait(), 0) << ps->output();
  EXPECT_NE(ps->output().find("\"together\""), std::string::npos) << ps->output();
  EXPECT_NE(ps->output().find(std::to_string(600ull << 20)), std::string::npos) << ps->output();
  EXPECT_NE(ps->output().find(std::to_string(a->pid())), std::string::npos) << ps->output();

  // A is killed holding its 600 MiB: B gets them (A's entry swept as dead).
  a->Kill();
  EXPECT_EQ(a->Wait(), 128 + SIGKILL);
  nlohmann::json after = Allocate("together", "600", {dir.env()}, /*isolated=*/true);
  EXPECT_EQ(after["succeeded"], 1) << after.dump();
  // B left last, normally: nothing is left of either.
  EXPECT_EQ(dir.Files(), (std::map<std::string, int>{}));
  EXPECT_EQ(InDevShm(), std::vector<std::string>{});
}

TEST(StateDir, AKilledLastProcessesSegmentsGoWithTheNextLook) {
  SKIP_UNLESS_ISOLATABLE();
  StateDirectory dir;
  ASSERT_FALSE(dir.path().empty());
  auto a = Holding("crashed", "600", "30", {dir.env()}, /*isolated=*/true);
  a->Kill();
  EXPECT_EQ(a->Wait(), 128 + SIGKILL);
  // Its ledger, its device and its life lock's file (common/life_lock.h), unlocked now.
  std::map<std::string, int> files = dir.Files();
  EXPECT_EQ(files.size(), 3u) << ::testing::PrintToString(files);
  EXPECT_EQ(
      std::count_if(files.begin(), files.end(), [](const auto& f) { return f.first.rfind("vxpu-life-", 0) == 0; }), 1)
      << ::testing::PrintToString(files);
  // The looks `vxpu run` users take, with the directory set: the ledger goes with `vxpu ps`,
  // the simulated device with NVML's look at it.
  for (const std::vector<std::string>& look : {std::vector<std::string>{kVxpu, "ps"}, {kVxpu, "devices", "--sim"}}) {
    auto child = simtest::StartChild(look, {dir.env()});
    EXPECT_EQ(child->Wait(), 0) << child->output();
  }
  EXPECT_EQ(dir.Files(), (std::map<std::string, int>{}));
}

// Saturating vxpu-burn tenants of 30% and 70%, each in its own mount namespace; each one's
// report.
std::vector<nlohmann::json> Split(const std::string& tag, const std::vector<std::string>& env) {
  std::vector<std::unique_ptr<vxpu::ChildProcess>> tenants;
  for (const char* share : {"30", "70"}) {
    std::vector<std::string> tenant_env = {"LD_LIBRARY_PATH=" VXPU_SIMGPU_DIR, "LD_PRELOAD=" VXPU_INTERPOSER,
                                           std::string("VXPU_COMPUTE=") + share, "VXPU_SLICE=" + tag + share};
    tenant_env.insert(tenant_env.end(), env.begin(), env.end());
    tenants.push_back(simtest::StartChild(Isolated({kBurn, "--seconds", "3"}), tenant_env));
  }
  std::vector<nlohmann::json> reports;
  for (auto& tenant : tenants) reports.push_back(simtest::ReportOf(*tenant));
  return reports;
}

double DeviceSeconds(const nlohmann::json& report) { return report.value("device_seconds", 0.0); }

TEST(StateDir, AComputeSplitHoldsForProcessesSharingOnlyTheDirectory) {
  SKIP_UNLESS_ISOLATABLE();
  StateDirectory dir;
  ASSERT_FALSE(dir.path().empty());
  std::vector<nlohmann::json> r = Split("split", {dir.env()});
  double total = DeviceSeconds(r[0]) + DeviceSeconds(r[1]);
  double wall = std::max(r[0].value("wall_seconds", 0.0), r[1].value("wall_seconds", 0.0));
  // One simulated device, kept busy, shared 30/70 (as compute.Splits/SaturatingTenants has it).
  EXPECT_LE(total, wall * 1.02) << r[0].dump() << r[1].dump();
  ASSERT_GT(total, wall * 0.8) << r[0].dump() << r[1].dump();
  EXPECT_NEAR(100.0 * DeviceSeconds(r[0]) / total, 30.0, 4.0) << r[0].dump();
  EXPECT_NEAR(100.0 * DeviceSeconds(r[1]) / total, 70.0, 4.0) << r[1].dump();
  EXPECT_EQ(dir.Files(), (std::map<std::string, int>{}));
  EXPECT_EQ(InDevShm(), std::vector<std::string>{});
}

}  // namespace

int main(int argc, char** argv) {
  return simtest::RunAllTestsOn(argc, argv, {simtest::SimDevice{.memory = "8GiB", .context_overhead = "0"}});
}
