// `vxpu sim` end to end, on a tiny trace written to a temporary directory.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

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
  EXPECT_NE(Run({"sim", "timed", "--nodes", Path("nodes.csv"), "--pods", Path("pods.csv"), "--speedup", "0"}), 0);
  EXPECT_NE(output().find("bad --speedup '0'"), std::string::npos) << output();
}

TEST_F(SimCli, BadInputGivesOneClearLineAndFails) {
  EXPECT_NE(Run({"sim", "replay", "--nodes", Path("nodes.csv"), "--pods", Path("pods.csv"), "--policy", "best"}), 0);
  EXPECT_NE(output().find("unknown policy 'best'"), std::string::npos) << output();
  EXPECT_NE(Run({"sim", "replay", "--nodes", Path("nodes.csv"), "--pods", Path("pods.csv"), "--seeds", "9-x"}), 0);
  EXPECT_NE(output().find("bad seed 'x'"), std::string::npos) << output();
  EXPECT_NE(Run({"sim", "replay", "--nodes", Path("nodes.csv"), "--pods", Path("pods.csv"), "--granularity", "5pct"}),
            0);
  EXPECT_NE(output().find("bad --granularity '5pct'"), std::string::npos) << output();
  Write("bad.csv", "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\np0,1000,10,1,500,\np1,1000,10,1,-3,\n");
  EXPECT_NE(Run({"sim", "replay", "--nodes", Path("nodes.csv"), "--pods", Path("bad.csv")}), 0);
  EXPECT_NE(output().find("bad.csv:3: negative gpu_milli '-3'"), std::string::npos) << output();
}

}  // namespace
