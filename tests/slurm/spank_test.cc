// vxpu_spank.so in a real Slurm: munged, slurmctld and slurmd of Debian's Slurm on loopback,
// in a directory of their own (tests/slurm/slurm_cluster.sh), the plugin in plugstack.conf in
// sim mode, one simulated 8 GiB GPU of 10 shards. Jobs are real srun/sbatch jobs; what they get
// is measured by the programs they run (vxpu-quota-probe, vxpu-burn) and what the node shows
// (vxpu ps, simgpu's device memory).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../simgpu/sim_env.h"
#include "common/json_line.h"
#include "common/units.h"

namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kDevice = 8ull << 30;
const std::string kProbe = VXPU_BIN_DIR "/vxpu-quota-probe";
const std::string kBurn = VXPU_BIN_DIR "/vxpu-burn";
const std::string kVxpu = VXPU_BIN_DIR "/vxpu";
const std::string kCluster = VXPU_SOURCE_DIR "/tests/slurm/slurm_cluster.sh";

struct Outcome {
  int code = -1;
  std::string output;  // standard output and error
};

// The network namespace of host A on a two-node cluster (slurm_cluster.sh start-two), where the
// Slurm commands run; "" on one node.
std::string g_host_a;

// `argv` with its program found on PATH (srun, sbatch, ...; ChildProcess takes a path), in host A.
std::vector<std::string> OnPath(std::vector<std::string> argv) {
  if (argv[0].find('/') == std::string::npos) {
    for (const char* dir : {"/usr/bin/", "/usr/sbin/", "/usr/local/bin/"}) {
      if (access((dir + argv[0]).c_str(), X_OK) == 0) {
        argv[0] = dir + argv[0];
        break;
      }
    }
  }
  if (!g_host_a.empty()) argv.insert(argv.begin(), {"/usr/bin/nsenter", "--net=/run/netns/" + g_host_a});
  return argv;
}

Outcome RunToEnd(const std::vector<std::string>& argv, const std::vector<std::string>& env = {}) {
  vxpu::ChildProcess child;
  std::string error;
  Outcome run;
  if (!child.Start(OnPath(argv), env, &error, /*with_stderr=*/true)) {
    run.output = error;
    return run;
  }
  run.code = child.Wait();
  run.output = child.output();
  return run;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Every line of `text` that is a JSON object with `key`.
std::vector<json> Reports(const std::string& text, const std::string& key) {
  std::vector<json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    json j = json::parse(line, nullptr, false);
    if (j.is_object() && j.contains(key)) out.push_back(j);
  }
  return out;
}

template <typename Condition>
bool PollFor(milliseconds timeout, Condition condition, milliseconds period = milliseconds(20)) {
  auto deadline = steady_clock::now() + timeout;
  while (!condition()) {
    if (steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(period);
  }
  return true;
}

class SpankTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(geteuid(), 0u) << "the Slurm tests start slurmd and slurmctld, which need root";
    char dir[] = "/tmp/vxpu-slurm-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    chmod(dir, 0755);
    state_ = dir_ + "/vxpu-state";
    std::filesystem::create_directory(state_);
    chmod(state_.c_str(), 01777);
    out_ = dir_ + "/out";  // batch jobs' output, written by the job's user
    std::filesystem::create_directory(out_);
    chmod(out_.c_str(), 01777);
    // slurmd, its step daemons and this test see the same state directory, and vxpud if one runs.
    setenv("VXPU_STATE_DIR", state_.c_str(), 1);
    setenv("VXPU_AGENT_SOCKET", "none", 1);
    setenv("SLURM_CONF", (dir_ + "/slurm.conf").c_str(), 1);
    BeforeSlurm();
    if (HasFatalFailure()) return;
    Start(PlugStackLine());
  }

  virtual void BeforeSlurm() {}
  virtual std::string PlugStackLine() const { return "required " VXPU_SPANK_PLUGIN " sim"; }
  virtual const char* StartCommand() const { return "start"; }

  void TearDown() override {
    if (dir_.empty()) return;
    Outcome stop = RunToEnd({kCluster, "stop", dir_});
    EXPECT_EQ(stop.code, 0) << stop.output;
    g_host_a.clear();
    if (HasFailure()) {
      std::printf("slurmd log:\n%s\n", ReadAll(dir_ + "/log/slurmd-node0.log").c_str());
    } else {
      std::filesystem::remove_all(dir_);
    }
  }

  void Start(const std::string& plugstack) {
    const int base = 20000 + (getpid() % 5000) * 2;
    Outcome start = RunToEnd({kCluster, StartCommand(), dir_, plugstack, std::to_string(base)});
    ASSERT_EQ(start.code, 0) << start.output << ReadAll(dir_ + "/log/slurmd-node0.log")
                             << ReadAll(dir_ + "/log/slurmctld.log");
    if (std::filesystem::exists(dir_ + "/netns-a")) {
      g_host_a = ReadAll(dir_ + "/netns-a");
      g_host_a.erase(g_host_a.find_last_not_of('\n') + 1);
    }
  }

  // Two jobs on `node` ("" for wherever Slurm puts them) of 3 and 7 shards, each waiting at a
  // barrier, then burning the device for 4 s: measured together, they split it 30/70.
  void ExpectThirtySeventy(const std::string& node) {
    const std::string go = dir_ + "/go";
    std::filesystem::remove(go);
    auto job = [&](const std::string& shards) {
      const std::string script = "touch " + dir_ + "/ready-$SLURM_JOB_ID; while [ ! -e " + go +
                                 " ]; do sleep 0.01; done; exec " + kBurn + " --seconds 4";
      std::vector<std::string> argv = {"srun", "--gres=shard:" + shards};
      if (!node.empty()) argv.push_back("--nodelist=" + node);
      argv.insert(argv.end(), {"sh", "-c", script});
      return simtest::StartChild(OnPath(argv), {});
    };
    auto three = job("3");
    auto seven = job("7");
    auto ready = [&] {
      int count = 0;
      for (const auto& entry : std::filesystem::directory_iterator(dir_))
        count += entry.path().filename().string().rfind("ready-", 0) == 0;
      return count == 2;
    };
    ASSERT_TRUE(PollFor(milliseconds(20000), ready)) << "both jobs did not start together";
    std::ofstream(go).close();
    json a = simtest::ReportOf(*three), b = simtest::ReportOf(*seven);
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
      if (entry.path().filename().string().rfind("ready-", 0) == 0) std::filesystem::remove(entry.path());
    }
    double got_a = a.value("device_seconds", 0.0), got_b = b.value("device_seconds", 0.0);
    ASSERT_GT(got_a + got_b, 4 * 0.8) << a.dump() << b.dump();
    EXPECT_NEAR(100 * got_a / (got_a + got_b), 30.0, 4.0) << a.dump() << b.dump();
    std::printf("3 and 7 shards%s: %.2f%% / %.2f%% of the device time\n", node.empty() ? "" : (" on " + node).c_str(),
                100 * got_a / (got_a + got_b), 100 * got_b / (got_a + got_b));
  }

  // The node's slices, as `vxpu ps -o json` shows them to its admin.
  json Slices(const std::vector<std::string>& env = {}) {
    Outcome ps = RunToEnd({kVxpu, "ps", "-o", "json"}, env);
    EXPECT_EQ(ps.code, 0) << ps.output;
    json slices = json::parse(ps.output, nullptr, false);
    return slices.is_array() ? slices : json::array();
  }

  json SliceNamed(const std::string& name, const std::vector<std::string>& env = {}) {
    for (const json& s : Slices(env)) {
      if (s.value("name", "") == name) return s;
    }
    return json();
  }

  // The simulated GPU's memory in use, as the device reports it.
  uint64_t DeviceMemoryUsed() {
    Outcome devices = RunToEnd({kVxpu, "devices", "--sim", "-o", "json"});
    json list = json::parse(devices.output, nullptr, false);
    if (devices.code != 0 || !list.is_array() || list.empty()) {
      ADD_FAILURE() << devices.output;
      return UINT64_MAX;
    }
    return list[0].value("memory_used_bytes", UINT64_MAX);
  }

  // sbatch's job id for `args`; 0 (and a failure) if it was not submitted.
  uint32_t Submit(std::vector<std::string> args) {
    args.insert(args.begin(), {"sbatch", "--parsable", "-o", out_ + "/job-%j.out"});
    Outcome run = RunToEnd(args);
    EXPECT_EQ(run.code, 0) << run.output;
    return run.code == 0 ? static_cast<uint32_t>(std::stoul(run.output)) : 0;
  }

  std::string JobOutput(uint32_t job) { return ReadAll(out_ + "/job-" + std::to_string(job) + ".out"); }

  // "RUNNING", "COMPLETED", "FAILED", ... as slurmctld has it.
  std::string JobState(uint32_t job) {
    Outcome show = RunToEnd({"scontrol", "show", "job", std::to_string(job)});
    size_t at = show.output.find("JobState=");
    return at == std::string::npos ? "" : show.output.substr(at + 9, show.output.find(' ', at) - at - 9);
  }

  std::string dir_, state_, out_;
};

// Three shards' quota: 30% of the GPU less the 512 MiB kept for the slice's context (so ten
// shards' slices fill the GPU, as ten GPU units' do), in MiB.
const uint64_t kThreeShards = (*vxpu::ParseMemoryQuota("30%", kDevice, nullptr) - 512 * kMiB) / kMiB * kMiB;

TEST_F(SpankTest, ThreeOfTenShardsHoldTheJobToThirtyPercentOfTheMemory) {
  Outcome run = RunToEnd({"srun", "--gres=shard:3", kProbe, "alloc", "100", "40"});
  ASSERT_EQ(run.code, 0) << run.output;
  json report = vxpu::LastJsonLine(run.output);
  EXPECT_EQ(report["device_total"], kThreeShards) << run.output;
  EXPECT_EQ(report["succeeded"], kThreeShards / (100 * kMiB)) << run.output;  // then refused
  EXPECT_NE(report["refused"], 0) << run.output;
}

TEST_F(SpankTest, AJobOfAnotherUserIsHeldToItsShardsToo) {
  // The step daemon sets the slice up as root; the job's program runs as its user (nobody here).
  uint32_t job = Submit({"--uid=nobody", "--gres=shard:3", "--wrap", "id -u; " + kProbe + " alloc 100 40"});
  ASSERT_TRUE(PollFor(milliseconds(20000), [&] { return JobState(job) == "COMPLETED"; }))
      << JobState(job) << JobOutput(job);
  EXPECT_EQ(JobOutput(job).find("65534\n"), 0u) << JobOutput(job);
  json report = vxpu::LastJsonLine(JobOutput(job));
  EXPECT_EQ(report["device_total"], kThreeShards) << JobOutput(job);
  EXPECT_EQ(report["succeeded"], kThreeShards / (100 * kMiB)) << JobOutput(job);
}

TEST_F(SpankTest, AnExplicitMemoryOptionHoldsTheJobWithOrWithoutShards) {
  for (const std::vector<std::string>& gres : {std::vector<std::string>{"--gres=shard:3"}, {}}) {
    std::vector<std::string> argv = {"srun"};
    argv.insert(argv.end(), gres.begin(), gres.end());
    argv.insert(argv.end(), {"--vxpu-memory=1GiB", kProbe, "alloc", "100", "40"});
    Outcome run = RunToEnd(argv);
    ASSERT_EQ(run.code, 0) << run.output;
    json report = vxpu::LastJsonLine(run.output);
    EXPECT_EQ(report["device_total"], 1ull << 30) << run.output;
    EXPECT_EQ(report["succeeded"], 10) << run.output;
  }
  // Never more than the shards hold: 3 of 10 shards of 8 GiB are 2.4 GiB with the context's room.
  Outcome over = RunToEnd({"srun", "--gres=shard:3", "--vxpu-memory=2GiB", "true"});
  EXPECT_NE(over.code, 0) << over.output;
  EXPECT_EQ(
      over.output.find("vxpu: --vxpu-memory: 2GiB and the 512.0 MiB kept for the slice's context are more than 30% "
                       "of 8.0 GiB, the share granted\n"),
      0u)
      << over.output;
}

TEST_F(SpankTest, JobsOfThreeAndSevenShardsSplitTheDeviceThirtySeventy) { ExpectThirtySeventy(""); }

TEST_F(SpankTest, ABadOptionFailsTheJobWithOneLineAndRunsNothing) {
  const std::string ran = dir_ + "/ran";
  // Refused where it is submitted: by srun, sbatch and salloc alike.
  for (const char* submit : {"srun", "sbatch", "salloc"}) {
    std::vector<std::string> argv = {submit, "--vxpu-memory=lots"};
    if (std::string(submit) == "sbatch") {
      argv.insert(argv.end(), {"--wrap", "touch " + ran});
    } else {
      argv.insert(argv.end(), {"touch", ran});
    }
    Outcome run = RunToEnd(argv);
    EXPECT_NE(run.code, 0) << run.output;
    EXPECT_EQ(run.output, std::string(submit) +
                              ": error: vxpu: --vxpu-memory: bad memory quota \"lots\" (want a size like 20GiB or a "
                              "percentage like 25%)\n");
  }
  // Refused on the node (more than the GPU has): the job fails, saying why in one line.
  Outcome run = RunToEnd({"srun", "--gres=gpu:1", "--vxpu-memory=9GiB", "touch", ran});
  EXPECT_NE(run.code, 0) << run.output;
  EXPECT_EQ(run.output.find("vxpu: --vxpu-memory: memory quota \"9GiB\" is more than the device's 8.0 GiB"), 0u)
      << run.output;
  uint32_t job = Submit({"--gres=gpu:1", "--vxpu-memory=9GiB", "--wrap", "touch " + ran});
  ASSERT_TRUE(PollFor(milliseconds(20000), [&] { return JobState(job) == "FAILED"; })) << JobState(job);
  std::string output = JobOutput(job);
  EXPECT_EQ(std::count(output.begin(), output.end(), '\n'), 1) << output;
  EXPECT_EQ(output.find("vxpu: --vxpu-memory: memory quota \"9GiB\""), 0u) << output;
  EXPECT_FALSE(std::filesystem::exists(ran));
  Outcome node = RunToEnd({"sinfo", "-h", "-o", "%t"});
  EXPECT_EQ(node.output, "idle\n");  // a refused job does not drain the node
}

TEST_F(SpankTest, ScancelReleasesTheJobsMemoryWithinASecond) {
  uint32_t job = Submit({"--gres=shard:3", "--wrap", kProbe + " alloc 100 10 --hold 120"});
  ASSERT_TRUE(PollFor(milliseconds(20000), [&] { return JobOutput(job).find("holding") != std::string::npos; }))
      << JobOutput(job);
  ASSERT_EQ(DeviceMemoryUsed(), 10 * 100 * kMiB);
  Outcome cancel = RunToEnd({"scancel", std::to_string(job)});
  ASSERT_EQ(cancel.code, 0) << cancel.output;
  auto cancelled = steady_clock::now();
  ASSERT_TRUE(PollFor(milliseconds(5000), [&] { return DeviceMemoryUsed() == 0; }));
  double seconds = std::chrono::duration<double>(steady_clock::now() - cancelled).count();
  EXPECT_LT(seconds, 1.0);
  std::printf("memory freed %.3f s after scancel\n", seconds);
}

TEST_F(SpankTest, TheTasksOfAStepShareOneSlice) {
  // Two tasks fill the slice together: between them, no more than the one quota.
  Outcome run = RunToEnd({"srun", "-n", "2", "--gres=shard:3", kProbe, "alloc", "100", "40", "--hold", "2"});
  ASSERT_EQ(run.code, 0) << run.output;
  std::vector<json> reports = Reports(run.output, "succeeded");
  ASSERT_EQ(reports.size(), 2u) << run.output;
  EXPECT_EQ(reports[0]["succeeded"].get<uint64_t>() + reports[1]["succeeded"].get<uint64_t>(),
            kThreeShards / (100 * kMiB))
      << run.output;
}

TEST_F(SpankTest, TheSliceNamesItsJobAndGoesWhenTheJobEnds) {
  // Held while the job runs: the slice names the job Slurm shows with its shards.
  uint32_t job = Submit({"--gres=shard:3", "--wrap", kProbe + " alloc 100 1 --hold 120"});
  const std::string name = "slurm-" + std::to_string(job) + ".batch";
  ASSERT_TRUE(PollFor(milliseconds(20000), [&] { return SliceNamed(name).is_object(); })) << Slices().dump();
  json slice = SliceNamed(name);
  EXPECT_EQ(slice["owner"]["job"], "slurm:" + std::to_string(job) + ".batch") << slice.dump();
  EXPECT_EQ(slice["memory_limit_bytes"], kThreeShards) << slice.dump();
  EXPECT_EQ(slice["compute"]["guarantee_percent"], 30.0) << slice.dump();
  Outcome show = RunToEnd({"scontrol", "show", "job", std::to_string(job)});
  EXPECT_NE(show.output.find("TresPerNode=gres:shard:3"), std::string::npos) << show.output;
  Outcome ps = RunToEnd({kVxpu, "ps"});
  EXPECT_NE(ps.output.find("slurm:" + std::to_string(job) + ".batch"), std::string::npos) << ps.output;
  // Cancelled: gone.
  ASSERT_EQ(RunToEnd({"scancel", std::to_string(job)}).code, 0);
  EXPECT_TRUE(PollFor(milliseconds(5000), [&] { return SliceNamed(name).is_null(); })) << Slices().dump();

  // Completed, with the node's slurmd restarted while it ran: the slice outlives the restart, as
  // the job does, and goes when the job ends.
  job = Submit({"--gres=shard:3", "--wrap", kProbe + " alloc 100 1 --hold 6"});
  const std::string second = "slurm-" + std::to_string(job) + ".batch";
  ASSERT_TRUE(PollFor(milliseconds(20000), [&] { return JobOutput(job).find("holding") != std::string::npos; }));
  Outcome restart = RunToEnd({kCluster, "restart-slurmd", dir_});
  ASSERT_EQ(restart.code, 0) << restart.output;
  EXPECT_TRUE(SliceNamed(second).is_object()) << Slices().dump();
  EXPECT_EQ(JobState(job), "RUNNING");
  ASSERT_TRUE(PollFor(milliseconds(20000), [&] { return JobState(job) == "COMPLETED"; })) << JobState(job);
  EXPECT_TRUE(PollFor(milliseconds(5000), [&] { return SliceNamed(second).is_null(); })) << Slices().dump();
  EXPECT_NE(JobOutput(job).find("\"succeeded\":1"), std::string::npos) << JobOutput(job);
}

TEST_F(SpankTest, AStepOfABatchJobJoinsTheJobsSliceRatherThanTakingASecondShare) {
  // A 7-shard batch job whose script runs srun: the step joins the job's slice (70% + 70% would
  // not fit the GPU), and the 3-shard job beside it still gets its own.
  uint32_t big = Submit({"--gres=shard:7", "--wrap",
                         "srun " + kProbe + " alloc 100 1 && srun --vxpu-compute=70 " + kProbe + " alloc 100 1"});
  uint32_t small = Submit({"--gres=shard:3", "--wrap", kProbe + " alloc 100 1"});
  ASSERT_TRUE(PollFor(milliseconds(30000), [&] { return JobState(big) == "COMPLETED"; }))
      << JobState(big) << JobOutput(big);
  ASSERT_TRUE(PollFor(milliseconds(30000), [&] { return JobState(small) == "COMPLETED"; }))
      << JobState(small) << JobOutput(small);
  EXPECT_EQ(Reports(JobOutput(big), "succeeded").size(), 2u) << JobOutput(big);
}

// A plugstack.conf argument the plugin does not know: no job runs, and each says why in one line.
class SpankMisconfiguredTest : public SpankTest {
 protected:
  std::string PlugStackLine() const override { return "required " VXPU_SPANK_PLUGIN " sim shards=disk"; }
};

TEST_F(SpankMisconfiguredTest, ABadPlugstackArgumentRunsNoJobAndSaysWhy) {
  const std::string why =
      "vxpu: plugstack.conf: bad value in \"shards=disk\" (shards=memory,compute|memory|compute|none; "
      "shards_per_gpu=1-1000; floor=1-100)\n";
  Outcome run = RunToEnd({"srun", "--gres=shard:3", "true"});
  EXPECT_NE(run.code, 0) << run.output;
  EXPECT_EQ(run.output, "srun: error: " + why);
  // A batch script is refused as it is submitted (sbatch loads the plugin as well).
  Outcome batch = RunToEnd({"sbatch", "--wrap", "true"});
  EXPECT_NE(batch.code, 0) << batch.output;
  EXPECT_EQ(batch.output, "sbatch: error: " + why);
}

// With vxpud on the node, the step's slice is registered there (checked against every slice it
// knows), shown by its API with the job, and reaped by it when the job ends.
class SpankWithAgentTest : public SpankTest {
 protected:
  void BeforeSlurm() override {
    const std::string socket = state_ + "/vxpud.sock";
    agent_ = simtest::StartChild({VXPU_BIN_DIR "/vxpud", "--sim", "--state-dir", state_, "--socket", socket,
                                  "--metrics-addr", "127.0.0.1:0", "--poll-interval", "0.2"},
                                 {});
    ASSERT_TRUE(PollFor(milliseconds(10000), [&] { return std::filesystem::exists(socket); })) << agent_->output();
    setenv("VXPU_AGENT_SOCKET", socket.c_str(), 1);
  }

  void TearDown() override {
    SpankTest::TearDown();
    if (agent_ && agent_->running()) {
      kill(agent_->pid(), SIGTERM);
      EXPECT_EQ(agent_->Wait(), 0) << agent_->output();
    }
  }

  // What vxpud has logged so far.
  std::string AgentLog() {
    agent_->Poll();
    return agent_->output();
  }

  std::unique_ptr<vxpu::ChildProcess> agent_;
};

TEST_F(SpankWithAgentTest, TheStepsSliceIsRegisteredWithVxpudAndReapedWhenTheJobEnds) {
  uint32_t job = Submit({"--gres=shard:3", "--wrap", kProbe + " alloc 100 1 --hold 120"});
  const std::string name = "slurm-" + std::to_string(job) + ".batch";
  ASSERT_TRUE(PollFor(milliseconds(20000), [&] { return SliceNamed(name).is_object(); })) << agent_->output();
  json slice = SliceNamed(name);
  EXPECT_EQ(slice["owner"]["job"], "slurm:" + std::to_string(job) + ".batch") << slice.dump();
  EXPECT_EQ(slice["memory_limit_bytes"], kThreeShards) << slice.dump();
  EXPECT_NE(AgentLog().find("slice " + name + " registered (pid "), std::string::npos) << AgentLog();
  // vxpud holds the next job to what is left: 8 shards' worth would not fit beside these 3.
  Outcome refused = RunToEnd({"srun", "--vxpu-compute=80", "true"});
  EXPECT_NE(refused.code, 0) << refused.output;
  EXPECT_NE(refused.output.find("vxpu: vxpud"), std::string::npos) << refused.output;
  ASSERT_EQ(RunToEnd({"scancel", std::to_string(job)}).code, 0);
  EXPECT_TRUE(PollFor(milliseconds(5000), [&] { return SliceNamed(name).is_null(); })) << agent_->output();
  EXPECT_NE(AgentLog().find("slice " + name + " reaped"), std::string::npos) << AgentLog();
}

// Two nodes, each a host of its own (network namespaces joined by a veth pair; slurmctld and
// node0 in one, node1 in the other, with its own simulated GPU and state directory): a job lands
// on either with the same guarantees.
class SpankTwoNodesTest : public SpankTest {
 protected:
  void BeforeSlurm() override {
    node1_state_ = dir_ + "/node1-state";
    std::filesystem::create_directory(node1_state_);
    chmod(node1_state_.c_str(), 01777);
    node1_config_ = dir_ + "/node1-gpu.json";
    std::ofstream(node1_config_) << R"({"devices":[{"name":"NVIDIA A100-SXM4-8GB","uuid":")" << Node1Gpu()
                                 << R"(","memory":"8GiB","context_overhead":"0","sm_count":132}]})";
    setenv("NODE1_VXPU_STATE_DIR", node1_state_.c_str(), 1);
    setenv("NODE1_VXPU_SIMGPU_CONFIG", node1_config_.c_str(), 1);
  }
  const char* StartCommand() const override { return "start-two"; }

  static std::string Node1Gpu() { return simtest::UniqueUuid(0x100); }

  // The probe's report from a 3-shard job on `node`, having checked it ran there.
  json ProbeOn(const std::string& node) {
    Outcome run = RunToEnd({"srun", "--nodelist=" + node, "--gres=shard:3", "sh", "-c",
                            "echo ran on $SLURMD_NODENAME; exec " + kProbe + " alloc 100 40"});
    EXPECT_EQ(run.code, 0) << run.output;
    EXPECT_NE(run.output.find("ran on " + node + "\n"), std::string::npos) << run.output;
    return vxpu::LastJsonLine(run.output);
  }

  std::string node1_state_, node1_config_;
};

TEST_F(SpankTwoNodesTest, AJobOnEitherNodeIsHeldToItsShards) {
  for (const std::string node : {"node0", "node1"}) {
    json report = ProbeOn(node);
    EXPECT_EQ(report["device_total"], kThreeShards) << node << report.dump();
    EXPECT_EQ(report["succeeded"], kThreeShards / (100 * kMiB)) << node << report.dump();
  }
  ExpectThirtySeventy("node1");
  // Each node's admin sees its own jobs' slices, in its own state directory.
  uint32_t job = Submit({"--nodelist=node1", "--gres=shard:3", "--wrap", kProbe + " alloc 100 1 --hold 120"});
  const std::string name = "slurm-" + std::to_string(job) + ".batch";
  const std::vector<std::string> on_node1 = {"VXPU_STATE_DIR=" + node1_state_, "VXPU_SIMGPU_CONFIG=" + node1_config_};
  ASSERT_TRUE(PollFor(milliseconds(20000), [&] { return SliceNamed(name, on_node1).is_object(); }))
      << Slices(on_node1).dump() << JobOutput(job);
  EXPECT_EQ(SliceNamed(name, on_node1)["devices"], json::array({Node1Gpu()}));
  EXPECT_TRUE(SliceNamed(name).is_null()) << Slices().dump();
  ASSERT_EQ(RunToEnd({"scancel", std::to_string(job)}).code, 0);
  EXPECT_TRUE(PollFor(milliseconds(5000), [&] { return SliceNamed(name, on_node1).is_null(); }));
}

TEST_F(SpankTwoNodesTest, JobsSlurmSpreadOverTheNodesEachGetTheirShare) {
  // Two 7-shard jobs cannot share one node's 10 shards: Slurm runs one on each, both at once.
  std::vector<uint32_t> jobs;
  for (int i = 0; i < 2; ++i) jobs.push_back(Submit({"--gres=shard:7", "--wrap", kProbe + " alloc 100 80 --hold 3"}));
  for (uint32_t job : jobs) {
    ASSERT_TRUE(PollFor(milliseconds(30000), [&] { return JobState(job) == "COMPLETED"; }))
        << JobState(job) << JobOutput(job);
    json report = vxpu::LastJsonLine(JobOutput(job));
    const uint64_t seven = (*vxpu::ParseMemoryQuota("70%", kDevice, nullptr) - 512 * kMiB) / kMiB * kMiB;
    EXPECT_EQ(report["device_total"], seven) << JobOutput(job);
    EXPECT_EQ(report["succeeded"], seven / (100 * kMiB)) << JobOutput(job);
  }
  Outcome show = RunToEnd({"scontrol", "show", "job", std::to_string(jobs[1])});
  EXPECT_NE(show.output.find("NodeList=node"), std::string::npos);
  Outcome first = RunToEnd({"scontrol", "show", "job", std::to_string(jobs[0])});
  auto node_of = [](const std::string& text) {
    size_t at = text.find("   NodeList=");
    return at == std::string::npos ? std::string() : text.substr(at + 12, 5);
  };
  EXPECT_NE(node_of(first.output), node_of(show.output)) << first.output << show.output;
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  simtest::SimDevice gpu;
  gpu.memory = "8GiB";
  gpu.name = "NVIDIA A100-SXM4-8GB";
  ::testing::AddGlobalTestEnvironment(new simtest::SimEnvironment({gpu}));
  return RUN_ALL_TESTS();
}
