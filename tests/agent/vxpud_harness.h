// The pieces of vxpud's end-to-end tests: a throwaway state directory, the real agent on
// simulated devices, raw requests to its API, and `vxpu` commands run beside it.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "../simgpu/sim_env.h"
#include "agent_api/agent_client.h"
#include "agent_api/unix_http.h"

namespace vxpudtest {

using nlohmann::json;
using std::chrono::seconds;

inline const std::string kVxpud = VXPU_BIN_DIR "/vxpud";
inline const std::string kVxpu = VXPU_BIN_DIR "/vxpu";
inline const std::string kProbe = VXPU_BIN_DIR "/vxpu-quota-probe";

// A fresh state directory, removed with everything in it.
class StateDir {
 public:
  StateDir() {
    char pattern[] = "/tmp/vxpud-test-XXXXXX";
    path_ = mkdtemp(pattern) != nullptr ? pattern : "";
  }
  ~StateDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string env() const { return "VXPU_STATE_DIR=" + path_; }

 private:
  std::string path_;
};

// vxpud --sim on the test binary's simulated devices, polling every 0.2 s.
class Agent {
 public:
  explicit Agent(const std::string& state_dir, std::vector<std::string> env = {}, std::vector<std::string> args = {})
      : dir_(state_dir), env_(std::move(env)), args_(std::move(args)) {}

  // Starts it and waits for its API to answer.
  bool Start() {
    std::vector<std::string> argv = {kVxpud, "--sim", "--state-dir", dir_, "--metrics-addr", "127.0.0.1:0"};
    if (std::find(args_.begin(), args_.end(), "--poll-interval") == args_.end()) {
      argv.push_back("--poll-interval");
      argv.push_back("0.2");
    }
    argv.insert(argv.end(), args_.begin(), args_.end());
    child_ = simtest::StartChild(argv, env_);
    bool up = simtest::PollFor(seconds(10), [this] {
      child_->Poll();
      return vxpu::UnixSocketAnswers(socket()) || !child_->running();
    });
    return up && child_->running();
  }
  // SIGTERM; the exit code.
  int Stop() {
    kill(child_->pid(), SIGTERM);
    return child_->Wait();
  }
  std::string socket() const { return dir_ + "/vxpud.sock"; }
  bool running() {
    child_->Poll();
    return child_->running();
  }
  // The read-only TCP API's port (started with --api-addr), from the log; 0 if it has none.
  int ApiPort() { return PortAfter("read-only on TCP port "); }
  // The metrics port, from the log.
  int MetricsPort() { return PortAfter(" (port "); }

 private:
  int PortAfter(const std::string& mark) {
    int port = 0;
    simtest::PollFor(seconds(5), [&] {
      std::string text = log();
      size_t at = text.find(mark);
      port = at == std::string::npos ? 0 : std::atoi(text.c_str() + at + mark.size());
      return port > 0;
    });
    return port;
  }

 public:
  std::string log() {
    child_->Poll();
    return child_->output();
  }

  // GET `path`; the JSON, or null (and a test failure) if the agent does not answer with 2xx.
  json Get(const std::string& path) {
    std::string error;
    auto client = vxpu::AgentClient::Connect(socket(), &error);
    if (!client) return json();
    auto answer = client->Get(path, &error);
    EXPECT_TRUE(answer.has_value()) << path << ": " << error;
    return answer.value_or(json());
  }
  // The slice named `name` in GET /v1/slices, or null.
  json Slice(const std::string& name) {
    for (const json& s : Get("/v1/slices")) {
      if (s["name"] == name) return s;
    }
    return json();
  }
  bool Lists(const std::string& name) { return !Slice(name).is_null(); }

 private:
  std::string dir_;
  std::vector<std::string> env_;
  std::vector<std::string> args_;
  std::unique_ptr<vxpu::ChildProcess> child_;
};

// A test with a state directory of its own and an agent on it, started before and stopped (it
// must exit 0) after each test; `agent_env` is added to the agent's environment.
class WithAgent : public ::testing::Test {
 protected:
  explicit WithAgent(std::vector<std::string> agent_env = {}) : agent_(dir_.path(), std::move(agent_env)) {}
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    ASSERT_TRUE(agent_.Start()) << agent_.log();
  }
  void TearDown() override { EXPECT_EQ(agent_.Stop(), 0) << agent_.log(); }

  StateDir dir_;
  Agent agent_;
};

// A raw request to the agent: the status and body.
inline std::pair<int, json> Request(const std::string& socket, const std::string& method, const std::string& path,
                                    const std::string& body = "") {
  vxpu::UnixHttpClient http(socket);
  httplib::Result r = method == "POST"     ? http.Post(path.c_str(), body, "application/json")
                      : method == "DELETE" ? http.Delete(path.c_str())
                                           : http.Get(path.c_str());
  if (!r) return {-1, json()};
  return {r->status, json::parse(r->body, nullptr, false)};
}

// `vxpu run --sim ARGS -- COMMAND` in the state directory.
inline std::unique_ptr<vxpu::ChildProcess> VxpuRun(const StateDir& dir, std::vector<std::string> args,
                                                   const std::vector<std::string>& command,
                                                   std::vector<std::string> env = {}) {
  std::vector<std::string> argv = {kVxpu, "run", "--sim"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--");
  argv.insert(argv.end(), command.begin(), command.end());
  env.push_back(dir.env());
  return simtest::StartChild(argv, env);
}

// `vxpu ARGS` in the state directory, to completion: exit code and output.
inline std::pair<int, std::string> Vxpu(const StateDir& dir, std::vector<std::string> args) {
  args.insert(args.begin(), kVxpu);
  auto child = simtest::StartChild(args, {dir.env()});
  int code = child->Wait();
  return {code, child->output()};
}

inline std::string DeviceUuid(int index) { return simtest::UniqueUuid(index); }

}  // namespace vxpudtest
