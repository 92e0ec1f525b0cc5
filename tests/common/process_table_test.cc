#include "common/process_table.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include "common/process.h"

namespace vxpu {
namespace {

// An entry of `pid` in this process's pid namespace (judged by pid and start time).
ProcessEntry InThisNamespace(int32_t pid, uint64_t start_ticks) {
  PidNamespace ns = ThisPidNamespace();
  return ProcessEntry{pid, 1, start_ticks, ns.dev, ns.ino};
}

struct Entry {
  ProcessEntry process;
  int payload;
};

TEST(ProcessTable, ClaimsFreeEntriesForThisProcessUntilFull) {
  Entry table[2] = {};
  EXPECT_EQ(ClaimEntry(table, Entry{{}, 7}), 0);
  EXPECT_EQ(ClaimEntry(table, Entry{{}, 8}), 1);
  EXPECT_EQ(ClaimEntry(table, Entry{{}, 9}), -1);
  EXPECT_EQ(table[1].process.pid, getpid());
  EXPECT_EQ(table[1].payload, 8);
  EXPECT_FALSE(table[0].process.Abandoned());
  EXPECT_EQ(table[0].process.pid_ns_ino, ThisPidNamespace().ino);
  ProcessEntry::ReleasedByThisProcess();
  ProcessEntry::ReleasedByThisProcess();
}

TEST(ProcessTable, FreesTheEntriesOfProcessesThatHaveGone) {
  Entry table[3] = {};
  ASSERT_EQ(ClaimEntry(table, Entry{{}, 1}), 0);
  pid_t child = fork();
  if (child == 0) {
    pause();
    _exit(0);
  }
  ASSERT_GT(child, 0);
  table[1] = Entry{InThisNamespace(child, 0), 2};  // start time 0: not checked
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  table[2] = Entry{InThisNamespace(getpid(), 1), 3};  // this pid, but another start time: a reused pid

  std::vector<int> freed;
  FreeAbandonedEntries(table, [&](int i) {
    freed.push_back(i);
    table[i] = Entry{};
  });
  EXPECT_EQ(freed, (std::vector<int>{1, 2}));
  EXPECT_TRUE(table[0].process.in_use);
  ProcessEntry::ReleasedByThisProcess();
}

}  // namespace
}  // namespace vxpu
