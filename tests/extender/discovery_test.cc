// --agents-dns: AgentDiscovery with an injected resolver, against real HTTP agents' /v1/info
// (two httplib servers on the same port at 127.0.0.1 and 127.0.0.2), and the AgentDirectory it
// feeds. Two addresses give two nodes; one gone from DNS drops its node, which then fails with a
// reason naming --agents-dns; a failed resolution keeps the last addresses.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <thread>

#include "extender/agent_poller.h"

namespace vxpu::extender {
namespace {

// A stand-in vxpud answering GET /v1/info with its node name.
class FakeAgent {
 public:
  FakeAgent(const std::string& host, int port, const std::string& node) {
    server_.Get("/v1/info", [node](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"version":"test","socket":"/x","sim":true,"node":")" + node + "\"}", "application/json");
    });
    port_ = port == 0 ? server_.bind_to_any_port(host) : (server_.bind_to_port(host, port) ? port : -1);
    if (port_ > 0) thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (port_ > 0 && !server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakeAgent() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  int port() const { return port_; }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = -1;
};

struct Dns {
  std::vector<std::string> addresses;
  std::string error;
  int calls = 0;
  Resolver resolver() {
    return [this](const std::string& host, std::string* why) {
      ++calls;
      EXPECT_EQ(host, "vxpud.test");
      if (!error.empty()) *why = error;
      return error.empty() ? addresses : std::vector<std::string>{};
    };
  }
};

TEST(AgentDiscovery, MapsEachAddressToTheNodeItsInfoNamesAndDropsTheVanished) {
  FakeAgent a("127.0.0.1", 0, "node-a");
  ASSERT_GT(a.port(), 0);
  FakeAgent b("127.0.0.2", a.port(), "node-b");
  ASSERT_GT(b.port(), 0);
  Dns dns{{"127.0.0.1", "127.0.0.2"}, ""};
  std::vector<std::string> logged;
  AgentDiscovery discovery({"vxpud.test", a.port()}, dns.resolver(),
                           [&](const std::string& l) { logged.push_back(l); });
  DirectoryOptions options;
  options.agents_dns = "vxpud.test:" + std::to_string(a.port());
  AgentDirectory directory(options);

  std::map<std::string, HostPort> found = discovery.Discover();
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found["node-a"].host, "127.0.0.1");
  EXPECT_EQ(found["node-b"].host, "127.0.0.2");
  EXPECT_EQ(found["node-b"].port, a.port());
  EXPECT_TRUE(directory.SetDiscovered(found));
  EXPECT_FALSE(directory.SetDiscovered(found));  // unchanged
  std::vector<AgentDirectory::Entry> entries = directory.Entries();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(AgentUrl(*entries[0].agent), "http://127.0.0.1:" + std::to_string(a.port()));
  EXPECT_EQ(AgentUrl(*entries[1].agent), "http://127.0.0.2:" + std::to_string(a.port()));

  // node-b's address leaves DNS: node-b stays known but has no agent, and says why.
  dns.addresses = {"127.0.0.1"};
  found = discovery.Discover();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found.count("node-a"), 1u);
  EXPECT_TRUE(directory.SetDiscovered(found));
  entries = directory.Entries();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_TRUE(entries[0].agent.has_value());
  EXPECT_EQ(entries[1].node, "node-b");
  EXPECT_FALSE(entries[1].agent.has_value());
  EXPECT_NE(entries[1].missing.find("--agents-dns vxpud.test:"), std::string::npos) << entries[1].missing;

  // A failed resolution keeps the last addresses, is logged once, and is retried each poll.
  dns.error = "Temporary failure in name resolution";
  size_t before = logged.size();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(discovery.Discover().size(), 1u);
  EXPECT_EQ(dns.calls, 5);
  ASSERT_EQ(logged.size(), before + 1);
  EXPECT_NE(logged.back().find("Temporary failure"), std::string::npos) << logged.back();
  // It comes back, with node-b again.
  dns.error.clear();
  dns.addresses = {"127.0.0.2", "127.0.0.1"};
  EXPECT_EQ(discovery.Discover().size(), 2u);
}

TEST(AgentDiscovery, AnAddressWithoutAnAgentIsLoggedOnceAndAskedAgain) {
  FakeAgent a("127.0.0.1", 0, "node-a");
  ASSERT_GT(a.port(), 0);
  Dns dns{{"127.0.0.1", "127.0.0.3"}, ""};  // nothing listens at 127.0.0.3
  std::vector<std::string> logged;
  AgentDiscovery discovery({"vxpud.test", a.port()}, dns.resolver(),
                           [&](const std::string& l) { logged.push_back(l); });
  EXPECT_EQ(discovery.Discover().size(), 1u);
  EXPECT_EQ(discovery.Discover().size(), 1u);
  int about_3 = 0;
  for (const std::string& l : logged) about_3 += l.find("http://127.0.0.3:") != std::string::npos;
  EXPECT_EQ(about_3, 1);
  // An agent starts there: found on the next poll.
  FakeAgent c("127.0.0.3", a.port(), "node-c");
  ASSERT_GT(c.port(), 0);
  EXPECT_EQ(discovery.Discover().count("node-c"), 1u);
}

TEST(AgentDiscovery, TwoAddressesNamingOneNodeUseTheLowerAndLogItOnce) {
  FakeAgent a("127.0.0.1", 0, "node-a");
  ASSERT_GT(a.port(), 0);
  FakeAgent twin("127.0.0.4", a.port(), "node-a");
  ASSERT_GT(twin.port(), 0);
  Dns dns{{"127.0.0.4", "127.0.0.1"}, ""};
  std::vector<std::string> logged;
  AgentDiscovery discovery({"vxpud.test", a.port()}, dns.resolver(),
                           [&](const std::string& l) { logged.push_back(l); });
  for (int i = 0; i < 3; ++i) {
    std::map<std::string, HostPort> found = discovery.Discover();
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found["node-a"].host, "127.0.0.1");
  }
  int conflicts = 0;
  for (const std::string& l : logged)
    conflicts += l.find("node node-a answers at 127.0.0.1 and 127.0.0.4") != std::string::npos;
  EXPECT_EQ(conflicts, 1);
}

TEST(AgentDiscovery, ParsesTheFlagAndTheInfo) {
  HostPort dns;
  std::string error;
  EXPECT_TRUE(ParseAgentsDns("vxpud.vxpu-system.svc.cluster.local:9396", &dns, &error));
  EXPECT_EQ(dns.host, "vxpud.vxpu-system.svc.cluster.local");
  EXPECT_EQ(dns.port, 9396);
  for (const char* bad : {"vxpud", ":9396", "vxpud:0", "vxpud:x", "a b:1"}) {
    EXPECT_FALSE(ParseAgentsDns(bad, &dns, &error)) << bad;
    EXPECT_NE(error.find(std::string("'") + bad + "'"), std::string::npos) << error;
  }
  EXPECT_EQ(NodeOfInfo(R"({"version":"1","node":"n1"})", &error), "n1");
  EXPECT_EQ(NodeOfInfo(R"({"version":"1"})", &error), "");
  EXPECT_EQ(NodeOfInfo("{", &error), "");
  EXPECT_EQ(NodeOfInfo(R"({"node":""})", &error), "");
}

TEST(AgentDiscovery, ResolvesNumericAndLocalNames) {
  std::string error;
  EXPECT_EQ(ResolveAll("127.0.0.1", &error), std::vector<std::string>{"127.0.0.1"});
  std::vector<std::string> local = ResolveAll("localhost", &error);
  EXPECT_NE(std::find(local.begin(), local.end(), "127.0.0.1"), local.end()) << error;
  EXPECT_TRUE(ResolveAll("no-such-host.invalid", &error).empty());
  EXPECT_NE(error.find("no-such-host.invalid"), std::string::npos) << error;
}

}  // namespace
}  // namespace vxpu::extender
