// The Kubernetes path end to end, without a cluster: two nodes, each a real vxpud with its
// device plugin and a test kubelet, and the real vxpu-scheduler reading both agents. kube-scheduler
// is played by the test (real-format filter/prioritize requests, binding to the top node) and each
// node's kubelet by its test kubelet (GetPreferredAllocation, then Allocate).
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "../simgpu/sim_env.h"
#include "plugin_node.h"
#include "test_kubelet.h"

namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

// A node: its own simulated GPUs (8 GiB each), vxpud with the device plugin, a test kubelet.
class Node {
 public:
  Node(std::string name, int gpus) : name_(std::move(name)), kubelet_(dirs_.plugins(), dirs_.pod_resources()) {
    std::ofstream config(dirs_.root() + "/gpus.json");
    config << "{\"devices\":[";
    for (int g = 0; g < gpus; ++g) {
      char uuid[64];
      std::snprintf(uuid, sizeof(uuid), "GPU-c1a57e40-%04x-4000-8000-%06x%06x", g, getpid() & 0xffffff,
                    static_cast<unsigned>(std::hash<std::string>{}(name_)) & 0xffffff);
      uuids_.push_back(uuid);
      config << (g ? "," : "") << "{\"uuid\":\"" << uuid << "\",\"memory\":\"8GiB\",\"context_overhead\":\"0\"}";
    }
    config << "]}";
    agent_ = std::make_unique<testkubelet::PluginAgent>(
        dirs_, std::vector<std::string>{"VXPU_SIMGPU_CONFIG=" + dirs_.root() + "/gpus.json"});
  }

  bool Start() {
    if (!kubelet_.Start() || !agent_->Start() || !kubelet_.WaitForRegistrations(1, milliseconds(10000))) return false;
    plugin_ = std::make_unique<testkubelet::PluginClient>(dirs_.plugins() + "/vxpu-gpu-units.sock");
    plugin_->Watch();
    return plugin_->WaitForList([](const auto& list) { return !list.empty(); }, seconds(5));
  }
  int Stop() {
    plugin_.reset();
    return agent_->Stop();
  }

  // As kubelet admitting a container of `units` units: the free healthy IDs, the plugin's
  // preferred allocation of them, then Allocate; the slice name, or "" if refused.
  // With `gpu`, only that GPU's units are offered (to lay units out as a test needs).
  std::string Admit(int units, int gpu = -1) {
    std::vector<std::string> available;
    for (const auto& [id, health] : plugin_->latest()) {
      bool offered = gpu < 0 || id.rfind(uuids_[static_cast<size_t>(gpu)], 0) == 0;
      if (health == "Healthy" && !allocated_.count(id) && offered) available.push_back(id);
    }
    std::vector<std::string> chosen;
    if (!plugin_->Preferred(available, {}, units, &chosen).ok() || chosen.size() != static_cast<size_t>(units))
      return "";
    v1beta1::AllocateResponse response;
    if (!plugin_->Allocate({chosen}, &response).ok()) return "";
    allocated_.insert(chosen.begin(), chosen.end());
    // kubelet records the container's devices; its pod resources list them from then on.
    held_.push_back({"ml", "pod-" + std::to_string(held_.size()), "main", "vxpu.io/gpu-units", chosen});
    kubelet_.SetHeld(held_);
    return response.container_responses(0).envs().at("VXPU_SLICE");
  }
  // kubelet's count of free units: what kube-scheduler alone would go by.
  int CountFree() {
    int healthy = 0;
    for (const auto& [id, health] : plugin_->latest()) healthy += health == "Healthy";
    return healthy - static_cast<int>(allocated_.size());
  }

  const std::string& name() const { return name_; }
  const std::vector<std::string>& uuids() const { return uuids_; }
  int port() { return agent_->TcpPort(); }
  std::string Devices() {
    httplib::Client c("127.0.0.1", port());
    auto r = c.Get("/v1/devices");
    return r ? r->body : "no answer on port " + std::to_string(port());
  }
  std::string log() { return agent_->log(); }

 private:
  std::string name_;
  testkubelet::Dirs dirs_;
  testkubelet::TestKubelet kubelet_;
  std::unique_ptr<testkubelet::PluginAgent> agent_;
  std::unique_ptr<testkubelet::PluginClient> plugin_;
  std::vector<std::string> uuids_;
  std::set<std::string> allocated_;
  std::vector<testkubelet::HeldDevices> held_;
};

// The real vxpu-scheduler on the nodes' agents (an agents file), and a client of it.
class Scheduler {
 public:
  Scheduler(const std::string& agents_file) {
    child_ = simtest::StartChild(
        {VXPU_BIN_DIR "/vxpu-scheduler", "--listen", "127.0.0.1:0", "--poll-interval", "0.1", "--agents", agents_file},
        {});
    simtest::PollFor(seconds(10), [&] {
      child_->Poll();
      std::smatch m;
      if (std::regex_search(child_->output(), m, std::regex("listening on 127\\.0\\.0\\.1:([0-9]+)")))
        port_ = std::stoi(m[1]);
      return port_ != 0 || !child_->running();
    });
  }
  bool up() const { return port_ != 0; }
  int Stop() {
    kill(child_->pid(), SIGTERM);
    return child_->Wait();
  }
  std::string log() {
    child_->Poll();
    return child_->output();
  }
  json Post(const std::string& verb, const json& body) {
    httplib::Client client("127.0.0.1", port_);
    auto r = client.Post(("/" + verb).c_str(), body.dump(), "application/json");
    return r && r->status == 200 ? json::parse(r->body, nullptr, false) : json();
  }

 private:
  std::unique_ptr<vxpu::ChildProcess> child_;
  int port_ = 0;
};

// ExtenderArgs of a nodeCacheCapable kube-scheduler for a one-container pod asking `units`.
json Args(const std::string& pod, int units, const std::vector<std::string>& nodes) {
  json limits = {{"vxpu.io/gpu-units", std::to_string(units)}};
  json container = {
      {"name", "main"}, {"image", "pytorch/pytorch"}, {"resources", {{"limits", limits}, {"requests", limits}}}};
  return {{"Pod",
           {{"metadata", {{"name", pod}, {"namespace", "ml"}, {"uid", "uid-" + pod}}},
            {"spec", {{"containers", json::array({container})}, {"schedulerName", "vxpu-scheduler"}}}}},
          {"Nodes", nullptr},
          {"NodeNames", nodes}};
}

std::string TopNode(const json& scores) {
  std::string top;
  for (const json& s : scores) {
    if (s["Score"] == 10) top = s["Host"];
  }
  return top;
}

TEST(Cluster, TheExtenderRefusesScatteredUnitsTheCountWouldAdmitAndPlacesWhereThePluginAllocates) {
  Node a("node-a", 2), b("node-b", 1);
  ASSERT_TRUE(a.Start()) << a.log();
  ASSERT_TRUE(b.Start()) << b.log();
  // kubelet admitted five units on each of node-a's GPUs, eight on node-b's.
  ASSERT_FALSE(a.Admit(5, 0).empty());
  ASSERT_FALSE(a.Admit(5, 1).empty());
  ASSERT_FALSE(b.Admit(8).empty());
  std::string agents = testing::TempDir() + "vxpu-cluster-agents-" + std::to_string(getpid());
  {
    std::ofstream out(agents);
    out << "node-a http://127.0.0.1:" << a.port() << "\nnode-b http://127.0.0.1:" << b.port() << "\n";
  }
  Scheduler scheduler(agents);
  ASSERT_TRUE(scheduler.up()) << scheduler.log();
  const std::vector<std::string> nodes = {"node-a", "node-b"};

  // Six units: node-a's count (10 free) would admit it, but no GPU of it has six.
  EXPECT_EQ(a.CountFree(), 10);
  json filtered;
  ASSERT_TRUE(simtest::PollFor(
      seconds(10),
      [&] {
        filtered = scheduler.Post("filter", Args("six", 6, nodes));
        return filtered.is_object() && filtered["FailedNodes"].size() == 2 &&
               filtered["FailedNodes"]["node-a"].get<std::string>().find("no report") == std::string::npos &&
               filtered["FailedNodes"]["node-b"].get<std::string>().find("no report") == std::string::npos;
      }))
      << a.Devices() << "\n"
      << b.Devices() << "\n"
      << filtered << scheduler.log();
  EXPECT_TRUE(filtered["NodeNames"].empty()) << filtered;
  EXPECT_EQ(filtered["FailedNodes"]["node-a"], "no single GPU has 6 free vxpu.io/gpu-units");

  // Two units fit on both; the node the extender scores top takes them through its plugin.
  filtered = scheduler.Post("filter", Args("two", 2, nodes));
  ASSERT_EQ(filtered["NodeNames"], json(nodes)) << filtered;
  json scores = scheduler.Post("prioritize", Args("two", 2, nodes));
  std::string top = TopNode(scores);
  ASSERT_FALSE(top.empty()) << scores;
  Node& chosen = top == "node-a" ? a : b;
  std::string slice = chosen.Admit(2);
  EXPECT_FALSE(slice.empty()) << chosen.log();
  // The extender and the node agree from then on: node-b, if chosen, is full.
  if (top == "node-b") {
    json again;
    EXPECT_TRUE(simtest::PollFor(seconds(5), [&] {
      again = scheduler.Post("filter", Args("one", 1, nodes));
      return again["NodeNames"] == json({"node-a"});
    })) << again;
  }
  EXPECT_EQ(scheduler.Stop(), 0) << scheduler.log();
  EXPECT_EQ(a.Stop(), 0);
  EXPECT_EQ(b.Stop(), 0);
  std::filesystem::remove(agents);
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
