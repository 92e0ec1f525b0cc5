// vxpu's image under a real OCI runtime (runc), as a Kubernetes node runs it: vxpud started from
// the image with the DaemonSet's own command and arguments (deploy/kubernetes), its hostPath
// mounts, host pid and network, registered with a test kubelet on the host; workload containers
// made from the device plugin's Allocate answers as containerd makes them (oci_runtime.h), each
// held to its slice whatever its own settings say, two sharing a GPU at 30/70, a killed one's
// memory freed and its slice gone with it. The image is the
// one `deploy/image/build.sh` built (ctest install.Image), unpacked by umoci; simgpu is the GPU,
// its shared state (/dev/shm) bound into every container as a real GPU's device nodes would be.
#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "../simgpu/sim_env.h"
#include "agent_api/agent_client.h"
#include "agent_api/unix_http.h"
#include "common/json_line.h"
#include "oci_runtime.h"
#include "plugin_node.h"
#include "test_kubelet.h"

namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testkubelet::Dirs;
using testkubelet::OciSpec;
using testkubelet::PluginClient;
using testkubelet::RuncContainer;
using testkubelet::TestKubelet;

constexpr uint64_t kGiB = 1ull << 30;
constexpr uint64_t kMiB = 1ull << 20;
const std::string kProbe = VXPU_BIN_DIR "/vxpu-quota-probe";
// Where the manifests' hostPaths are on a node; here each is one of the test's directories.
const std::string kNodeStateDir = "/var/run/vxpu", kNodePluginDir = "/var/lib/kubelet/device-plugins",
                  kNodeLibDir = "/var/lib/vxpu", kNodePodResources = "/var/lib/kubelet/pod-resources";

std::string Gpu(int i) { return simtest::UniqueUuid(i); }
std::string Unit(int gpu, int unit) { return Gpu(gpu) + "-u" + std::to_string(unit); }

bool RunCommand(const std::vector<std::string>& argv, std::string* output) {
  vxpu::ChildProcess child;
  std::string error;
  if (!child.Start(argv, {}, &error, /*with_stderr=*/true)) {
    *output = error;
    return false;
  }
  int code = child.Wait();
  *output = child.output();
  return code == 0;
}

// The vxpud container of deploy/kubernetes/vxpud/daemonset.yaml: its command and arguments,
// with the node's paths replaced by the test's and the ports by free ones.
std::vector<std::string> DaemonSetCommand(const Dirs& dirs) {
  YAML::Node container =
      YAML::LoadFile(VXPU_DEPLOY_DIR "/vxpud/daemonset.yaml")["spec"]["template"]["spec"]["containers"][0];
  std::vector<std::string> argv = container["command"].as<std::vector<std::string>>();
  for (std::string arg : container["args"].as<std::vector<std::string>>()) {
    for (const auto& [node, test] :
         {std::pair{kNodeStateDir, dirs.state()}, {kNodePluginDir, dirs.plugins()}, {kNodeLibDir, dirs.lib()}}) {
      if (size_t at = arg.find(node); at != std::string::npos) arg.replace(at, node.size(), test);
    }
    if (arg.rfind("--metrics-addr=", 0) == 0) arg = "--metrics-addr=127.0.0.1:0";
    if (arg.rfind("--api-addr=", 0) == 0) arg = "--api-addr=127.0.0.1:0";
    if (arg == "--node-name=$(NODE_NAME)") arg = "--node-name=oci-test-node";
    argv.push_back(arg);
  }
  // The simulated GPUs (the image's simgpu), the test kubelet's pod resources socket, a fast poll.
  argv.insert(argv.end(), {"--sim", "--pod-resources-socket", dirs.pod_resources(), "--poll-interval", "0.2"});
  return argv;
}

class OciRuntimeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) return;
    dirs_ = new Dirs();
    std::filesystem::create_directories(dirs_->lib());
    std::string output;
    image_ok_ = RunCommand({"/usr/bin/umoci", "unpack", "--image", VXPU_IMAGE, dirs_->root() + "/image"}, &output);
    if (!image_ok_) image_error_ = output;
    kubelet_ = new TestKubelet(dirs_->plugins(), dirs_->pod_resources());
    if (!kubelet_->Start()) image_error_ += "the test kubelet did not start";
    agent_ = new RuncContainer(dirs_->root() + "/runc", dirs_->root() + "/bundles", rootfs());
    std::string error;
    if (image_ok_ && !agent_->Start("vxpud-" + std::to_string(getpid()), AgentSpec(), &error))
      image_error_ += "runc did not start: " + error;
  }
  static void TearDownTestSuite() {
    delete agent_;
    delete kubelet_;
    delete dirs_;
  }
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "runc needs root";
    ASSERT_TRUE(image_ok_) << "umoci could not unpack " << VXPU_IMAGE << ": " << image_error_;
    ASSERT_TRUE(agent_->running()) << "vxpud's container ended: " << agent_->output() << image_error_;
    ASSERT_TRUE(kubelet_->WaitForRegistrations(1, milliseconds(20000))) << agent_->output() << image_error_;
    plugin_ = std::make_unique<PluginClient>(dirs_->plugins() + "/vxpu-gpu-units.sock");
  }

  static std::string rootfs() { return dirs_->root() + "/image/rootfs"; }

  // The DaemonSet's pod: its command, hostPath volumes at their own paths, privileged, host pid
  // and network.
  static OciSpec AgentSpec() {
    OciSpec spec;
    spec.args = DaemonSetCommand(*dirs_);
    spec.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", SimgpuConfigEnv()};
    spec.host_pid = spec.host_network = spec.privileged = true;
    const std::string pod_resources_dir = dirs_->root() + "/pod-resources";
    spec.mounts = {{dirs_->state(), dirs_->state()},
                   {dirs_->plugins(), dirs_->plugins()},
                   {dirs_->lib(), dirs_->lib()},
                   {pod_resources_dir, pod_resources_dir, /*read_only=*/true}};
    AddSimulatedGpu(&spec);
    return spec;
  }

  static std::string SimgpuConfigEnv() {
    return std::string("VXPU_SIMGPU_CONFIG=") + std::getenv("VXPU_SIMGPU_CONFIG");
  }

  // What a GPU's device nodes and the NVIDIA runtime give a container, for simgpu: its state
  // (POSIX shared memory) and its configuration.
  static void AddSimulatedGpu(OciSpec* spec) {
    spec->mounts.push_back({"/dev/shm", "/dev/shm"});
    const std::string config = std::getenv("VXPU_SIMGPU_CONFIG");
    spec->mounts.push_back({config, config, true});
  }

  // A workload container: `args` in the image, with the Allocate answer for its units. The
  // image's environment finds simgpu's libcuda.so.1 as the NVIDIA runtime would the driver's;
  // the quota probe (a test program) is bound in.
  OciSpec WorkloadSpec(const v1beta1::ContainerAllocateResponse& answer, std::vector<std::string> args) {
    OciSpec spec;
    spec.args = std::move(args);
    spec.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LD_LIBRARY_PATH=/usr/lib/vxpu/simgpu", SimgpuConfigEnv()};
    AddSimulatedGpu(&spec);
    spec.mounts.push_back({kProbe, "/usr/local/bin/quota-probe", true});
    testkubelet::AddAllocateAnswer(answer, &spec);
    return spec;
  }

  std::unique_ptr<RuncContainer> NewContainer() {
    return std::make_unique<RuncContainer>(dirs_->root() + "/runc", dirs_->root() + "/bundles", rootfs());
  }
  std::string NextId() { return "work-" + std::to_string(getpid()) + "-" + std::to_string(++containers_); }

  v1beta1::ContainerAllocateResponse Allocate(const std::vector<std::string>& units) {
    v1beta1::AllocateResponse response;
    grpc::Status status = plugin_->Allocate({units}, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.container_responses_size() == 1 ? response.container_responses(0)
                                                    : v1beta1::ContainerAllocateResponse();
  }

  json AgentGet(const std::string& path) {
    std::string error;
    auto client = vxpu::AgentClient::Connect(dirs_->state() + "/vxpud.sock", &error);
    if (!client) return json();
    return client->Get(path, &error).value_or(json());
  }

  static Dirs* dirs_;
  static TestKubelet* kubelet_;
  static RuncContainer* agent_;
  static bool image_ok_;
  static std::string image_error_;
  std::unique_ptr<PluginClient> plugin_;
  int containers_ = 0;
};

Dirs* OciRuntimeTest::dirs_ = nullptr;
TestKubelet* OciRuntimeTest::kubelet_ = nullptr;
RuncContainer* OciRuntimeTest::agent_ = nullptr;
bool OciRuntimeTest::image_ok_ = false;
std::string OciRuntimeTest::image_error_;

TEST_F(OciRuntimeTest, TheAgentFromTheImageRegistersItsUnitsAndServesItsApi) {
  // The image's simulated node has simgpu's GPUs (the test's config) and simnpu's default NPU:
  // both resources, each from its own plugin socket.
  ASSERT_TRUE(kubelet_->WaitForRegistrations(2, milliseconds(10000))) << agent_->output();
  std::set<std::string> resources;
  for (const auto& r : kubelet_->registrations()) resources.insert(r.resource_name() + " on " + r.endpoint());
  EXPECT_EQ(resources, (std::set<std::string>{"vxpu.io/gpu-units on vxpu-gpu-units.sock",
                                              "vxpu.io/npu-units on vxpu-npu-units.sock"}));
  plugin_->Watch();
  EXPECT_TRUE(plugin_->WaitForList([](const auto& list) { return list.size() == 20; }, milliseconds(10000)))
      << plugin_->latest().size();
  json info = AgentGet("/v1/info");
  EXPECT_EQ(info.value("node", ""), "oci-test-node") << info.dump() << agent_->output();
  // It copied the image's interposer to the host directory the answers mount.
  EXPECT_TRUE(std::filesystem::exists(dirs_->lib() + "/lib/libvxpu.so")) << agent_->output();
}

TEST_F(OciRuntimeTest, AWorkloadContainerIsHeldToItsSliceAndSeesItsSize) {
  auto answer = Allocate({Unit(0, 3), Unit(0, 4)});
  // Two units of the 8 GiB GPU: 1638 MiB less the 512 MiB reserve. The probe allocates 100 MiB
  // blocks until refused, preloaded by the answer's /etc/ld.so.preload alone.
  auto container = NewContainer();
  auto run = testkubelet::RunToEnd(*container, NextId(),
                                   WorkloadSpec(answer, {"/usr/local/bin/quota-probe", "alloc", "100", "20"}));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  json report = vxpu::LastJsonLine(run.output);
  ASSERT_TRUE(report.is_object()) << run.output;
  const uint64_t quota = (8 * kGiB / 10 * 2 - 512 * kMiB) / kMiB * kMiB;
  EXPECT_EQ(report["device_total"], quota) << run.output;
  EXPECT_EQ(report["succeeded"], quota / (100 * kMiB)) << run.output;  // then refused
}

TEST_F(OciRuntimeTest, TheContainersOwnSettingsCannotWidenItsSlice) {
  // A workload that sets VXPU_MEMORY, VXPU_SLICE or VXPU_STATE_DIR itself (in its image, or for a
  // child) got 4 GiB of an 8 GiB GPU out of a 2-unit slice: the registered terms hold instead.
  auto answer = Allocate({Unit(0, 5), Unit(0, 6)});
  const uint64_t quota = (8 * kGiB / 10 * 2 - 512 * kMiB) / kMiB * kMiB;
  for (const std::vector<std::string>& widened : {std::vector<std::string>{"VXPU_MEMORY=4GiB"},
                                                  {"VXPU_MEMORY=4GiB", "VXPU_SLICE=other"},
                                                  {"VXPU_MEMORY=4GiB", "VXPU_STATE_DIR=/tmp"},
                                                  {"VXPU_COMPUTE=", "VXPU_MEMORY="}}) {
    OciSpec spec = WorkloadSpec(answer, {"/usr/local/bin/quota-probe", "alloc", "100", "40"});
    spec.env.insert(spec.env.begin(), widened.begin(), widened.end());  // getenv finds these first
    auto container = NewContainer();
    auto run = testkubelet::RunToEnd(*container, NextId(), spec);
    ASSERT_EQ(run.exit_code, 0) << run.output;
    json report = vxpu::LastJsonLine(run.output);
    ASSERT_TRUE(report.is_object()) << run.output;
    EXPECT_EQ(report["device_total"], quota) << ::testing::PrintToString(widened) << run.output;
    EXPECT_EQ(report["succeeded"], quota / (100 * kMiB)) << ::testing::PrintToString(widened) << run.output;
  }
}

TEST_F(OciRuntimeTest, TwoContainersShareAGpuAtThirtySeventy) {
  auto thirty = Allocate({Unit(1, 0), Unit(1, 1), Unit(1, 2)});
  std::vector<std::string> seven;
  for (int u = 3; u < 10; ++u) seven.push_back(Unit(1, u));
  auto seventy = Allocate(seven);
  auto a = NewContainer(), b = NewContainer();
  std::string error;
  const std::vector<std::string> burn = {"/usr/lib/vxpu/vxpu-burn", "--seconds", "4"};
  ASSERT_TRUE(a->Start(NextId(), WorkloadSpec(thirty, burn), &error)) << error;
  ASSERT_TRUE(b->Start(NextId(), WorkloadSpec(seventy, burn), &error)) << error;
  ASSERT_EQ(a->Wait(), 0) << a->output();
  ASSERT_EQ(b->Wait(), 0) << b->output();
  double sa = vxpu::LastJsonLine(a->output()).value("device_seconds", 0.0);
  double sb = vxpu::LastJsonLine(b->output()).value("device_seconds", 0.0);
  ASSERT_GT(sa + sb, 0.0) << a->output() << b->output();
  EXPECT_NEAR(100.0 * sa / (sa + sb), 30.0, 5.0) << a->output() << b->output();
}

TEST_F(OciRuntimeTest, KillingAContainerFreesItsSlice) {
  auto answer = Allocate({Unit(0, 9)});
  const std::string name = "k8s-" + Gpu(0) + "-u9";
  auto used = [&]() -> uint64_t {
    for (const json& s : AgentGet("/v1/slices")) {
      if (s["name"] != name) continue;
      uint64_t sum = 0;
      for (const json& u : s["usage"]) sum += u.value("memory_used_bytes", uint64_t{0});
      return sum;
    }
    return 0;
  };
  kubelet_->SetHeld({{"default", "hold", "probe", "vxpu.io/gpu-units", {Unit(0, 9)}}});
  auto container = NewContainer();
  std::string error;
  ASSERT_TRUE(container->Start(
      NextId(), WorkloadSpec(answer, {"/usr/local/bin/quota-probe", "alloc", "100", "3", "--hold", "60"}), &error))
      << error;
  ASSERT_TRUE(simtest::PollFor(seconds(10), [&] { return used() == 300 * kMiB; })) << used() << container->output();
  ASSERT_TRUE(container->Signal("KILL"));
  EXPECT_EQ(container->Wait(), 128 + SIGKILL) << container->output();
  // The device and the slice's ledger both let the memory go within a second.
  EXPECT_TRUE(simtest::PollFor(seconds(1), [&] { return used() == 0; })) << used();
  // Kubelet no longer lists the container: the slice goes after the grace period.
  kubelet_->SetHeld({});
  EXPECT_TRUE(simtest::PollFor(seconds(15), [&] {
    for (const json& s : AgentGet("/v1/slices"))
      if (s["name"] == name) return false;
    return true;
  }));
}

}  // namespace

int main(int argc, char** argv) {
  // Two 8 GiB GPUs, as the device plugin tests use.
  return simtest::RunAllTestsOn(argc, argv,
                                {simtest::SimDevice{.memory = "8GiB", .context_overhead = "0"},
                                 simtest::SimDevice{.memory = "8GiB", .context_overhead = "0"}});
}
