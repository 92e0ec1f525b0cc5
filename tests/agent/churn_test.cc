// Churn: many short-lived slices come and go in vxpud's state directory while the agent polls
// every 50 ms and others list them (the API, /metrics, `vxpu ps`) and start `vxpu run`s. This is
// the load under which vxpud, `vxpu ps` and `vxpu run` died of SIGSEGV (a lister unlocked a
// ledger its last process had just retired and unmapped it): every process must exit as it
// should, the agent must live through it, and nothing may be left registered afterwards.
// Bounded: kSeconds of churn. Serial: it needs the machine's cores to itself.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "vxpud_harness.h"

namespace {

using namespace vxpudtest;  // NOLINT: the harness is this test's vocabulary

constexpr int kSeconds = 20;

// Runs `step` in a loop on its own thread until the churn ends; each step says whether it went
// as it should (a failure is recorded with what it says).
class Churn {
 public:
  void Add(const std::string& name, std::function<std::string()> step) {
    threads_.emplace_back([this, name, step] {
      while (!stop_) {
        std::string failure = step();
        std::lock_guard<std::mutex> lock(mu_);
        ++steps_[name];
        if (!failure.empty() && failures_.size() < 20) failures_.push_back(name + ": " + failure);
      }
    });
  }
  void RunFor(std::chrono::seconds length) {
    std::this_thread::sleep_for(length);
    stop_ = true;
    for (std::thread& t : threads_) t.join();
  }
  const std::vector<std::string>& failures() const { return failures_; }
  const std::map<std::string, int>& steps() const { return steps_; }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::vector<std::string> failures_;
  std::map<std::string, int> steps_;
};

// Runs `argv` with `env` to completion; "" if it exits 0, else its exit code and output.
std::string Ran(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  auto child = simtest::StartChild(argv, env);
  int code = child->Wait();
  return code == 0 ? "" : "exit " + std::to_string(code) + ": " + child->output().substr(0, 300);
}

TEST(Churn, ShortLivedSlicesListedWhileTheyComeAndGoKillNobody) {
  StateDir dir;
  Agent agent(dir.path(), {}, {"--poll-interval", "0.05"});
  ASSERT_TRUE(agent.Start()) << agent.log();
  int metrics = agent.MetricsPort();
  ASSERT_GT(metrics, 0) << agent.log();
  Churn churn;
  // Slices of one process each, started as a workload would be without `vxpu run`.
  for (int w = 0; w < 3; ++w) {
    std::vector<std::string> env = {dir.env(), "LD_PRELOAD=" VXPU_INTERPOSER, "LD_LIBRARY_PATH=" VXPU_SIMGPU_DIR,
                                    "VXPU_SLICE=w" + std::to_string(w), "VXPU_MEMORY=256MiB"};
    churn.Add("probe w" + std::to_string(w), [env] { return Ran({kProbe, "alloc", "10", "1"}, env); });
  }
  churn.Add("vxpu run", [&dir] {
    return Ran({kVxpu, "run", "--sim", "--memory", "256MiB", "--", kProbe, "alloc", "10", "1"}, {dir.env()});
  });
  churn.Add("vxpu ps", [&dir] { return Ran({kVxpu, "ps", "-o", "json"}, {dir.env()}); });
  churn.Add("GET /v1/slices", [&agent] {
    auto [status, body] = Request(agent.socket(), "GET", "/v1/slices");
    return status == 200 && body.is_array() ? "" : "status " + std::to_string(status);
  });
  churn.Add("GET /metrics", [metrics] {
    httplib::Client http("127.0.0.1", metrics);
    auto r = http.Get("/metrics");
    return r && r->status == 200 ? "" : "no /metrics";
  });
  churn.RunFor(seconds(kSeconds));
  for (const std::string& f : churn.failures()) ADD_FAILURE() << f;
  for (const auto& [name, steps] : churn.steps()) {
    EXPECT_GT(steps, 5) << name << " hardly ran";
    RecordProperty(name, steps);
  }
  ASSERT_TRUE(agent.running()) << agent.log();
  EXPECT_EQ(agent.log().find("crashed"), std::string::npos) << agent.log();
  // Every slice went with its processes: nothing stale stays registered, no segment is left.
  EXPECT_TRUE(simtest::PollFor(seconds(10), [&] { return agent.Get("/v1/slices").empty(); }))
      << agent.Get("/v1/slices").dump();
  EXPECT_EQ(agent.Stop(), 0);
  std::vector<std::string> left;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    std::string name = entry.path().filename();
    if (name.rfind("vxpu-slice-", 0) == 0 || name.rfind("vxpu-compute-", 0) == 0) left.push_back(name);
  }
  EXPECT_TRUE(left.empty()) << ::testing::PrintToString(left);
}

TEST(Churn, AHundredConcurrentRunsAreEachRegisteredAndReaped) {
  // 100 `vxpu run`s at once with one API reader killed vxpud, left stale rows and failed runs
  // with "no answer from vxpud".
  StateDir dir;
  // 100 slices of 64 MiB fit the 8 GiB device with 1 MiB kept beside each for its context.
  Agent agent(dir.path(), {}, {"--poll-interval", "0.05", "--context-reserve", "1MiB"});
  ASSERT_TRUE(agent.Start()) << agent.log();
  std::atomic<bool> stop{false};
  // The reader is a client as vxpu's own are: while the agent's connections are all taken it is
  // told so (503) and asks again; what counts is that every read is answered in the end.
  std::atomic<int> reads{0}, failed_reads{0};
  std::string first_failure;
  std::thread reader([&] {
    std::string error;
    auto client = vxpu::AgentClient::Connect(agent.socket(), &error);
    while (!stop && client) {
      bool answered = client->Get("/v1/slices", &error).has_value();
      ++reads;
      if (!answered && failed_reads++ == 0) first_failure = error;
    }
    if (!client) first_failure = "cannot connect: " + error, ++failed_reads;
  });
  std::vector<std::unique_ptr<vxpu::ChildProcess>> runs;
  for (int i = 0; i < 100; ++i) {
    runs.push_back(simtest::StartChild(
        {kVxpu, "run", "--sim", "--memory", "64MiB", "--name", "burst-" + std::to_string(i), "--", "true"},
        {dir.env()}));
  }
  int failed = 0;
  for (auto& run : runs) {
    int code = run->Wait();
    if (code != 0 && ++failed <= 3) ADD_FAILURE() << "exit " << code << ": " << run->output();
  }
  stop = true;
  reader.join();
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(failed_reads, 0) << "of " << reads << "; the first: " << first_failure;
  ASSERT_TRUE(agent.running()) << agent.log();
  EXPECT_TRUE(simtest::PollFor(seconds(10), [&] { return agent.Get("/v1/slices").empty(); }))
      << agent.Get("/v1/slices").size() << " stale rows";
  EXPECT_EQ(agent.Stop(), 0);
}

}  // namespace

int main(int argc, char** argv) {
  return simtest::RunAllTestsOn(argc, argv, {simtest::SimDevice{.memory = "8GiB", .context_overhead = "0"}});
}
