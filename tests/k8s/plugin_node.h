// Test support: a node as the device plugin tests run it: a throwaway directory tree (the state
// dir, kubelet's device-plugins and pod-resources dirs, the host lib dir) and a real
// `vxpud --sim --device-plugin` on it, with its read-only API on a TCP port.
#pragma once

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../simgpu/sim_env.h"
#include "agent_api/agent_client.h"
#include "agent_api/unix_http.h"

namespace testkubelet {

// A throwaway directory tree: the state dir, kubelet's device-plugins dir, the host lib dir.
class Dirs {
 public:
  Dirs() {
    char pattern[] = "/tmp/vxpu-dp-test-XXXXXX";
    root_ = mkdtemp(pattern) != nullptr ? pattern : "";
    for (const char* d : {"/state", "/device-plugins", "/pod-resources"}) std::filesystem::create_directory(root_ + d);
  }
  ~Dirs() { std::filesystem::remove_all(root_); }
  std::string state() const { return root_ + "/state"; }
  std::string plugins() const { return root_ + "/device-plugins"; }
  std::string lib() const { return root_ + "/lib"; }
  std::string pod_resources() const { return root_ + "/pod-resources/kubelet.sock"; }
  std::string root() const { return root_; }

 private:
  std::string root_;
};

// vxpud --sim with the device plugin on, polling every 0.2 s.
class PluginAgent {
 public:
  PluginAgent(const Dirs& dirs, std::vector<std::string> env = {}) : dirs_(dirs), env_(std::move(env)) {}

  bool Start() {
    child_ = simtest::StartChild(
        {VXPU_BIN_DIR "/vxpud", "--sim", "--state-dir", dirs_.state(), "--metrics-addr", "127.0.0.1:0",
         "--poll-interval", "0.2", "--device-plugin", "--device-plugin-dir", dirs_.plugins(), "--host-lib-dir",
         dirs_.lib(), "--api-addr", "127.0.0.1:0", "--pod-resources-socket", dirs_.pod_resources()},
        env_);
    bool up = simtest::PollFor(std::chrono::seconds(10), [this] {
      child_->Poll();
      return vxpu::UnixSocketAnswers(dirs_.state() + "/vxpud.sock") || !child_->running();
    });
    return up && child_->running();
  }
  int Stop() {
    kill(child_->pid(), SIGTERM);
    return child_->Wait();
  }
  std::string log() {
    child_->Poll();
    return child_->output();
  }
  nlohmann::json Get(const std::string& path) {
    std::string error;
    auto client = vxpu::AgentClient::Connect(dirs_.state() + "/vxpud.sock", &error);
    if (!client) return nlohmann::json();
    return client->Get(path, &error).value_or(nlohmann::json());
  }
  // The port of the read-only TCP API, from the log.
  int TcpPort() {
    std::string marker = "read-only on TCP port ";
    std::string text = log();
    size_t at = text.find(marker);
    return at == std::string::npos ? 0 : std::atoi(text.c_str() + at + marker.size());
  }

 private:
  const Dirs& dirs_;
  std::vector<std::string> env_;
  std::unique_ptr<vxpu::ChildProcess> child_;
};

}  // namespace testkubelet
