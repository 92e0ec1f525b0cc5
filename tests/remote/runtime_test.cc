// NVIDIA's CUDA runtime (nvcc-built programs, cudart shared and static) on remote vXPUs: a real
// `vxpu remoted --sim` on loopback and `vxpu run --remote`. The client answers the runtime's
// export tables itself (the integrity check hashes the client process's own values), forwards
// cuLibrary*/cuKernel*, and offers module images by digest, which the server keeps.
#include <filesystem>
#include <regex>

#include "../simgpu/sim_env.h"
#include "remote/remote_server.h"

namespace {

using remotetest::RemoteServer;

const std::string kVxpu = VXPU_CLI_PATH;

std::string Program(const std::string& name, const std::string& mode) {
  return VXPU_BIN_DIR "/vxpu-rt-" + name + (mode == "static" ? "-static" : "");
}

// One server for the suite's runs (each is a session of its own), as a GPU node serves many.
class RuntimeRemote : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new RemoteServer;
    std::string error;
    // No --compute: a session gets no guarantee unless it asks, so one that ends a moment after
    // its client (its worker still exiting) keeps nothing from the next.
    if (!server_->Start({"--memory", "2GiB"}, &error)) ADD_FAILURE() << error;
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  // `vxpu run --remote` of `command` with `options`, to completion: exit code and output.
  static std::pair<int, std::string> RunRemote(const std::vector<std::string>& options,
                                               const std::vector<std::string>& command) {
    std::vector<std::string> argv = {
        kVxpu, "run", "--remote", server_->address(), "--token-file", server_->token_path()};
    argv.insert(argv.end(), options.begin(), options.end());
    argv.push_back("--");
    argv.insert(argv.end(), command.begin(), command.end());
    auto child = simtest::StartChild(argv, {});
    int code = child->Wait();
    return {code, child->output()};
  }

  static RemoteServer* server_;
};
RemoteServer* RuntimeRemote::server_ = nullptr;

class EveryProgram : public RuntimeRemote, public ::testing::WithParamInterface<std::string> {};

// What each program prints when its result checked out.
std::string SaysOk(const std::string& name) {
  if (name == "mem_get_info") return "{\"total\":1073741824,";
  if (name == "burn") return "{\"kernels\":";
  return name + " (runtime): OK";
}

TEST_P(EveryProgram, GivesItsResultRemotelyInBothCudartModes) {
  for (std::string mode : {"shared", "static"}) {
    std::vector<std::string> command = {Program(GetParam(), mode)};
    if (GetParam() == "burn") command.insert(command.end(), {"--seconds", "1"});
    auto [code, output] = RunRemote({"--memory", "1GiB"}, command);
    EXPECT_EQ(code, 0) << mode << ": " << output;
    EXPECT_NE(output.find(SaysOk(GetParam())), std::string::npos) << mode << ": " << output;
  }
}

INSTANTIATE_TEST_SUITE_P(Runtime, EveryProgram,
                         ::testing::Values("vector_add", "streams_events", "pinned_async", "malloc_async",
                                           "managed_pitch", "mem_get_info", "per_thread", "graph_capture", "burn"));

TEST_F(RuntimeRemote, AHostCopyCapturedIntoAGraphIsRefusedNamingItself) {
  auto [code, output] = RunRemote({"--memory", "1GiB"}, {Program("graph_capture", "shared"), "--with-copy"});
  EXPECT_NE(code, 0) << output;
  EXPECT_NE(output.find("a copy between host and device was captured into a graph"), std::string::npos) << output;
  EXPECT_NE(output.find("failed: cudaErrorStreamCaptureUnsupported"), std::string::npos) << output;
}

TEST_F(RuntimeRemote, EveryAllocationRouteIsHeldToTheSessionsSlice) {
  for (std::string mode : {"shared", "static"}) {
    for (std::string route : {"malloc", "pitch", "managed", "async", "pool"}) {
      auto [code, output] = RunRemote({"--memory", "100MiB"}, {Program("fill", mode), route, "16", "--until-refused"});
      EXPECT_EQ(code, 0) << mode << " " << route << ": " << output;
      EXPECT_NE(output.find("{\"route\":\"" + route +
                            "\",\"chunks\":6,\"refused\":\"cudaErrorMemoryAllocation\",\"again\":true}"),
                std::string::npos)
          << mode << " " << route << ": " << output;
    }
  }
}

TEST_F(RuntimeRemote, CudaMemGetInfoReportsTheSessionsSlice) {
  auto [code, output] = RunRemote({"--memory", "512MiB"}, {Program("mem_get_info", "static")});
  EXPECT_EQ(code, 0) << output;
  EXPECT_NE(output.find("{\"total\":536870912,"), std::string::npos) << output;
}

TEST_F(RuntimeRemote, ImagesCrossTheLinkOncePerServer) {
  // Images the server keeps outlive sessions: a fresh directory, then two sessions running the
  // same program (shared and static cudart embed the same fatbin).
  std::filesystem::remove_all(server_->image_cache());
  std::filesystem::create_directories(server_->image_cache());
  size_t logged = server_->log().size();
  for (std::string mode : {"shared", "static"}) {
    auto [code, output] = RunRemote({"--memory", "1GiB"}, {Program("vector_add", mode)});
    ASSERT_EQ(code, 0) << mode << ": " << output;
  }
  std::string log = server_->log().substr(logged);
  std::smatch kept, reused;
  ASSERT_TRUE(std::regex_search(log, kept, std::regex("keeps image ([0-9a-f]{12}) \\(([0-9]+) bytes\\)"))) << log;
  ASSERT_TRUE(std::regex_search(log, reused, std::regex("image ([0-9a-f]{12}) \\(([0-9]+) bytes\\) loaded as kept")))
      << log;
  EXPECT_EQ(kept[1], reused[1]) << log;
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(server_->image_cache())) {
    EXPECT_EQ(entry.path().filename().string().substr(0, 12), kept[1].str());
    ++files;
  }
  EXPECT_EQ(files, 1u);
}

TEST_F(RuntimeRemote, AKernelTheServerCannotRunFailsNamingItself) {
  size_t logged = server_->log().size();
  auto [code, output] = RunRemote({"--memory", "1GiB"}, {VXPU_BIN_DIR "/vxpu-rt-unknown_kernel"});
  EXPECT_EQ(code, 0) << "the launch did not fail: " << output;
  EXPECT_NE(output.find("launch: cudaErrorNotSupported"), std::string::npos) << output;
  EXPECT_NE(output.find("the server cannot run kernel not_a_simgpu_builtin"), std::string::npos) << output;
  EXPECT_NE(server_->log().find("kernel not_a_simgpu_builtin is not one simgpu can run", logged), std::string::npos)
      << server_->log();
}

TEST_F(RuntimeRemote, RuntimeTenantsGetTheirComputeShares) {
  RemoteServer server;  // of its own: one that gives compute guarantees
  std::string error;
  ASSERT_TRUE(server.Start({"--memory", "2GiB", "--compute", "70"}, &error)) << error;
  std::vector<std::string> base = {kVxpu, "run", "--remote", server.address(), "--token-file", server.token_path()};
  auto start = [&](const std::string& share) {
    std::vector<std::string> argv = base;
    argv.insert(argv.end(), {"--compute", share, "--", Program("burn", "shared"), "--seconds", "4"});
    return simtest::StartChild(argv, {});
  };
  auto thirty = start("30"), seventy = start("70");
  nlohmann::json a = simtest::ReportOf(*thirty), b = simtest::ReportOf(*seventy);
  double sa = a.value("device_seconds", 0.0), sb = b.value("device_seconds", 0.0);
  ASSERT_GT(sa + sb, 0.0) << a.dump() << " " << b.dump();
  EXPECT_NEAR(100.0 * sa / (sa + sb), 30.0, 5.0) << a.dump() << " " << b.dump();
}

}  // namespace

int main(int argc, char** argv) {
  return simtest::RunAllTestsOn(argc, argv, {simtest::SimDevice{.memory = "16GiB", .context_overhead = "0"}});
}
