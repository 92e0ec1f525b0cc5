// Where shared segments live (VXPU_STATE_DIR): how the directory is resolved, and segments made
// in it. The directory is fixed for a process at its first use, so every test that sets
// VXPU_STATE_DIR does so in a forked child, which reports through its exit code.
#include "common/state_dir.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>

#include "common/shared_segment.h"

namespace vxpu {
namespace {

// A fresh directory under /tmp, removed with whatever is left in it.
class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/vxpu-state-dir-test-XXXXXX";
    path_ = mkdtemp(pattern) != nullptr ? pattern : "";
  }
  ~TempDir() {
    if (!path_.empty()) std::system(("rm -rf '" + path_ + "'").c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string Resolved(const char* value) {
  std::string dir, error;
  if (!ResolveStateDir(value, &dir, &error)) return "error: " + error;
  return dir;
}

TEST(StateDir, UnsetOrEmptyIsDevShm) {
  EXPECT_EQ(Resolved(nullptr), "/dev/shm");
  EXPECT_EQ(Resolved(""), "/dev/shm");
}

TEST(StateDir, AnExistingAbsoluteDirectoryIsTakenWithoutItsTrailingSlashes) {
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  EXPECT_EQ(Resolved(tmp.path().c_str()), tmp.path());
  EXPECT_EQ(Resolved((tmp.path() + "/").c_str()), tmp.path());
  EXPECT_EQ(Resolved((tmp.path() + "///").c_str()), tmp.path());
  EXPECT_EQ(Resolved("/"), "/");
}

TEST(StateDir, AnythingElseIsOneLineNamingTheValue) {
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  const std::string file = tmp.path() + "/a-file";
  std::ofstream(file) << "x";
  EXPECT_EQ(Resolved("relative/x"), "error: VXPU_STATE_DIR=\"relative/x\": not an absolute path");
  EXPECT_EQ(Resolved("./x"), "error: VXPU_STATE_DIR=\"./x\": not an absolute path");
  EXPECT_EQ(Resolved((tmp.path() + "/missing").c_str()),
            "error: VXPU_STATE_DIR=\"" + tmp.path() + "/missing\": no such directory");
  EXPECT_EQ(Resolved((tmp.path() + "/missing/").c_str()),
            "error: VXPU_STATE_DIR=\"" + tmp.path() + "/missing/\": no such directory");
  EXPECT_EQ(Resolved(file.c_str()), "error: VXPU_STATE_DIR=\"" + file + "\": not a directory");
  EXPECT_EQ(Resolved((file + "/").c_str()), "error: VXPU_STATE_DIR=\"" + file + "/\": not a directory");
  EXPECT_EQ(Resolved((file + "/x").c_str()), "error: VXPU_STATE_DIR=\"" + file + "/x\": no such directory");
}

// Runs `body` in a forked child with VXPU_STATE_DIR set to `dir` (unset if nullptr); returns its
// exit code: `body`'s result, or 128 + the signal that ended it.
int InChild(const char* dir, const std::function<int()>& body) {
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    if (dir != nullptr) setenv(kStateDirEnv, dir, 1);
    _exit(body());
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(StateDir, IsFixedForTheProcessAtItsFirstUse) {
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  int code = InChild(tmp.path().c_str(), [&tmp] {
    std::string dir, error;
    if (!StateDir(&dir, &error) || dir != tmp.path()) return 1;
    setenv(kStateDirEnv, "relative", 1);  // a program changing its environment later
    if (!StateDir(&dir, &error) || dir != tmp.path()) return 2;
    unsetenv(kStateDirEnv);
    if (!StateDir(&dir, &error) || dir != tmp.path()) return 3;
    return 0;
  });
  EXPECT_EQ(code, 0);
}

constexpr uint64_t kMagic = 0x5354415445444952ull;  // "STATEDIR"

struct TestSegment {
  SegmentHeader header;
  uint64_t value;
};

// The mode bits of `path`, or -1 if there is no such file.
int ModeOf(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) ? static_cast<int>(st.st_mode & 0777) : -1;
}

TEST(StateDir, SegmentsAreFilesOfTheDirectoryOnlyAndGoWhenRetired) {
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  const std::string name = "vxpu-state-dir-test-" + std::to_string(getpid());
  const std::string in_dir = tmp.path() + "/" + name;
  int code = InChild((tmp.path() + "/").c_str(), [&] {
    umask(0);  // the mode must come from the segment, not from the umask
    std::string error, path;
    SegmentMapping a = OpenSharedSegment("/" + name, sizeof(TestSegment), kMagic, nullptr, nullptr, &error);
    if (!a) return 10;
    a.As<TestSegment>()->value = 42;
    if (ModeOf(in_dir) != 0600) return 11;
    if (ModeOf("/dev/shm/" + name) != -1) return 12;  // nothing in /dev/shm
    if (!SegmentPath(name, &path, &error) || path != in_dir) return 13;
    if (!SegmentPath("/" + name, &path, &error) || path != in_dir) return 14;
    // A second mapping, as a reader would have it, is the same memory.
    SegmentMapping b = MapExistingSegment(name, sizeof(TestSegment), kMagic);
    if (!b || b.As<TestSegment>()->value != 42) return 15;
    if (SegmentsWithPrefix(name) != std::vector<std::string>{name}) return 16;
    {
      SegmentLock lock(a);
      lock.Retire("/" + name);
    }
    if (ModeOf(in_dir) != -1) return 17;
    if (!SegmentsWithPrefix(name).empty()) return 18;
    SegmentLock lock(b);  // the other mapping sees it retired
    return lock.retired() ? 0 : 19;
  });
  EXPECT_EQ(code, 0);
  EXPECT_EQ(ModeOf(in_dir), -1);
}

TEST(StateDir, TheDefaultIsDevShmAsShmOpenHasIt) {
  const std::string name = "vxpu-state-dir-test-" + std::to_string(getpid());
  int code = InChild(nullptr, [&] {
    std::string error, path;
    if (!SegmentPath(name, &path, &error) || path != "/dev/shm/" + name) return 1;
    SegmentMapping a = OpenSharedSegment("/" + name, sizeof(TestSegment), kMagic, nullptr, nullptr, &error);
    if (!a) return 2;
    bool there = ModeOf("/dev/shm/" + name) == 0600;
    UnlinkSegment(name);
    return there && ModeOf("/dev/shm/" + name) == -1 ? 0 : 3;
  });
  EXPECT_EQ(code, 0);
}

TEST(StateDir, ASymbolicLinkInPlaceOfASegmentIsNotFollowed) {
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  const std::string target = tmp.path() + "/target";
  std::ofstream(target) << "not a segment";
  ASSERT_EQ(symlink(target.c_str(), (tmp.path() + "/vxpu-link").c_str()), 0);
  int code = InChild(tmp.path().c_str(), [] {
    std::string error;
    if (MapExistingSegment("vxpu-link", sizeof(TestSegment), kMagic)) return 1;
    SegmentMapping s = OpenSharedSegment("/vxpu-link", sizeof(TestSegment), kMagic, nullptr, nullptr, &error);
    return s ? 2 : 0;
  });
  EXPECT_EQ(code, 0);
  std::ifstream in(target);
  std::string text;
  std::getline(in, text);
  EXPECT_EQ(text, "not a segment");
}

TEST(StateDir, WhenItIsBadNoSegmentIsMadeAnywhere) {
  const std::string name = "vxpu-state-dir-test-" + std::to_string(getpid());
  int code = InChild("relative/x", [&] {
    std::string error, path;
    if (SegmentPath(name, &path, &error)) return 1;
    if (error != "VXPU_STATE_DIR=\"relative/x\": not an absolute path") return 2;
    error.clear();
    if (OpenSharedSegment("/" + name, sizeof(TestSegment), kMagic, nullptr, nullptr, &error)) return 3;
    if (error != "VXPU_STATE_DIR=\"relative/x\": not an absolute path") return 4;
    if (MapExistingSegment(name, sizeof(TestSegment), kMagic)) return 5;
    if (!SegmentsWithPrefix("vxpu-").empty()) return 6;  // /dev/shm is not looked at either
    return ModeOf("/dev/shm/" + name) == -1 && ModeOf("relative/x/" + name) == -1 ? 0 : 7;
  });
  EXPECT_EQ(code, 0);
}

TEST(StateDir, NamesThatAreNotOneFileAreRefused) {
  int code = InChild(nullptr, [] {
    std::string error, path;
    for (const char* bad : {"", "/", ".", "/..", "a/b", "/vxpu-x/../y"}) {
      if (SegmentPath(bad, &path, &error)) return 1;
    }
    return 0;
  });
  EXPECT_EQ(code, 0);
}

// Runs `body` in a child with a tmpfs of `kib` KiB, filled up, as VXPU_STATE_DIR (in a mount
// namespace of the child's own; needs root). Before filling, `prepare(dir)` runs. The exit code
// as InChild's, or -2 when no tmpfs can be mounted here.
int OnAFullTmpfs(const std::function<void(const std::string&)>& prepare, const std::function<int()>& body) {
  TempDir tmp;
  if (tmp.path().empty()) return -1;
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        mount("tmpfs", tmp.path().c_str(), "tmpfs", 0, "size=256k") != 0)
      _exit(254);
    prepare(tmp.path());
    FILE* filler = std::fopen((tmp.path() + "/filler").c_str(), "w");
    char block[4096] = {1};
    while (filler != nullptr && std::fwrite(block, sizeof(block), 1, filler) == 1 && std::fflush(filler) == 0) {
    }
    if (filler != nullptr) std::fclose(filler);
    setenv(kStateDirEnv, tmp.path().c_str(), 1);
    _exit(body());
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return -1;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 254) return -2;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct BigSegment {
  SegmentHeader header;
  char space[64 * 1024];
};

TEST(StateDir, AFullDiskIsAnErrorNamingItAndLeavesNothingHalfMade) {
  if (geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs needs root";
  int code = OnAFullTmpfs([](const std::string&) {},
                          [] {
                            std::string error;
                            SegmentMapping s =
                                OpenSharedSegment("/vxpu-full", sizeof(BigSegment), kMagic, nullptr, nullptr, &error);
                            if (s) return 1;  // it would fault on first touch
                            if (error.find("No space left on device") == std::string::npos) return 2;
                            if (!SegmentsWithPrefix("vxpu-").empty()) return 3;  // nothing half-made stays
                            return 0;
                          });
  if (code == -2) GTEST_SKIP() << "cannot mount a tmpfs here";
  EXPECT_EQ(code, 0);
}

TEST(StateDir, ASparseSegmentOnAFullDiskIsNotTouched) {
  if (geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs needs root";
  // What a creator that died of SIGBUS (or an older vxpu, which sized segments with ftruncate)
  // leaves: the right size, no page behind it. Reading it would fault.
  auto sparse = [](const std::string& dir) {
    int fd = open((dir + "/vxpu-sparse").c_str(), O_RDWR | O_CREAT, 0600);
    if (fd >= 0 && ftruncate(fd, sizeof(BigSegment)) == 0) close(fd);
  };
  int code = OnAFullTmpfs(sparse, [] {
    if (MapExistingSegment("vxpu-sparse", sizeof(BigSegment), kMagic)) return 1;
    std::string error;
    SegmentMapping s = OpenSharedSegment("/vxpu-sparse", sizeof(BigSegment), kMagic, nullptr, nullptr, &error);
    if (s || error.find("No space left on device") == std::string::npos) return 2;
    return 0;
  });
  if (code == -2) GTEST_SKIP() << "cannot mount a tmpfs here";
  EXPECT_EQ(code, 0);
}

}  // namespace
}  // namespace vxpu
