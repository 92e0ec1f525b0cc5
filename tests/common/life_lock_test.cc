// Liveness across pid namespaces (life_lock.h, process_table.h): entries claimed by processes
// in pid namespaces of their own (containers), judged from this one (the host) by their life
// locks. The namespaces need root (CLONE_NEWPID); those tests skip without it. The state
// directory is this process's (/dev/shm unless VXPU_STATE_DIR is set).
#include "common/life_lock.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "common/process_table.h"
#include "common/state_dir.h"

namespace vxpu {
namespace {

struct Entry {
  ProcessEntry process;
  int payload;
};

// A table in memory shared with forked children, as a segment is.
struct Table {
  Entry entries[4];
};

class SharedTable {
 public:
  SharedTable() {
    void* p = mmap(nullptr, sizeof(Table), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    table_ = p == MAP_FAILED ? nullptr : new (p) Table{};
  }
  ~SharedTable() {
    if (table_ != nullptr) munmap(table_, sizeof(Table));
  }
  Entry (&entries())[4] { return table_->entries; }
  ProcessEntry& at(int i) { return table_->entries[i].process; }

 private:
  Table* table_;
};

std::string LifePathOf(const ProcessEntry& e) {
  std::string dir, error;
  EXPECT_TRUE(StateDir(&dir, &error)) << error;
  return dir + "/" + LifeFileName(ProcessIdentity{PidNamespace{e.pid_ns_dev, e.pid_ns_ino}, e.pid, e.start_ticks});
}

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

template <typename Condition>
bool PollFor(std::chrono::milliseconds timeout, Condition condition) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// The pid, in this process's namespace, of the process an entry names by its own namespace's
// pid: the process whose /proc/N/ns/pid is the entry's and whose NSpid ends with its pid.
pid_t HostPidOf(const ProcessEntry& e) {
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return -1;
  pid_t found = -1;
  while (dirent* d = readdir(proc)) {
    if (d->d_name[0] < '1' || d->d_name[0] > '9') continue;
    struct stat st;
    if (stat(("/proc/" + std::string(d->d_name) + "/ns/pid").c_str(), &st) != 0) continue;
    if (static_cast<uint64_t>(st.st_dev) != e.pid_ns_dev || static_cast<uint64_t>(st.st_ino) != e.pid_ns_ino) continue;
    std::ifstream status("/proc/" + std::string(d->d_name) + "/status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("NSpid:", 0) != 0) continue;
      std::istringstream fields(line.substr(6));
      long pid = 0, last = -1;
      while (fields >> pid) last = pid;
      if (last == e.pid) found = static_cast<pid_t>(std::atol(d->d_name));
    }
    if (found > 0) break;
  }
  closedir(proc);
  return found;
}

// Why this process cannot make pid namespaces, or "".
std::string CannotUnsharePid() {
  if (geteuid() != 0) return "needs root to create pid namespaces (unshare(CLONE_NEWPID))";
  pid_t child = fork();
  if (child == 0) _exit(unshare(CLONE_NEWPID) == 0 ? 0 : 1);
  int status = 0;
  if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return "unshare(CLONE_NEWPID) is not permitted here";
  return "";
}

#define SKIP_UNLESS_PID_NAMESPACES()                                     \
  do {                                                                   \
    if (!CannotUnsharePid().empty()) GTEST_SKIP() << CannotUnsharePid(); \
  } while (0)

// Runs `body` as the first process (pid 1) of a new pid namespace, in a child that never reaps
// it (so a killed one stays a zombie); `body` writes one byte to `ready` once set up, then
// waits to be killed. Returns the child (the namespace's parent) once ready, or -1.
template <typename Body>
pid_t InNewPidNamespace(Body body) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t outer = fork();
  if (outer == 0) {
    close(fds[0]);
    if (unshare(CLONE_NEWPID) != 0) _exit(2);
    pid_t init = fork();
    if (init == 0) {
      body(fds[1]);
      _exit(0);
    }
    close(fds[1]);
    for (;;) pause();  // never reaps: the killed stay zombies
  }
  close(fds[1]);
  char ok = 0;
  bool ready = outer > 0 && read(fds[0], &ok, 1) == 1 && ok == 1;
  close(fds[0]);
  if (!ready && outer > 0) {
    kill(outer, SIGKILL);
    waitpid(outer, nullptr, 0);
    return -1;
  }
  return outer;
}

void Ready(int fd) {
  char ok = 1;
  if (write(fd, &ok, 1) != 1) _exit(3);
  close(fd);
}

// Kills the namespace's init (which takes the whole namespace with it), then its parent.
void Reap(pid_t outer) {
  DIR* proc = opendir("/proc");
  while (proc != nullptr) {
    dirent* d = readdir(proc);
    if (d == nullptr) break;
    std::ifstream status("/proc/" + std::string(d->d_name) + "/status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("PPid:", 0) == 0 && std::atol(line.c_str() + 5) == outer) kill(std::atoi(d->d_name), SIGKILL);
    }
  }
  if (proc != nullptr) closedir(proc);
  kill(outer, SIGKILL);
  int status = 0;
  EXPECT_EQ(waitpid(outer, &status, 0), outer);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
}

bool OtherNamespace(const ProcessEntry& e) {
  PidNamespace mine = ThisPidNamespace();
  return e.pid_ns_ino != 0 && (e.pid_ns_ino != mine.ino || e.pid_ns_dev != mine.dev);
}

TEST(LifeLock, ALiveProcessOfAnotherPidNamespaceIsNotAbandonedAndAKilledOneIs) {
  SKIP_UNLESS_PID_NAMESPACES();
  SharedTable table;
  pid_t outer = InNewPidNamespace([&](int ready) {
    if (ClaimEntry(table.entries(), Entry{{}, 1}) != 0) _exit(4);
    Ready(ready);
    for (;;) pause();
  });
  ASSERT_GT(outer, 0);
  const ProcessEntry& e = table.at(0);
  ASSERT_TRUE(e.in_use);
  EXPECT_EQ(e.pid, 1);  // in its namespace; here pid 1 is another process (init)
  EXPECT_TRUE(OtherNamespace(e));
  EXPECT_FALSE(JudgedByPid(PidNamespace{e.pid_ns_dev, e.pid_ns_ino}));
  EXPECT_TRUE(Exists(LifePathOf(e))) << LifePathOf(e);
  EXPECT_FALSE(e.Abandoned());
  EXPECT_FALSE(e.Abandoned());  // a check leaves the lock as it was
  {
    // What a check costs (printed, not asserted): across namespaces and, for comparison, of an
    // entry of this process's namespace (by pid).
    Entry own[1] = {};
    ASSERT_EQ(ClaimEntry(own, Entry{{}, 1}), 0);
    constexpr int kChecks = 2000;
    auto time_checks = [&](const ProcessEntry& entry) {
      auto start = std::chrono::steady_clock::now();
      for (int i = 0; i < kChecks; ++i) EXPECT_FALSE(entry.Abandoned());
      return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / kChecks;
    };
    double other = time_checks(e), same = time_checks(own[0].process);
    std::printf("a check: %.2f us across pid namespaces, %.2f us in this one\n", other, same);
    ProcessEntry::ReleasedByThisProcess();
  }

  pid_t host_pid = HostPidOf(e);
  ASSERT_GT(host_pid, 0);
  ASSERT_EQ(kill(host_pid, SIGKILL), 0);
  EXPECT_TRUE(PollFor(std::chrono::seconds(2), [&] { return e.Abandoned(); }));  // killed, not reaped
  EXPECT_FALSE(Exists(LifePathOf(e)));                                           // the checker removed its file
  Reap(outer);
}

TEST(LifeLock, AThreadOfTheOwnerExitingLeavesItAlive) {
  SKIP_UNLESS_PID_NAMESPACES();
  SharedTable table;
  pid_t outer = InNewPidNamespace([&](int ready) {
    std::thread claimer([&] { ClaimEntry(table.entries(), Entry{{}, 1}); });
    claimer.join();  // the thread that took the lock is gone
    Ready(ready);
    for (;;) pause();
  });
  ASSERT_GT(outer, 0);
  const ProcessEntry& e = table.at(0);
  ASSERT_TRUE(e.in_use);
  EXPECT_TRUE(OtherNamespace(e));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(e.Abandoned());
  pid_t host_pid = HostPidOf(e);
  ASSERT_GT(host_pid, 0);
  kill(host_pid, SIGKILL);
  EXPECT_TRUE(PollFor(std::chrono::seconds(2), [&] { return e.Abandoned(); }));
  Reap(outer);
}

TEST(LifeLock, AForkedChildsEntriesAreItsOwnAndItsParentsGoWithTheParent) {
  SKIP_UNLESS_PID_NAMESPACES();
  SharedTable table;
  pid_t outer = InNewPidNamespace([&](int ready) {
    // Init (pid 1) stays; its child P claims entry 0 and forks two children (each with a copy
    // of P's descriptors): one that claims nothing, and K, which claims entry 1.
    if (fork() == 0) {
      if (ClaimEntry(table.entries(), Entry{{}, 1}) != 0) _exit(4);
      if (fork() == 0) {
        for (;;) pause();
      }
      if (fork() == 0) {
        if (ClaimEntry(table.entries(), Entry{{}, 2}) != 1) _exit(4);
        Ready(ready);
        for (;;) pause();
      }
      for (;;) pause();
    }
    for (;;) pause();
  });
  ASSERT_GT(outer, 0);
  const ProcessEntry& parent = table.at(0);
  const ProcessEntry& child = table.at(1);
  ASSERT_TRUE(parent.in_use && child.in_use);
  EXPECT_NE(parent.pid, child.pid);
  EXPECT_EQ(parent.pid_ns_ino, child.pid_ns_ino);
  EXPECT_NE(LifePathOf(parent), LifePathOf(child));
  EXPECT_FALSE(parent.Abandoned());
  EXPECT_FALSE(child.Abandoned());

  pid_t parent_pid = HostPidOf(parent), child_pid = HostPidOf(child);
  ASSERT_GT(parent_pid, 0);
  ASSERT_GT(child_pid, 0);
  kill(parent_pid, SIGKILL);  // its children live on, with copies of its descriptors
  EXPECT_TRUE(PollFor(std::chrono::seconds(2), [&] { return parent.Abandoned(); }));
  EXPECT_FALSE(child.Abandoned());
  kill(child_pid, SIGKILL);
  EXPECT_TRUE(PollFor(std::chrono::seconds(2), [&] { return child.Abandoned(); }));
  Reap(outer);
}

// The lock itself, in this namespace (no root needed).
TEST(LifeLock, AProcessHoldsItsLockWhileItHasEntriesAndLosesItWhenKilled) {
  SharedTable table;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t child = fork();
  if (child == 0) {
    ClaimEntry(table.entries(), Entry{{}, 1});
    Ready(fds[1]);
    for (;;) pause();
  }
  ASSERT_GT(child, 0);
  close(fds[1]);
  char ok = 0;
  ASSERT_EQ(read(fds[0], &ok, 1), 1);
  close(fds[0]);
  const ProcessEntry& e = table.at(0);
  const ProcessIdentity who{PidNamespace{e.pid_ns_dev, e.pid_ns_ino}, e.pid, e.start_ticks};
  EXPECT_EQ(e.pid, child);
  EXPECT_TRUE(JudgedByPid(who.ns));
  EXPECT_EQ(ProbeLifeLock(who), LifeLockState::kHeld);
  EXPECT_EQ(ProbeLifeLock(who), LifeLockState::kHeld);
  kill(child, SIGKILL);
  EXPECT_TRUE(PollFor(std::chrono::seconds(2), [&] { return ProbeLifeLock(who) != LifeLockState::kHeld; }));
  EXPECT_FALSE(Exists(LifePathOf(e)));
  EXPECT_EQ(ProbeLifeLock(who), LifeLockState::kAbsent);
  waitpid(child, nullptr, 0);
}

TEST(LifeLock, TheLastEntryFreedTakesTheFileAndAnotherClaimBringsItBack) {
  Entry table[2] = {};
  ASSERT_EQ(ClaimEntry(table, Entry{{}, 1}), 0);
  ASSERT_EQ(ClaimEntry(table, Entry{{}, 2}), 1);
  const std::string path = LifePathOf(table[0].process);
  EXPECT_TRUE(Exists(path));
  ProcessEntry::ReleasedByThisProcess();
  EXPECT_TRUE(Exists(path));  // one entry left
  ProcessEntry::ReleasedByThisProcess();
  EXPECT_FALSE(Exists(path));
  table[0] = Entry{};
  ASSERT_EQ(ClaimEntry(table, Entry{{}, 3}), 0);
  EXPECT_TRUE(Exists(path));
  EXPECT_EQ(ProbeLifeLock(ThisProcessIdentity()), LifeLockState::kHeld);  // a probe of itself keeps it
  EXPECT_FALSE(table[0].process.Abandoned());
  ProcessEntry::ReleasedByThisProcess();
  EXPECT_FALSE(Exists(path));
}

TEST(LifeLock, TheSweepRemovesTheFilesOfKilledProcessesAndKeepsTheLiving) {
  SharedTable table;
  pid_t child = fork();
  if (child == 0) {
    ClaimEntry(table.entries(), Entry{{}, 1});
    _exit(0);  // without freeing: its file stays, unlocked
  }
  ASSERT_GT(child, 0);
  ASSERT_EQ(waitpid(child, nullptr, 0), child);
  const std::string stale = LifePathOf(table.at(0));
  ASSERT_TRUE(Exists(stale));
  Entry mine[1] = {};
  ASSERT_EQ(ClaimEntry(mine, Entry{{}, 1}), 0);
  const std::string own = LifePathOf(mine[0].process);

  auto start = std::chrono::steady_clock::now();
  size_t removed = SweepStaleLifeFiles();
  auto took = std::chrono::steady_clock::now() - start;
  // Test processes running beside this one share the directory and sweep it too (one process
  // start in 16 does), so the stale file may be theirs to remove: the outcome is what counts.
  EXPECT_FALSE(Exists(stale));
  EXPECT_TRUE(Exists(own));
  EXPECT_FALSE(mine[0].process.Abandoned());
  std::printf("sweep: %zu stale removed in %lld us\n", removed,
              static_cast<long long>(std::chrono::duration_cast<std::chrono::microseconds>(took).count()));
  ProcessEntry::ReleasedByThisProcess();
}

}  // namespace
}  // namespace vxpu
