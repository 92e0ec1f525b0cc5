// The slice ledger across real processes: limits hold for the slice as a whole, dead
// processes' memory comes back, slices are isolated, contradictory limits are refused.
#include "interposer/slice_ledger.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "common/shared_segment.h"

namespace vxpu {
namespace {

constexpr uint64_t kMiB = 1ull << 20;

class SliceLedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char uuid[48];  // a whole UUID: ListSlices reads the device from the segment's name
    std::snprintf(uuid, sizeof(uuid), "GPU-1ed9e700-0000-4000-8000-%012x", static_cast<unsigned>(getpid()));
    device_ = uuid;
  }
  void TearDown() override {
    for (const char* slice : {"a", "b"}) SliceLedger::Unlink(slice, device_);
  }
  std::unique_ptr<SliceLedger> Open(const std::string& slice, uint64_t limit) {
    std::string error;
    auto ledger = SliceLedger::Open(slice, device_, limit, &error);
    EXPECT_NE(ledger, nullptr) << error;
    return ledger;
  }

  std::string device_;
};

// Forks a child that joins `slice`, reserves `bytes` and holds them until killed. Returns its
// pid once its reservation is visible, or -1 (the child reaped) if it could not reserve.
pid_t ChildHolding(const std::string& slice, const std::string& device, uint64_t limit, uint64_t bytes) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    std::string error;
    auto ledger = SliceLedger::Open(slice, device, limit, &error);
    char ok = ledger && ledger->Reserve(bytes) ? 1 : 0;
    if (write(fds[1], &ok, 1) != 1) _exit(3);
    pause();
    _exit(0);
  }
  char ok = 0;
  bool ready = pid > 0 && read(fds[0], &ok, 1) == 1 && ok == 1;
  close(fds[0]);
  close(fds[1]);
  if (!ready && pid > 0) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  return ready ? pid : -1;
}

TEST_F(SliceLedgerTest, RefusesBeyondTheLimitAndReleasingMakesRoom) {
  auto ledger = Open("a", 100 * kMiB);
  uint64_t used = 0;
  EXPECT_TRUE(ledger->Reserve(60 * kMiB, &used));
  EXPECT_EQ(used, 60 * kMiB);
  EXPECT_FALSE(ledger->Reserve(41 * kMiB, &used));
  EXPECT_EQ(used, 60 * kMiB);  // nothing was reserved by the refusal
  EXPECT_TRUE(ledger->Reserve(40 * kMiB));
  EXPECT_FALSE(ledger->Reserve(1));
  ledger->Release(50 * kMiB);
  EXPECT_TRUE(ledger->Reserve(50 * kMiB));
  EXPECT_EQ(ledger->Used(), 100 * kMiB);
}

TEST_F(SliceLedgerTest, ProcessesOfOneSliceShareItsLimitAndAKilledOneIsReleasedPromptly) {
  auto ledger = Open("a", 100 * kMiB);
  pid_t child = ChildHolding("a", device_, 100 * kMiB, 70 * kMiB);
  ASSERT_GT(child, 0);
  EXPECT_EQ(ledger->Used(), 70 * kMiB);
  EXPECT_EQ(ledger->Processes().size(), 2u);
  EXPECT_FALSE(ledger->Reserve(40 * kMiB));  // the child's 70 MiB count against this process too

  kill(child, SIGKILL);  // not reaped yet: a zombie must count as dead
  auto killed = std::chrono::steady_clock::now();
  while (ledger->Used() != 0 && std::chrono::steady_clock::now() - killed < std::chrono::seconds(1))
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  EXPECT_EQ(ledger->Used(), 0u) << "after " << seconds << " s";
  EXPECT_TRUE(ledger->Reserve(100 * kMiB));
  waitpid(child, nullptr, 0);
}

TEST_F(SliceLedgerTest, TwoSlicesOnOneDeviceNeverSeeEachOthersUsage) {
  auto a = Open("a", 100 * kMiB);
  auto b = Open("b", 100 * kMiB);
  EXPECT_TRUE(a->Reserve(100 * kMiB));
  EXPECT_EQ(b->Used(), 0u);
  EXPECT_TRUE(b->Reserve(100 * kMiB));
}

TEST_F(SliceLedgerTest, AContradictoryLimitIsRefusedWhileTheSliceRuns) {
  auto first = Open("a", 100 * kMiB);
  std::string error;
  EXPECT_EQ(SliceLedger::Open("a", device_, 200 * kMiB, &error), nullptr);
  EXPECT_NE(error.find("already runs with a limit"), std::string::npos) << error;
  first.reset();  // the slice is gone: a new run may choose another limit
  auto second = Open("a", 200 * kMiB);
  EXPECT_EQ(second->limit(), 200 * kMiB);
}

// The mode bits of /dev/shm/`name`, or -1 if there is no such segment.
int SegmentMode(const std::string& name) {
  struct stat st;
  return stat(("/dev/shm/" + name).c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 0777) : -1;
}

std::string LedgerSegment(const std::string& device, const std::string& slice) {
  return "vxpu-slice-" + std::to_string(getuid()) + "-" + device + "-" + slice;
}

TEST_F(SliceLedgerTest, ItsSegmentIsItsUsersAloneAndGoesWithItsLastProcess) {
  mode_t old_umask = umask(0);  // the mode must come from the ledger, not from the umask
  auto first = Open("a", 100 * kMiB);
  auto second = Open("a", 100 * kMiB);
  umask(old_umask);
  EXPECT_EQ(SegmentMode(LedgerSegment(device_, "a")), 0600);
  first.reset();
  EXPECT_EQ(SegmentMode(LedgerSegment(device_, "a")), 0600);  // still one process in it
  second.reset();
  EXPECT_EQ(SegmentMode(LedgerSegment(device_, "a")), -1);
}

TEST_F(SliceLedgerTest, AKilledLastProcesssSegmentGoesWithTheNextListing) {
  pid_t child = ChildHolding("b", device_, 100 * kMiB, 10 * kMiB);
  ASSERT_GT(child, 0);
  ASSERT_EQ(SegmentMode(LedgerSegment(device_, "b")), 0600);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  EXPECT_EQ(SegmentMode(LedgerSegment(device_, "b")), 0600);  // nobody could remove it yet
  for (const SliceSummary& s : SliceLedger::ListSlices()) EXPECT_NE(s.device, device_) << s.slice;
  EXPECT_EQ(SegmentMode(LedgerSegment(device_, "b")), -1);
}

// The race the churn tests found (vxpud and `vxpu ps` died of SIGSEGV listing slices): a lister
// maps a ledger just as its last process retires it. Recreated exactly by putting the retired
// segment back under its name; the listing runs in a child so that a crash is an exit status.
TEST_F(SliceLedgerTest, AListingSkipsALedgerRetiredUnderItsFeet) {
  std::string path, error;
  ASSERT_TRUE(SegmentPath(LedgerSegment(device_, "a"), &path, &error)) << error;
  auto ledger = Open("a", 100 * kMiB);
  ASSERT_EQ(link(path.c_str(), (path + ".kept").c_str()), 0);
  ledger.reset();  // its last process: retired and removed
  ASSERT_EQ(SegmentMode(LedgerSegment(device_, "a")), -1);
  ASSERT_EQ(rename((path + ".kept").c_str(), path.c_str()), 0);
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    for (int i = 0; i < 3; ++i) {
      for (const SliceSummary& s : SliceLedger::ListSlices()) {
        if (s.device == device_) _exit(2);  // a retired ledger is no slice
      }
    }
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "the listing died of signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  unlink(path.c_str());
}

TEST_F(SliceLedgerTest, AProcessThatLeftNeitherReservesNorReleases) {
  auto ledger = Open("a", 100 * kMiB);
  auto other = Open("a", 100 * kMiB);
  ASSERT_TRUE(ledger->Reserve(30 * kMiB));
  ledger->Leave();
  EXPECT_EQ(other->Used(), 0u);  // its memory went with it
  EXPECT_FALSE(ledger->Reserve(kMiB));
  auto newcomer = Open("a", 100 * kMiB);  // takes the entry that was the leaver's
  ASSERT_TRUE(newcomer->Reserve(20 * kMiB));
  ledger->Release(20 * kMiB);  // must not touch it
  ledger->Charge(10 * kMiB);
  EXPECT_EQ(other->Used(), 20 * kMiB);
}

TEST_F(SliceLedgerTest, MalformedSliceNamesAreRefused) {
  for (const char* bad : {"", "..", "a/b", "with space", "x\n"}) {
    std::string error;
    EXPECT_EQ(SliceLedger::Open(bad, device_, kMiB, &error), nullptr) << bad;
    EXPECT_NE(error.find("bad slice name"), std::string::npos) << error;
  }
}

}  // namespace
}  // namespace vxpu
