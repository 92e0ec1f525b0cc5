// The device plugin inside vxpud against a test kubelet (test_kubelet.h): registration,
// ListAndWatch, GetPreferredAllocation, Allocate for several containers at once, kubelet and
// vxpud restarts, a device vanishing. The real vxpud runs on this test binary's simulated GPUs.
// Containers made from the Allocate answers run under runc in oci_runtime_test.cc.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "../simgpu/sim_env.h"
#include "agent_api/agent_client.h"
#include "agent_api/unix_http.h"
#include "plugin_node.h"
#include "test_kubelet.h"

namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testkubelet::Dirs;
using testkubelet::PluginClient;
using testkubelet::TestKubelet;
using Agent = testkubelet::PluginAgent;

constexpr uint64_t kGiB = 1ull << 30;
constexpr uint64_t kMiB = 1ull << 20;

std::string Gpu(int i) { return simtest::UniqueUuid(i); }
std::string Unit(int gpu, int unit) { return Gpu(gpu) + "-u" + std::to_string(unit); }

class DevicePluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(kubelet_.Start());
    ASSERT_TRUE(agent_.Start()) << agent_.log();
    ASSERT_TRUE(kubelet_.WaitForRegistrations(1, milliseconds(10000))) << agent_.log();
    plugin_ = std::make_unique<PluginClient>(dirs_.plugins() + "/vxpu-gpu-units.sock");
  }
  void TearDown() override {
    plugin_.reset();
    EXPECT_EQ(agent_.Stop(), 0) << agent_.log();
  }

  static std::map<std::string, std::string> Env(const v1beta1::ContainerAllocateResponse& r) {
    return {r.envs().begin(), r.envs().end()};
  }

  Dirs dirs_;
  TestKubelet kubelet_{dirs_.plugins(), dirs_.pod_resources()};
  Agent agent_{dirs_};
  std::unique_ptr<PluginClient> plugin_;
};

TEST_F(DevicePluginTest, RegistersItsResourceWithKubelet) {
  auto r = kubelet_.registrations().at(0);
  EXPECT_EQ(r.version(), "v1beta1");
  EXPECT_EQ(r.resource_name(), "vxpu.io/gpu-units");
  EXPECT_EQ(r.endpoint(), "vxpu-gpu-units.sock");
  EXPECT_TRUE(r.options().get_preferred_allocation_available());
  EXPECT_TRUE(kubelet_.refusals().empty());
  v1beta1::DevicePluginOptions options;
  ASSERT_TRUE(plugin_->Options(&options).ok());
  EXPECT_TRUE(options.get_preferred_allocation_available());
  EXPECT_FALSE(options.pre_start_required());
}

TEST_F(DevicePluginTest, ListsTenHealthyUnitsPerGpu) {
  plugin_->Watch();
  ASSERT_TRUE(plugin_->WaitForList([](const auto& list) { return !list.empty(); }, seconds(5)));
  std::map<std::string, std::string> expected;
  for (int gpu = 0; gpu < 2; ++gpu) {
    for (int u = 0; u < 10; ++u) expected[Unit(gpu, u)] = "Healthy";
  }
  EXPECT_EQ(plugin_->latest(), expected);
}

TEST_F(DevicePluginTest, PrefersUnitsOfOneGpuTheFullestThatFits) {
  std::vector<std::string> available;
  for (int u = 0; u < 10; ++u) available.push_back(Unit(0, u));
  for (int u : {7, 8, 9}) available.push_back(Unit(1, u));  // GPU 1 has only 3 units left
  std::vector<std::string> chosen;
  ASSERT_TRUE(plugin_->Preferred(available, {}, 3, &chosen).ok());
  EXPECT_EQ(chosen, (std::vector<std::string>{Unit(1, 7), Unit(1, 8), Unit(1, 9)}));
  ASSERT_TRUE(plugin_->Preferred(available, {}, 4, &chosen).ok());
  EXPECT_EQ(chosen, (std::vector<std::string>{Unit(0, 0), Unit(0, 1), Unit(0, 2), Unit(0, 3)}));
  ASSERT_TRUE(plugin_->Preferred(available, {Unit(1, 8)}, 2, &chosen).ok());
  EXPECT_EQ(chosen, (std::vector<std::string>{Unit(1, 8), Unit(1, 7)}));
  ASSERT_TRUE(plugin_->Preferred(available, {}, 10, &chosen).ok());  // a whole GPU: only GPU 0 is
  EXPECT_EQ(chosen.size(), 10u);
  for (const std::string& id : chosen) EXPECT_EQ(id.rfind(Gpu(0), 0), 0u) << id;
}

TEST_F(DevicePluginTest, AllocatesEachContainerTheSliceItsUnitsMake) {
  v1beta1::AllocateResponse response;
  std::vector<std::string> whole;
  for (int u = 0; u < 10; ++u) whole.push_back(Unit(1, u));
  grpc::Status status = plugin_->Allocate({{Unit(0, 0), Unit(0, 1), Unit(0, 2)}, {Unit(0, 5)}, whole}, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.container_responses_size(), 3);
  // GPU 0 has 8 GiB (main): a unit is 819.2 MiB; 3 units less the 512 MiB context reserve.
  auto a = Env(response.container_responses(0));
  EXPECT_EQ(a["VXPU_SLICE"], "k8s-" + Gpu(0) + "-u012");
  EXPECT_EQ(a["VXPU_MEMORY"], std::to_string((8 * kGiB / 10 * 3 - 512 * kMiB) / kMiB) + "MiB");
  EXPECT_EQ(a["VXPU_COMPUTE"], "30%");
  EXPECT_EQ(a["VXPU_COMPUTE_LIMIT"], "30%");
  EXPECT_EQ(a["CUDA_VISIBLE_DEVICES"], Gpu(0));
  EXPECT_EQ(a["NVIDIA_VISIBLE_DEVICES"], Gpu(0));
  EXPECT_EQ(a["VXPU_STATE_DIR"], dirs_.state());
  auto b = Env(response.container_responses(1));
  EXPECT_EQ(b["VXPU_SLICE"], "k8s-" + Gpu(0) + "-u5");
  EXPECT_EQ(b["VXPU_COMPUTE"], "10%");
  auto c = Env(response.container_responses(2));
  EXPECT_EQ(c["VXPU_SLICE"], "k8s-" + Gpu(1) + "-w1");
  EXPECT_EQ(c["VXPU_COMPUTE"], "100%");
  EXPECT_EQ(c["VXPU_MEMORY"], std::to_string((4 * kGiB - 512 * kMiB) / kMiB) + "MiB");
  // The mounts: libvxpu.so, the preload naming it, the state directory.
  std::set<std::string> mounts;
  for (const auto& m : response.container_responses(0).mounts())
    mounts.insert(m.container_path() + "<-" + m.host_path() + (m.read_only() ? ":ro" : ":rw"));
  EXPECT_TRUE(mounts.count("/etc/ld.so.preload<-" + dirs_.lib() + "/ld.so.preload:ro"))
      << ::testing::PrintToString(mounts);
  EXPECT_TRUE(mounts.count(dirs_.lib() + "/lib/libvxpu.so<-" + dirs_.lib() + "/lib/libvxpu.so:ro"));
  EXPECT_TRUE(mounts.count(dirs_.state() + "<-" + dirs_.state() + ":rw"));
  std::ifstream preload(dirs_.lib() + "/ld.so.preload");
  std::string line;
  std::getline(preload, line);
  EXPECT_EQ(line, dirs_.lib() + "/lib/libvxpu.so");
  // The agent registered the three slices and counts their units held.
  json devices = agent_.Get("/v1/devices");
  ASSERT_EQ(devices.size(), 2u);
  EXPECT_EQ(devices[0]["units_held"], 4);
  EXPECT_EQ(devices[0]["units_free"], 6);
  EXPECT_EQ(devices[1]["units_held"], 10);
  EXPECT_EQ(devices[1]["units_free"], 0);
  int kubelet_owned = 0;
  for (const json& s : agent_.Get("/v1/slices")) kubelet_owned += s["owner"] == json{{"kubelet", true}};
  EXPECT_EQ(kubelet_owned, 3);
}

TEST_F(DevicePluginTest, ContainersAdmittedAtTheSameMomentEachGetTheirOwnUnits) {
  // Ten one-unit containers, each its own Allocate call, all at once.
  std::vector<std::thread> pods;
  std::vector<v1beta1::AllocateResponse> responses(10);
  std::vector<grpc::Status> statuses(10);
  for (int i = 0; i < 10; ++i) {
    pods.emplace_back([&, i] { statuses[i] = plugin_->Allocate({{Unit(0, i)}}, &responses[i]); });
  }
  for (auto& t : pods) t.join();
  std::set<std::string> slices;
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(statuses[i].ok()) << i << ": " << statuses[i].error_message();
    auto env = Env(responses[i].container_responses(0));
    EXPECT_EQ(env["VXPU_SLICE"], "k8s-" + Gpu(0) + "-u" + std::to_string(i));
    EXPECT_EQ(env["VXPU_COMPUTE"], "10%");
    slices.insert(env["VXPU_SLICE"]);
  }
  EXPECT_EQ(slices.size(), 10u);
  EXPECT_EQ(agent_.Get("/v1/devices")[0]["units_free"], 0);
}

TEST_F(DevicePluginTest, RefusesUnitsThatMakeNoSlice) {
  v1beta1::AllocateResponse response;
  grpc::Status spread = plugin_->Allocate({{Unit(0, 4), Unit(1, 0)}}, &response);
  EXPECT_EQ(spread.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(spread.error_message().find("neither 1-9 units of one GPU nor all units of whole GPUs"), std::string::npos)
      << spread.error_message();
  grpc::Status bad = plugin_->Allocate({{"GPU-nonsense"}}, &response);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(bad.error_message().find("bad device ID \"GPU-nonsense\""), std::string::npos) << bad.error_message();
  grpc::Status unknown = plugin_->Allocate({{"GPU-00000000-0000-0000-0000-000000000000-u1"}}, &response);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  grpc::Status twice = plugin_->Allocate({{Unit(0, 1), Unit(0, 1)}}, &response);
  EXPECT_EQ(twice.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  std::vector<std::string> flood(2000, Unit(0, 1));
  grpc::Status many = plugin_->Allocate({flood}, &response);
  EXPECT_EQ(many.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(many.error_message(), "more than 1024 device IDs in one request");
  std::vector<std::string> chosen;
  grpc::Status preferred = plugin_->Preferred(flood, {}, 1, &chosen);
  EXPECT_EQ(preferred.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(plugin_->Preferred({Unit(0, 1)}, {}, -1, &chosen).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(agent_.Get("/v1/slices").empty());
}

TEST_F(DevicePluginTest, UnitsHandedOutAgainReplaceTheSliceOfTheirEarlierContainer) {
  v1beta1::AllocateResponse response;
  ASSERT_TRUE(plugin_->Allocate({{Unit(0, 0), Unit(0, 1)}}, &response).ok());
  // That container ended; kubelet gives unit 1 (with 2) to the next one.
  ASSERT_TRUE(plugin_->Allocate({{Unit(0, 1), Unit(0, 2)}}, &response).ok());
  json slices = agent_.Get("/v1/slices");
  ASSERT_EQ(slices.size(), 1u);
  EXPECT_EQ(slices[0]["name"], "k8s-" + Gpu(0) + "-u12");
  EXPECT_NE(agent_.log().find("slice k8s-" + Gpu(0) + "-u01 dropped: kubelet allocated its units to another container"),
            std::string::npos);
}

TEST_F(DevicePluginTest, PodResourcesNameTheSliceAndItGoesWithItsContainer) {
  v1beta1::AllocateResponse response;
  ASSERT_TRUE(plugin_->Allocate({{Unit(0, 2), Unit(0, 6)}}, &response).ok());
  const std::string name = "k8s-" + Gpu(0) + "-u26";
  kubelet_.SetHeld({{"default", "train-a", "train", "vxpu.io/gpu-units", {Unit(0, 6), Unit(0, 2)}},
                    {"default", "other", "x", "example.com/other", {"dev0"}}});
  json owner = {{"kubelet", true}, {"namespace", "default"}, {"pod", "train-a"}, {"container", "train"}};
  auto owner_of = [&] {
    for (const json& s : agent_.Get("/v1/slices")) {
      if (s["name"] == name) return s["owner"];
    }
    return json();
  };
  EXPECT_TRUE(simtest::PollFor(seconds(5), [&] { return owner_of() == owner; })) << owner_of() << agent_.log();
  // The container ended: kubelet no longer lists it, and the slice goes after the grace period.
  kubelet_.SetHeld({});
  EXPECT_TRUE(simtest::PollFor(seconds(15), [&] { return agent_.Get("/v1/slices").empty(); })) << agent_.log();
  EXPECT_EQ(agent_.Get("/v1/devices")[0]["units_held"], 0);
  EXPECT_NE(agent_.log().find("slice " + name + " removed: kubelet lists no container holding its units"),
            std::string::npos);
}

TEST_F(DevicePluginTest, ReRegistersWhenKubeletRestarts) {
  ASSERT_TRUE(kubelet_.Restart());
  auto restarted = std::chrono::steady_clock::now();
  ASSERT_TRUE(kubelet_.WaitForRegistrations(2, milliseconds(5000))) << agent_.log();
  auto took = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - restarted);
  RecordProperty("reregistered_ms", static_cast<int>(took.count()));
  // The plugin socket kubelet deleted is served again.
  PluginClient again(dirs_.plugins() + "/vxpu-gpu-units.sock");
  v1beta1::DevicePluginOptions options;
  EXPECT_TRUE(simtest::PollFor(seconds(5), [&] { return again.Options(&options).ok(); }));
  EXPECT_EQ(kubelet_.registrations().size(), 2u);
}

TEST_F(DevicePluginTest, ReRegistersWhenOnlyKubeletSockIsMadeAnew) {
  ASSERT_TRUE(kubelet_.Restart(/*delete_plugin_sockets=*/false));
  EXPECT_TRUE(kubelet_.WaitForRegistrations(2, milliseconds(5000))) << agent_.log();
}

TEST_F(DevicePluginTest, ReRegistersWhenVxpudRestartsAndKeepsItsSlices) {
  v1beta1::AllocateResponse response;
  ASSERT_TRUE(plugin_->Allocate({{Unit(0, 7)}}, &response).ok());
  plugin_.reset();
  ASSERT_EQ(agent_.Stop(), 0);
  ASSERT_TRUE(agent_.Start()) << agent_.log();
  ASSERT_TRUE(kubelet_.WaitForRegistrations(2, milliseconds(10000))) << agent_.log();
  plugin_ = std::make_unique<PluginClient>(dirs_.plugins() + "/vxpu-gpu-units.sock");
  EXPECT_EQ(agent_.Get("/v1/devices")[0]["units_held"], 1);
}

TEST_F(DevicePluginTest, LocalSlicesTakeUnitsFromKubelet) {
  plugin_->Watch();
  ASSERT_TRUE(plugin_->WaitForList([](const auto& list) { return !list.empty(); }, seconds(5)));
  // A local slice (as `vxpu run` registers) of 25% compute takes three units of GPU 0.
  std::string request = R"({"name":"local","devices":[")" + Gpu(0) +
                        R"("],"compute":{"guarantee_percent":25},"owner":{"pid":)" + std::to_string(getpid()) + "}}";
  vxpu::UnixHttpClient http(dirs_.state() + "/vxpud.sock");
  auto posted = http.Post("/v1/slices", request, "application/json");
  ASSERT_TRUE(posted);
  ASSERT_EQ(posted->status, 201) << posted->body;
  auto three_taken = [&](const std::map<std::string, std::string>& list) {
    int unhealthy = 0;
    for (const auto& [id, health] : list) unhealthy += health == "Unhealthy";
    return unhealthy == 3 && list.at(Unit(0, 9)) == "Unhealthy" && list.at(Unit(0, 7)) == "Unhealthy" &&
           list.at(Unit(0, 6)) == "Healthy";
  };
  EXPECT_TRUE(plugin_->WaitForList(three_taken, seconds(5))) << ::testing::PrintToString(plugin_->latest());
}

TEST_F(DevicePluginTest, TheReadOnlyTcpApiServesDevicesAndRefusesWrites) {
  int port = agent_.TcpPort();
  ASSERT_GT(port, 0) << agent_.log();
  httplib::Client http("127.0.0.1", port);
  auto devices = http.Get("/v1/devices");
  ASSERT_TRUE(devices);
  EXPECT_EQ(devices->status, 200);
  json list = json::parse(devices->body, nullptr, false);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0]["units_total"], 10);
  EXPECT_EQ(list[0]["units_free"], 10);
  auto info = http.Get("/v1/info");
  ASSERT_TRUE(info);
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  EXPECT_EQ(json::parse(info->body, nullptr, false)["node"], host);  // --node-name's default
  auto write = http.Post("/v1/slices", R"({"name":"x"})", "application/json");
  ASSERT_TRUE(write);
  EXPECT_EQ(write->status, 405);
  EXPECT_TRUE(agent_.Get("/v1/slices").empty());
}

TEST(DevicePlugin, ReportsTheUnitsOfAVanishedGpuUnhealthy) {
  Dirs dirs;
  const std::string config = dirs.root() + "/devices.json";
  auto write = [&](int count) {
    std::ofstream out(config);
    out << "{\"devices\":[";
    for (int i = 0; i < count; ++i) out << (i ? "," : "") << "{\"uuid\":\"" << Gpu(20 + i) << "\",\"memory\":\"4GiB\"}";
    out << "]}";
  };
  write(2);
  TestKubelet kubelet(dirs.plugins(), dirs.pod_resources());
  ASSERT_TRUE(kubelet.Start());
  Agent agent(dirs, {"VXPU_SIMGPU_CONFIG=" + config});
  ASSERT_TRUE(agent.Start()) << agent.log();
  ASSERT_TRUE(kubelet.WaitForRegistrations(1, milliseconds(10000))) << agent.log();
  {
    PluginClient plugin(dirs.plugins() + "/vxpu-gpu-units.sock");
    plugin.Watch();
    std::string gone = Gpu(21) + "-u0", stays = Gpu(20) + "-u0";
    ASSERT_TRUE(
        plugin.WaitForList([&](const auto& l) { return l.count(gone) && l.at(gone) == "Healthy"; }, seconds(5)));
    write(1);
    EXPECT_TRUE(plugin.WaitForList(
        [&](const auto& l) { return l.count(gone) && l.at(gone) == "Unhealthy" && l.at(stays) == "Healthy"; },
        seconds(5)))
        << ::testing::PrintToString(plugin.latest());
    write(2);
    EXPECT_TRUE(plugin.WaitForList([&](const auto& l) { return l.at(gone) == "Healthy"; }, seconds(5)));
  }
  EXPECT_EQ(agent.Stop(), 0);
}

}  // namespace

// A node with an NPU beside its GPUs: vxpud serves vxpu.io/npu-units from a second plugin, with
// device IDs of its own; an NPU container's answer names the chip for Ascend's runtime, not CUDA's.
class NpuPluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(npu_config_) << R"({"devices": [{"memory": "16GiB"}]})";
    ASSERT_TRUE(kubelet_.Start());
    ASSERT_TRUE(agent_.Start()) << agent_.log();
    ASSERT_TRUE(kubelet_.WaitForRegistrations(2, milliseconds(10000))) << agent_.log();
  }
  void TearDown() override {
    EXPECT_EQ(agent_.Stop(), 0) << agent_.log();
    std::remove(npu_config_.c_str());
  }

  Dirs dirs_;
  std::string npu_config_ = dirs_.state() + "-npus.json";
  TestKubelet kubelet_{dirs_.plugins(), dirs_.pod_resources()};
  Agent agent_{dirs_, {"VXPU_SIMNPU_CONFIG=" + npu_config_}};
};

TEST_F(NpuPluginTest, ServesNpuUnitsApartFromGpuUnits) {
  std::set<std::string> resources;
  for (const auto& r : kubelet_.registrations()) resources.insert(r.resource_name() + " on " + r.endpoint());
  EXPECT_EQ(resources, (std::set<std::string>{"vxpu.io/gpu-units on vxpu-gpu-units.sock",
                                              "vxpu.io/npu-units on vxpu-npu-units.sock"}));
  PluginClient npus(dirs_.plugins() + "/vxpu-npu-units.sock");
  PluginClient gpus(dirs_.plugins() + "/vxpu-gpu-units.sock");
  json devices = agent_.Get("/v1/devices");
  ASSERT_EQ(devices.size(), 3u) << devices.dump();
  const std::string npu = devices[2]["uuid"];
  ASSERT_EQ(devices[2]["kind"], "npu");
  npus.Watch();
  ASSERT_TRUE(npus.WaitForList([](const auto& list) { return !list.empty(); }, seconds(5)));
  std::map<std::string, std::string> expected;
  for (int u = 0; u < 10; ++u) expected[npu + "-u" + std::to_string(u)] = "Healthy";
  EXPECT_EQ(npus.latest(), expected);  // its units only
  // The GPU resource's IDs name no NPU, and the NPU resource's no GPU.
  v1beta1::AllocateResponse response;
  EXPECT_EQ(gpus.Allocate({{npu + "-u0"}}, &response).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(npus.Allocate({{Unit(0, 0)}}, &response).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  ASSERT_TRUE(npus.Allocate({{npu + "-u0", npu + "-u1", npu + "-u2"}}, &response).ok()) << agent_.log();
  ASSERT_EQ(response.container_responses_size(), 1);
  std::map<std::string, std::string> env(response.container_responses(0).envs().begin(),
                                         response.container_responses(0).envs().end());
  EXPECT_EQ(env["ASCEND_VISIBLE_DEVICES"], "0");
  EXPECT_EQ(env.count("CUDA_VISIBLE_DEVICES"), 0u);
  EXPECT_EQ(env.count("ASCEND_RT_VISIBLE_DEVICES"), 0u);  // a physical id there fails with 107001
  EXPECT_EQ(env["VXPU_COMPUTE"], "30%");
  json after = agent_.Get("/v1/devices");
  EXPECT_EQ(after[2]["units_held"], 3) << after.dump();
  EXPECT_EQ(after[0]["units_held"], 0) << after.dump();
}

int main(int argc, char** argv) {
  return simtest::RunAllTestsOn(argc, argv,
                                {simtest::SimDevice{.memory = "8GiB", .context_overhead = "0"},
                                 simtest::SimDevice{.memory = "4GiB", .context_overhead = "0"}});
}
