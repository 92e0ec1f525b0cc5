// vxpu-scheduler end to end: three real `vxpud --sim` processes (each its own state directory and
// simulated GPUs, the read-only API on a TCP port) and the real `vxpu-scheduler` binary, talked to
// over HTTP with real-format extender requests. Units are occupied on one node through its
// agent's unix socket (a pod-owned slice taking half a GPU), and the filter and prioritize answers
// must follow. Every child's exit code is checked; everything is stopped and removed.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <set>
#include <thread>

#include "common/child_process.h"
#include "extender_requests.h"

namespace vxpu::extender {
namespace {

using test::ArgsWithNames;
using test::ArgsWithNodes;
using test::json;
using test::Pod;

const std::string kVxpud = VXPU_BIN_DIR "/vxpud";
const std::string kScheduler = VXPU_BIN_DIR "/vxpu-scheduler";

template <typename Condition>
bool PollFor(std::chrono::milliseconds timeout, Condition condition) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// The port a child names in its log ("... TCP port 41234 ..."), once it has.
int PortIn(ChildProcess& child, const std::regex& pattern) {
  int port = 0;
  PollFor(std::chrono::seconds(20), [&] {
    child.Poll();
    std::smatch m;
    if (std::regex_search(child.output(), m, pattern)) port = std::stoi(m[1]);
    return port != 0 || !child.running();
  });
  return port;
}

std::unique_ptr<ChildProcess> Start(const std::vector<std::string>& argv, const std::vector<std::string>& env = {}) {
  auto child = std::make_unique<ChildProcess>();
  std::string error;
  EXPECT_TRUE(child->Start(argv, env, &error, /*with_stderr=*/true)) << argv[0] << ": " << error;
  return child;
}

int Stop(ChildProcess& child) {
  kill(child.pid(), SIGTERM);
  return child.Wait();
}

// POST `body` to `path` on a unix socket; the HTTP status (0 when nothing answered).
int UnixPost(const std::string& socket_path, const std::string& path, const std::string& body) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof(address.sun_path), "%s", socket_path.c_str());
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return 0;
  }
  std::string request =
      "POST " + path +
      " HTTP/1.1\r\nHost: vxpud\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nConnection: close\r\n\r\n" + body;
  bool sent = write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size());
  std::string answer(4096, '\0');
  ssize_t got = sent ? read(fd, answer.data(), answer.size()) : -1;
  close(fd);
  return got > 12 ? std::stoi(answer.substr(9, 3)) : 0;
}

// One node: a vxpud --sim on its own GPUs (UUIDs unique to this node and test process).
class Node {
 public:
  Node(const std::string& name, int gpus) : name_(name) {
    char pattern[] = "/tmp/vxpu-extender-e2e-XXXXXX";
    dir_ = mkdtemp(pattern) ? pattern : "";
    std::ofstream config(dir_ + "/gpus.json");
    config << "{\"devices\":[";
    for (int g = 0; g < gpus; ++g) {
      uuids_.push_back(Uuid(g));
      config << (g ? "," : "") << R"({"name":"NVIDIA H100 80GB HBM3","uuid":")" << uuids_.back()
             << R"(","memory":"80GiB","context_overhead":"0","sm_count":132})";
    }
    config << "]}";
  }
  ~Node() {
    if (agent_ && agent_->running()) agent_->Kill();
    std::filesystem::remove_all(dir_);
  }

  bool Start() {
    agent_ =
        extender::Start({kVxpud, "--sim", "--state-dir", dir_ + "/state", "--metrics-addr", "127.0.0.1:0", "--api-addr",
                         "127.0.0.1:0", "--no-device-plugin", "--poll-interval", "0.1", "--node-name", name_},
                        {"VXPU_SIMGPU_CONFIG=" + dir_ + "/gpus.json"});
    port_ = PortIn(*agent_, std::regex("TCP port ([0-9]+)"));
    return port_ != 0;
  }
  int Stop() { return extender::Stop(*agent_); }

  const std::string& name() const { return name_; }
  const std::vector<std::string>& uuids() const { return uuids_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  std::string socket() const { return dir_ + "/state/vxpud.sock"; }
  std::string log() {
    agent_->Poll();
    return agent_->output();
  }

 private:
  std::string Uuid(int g) const {
    char text[64];
    std::snprintf(text, sizeof(text), "GPU-e2e00000-%04x-4000-8000-%06x%06x", g,
                  static_cast<unsigned>(getpid()) & 0xffffff,
                  static_cast<unsigned>(std::hash<std::string>{}(name_)) & 0xffffff);
    return text;
  }

  std::string name_, dir_;
  std::vector<std::string> uuids_;
  std::unique_ptr<ChildProcess> agent_;
  int port_ = 0;
};

// A running vxpu-scheduler and a client of it.
class Scheduler {
 public:
  explicit Scheduler(std::vector<std::string> args) {
    args.insert(args.begin(), {kScheduler, "--listen", "127.0.0.1:0", "--poll-interval", "0.1"});
    child_ = extender::Start(args);
    port_ = PortIn(*child_, std::regex("listening on 127\\.0\\.0\\.1:([0-9]+)"));
  }
  ~Scheduler() {
    if (child_->running()) child_->Kill();
  }
  bool up() const { return port_ != 0; }
  int port() const { return port_; }
  int Stop() { return extender::Stop(*child_); }
  std::string log() {
    child_->Poll();
    return child_->output();
  }

  std::pair<int, json> Post(const std::string& verb, const std::string& body) {
    httplib::Client client("127.0.0.1", port_);
    auto r = client.Post(("/" + verb).c_str(), body, "application/json");
    if (!r) return {0, json()};
    return {r->status, json::parse(r->body, nullptr, false)};
  }
  // Filter until the answer satisfies `done` (the agents are polled every 0.1 s); the last answer.
  template <typename Done>
  json FilterUntil(const std::string& body, Done done) {
    json last;
    PollFor(std::chrono::seconds(10), [&] {
      auto [status, result] = Post("filter", body);
      last = result;
      return status == 200 && done(result);
    });
    return last;
  }

 private:
  std::unique_ptr<ChildProcess> child_;
  int port_ = 0;
};

std::string Top(const json& scores) {
  std::string top;
  for (const json& s : scores) {
    if (s["Score"] == 10) top = s["Host"];
  }
  return top;
}

class ExtenderEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    for (Node* n : {&a_, &b_, &c_}) ASSERT_TRUE(n->Start()) << n->log();
    agents_ = std::filesystem::temp_directory_path() / ("vxpu-extender-agents-" + std::to_string(getpid()));
    std::ofstream file(agents_);
    file << "# node vxpud\n" << a_.name() << " " << a_.url() << "\n" << b_.name() << " " << b_.url() << "\n";
  }
  void TearDown() override {
    for (Node* n : {&a_, &b_, &c_}) {
      if (!stopped_.count(n->name())) {
        EXPECT_EQ(n->Stop(), 0) << n->log();
      }
    }
    std::filesystem::remove(agents_);
  }

  Node a_{"node-a", 2};
  Node b_{"node-b", 1};
  Node c_{"node-c", 4};
  std::string agents_;
  std::set<std::string> stopped_;
};

const std::vector<std::string> kNames = {"node-a", "node-b"};

TEST_F(ExtenderEndToEnd, AnswersFollowTheUnitsTheAgentsReport) {
  Scheduler scheduler({"--agents", agents_});
  ASSERT_TRUE(scheduler.up()) << scheduler.log();
  // Both nodes reported: 6 units fit on a GPU of each.
  json result = scheduler.FilterUntil(ArgsWithNames(Pod("6", "p1"), kNames),
                                      [](const json& r) { return r["NodeNames"].size() == 2; });
  EXPECT_EQ(result["NodeNames"], json(kNames)) << result.dump();

  // A pod-owned slice takes half of node-b's only GPU (5 units): 6 no longer fit there.
  json slice = {{"name", "busy"},
                {"devices", {b_.uuids()[0]}},
                {"compute", {{"guarantee_percent", 50}}},
                {"owner", {{"namespace", "ml"}, {"pod", "other"}, {"container", "main"}}}};
  ASSERT_EQ(UnixPost(b_.socket(), "/v1/slices", slice.dump()), 201) << b_.log();
  result = scheduler.FilterUntil(ArgsWithNames(Pod("6", "p1"), kNames),
                                 [](const json& r) { return r["NodeNames"].size() == 1; });
  EXPECT_EQ(result["NodeNames"], json({"node-a"}));
  EXPECT_EQ(result["FailedNodes"]["node-b"], "no single GPU has 6 free vxpu.io/gpu-units");
  // The filter left one node: kube-scheduler binds there without prioritizing, so it is pending.

  // 5 units fit both; the policy fills node-b's half-used GPU, and that placement then counts.
  auto [status, scores] = scheduler.Post("prioritize", ArgsWithNames(Pod("5", "p2"), kNames));
  ASSERT_EQ(status, 200);
  EXPECT_EQ(Top(scores), "node-b") << scores.dump();
  result = scheduler.Post("filter", ArgsWithNames(Pod("1", "p3"), kNames)).second;
  EXPECT_EQ(result["NodeNames"], json({"node-a"})) << "p2's 5 units are pending on node-b";

  // Whole GPUs: node-a has 2 GPUs but p1's 6 units are pending on one of them.
  result = scheduler.Post("filter", ArgsWithNames(Pod("20", "p4"), kNames)).second;
  EXPECT_EQ(result["FailedNodes"]["node-a"], "fewer than 2 GPUs with all 10 units free");
  EXPECT_EQ(result["FailedAndUnresolvableNodes"]["node-b"], "the node has 1 GPUs, the pod asks for 2 whole GPUs");
  result = scheduler.Post("filter", ArgsWithNames(Pod("12", "p5"), kNames)).second;
  EXPECT_EQ(result["FailedAndUnresolvableNodes"].size(), 2u);

  // An agent that stops answering fails its node.
  ASSERT_EQ(a_.Stop(), 0) << a_.log();
  stopped_.insert("node-a");
  result = scheduler.FilterUntil(ArgsWithNames(Pod("1", "p6"), kNames),
                                 [](const json& r) { return r["FailedNodes"].contains("node-a"); });
  EXPECT_EQ(result["FailedNodes"]["node-a"].get<std::string>().rfind("its vxpud did not answer: " + a_.url(), 0), 0u)
      << result.dump();
  EXPECT_EQ(scheduler.Stop(), 0) << scheduler.log();
}

TEST_F(ExtenderEndToEnd, FindsAgentsAtTheNodesInternalIpOrAtTheTemplate) {
  // No agents file: a request with whole Node objects names node-c's address (its InternalIP).
  Scheduler by_ip({"--agent-port", std::to_string(c_.port())});
  ASSERT_TRUE(by_ip.up()) << by_ip.log();
  std::string body = ArgsWithNodes(Pod("40", "w"), {test::NodeJson("node-c", "127.0.0.1")});
  json result = by_ip.FilterUntil(body, [](const json& r) { return r["Nodes"]["items"].size() == 1; });
  ASSERT_EQ(result["Nodes"]["items"].size(), 1u) << result.dump();
  EXPECT_EQ(result["Nodes"]["items"][0], test::NodeJson("node-c", "127.0.0.1"));  // sent back whole
  // Names only and no template: nowhere to ask, and it says so.
  result = by_ip.FilterUntil(ArgsWithNames(Pod("1", "x"), {"node-z"}), [](const json& r) {
    return r["FailedNodes"].value("node-z", "").find("no vxpud address") != std::string::npos;
  });
  EXPECT_NE(result["FailedNodes"]["node-z"].get<std::string>().find("--agent-url-template"), std::string::npos);
  EXPECT_EQ(by_ip.Stop(), 0) << by_ip.log();

  // nodeCacheCapable with a template: {node} -> 127.0.0.1 here (the node is named by its address).
  Scheduler by_template({"--agent-url-template", "http://{node}:" + std::to_string(c_.port())});
  ASSERT_TRUE(by_template.up()) << by_template.log();
  result = by_template.FilterUntil(ArgsWithNames(Pod("40", "w"), {"127.0.0.1"}),
                                   [](const json& r) { return r["NodeNames"].size() == 1; });
  EXPECT_EQ(result["NodeNames"], json({"127.0.0.1"}));
  EXPECT_EQ(by_template.Stop(), 0) << by_template.log();
}

TEST_F(ExtenderEndToEnd, FindsAgentsThroughDnsForNodeCacheCapableRequests) {
  // --agents-dns localhost:PORT: every address of localhost is a vxpud at PORT (node-a's), which
  // names itself node-a in /v1/info. kube-scheduler sends names only ("Nodes": null).
  const std::string dns = "localhost:" + std::to_string(a_.port());
  Scheduler scheduler({"--agents-dns", dns});
  ASSERT_TRUE(scheduler.up()) << scheduler.log();
  std::string body = ArgsWithNames(Pod("6", "d1"), kNames);
  ASSERT_TRUE(json::parse(body)["Nodes"].is_null());
  json result = scheduler.FilterUntil(body, [](const json& r) { return r["NodeNames"] == json({"node-a"}); });
  EXPECT_EQ(result["NodeNames"], json({"node-a"})) << result.dump() << scheduler.log();
  // node-b's vxpud is not behind that name: it fails, and says where it was looked for.
  result = scheduler.FilterUntil(body, [](const json& r) {
    return r["FailedNodes"].value("node-b", "").find("no vxpud address") != std::string::npos;
  });
  EXPECT_NE(result["FailedNodes"].value("node-b", "").find("no vxpud address known: no agent at --agents-dns " + dns),
            std::string::npos)
      << result.dump();
  EXPECT_NE(scheduler.log().find("node node-a at http://127.0.0.1:" + std::to_string(a_.port())), std::string::npos)
      << scheduler.log();
  // node-a's agent stops: its address is still in DNS, so it fails as an agent that does not answer.
  ASSERT_EQ(a_.Stop(), 0) << a_.log();
  stopped_.insert("node-a");
  result = scheduler.FilterUntil(body, [](const json& r) { return r["FailedNodes"].contains("node-a"); });
  EXPECT_EQ(result["FailedNodes"]["node-a"].get<std::string>().rfind("its vxpud did not answer: " + a_.url(), 0), 0u)
      << result.dump();
  EXPECT_EQ(scheduler.Stop(), 0) << scheduler.log();
}

TEST_F(ExtenderEndToEnd, BadRequestsAreAnsweredAndNothingCrashes) {
  Scheduler scheduler({"--agents", agents_});
  ASSERT_TRUE(scheduler.up()) << scheduler.log();
  for (const std::string verb : {"filter", "prioritize"}) {
    for (const std::string& body : {std::string("{"), std::string("[1]"), std::string(5000, '{'), std::string()}) {
      auto [status, answer] = scheduler.Post(verb, body);
      EXPECT_EQ(status, 400) << verb << " " << body.substr(0, 10);
      EXPECT_FALSE(answer.value("Error", "").empty()) << answer.dump();
    }
  }
  EXPECT_EQ(scheduler.Post("healthz", "").first, 405);
  EXPECT_EQ(scheduler.Post("bind", "{}").first, 404);
  EXPECT_EQ(scheduler.Post("filter", ArgsWithNames(Pod("1"), kNames)).first, 200);  // still serving
  EXPECT_EQ(scheduler.Stop(), 0) << scheduler.log();
}

TEST(ExtenderCommandLine, APortAnotherServerHoldsIsRefusedNamingWhy) {
  // cpp-httplib bound with SO_REUSEPORT: a second extender on the port "listened" too, and the
  // kernel split kube-scheduler's requests between the two.
  Scheduler first({});
  ASSERT_TRUE(first.up()) << first.log();
  std::string taken = "127.0.0.1:" + std::to_string(first.port());
  auto second = Start({kScheduler, "--listen", taken});
  EXPECT_EQ(second->Wait(), 1) << second->output();
  EXPECT_NE(second->output().find("cannot listen on " + taken + ": 127.0.0.1:" + std::to_string(first.port()) +
                                  ": Address already in use"),
            std::string::npos)
      << second->output();
  EXPECT_EQ(first.Stop(), 0);
}

TEST(ExtenderCommandLine, BadFlagsAreOneLineNamingTheValueAndExit2) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  } cases[] = {
      {{"--listen", "nonsense"}, "bad address (want HOST:PORT or :PORT) 'nonsense'"},
      {{"--policy", "tetris"},
       "unknown policy 'tetris' (known: vxpu, random, dotprod, clustering, packing, bestfit, fgd)"},
      {{"--agent-url-template", "http://x:1"}, "no {node} in it"},
      {{"--agents", "/nonexistent/agents"}, "cannot read --agents '/nonexistent/agents'"},
      {{"--agents-dns", "vxpud.vxpu-system.svc"}, "bad --agents-dns 'vxpud.vxpu-system.svc' (want HOST:PORT"},
      {{"--agents-dns", ":9396"}, "bad --agents-dns ':9396'"},
      {{"--poll-interval", "0"}, "--poll-interval"},
      {{"--frobnicate"}, "unknown option --frobnicate"},
      {{"--polcy", "fgd"}, "unknown option --polcy (did you mean --policy?)"},
      {{"--poll-interval", "0.01"}, "--poll-interval 0.01: want 0.05 to 60"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = {kScheduler};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    auto child = Start(argv);
    EXPECT_EQ(child->Wait(), 2) << child->output();
    EXPECT_NE(child->output().find(c.says), std::string::npos) << child->output();
    EXPECT_EQ(std::count(child->output().begin(), child->output().end(), '\n'), 1) << child->output();
  }
  auto help = Start({kScheduler, "--help"});
  EXPECT_EQ(help->Wait(), 0);
  for (const char* flag : {"--listen", "--agents", "--agents-dns", "--agent-url-template", "--agent-port", "--policy",
                           "--seed", "--poll-interval", "--pending-ttl"}) {
    EXPECT_NE(help->output().find(flag), std::string::npos) << flag;
  }
}

TEST(ExtenderCommandLine, VersionNamesTheCommit) {
  auto version = Start({kScheduler, "--version"});
  EXPECT_EQ(version->Wait(), 0) << version->output();
  EXPECT_EQ(version->output().rfind("vxpu-scheduler 0.", 0), 0u) << version->output();
  EXPECT_NE(version->output().find("(commit "), std::string::npos) << version->output();
}

}  // namespace
}  // namespace vxpu::extender
