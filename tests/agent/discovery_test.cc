// One truth per node: a command told nothing finds the vxpud that runs (its beacon), a command
// pointed where no agent runs is refused while one serves, and without any agent `vxpu run`
// still counts the slices it set up before their first CUDA call. Real vxpud, real CLI, simgpu.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../simgpu/sim_env.h"
#include "vxpud_harness.h"

namespace {

using namespace vxpudtest;  // NOLINT: the harness is this test's vocabulary

// A beacon of this test's own: other tests' agents never answer on it.
std::string OwnBeacon() { return "VXPU_AGENT_BEACON=discovery-test-" + std::to_string(getpid()); }

// The environment of a command told nothing about where the agent is.
std::vector<std::string> ToldNothing() { return {OwnBeacon(), "VXPU_STATE_DIR=", "VXPU_AGENT_SOCKET="}; }

std::unique_ptr<vxpu::ChildProcess> Command(const std::vector<std::string>& args, std::vector<std::string> env) {
  std::vector<std::string> argv = {kVxpu};
  argv.insert(argv.end(), args.begin(), args.end());
  return simtest::StartChild(argv, env);
}

class Discovery : public WithAgent {
 protected:
  Discovery() : WithAgent({OwnBeacon()}) {}
};

TEST_F(Discovery, ACommandToldNothingUsesTheAgentThatRuns) {
  // Before: this run went daemonless in /dev/shm, on a simulated device of its own, and the
  // second 70% below was accepted beside it.
  auto first = Command({"run", "--sim", "--compute", "70", "--name", "first", "--", "sleep", "5"}, ToldNothing());
  ASSERT_TRUE(simtest::PollFor(seconds(5), [&] { return agent_.Lists("first"); })) << first->output();
  auto second = Command({"run", "--sim", "--compute", "70", "--", "sh", "-c", "echo COMMAND-RAN"}, ToldNothing());
  EXPECT_EQ(second->Wait(), 125) << second->output();
  EXPECT_NE(second->output().find("has 70% guaranteed to other slices"), std::string::npos) << second->output();
  EXPECT_EQ(second->output().find("COMMAND-RAN"), std::string::npos) << second->output();
  auto ps = Command({"ps", "-o", "json"}, ToldNothing());
  ASSERT_EQ(ps->Wait(), 0) << ps->output();
  EXPECT_NE(ps->output().find("\"name\":\"first\""), std::string::npos) << ps->output();
  first->Kill();
  first->Wait();
}

TEST_F(Discovery, ACommandPointedWhereNoAgentRunsIsRefusedWhileOneServes) {
  StateDir elsewhere;
  std::vector<std::string> env = {OwnBeacon(), elsewhere.env(), "VXPU_AGENT_SOCKET="};
  auto run = Command({"run", "--sim", "--memory", "1GiB", "--", "sh", "-c", "echo COMMAND-RAN"}, env);
  EXPECT_EQ(run->Wait(), 125) << run->output();
  EXPECT_NE(run->output().find("vxpu run: vxpud (pid "), std::string::npos) << run->output();
  EXPECT_NE(run->output().find(") serves this node from " + dir_.path() + ", but VXPU_STATE_DIR=" + elsewhere.path() +
                               " has no agent"),
            std::string::npos)
      << run->output();
  EXPECT_EQ(run->output().find("COMMAND-RAN"), std::string::npos) << run->output();
  auto ps = Command({"ps"}, env);
  EXPECT_EQ(ps->Wait(), 1) << ps->output();
  // Apart on purpose: it runs, and says the agent does not count it.
  auto apart = Command({"run", "--sim", "--memory", "1GiB", "--", "sh", "-c", "echo COMMAND-RAN"},
                       {OwnBeacon(), elsewhere.env(), "VXPU_AGENT_SOCKET=none"});
  EXPECT_EQ(apart->Wait(), 0) << apart->output();
  EXPECT_NE(apart->output().find("COMMAND-RAN"), std::string::npos) << apart->output();
  EXPECT_NE(apart->output().find("warning: VXPU_AGENT_SOCKET=none: this slice is apart from vxpud"), std::string::npos)
      << apart->output();
}

TEST_F(Discovery, ASecondAgentSaysItCannotAnnounceItself) {
  StateDir other_dir;
  Agent other(other_dir.path(), {OwnBeacon()});
  ASSERT_TRUE(other.Start()) << other.log();
  EXPECT_TRUE(simtest::PollFor(seconds(5), [&] {
    return other.log().find("cannot announce this agent on beacon @vxpu-agent-discovery-test-") != std::string::npos &&
           other.log().find("(state dir " + dir_.path() + ") holds it") != std::string::npos;
  })) << other.log();
  // The first still answers for the node.
  auto ps = Command({"ps", "-o", "json"}, ToldNothing());
  EXPECT_EQ(ps->Wait(), 0) << ps->output();
  EXPECT_EQ(other.Stop(), 0) << other.log();
}

// Without any agent.
TEST(Daemonless, SlicesCountFromTheirStartNotTheirFirstCudaCall) {
  StateDir dir;
  std::vector<std::string> env = {dir.env(), "VXPU_AGENT_SOCKET="};
  auto empty = Command({"ps"}, env);
  ASSERT_EQ(empty->Wait(), 0) << empty->output();
  EXPECT_NE(empty->output().find("(no slices: start one with `vxpu run"), std::string::npos) << empty->output();
  auto first =
      Command({"run", "--sim", "--compute", "70", "--memory", "2GiB", "--name", "first", "--", "sleep", "5"}, env);
  ASSERT_TRUE(simtest::PollFor(seconds(5), [&] {
    auto ps = Command({"ps", "-o", "json"}, env);
    return ps->Wait() == 0 && ps->output().find("\"name\":\"first\"") != std::string::npos;
  }));
  auto ps = Command({"ps", "-o", "json"}, env);
  ASSERT_EQ(ps->Wait(), 0) << ps->output();
  json slices = json::parse(ps->output(), nullptr, false);
  ASSERT_TRUE(slices.is_array() && slices.size() == 1) << ps->output();
  EXPECT_EQ(slices[0]["memory_limit_bytes"], 2ull << 30) << ps->output();
  EXPECT_EQ(slices[0]["owner"]["pid"], first->pid()) << ps->output();
  auto table = Command({"ps"}, env);
  ASSERT_EQ(table->Wait(), 0);
  EXPECT_NE(table->output().find(std::to_string(first->pid())), std::string::npos) << table->output();
  EXPECT_NE(table->output().find("2.0 GiB"), std::string::npos) << table->output();
  auto second = Command({"run", "--sim", "--compute", "70", "--", "sh", "-c", "echo COMMAND-RAN"}, env);
  EXPECT_EQ(second->Wait(), 125) << second->output();
  EXPECT_NE(second->output().find("has 70% guaranteed to other slices"), std::string::npos) << second->output();
  auto third = Command({"run", "--sim", "--memory", "7GiB", "--", "true"}, env);  // 2 GiB + 512 MiB held of 8
  EXPECT_EQ(third->Wait(), 125) << third->output();
  auto other_terms = Command({"run", "--sim", "--memory", "1GiB", "--name", "first", "--", "true"}, env);
  EXPECT_EQ(other_terms->Wait(), 125) << other_terms->output();
  EXPECT_NE(other_terms->output().find("slice first already exists with other terms"), std::string::npos)
      << other_terms->output();
  // Once its process is gone, the slice is too.
  first->Kill();
  first->Wait();
  auto fits = Command({"run", "--sim", "--compute", "70", "--", "true"}, env);
  EXPECT_EQ(fits->Wait(), 0) << fits->output();
}

TEST(Daemonless, ConcurrentRunsNeverAdmitMoreThanTheDeviceWhileOthersList) {
  // Thirty runs of 10% at once, each alive for 2 s: the records' lock must let at most ten in,
  // while listings read the records file being rewritten under them.
  StateDir dir;
  std::vector<std::string> env = {dir.env(), "VXPU_AGENT_SOCKET="};
  std::vector<std::unique_ptr<vxpu::ChildProcess>> runs;
  for (int i = 0; i < 30; ++i)
    runs.push_back(Command({"run", "--sim", "--compute", "10", "--", "sh", "-c", "echo ADMITTED; sleep 2"}, env));
  int listings = 0;
  for (auto start = std::chrono::steady_clock::now(); std::chrono::steady_clock::now() - start < seconds(1);) {
    auto ps = Command({"ps", "-o", "json"}, env);
    ASSERT_EQ(ps->Wait(), 0) << ps->output();
    EXPECT_TRUE(json::parse(ps->output(), nullptr, false).is_array()) << ps->output();
    ++listings;
  }
  int admitted = 0, refused = 0;
  for (auto& run : runs) {
    int code = run->Wait();
    bool ran = run->output().find("ADMITTED") != std::string::npos;
    EXPECT_TRUE(ran ? code == 0 : code == 125) << code << ": " << run->output();
    if (!ran) {
      EXPECT_NE(run->output().find("guaranteed to"), std::string::npos) << run->output();
    }
    (ran ? admitted : refused)++;
  }
  EXPECT_LE(admitted, 10) << refused << " refused";
  EXPECT_GE(admitted, 1);
  EXPECT_GT(listings, 0);
}

}  // namespace

int main(int argc, char** argv) {
  return simtest::RunAllTestsOn(argc, argv, {simtest::SimDevice{.memory = "8GiB", .context_overhead = "0"}});
}
