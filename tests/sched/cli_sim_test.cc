// `vxpu sim` end to end, on a tiny trace written to a temporary directory.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "common/child_process.h"

namespace {

namespace fs = std::filesystem;

class SimCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("vxpu-sim-test-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    Write("nodes.csv", "sn,cpu_milli,memory_mib,gpu,model\nn0,32000,131072,2,T4\nn1,64000,262144,4,V100M32\n");
    Write("pods.csv",
          "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_"
          "time\n"
          "p0,4000,8192,1,500,,LS,Running,0,100,0\n"
          "p1,8000,8192,2,1000,,LS,Running,10,50,10\n"
          "p2,2000,4096,0,0,,BE,Running,20,30,20\n"
          "p3,4000,8192,1,250,T4,LS,Running,30,90,30\n"
          "p4,16000,8192,4,1000,V100M32,LS,Running,40,80,40\n");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  int Run(std::vector<std::string> args) {
    args.insert(args.begin(), VXPU_BIN_DIR "/vxpu");
    std::string error;
    EXPECT_TRUE(process_.Start(args, {}, &error, true)) << error;
    return process_.Wait();
  }
  const std::string& output() const { return process_.output(); }

  // The fields of the table row of `policy` and `seed` in the output of `vxpu sim timed`; none if
  // there is no such row.
  std::vector<std::string> FindTimedRow(const std::string& policy, const std::string& seed) const {
    std::istringstream lines(output());
    for (std::string line; std::getline(lines, line);) {
      std::istringstream words(line);
      std::vector<std::string> fields;
      for (std::string word; words >> word;) fields.push_back(word);
      if (fields.size() == 9 && fields[0] == policy && fields[1] == seed) return fields;
    }
    return {};
  }
  std::vector<std::string> TimedRow(const std::string& policy, const std::string& seed = "42") const {
    std::vector<std::string> row = FindTimedRow(policy, seed);
    if (row.empty()) ADD_FAILURE() << "no row for " << policy << " seed " << seed << " in:\n" << output();
    return row.empty() ? std::vector<std::string>(9) : row;
  }

  fs::path dir_;
  vxpu::ChildProcess process_;
};

TEST_F(SimCli, ReplayPrintsTheTableAndWritesTheCurves) {
  ASSERT_EQ(Run({"sim", "replay", "--nodes", Path("nodes.csv"), "--pods", Path("pods.csv"), "--policy", "fgd,bestfit",
                 "--seeds", "1-3", "--csv", Path("out.csv"), "--plot", Path("out.png")}),
            0)
      << output();
  EXPECT_NE(output().find("fgd"), std::string::npos);
  EXPECT_NE(output().find("bestfit"), std::string::npos);
  std::string csv = Read(Path("out.csv"));
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "policy,seed,arrived_pct,allocated_pct");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1 + 2 * 3 * 131);
  EXPECT_NE(csv.find("\nbestfit,3,130,"), std::string::npos);
  EXPECT_GT(fs::file_size(Path("out.png")), 1000u);
}

TEST_F(SimCli, ReplayDrawsPngOrSvgByTheExtensionAndSaysWhatItWrote) {
  // --plot a.svg wrote PNG data, silently; the title named neither the trace nor the seeds.
  std::vector<std::string> replay = {
      "sim",         "replay",  "--nodes", Path("nodes.csv"), "--pods", Path("pods.csv"), "--policy",
      "fgd,bestfit", "--seeds", "1-3",     "--plot"};
  std::vector<std::string> svg = replay;
  svg.push_back(Path("out.svg"));
  ASSERT_EQ(Run(svg), 0) << output();
  EXPECT_NE(output().find("wrote " + Path("out.svg")), std::string::npos) << output();
  std::string drawn = Read(Path("out.svg"));
  EXPECT_EQ(drawn.rfind("<?xml", 0), 0u) << drawn.substr(0, 100);
  EXPECT_NE(drawn.find("<svg"), std::string::npos);
  EXPECT_NE(drawn.find("pods.csv, seeds 1-3 (3 seeds), policies fgd, bestfit"), std::string::npos);
  std::vector<std::string> png = replay;
  png.push_back(Path("out.png"));
  ASSERT_EQ(Run(png), 0) << output();
  EXPECT_EQ(Read(Path("out.png")).substr(0, 4), "\x89PNG");
  for (const char* wrong : {"out.jpg", "out", "out.png.txt"}) {
    std::vector<std::string> refused = replay;
    refused.push_back(Path(wrong));
    EXPECT_EQ(Run(refused), 2) << output();
    EXPECT_EQ(output(), "vxpu sim replay: --plot " + Path(wrong) +
                            ": want a .png or .svg file (the format follows the extension)\n");
    EXPECT_FALSE(fs::exists(Path(wrong)));
  }
}

TEST_F(SimCli, ReplaysRunTogetherAndGiveWhatEachGivesAlone) {
  // The seeds run on every core: each replay must still be the one it is alone.
  std::vector<std::string> base = {"sim",    "replay",         "--nodes",  Path("nodes.csv"),
                                   "--pods", Path("pods.csv"), "--policy", "fgd,random,bestfit",
                                   "--csv"};
  std::vector<std::string> together = base, alone = base;
  together.insert(together.end(), {Path("together.csv"), "--seeds", "1-6"});
  alone.insert(alone.end(), {Path("alone.csv"), "--seeds", "4"});
  ASSERT_EQ(Run(together), 0) << output();
  ASSERT_EQ(Run(alone), 0) << output();
  std::istringstream all(Read(Path("together.csv")));
  std::string kept;
  for (std::string line; std::getline(all, line);) {
    size_t comma = line.find(',');
    if (line.rfind("policy,", 0) == 0 || line.compare(comma, 3, ",4,") == 0) kept += line + "\n";
  }
  std::string alone_csv = Read(Path("alone.csv"));
  EXPECT_EQ(std::count(alone_csv.begin(), alone_csv.end(), '\n'), 1 + 3 * 131);
  EXPECT_TRUE(kept == alone_csv) << "seed 4 among six differs from seed 4 alone";
}

TEST_F(SimCli, ReplayShowsProgressOnATerminalAndNothingWhenPiped) {
  if (access("/usr/bin/script", X_OK) != 0) GTEST_SKIP() << "needs script(1) for a terminal";
  std::string command = std::string(VXPU_BIN_DIR "/vxpu") + " sim replay --nodes " + Path("nodes.csv") + " --pods " +
                        Path("pods.csv") + " --policy fgd,random --seeds 1-40";
  ASSERT_EQ(Run({"sim", "replay", "--nodes", Path("nodes.csv"), "--pods", Path("pods.csv"), "--policy", "fgd,random",
                 "--seeds", "1-40"}),
            0);
  EXPECT_EQ(output().find("replays"), std::string::npos) << output();
  vxpu::ChildProcess terminal;
  std::string error;
  ASSERT_TRUE(terminal.Start({"/usr/bin/script", "-qec", command, "/dev/null"}, {}, &error, true)) << error;
  ASSERT_EQ(terminal.Wait(), 0) << terminal.output();
  EXPECT_NE(terminal.output().find("/80 replays"), std::string::npos) << terminal.output();
  EXPECT_NE(terminal.output().find("\r"), std::string::npos);
}

TEST_F(SimCli, ReplayWithoutPolicyUsesTheRecommendedOne) {
  ASSERT_EQ(Run({"sim", "replay", "--nodes", Path("nodes.csv"), "--pods", Path("pods.csv"), "--seeds", "5",
                 "--granularity", "10pct"}),
            0)
      << output();
  EXPECT_NE(output().find("vxpu"), std::string::npos);
}

TEST_F(SimCli, ReplayIdleShowsWhereTheUnallocatedGpuSits) {
  ASSERT_EQ(Run({"sim", "replay", "--nodes", Path("nodes.csv"), "--pods", Path("pods.csv"), "--seeds", "1", "--idle"}),
            0)
      << output();
  EXPECT_NE(output().find("GPU idle after the last arrival"), std::string::npos) << output();
  EXPECT_NE(output().find("stranded"), std::string::npos) << output();
}

TEST_F(SimCli, TimedReportsWaits) {
  ASSERT_EQ(Run({"sim", "timed", "--nodes", Path("nodes.csv"), "--pods", Path("pods.csv"), "--policy", "vxpu,random"}),
            0)
      << output();
  EXPECT_NE(output().find("p99 wait"), std::string::npos);
  ASSERT_EQ(Run({"sim", "timed", "--nodes", Path("nodes.csv"), "--pods", Path("pods.csv"), "--speedup", "10"}), 0)
      << output();
  EXPECT_EQ(Run({"sim", "timed", "--nodes", Path("nodes.csv"), "--pods", Path("pods.csv"), "--speedup", "0"}), 2);
  EXPECT_NE(output().find("bad --speedup '0'"), std::string::npos) << output();
}

TEST_F(SimCli, BadInputGivesOneClearLineAndFails) {
  EXPECT_EQ(Run({"sim", "replay", "--nodes", Path("nodes.csv"), "--pods", Path("pods.csv"), "--policy", "best"}), 2);
  EXPECT_NE(output().find("unknown policy 'best'"), std::string::npos) << output();
  EXPECT_EQ(Run({"sim", "replay", "--nodes", Path("nodes.csv"), "--pods", Path("pods.csv"), "--seeds", "9-x"}), 2);
  EXPECT_NE(output().find("bad seed 'x'"), std::string::npos) << output();
  EXPECT_EQ(Run({"sim", "timed", "--nodes", Path("nodes.csv"), "--pods", Path("pods.csv"), "--seed", "4-5"}), 2);
  EXPECT_NE(output().find("bad seed '4-5' in --seed"), std::string::npos) << output();
  EXPECT_EQ(Run({"sim", "replay", "--nodes", Path("nodes.csv"), "--pods", Path("pods.csv"), "--granularity", "5pct"}),
            2);
  EXPECT_NE(output().find("bad --granularity '5pct'"), std::string::npos) << output();
  Write("bad.csv", "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\np0,1000,10,1,500,\np1,1000,10,1,-3,\n");
  EXPECT_EQ(Run({"sim", "replay", "--nodes", Path("nodes.csv"), "--pods", Path("bad.csv")}), 2);
  EXPECT_EQ(output(), "vxpu sim replay: " + Path("bad.csv") + ":3: column gpu_milli: '-3' is negative\n");
  Write("empty.csv", "");
  EXPECT_EQ(Run({"sim", "replay", "--nodes", Path("nodes.csv"), "--pods", Path("empty.csv")}), 2);
  EXPECT_EQ(output(), "vxpu sim replay: " + Path("empty.csv") +
                          ": empty file, expected a header line with columns name,cpu_milli,memory_mib,num_gpu,"
                          "gpu_milli (optional: gpu_spec,creation_time,deletion_time)\n");
}

TEST_F(SimCli, APodListNeedsOnlyTheColumnsTheReplayUses) {
  Write("bare.csv", "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,4000,8192,1,500\np1,8000,8192,2,1000\n");
  ASSERT_EQ(Run({"sim", "replay", "--nodes", Path("nodes.csv"), "--pods", Path("bare.csv"), "--seeds", "1"}), 0)
      << output();
  EXPECT_NE(output().find("GPU allocated"), std::string::npos) << output();
  EXPECT_EQ(Run({"sim", "timed", "--nodes", Path("nodes.csv"), "--pods", Path("bare.csv")}), 2);
  EXPECT_EQ(output(), "vxpu sim timed: " + Path("bare.csv") +
                          ":1: missing column 'creation_time' (the time-based replay needs creation_time and "
                          "deletion_time)\n");
}

TEST_F(SimCli, ANodeListWithoutGpusIsRefused) {
  Write("cpu_nodes.csv", "sn,cpu_milli,memory_mib,gpu,model\nc0,32000,131072,0,\n");
  Write("cpu_pods.csv", "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,1000,1024,0,0\n");
  EXPECT_EQ(Run({"sim", "replay", "--nodes", Path("cpu_nodes.csv"), "--pods", Path("cpu_pods.csv")}), 2);
  EXPECT_EQ(output(), "vxpu sim replay: " + Path("cpu_nodes.csv") + ": no node has a GPU\n");
}

TEST_F(SimCli, UnwritableOutputsAreRefusedBeforeTheSimulation) {
  std::string missing_dir = Path("no-such-dir") + "/out";
  for (const char* flag : {"--csv", "--plot"}) {
    EXPECT_EQ(Run({"sim", "replay", "--nodes", Path("nodes.csv"), "--pods", Path("pods.csv"), "--seeds", "1", flag,
                   missing_dir}),
              2);
    EXPECT_EQ(output(), "vxpu sim replay: cannot write " + std::string(flag) + " '" + missing_dir +
                            "': No such file or directory\n");
  }
  EXPECT_EQ(Run({"sim", "timed", "--nodes", Path("nodes.csv"), "--pods", Path("pods.csv"), "--csv", missing_dir}), 2);
  EXPECT_EQ(output(), "vxpu sim timed: cannot write --csv '" + missing_dir + "': No such file or directory\n");
  // The check leaves nothing behind when the run then stops on bad input.
  Write("bad.csv", "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,1000,10,1,-3\n");
  EXPECT_EQ(Run({"sim", "replay", "--nodes", Path("nodes.csv"), "--pods", Path("bad.csv"), "--csv", Path("out.csv")}),
            2);
  EXPECT_FALSE(fs::exists(Path("out.csv")));
}

TEST_F(SimCli, BothCommandsTakeSeedAndSeeds) {
  for (const char* command : {"replay", "timed"}) {
    ASSERT_EQ(Run({"sim", command, "--help"}), 0) << output();
    EXPECT_NE(output().find("--seeds"), std::string::npos) << output();
    EXPECT_NE(output().find("--seed "), std::string::npos) << output();
    EXPECT_NE(output().find("the same as --seeds N"), std::string::npos) << output();
  }
  ASSERT_EQ(Run({"sim", "replay", "--nodes", Path("nodes.csv"), "--pods", Path("pods.csv"), "--seed", "5", "--csv",
                 Path("seed.csv")}),
            0)
      << output();
  EXPECT_NE(output().find("mean of 1 seed(s)"), std::string::npos) << output();
  ASSERT_EQ(Run({"sim", "replay", "--nodes", Path("nodes.csv"), "--pods", Path("pods.csv"), "--seeds", "5", "--csv",
                 Path("seeds.csv")}),
            0)
      << output();
  EXPECT_EQ(Read(Path("seed.csv")), Read(Path("seeds.csv")));
  EXPECT_NE(Read(Path("seed.csv")).find("\nvxpu,5,130,"), std::string::npos);
  ASSERT_EQ(Run({"sim", "replay", "--nodes", Path("nodes.csv"), "--pods", Path("pods.csv"), "--seeds", "5-6"}), 0)
      << output();
  EXPECT_NE(output().find("mean of 2 seed(s)"), std::string::npos) << output();

  ASSERT_EQ(Run({"sim", "timed", "--nodes", Path("nodes.csv"), "--pods", Path("pods.csv"), "--seed", "7"}), 0)
      << output();
  EXPECT_EQ(TimedRow("vxpu", "7")[0], "vxpu");
  EXPECT_TRUE(FindTimedRow("vxpu", "42").empty()) << output();
  ASSERT_EQ(Run({"sim", "timed", "--nodes", Path("nodes.csv"), "--pods", Path("pods.csv"), "--seeds", "7,9", "--csv",
                 Path("timed.csv")}),
            0)
      << output();
  EXPECT_EQ(TimedRow("vxpu", "7")[0], "vxpu");
  EXPECT_EQ(TimedRow("vxpu", "9")[0], "vxpu");
  std::string csv = Read(Path("timed.csv"));
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "policy,seed,time_s,allocated_pct,queued");
  EXPECT_NE(csv.find("\nvxpu,9,0,"), std::string::npos) << csv;

  for (const char* command : {"replay", "timed"}) {
    EXPECT_EQ(
        Run({"sim", command, "--nodes", Path("nodes.csv"), "--pods", Path("pods.csv"), "--seed", "1", "--seeds", "2"}),
        2);
    EXPECT_EQ(output(), "vxpu sim " + std::string(command) + ": give --seed or --seeds, not both\n");
  }
}

// One node, one GPU: `a` runs 0..100 and `b` 200..300 as recorded, so neither waits. At speedup
// 4 `b` arrives at 50 and, still running 100 s, waits for `a` to leave at 100 and runs to 200.
TEST_F(SimCli, TimedSpeedupDividesTheArrivalsAndKeepsTheDurations) {
  Write("one_gpu.csv", "sn,cpu_milli,memory_mib,gpu,model\nn0,32000,131072,1,T4\n");
  Write("two.csv",
        "name,cpu_milli,memory_mib,num_gpu,gpu_milli,creation_time,deletion_time\n"
        "a,1000,1024,1,1000,0,100\n"
        "b,1000,1024,1,1000,200,300\n");
  ASSERT_EQ(Run({"sim", "timed", "--nodes", Path("one_gpu.csv"), "--pods", Path("two.csv")}), 0) << output();
  // policy seed mean% peak% waited mean_wait p99 max never_started
  EXPECT_EQ(TimedRow("vxpu"), (std::vector<std::string>{"vxpu", "42", "66.67", "100.00", "0", "0", "0", "0", "0"}));
  ASSERT_EQ(Run({"sim", "timed", "--nodes", Path("one_gpu.csv"), "--pods", Path("two.csv"), "--speedup", "4"}), 0)
      << output();
  // Busy the whole span 0..200; waits 0 and 50.
  EXPECT_EQ(TimedRow("vxpu"), (std::vector<std::string>{"vxpu", "42", "100.00", "100.00", "1", "25", "50", "50", "0"}));
}

// A mixed cluster, one GPU node and one NPU node: two pods that ask for the NPU vendor's devices
// take the NPU in turn, the second waiting for the first (100 s) though the GPU is free.
TEST_F(SimCli, TimedHonoursAPodsVendor) {
  Write("mixed.csv",
        "sn,cpu_milli,memory_mib,gpu,model,vendor\ngpu0,32000,131072,1,T4,nvidia\nnpu0,32000,131072,1,910B3,huawei\n");
  Write("npu_pods.csv",
        "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,creation_time,deletion_time\n"
        "a,1000,1024,1,1000,vendor:huawei,0,100\n"
        "b,1000,1024,1,1000,vendor:huawei,0,100\n");
  ASSERT_EQ(Run({"sim", "timed", "--nodes", Path("mixed.csv"), "--pods", Path("npu_pods.csv")}), 0) << output();
  // policy seed mean% peak% waited mean_wait p99 max never_started
  std::vector<std::string> row = TimedRow("vxpu");
  ASSERT_EQ(row.size(), 9u) << output();
  EXPECT_EQ(row[4], "1") << output();    // one pod waited
  EXPECT_EQ(row[7], "100") << output();  // for the whole of the first one's run
  EXPECT_EQ(row[8], "0") << output();
}

// 150 pods start: 146 CPU pods and `g1` at once, then `g2`, `g3` and `g4` each wait for the one
// GPU (90, 180 and 270 s). Sorted, the waits are 147 zeros, 90, 180, 270: the nearest rank of
// p99 is the ceil(0.99 * 150) = 149th, 180 s.
TEST_F(SimCli, TimedP99WaitIsTheNearestRankOverAllPodsThatStarted) {
  Write("one_gpu.csv", "sn,cpu_milli,memory_mib,gpu,model\nn0,32000,131072,1,T4\n");
  std::string pods = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,creation_time,deletion_time\n";
  for (int i = 0; i < 146; ++i) pods += "c" + std::to_string(i) + ",100,1,0,0," + std::to_string(i) + ",1000\n";
  for (int i = 0; i < 4; ++i) {
    pods += "g" + std::to_string(i + 1) + ",1000,1,1,1000," + std::to_string(10 * i) + "," +
            std::to_string(10 * i + 100) + "\n";
  }
  Write("waits.csv", pods);
  ASSERT_EQ(Run({"sim", "timed", "--nodes", Path("one_gpu.csv"), "--pods", Path("waits.csv")}), 0) << output();
  std::vector<std::string> row = TimedRow("vxpu");
  EXPECT_EQ(row[4], "3");    // pods waited
  EXPECT_EQ(row[5], "4");    // mean wait: 540 / 150 = 3.6
  EXPECT_EQ(row[6], "180");  // p99
  EXPECT_EQ(row[7], "270");  // max
  EXPECT_EQ(row[8], "0");
  EXPECT_NE(output().find("over all pods that started (0 for those that did not wait)"), std::string::npos) << output();
  EXPECT_NE(output().find("p99: the nearest rank"), std::string::npos) << output();
}

}  // namespace
