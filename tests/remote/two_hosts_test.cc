// Remote vXPUs between two hosts: a GPU host and a CPU host, each a network namespace of this
// test binary's own, joined by a veth pair with addresses from a private /30. `vxpu remoted
// --sim` serves in the GPU host on its veth address; unmodified driver-API programs run in the
// CPU host under `vxpu run --remote`, directly or through vxpu_test_relay (a DelayRelay, in the
// CPU host) that adds latency or a partition. Traffic flows only between the two addresses and
// over the namespaces' loopback. Needs root and iproute2 (the tests skip without them); the
// namespaces, and the veth pair with them, are deleted when the binary ends.
// The DelayRelay's own tests (order, delay, partition) run on this host's loopback, unprivileged.
#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "remote/delay_relay.h"
#include "remote/remote_server.h"
#include "simgpu/sim_env.h"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using vxpu::ChildProcess;

const std::string kVectorAdd = VXPU_BIN_DIR "/vxpu-vector_add";
const std::string kBurn = VXPU_BIN_DIR "/vxpu-burn";
constexpr auto kClientLimit = 60s;  // how long a client that should finish may take

// Debian's iproute2: /usr/sbin/ip, or an `ip` on PATH; "" if there is none.
std::string FindIp() {
  std::vector<std::string> candidates = {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"};
  if (const char* path = std::getenv("PATH")) {
    std::string dirs = path;
    for (size_t at = 0; at <= dirs.size();) {
      size_t end = dirs.find(':', at);
      if (end == std::string::npos) end = dirs.size();
      if (end > at) candidates.push_back(dirs.substr(at, end - at) + "/ip");
      at = end + 1;
    }
  }
  for (const std::string& candidate : candidates)
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  return "";
}

// Waits up to `limit` for `child` to exit and returns its exit code; kills it and returns
// nullopt if it overstays.
std::optional<int> WaitWithin(ChildProcess& child, Clock::duration limit) {
  auto deadline = Clock::now() + limit;
  for (child.Poll(); child.running(); child.Poll()) {
    if (Clock::now() >= deadline) {
      child.Kill();
      child.Wait();
      return std::nullopt;
    }
    std::this_thread::sleep_for(20ms);
  }
  return child.Wait();
}

// Polls `text()` until `pattern` matches it or `limit` passes. Returns the match's first group
// (the whole match if it has none), or nullopt.
std::optional<std::string> WaitForMatch(const std::function<std::string()>& text, const std::string& pattern,
                                        Clock::duration limit) {
  std::regex re(pattern);
  auto deadline = Clock::now() + limit;
  for (;;) {
    std::string now = text();
    std::smatch match;
    if (std::regex_search(now, match, re)) return match.size() > 1 ? match[1] : match[0];
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(20ms);
  }
}

std::string EscapeDots(std::string text) {
  for (size_t at = text.find('.'); at != std::string::npos; at = text.find('.', at + 2)) text.insert(at, "\\");
  return text;
}

size_t CountOf(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++count;
  return count;
}

// A server on loopback that sends back whatever it reads, on every connection.
class EchoServer {
 public:
  EchoServer() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0 && listen(fd_, 16) == 0 &&
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
      port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { Serve(); });
  }
  ~EchoServer() {
    shutdown(fd_, SHUT_RDWR);  // wakes accept()
    acceptor_.join();
    for (std::thread& echoer : echoers_) echoer.join();
    close(fd_);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  void Serve() {
    for (int c; (c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC)) >= 0;) {
      echoers_.emplace_back([c] {
        char buffer[65536];
        ssize_t got;
        while ((got = recv(c, buffer, sizeof(buffer), 0)) > 0)
          if (send(c, buffer, static_cast<size_t>(got), MSG_NOSIGNAL) != got) break;
        close(c);
      });
    }
  }

  int fd_ = -1;
  int port_ = 0;
  std::thread acceptor_;
  std::vector<std::thread> echoers_;
};

// A connection to "127.0.0.1:PORT"; -1 if it cannot be made.
int ConnectTo(const std::string& address) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1))));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

bool SendAll(int fd, const std::string& bytes) {
  for (size_t done = 0; done < bytes.size();) {
    ssize_t sent = send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (sent <= 0) return false;
    done += static_cast<size_t>(sent);
  }
  return true;
}

// Reads exactly `n` bytes, waiting at most `limit` for each read; "" on failure (or the end).
std::string ReceiveAll(int fd, size_t n, std::chrono::milliseconds limit = 10s) {
  std::string bytes(n, '\0');
  for (size_t done = 0; done < n;) {
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(limit.count())) != 1) return "";
    ssize_t got = recv(fd, bytes.data() + done, n - done, 0);
    if (got <= 0) return "";
    done += static_cast<size_t>(got);
  }
  return bytes;
}

TEST(DelayRelayTest, RelaysEveryConnectionInOrderAfterTheDelay) {
  EchoServer echo;
  vxpu::test::DelayRelay relay;
  std::string error;
  ASSERT_TRUE(relay.Start("127.0.0.1", echo.address(), 2ms, &error)) << error;

  // A round trip crosses the relay twice. (A lower bound only.)
  int fd = ConnectTo(relay.address());
  ASSERT_GE(fd, 0) << relay.address();
  auto start = Clock::now();
  ASSERT_TRUE(SendAll(fd, "ping"));
  EXPECT_EQ(ReceiveAll(fd, 4), "ping");
  EXPECT_GE(Clock::now() - start, 4ms);
  close(fd);

  // Connections at once, each a stream of 4 MiB sent in pieces while it comes back.
  constexpr int kConnections = 4;
  constexpr size_t kBytes = 4 << 20;
  std::vector<std::string> sent(kConnections), received(kConnections);
  std::vector<std::thread> threads;
  for (int i = 0; i < kConnections; ++i) {
    for (size_t k = 0; k < kBytes; ++k) sent[i].push_back(static_cast<char>((k * 7 + static_cast<size_t>(i)) % 251));
    threads.emplace_back([&, i] {
      int c = ConnectTo(relay.address());
      std::thread writer([&] {
        for (size_t at = 0; at < kBytes; at += 100000) SendAll(c, sent[i].substr(at, 100000));
      });
      received[i] = ReceiveAll(c, kBytes);
      writer.join();
      close(c);
    });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kConnections; ++i) EXPECT_TRUE(received[i] == sent[i]) << "connection " << i;
  EXPECT_EQ(relay.connections(), 1 + kConnections);
}

// True if `fd` has something to read (bytes or the end) within `limit`.
bool Readable(int fd, std::chrono::milliseconds limit) {
  pollfd pfd{fd, POLLIN, 0};
  return poll(&pfd, 1, static_cast<int>(limit.count())) == 1;
}

TEST(DelayRelayTest, PartitionHoldsTheBytesAndTheEndUntilItEnds) {
  EchoServer echo;
  vxpu::test::DelayRelay relay;
  std::string error;
  ASSERT_TRUE(relay.Start("127.0.0.1", echo.address(), 1ms, &error)) << error;
  int fd = ConnectTo(relay.address());
  ASSERT_GE(fd, 0) << relay.address();
  ASSERT_TRUE(SendAll(fd, "a"));
  ASSERT_EQ(ReceiveAll(fd, 1), "a");

  relay.SetPartitioned(true);
  ASSERT_TRUE(SendAll(fd, "held"));
  EXPECT_FALSE(Readable(fd, 300ms));  // nothing comes back
  relay.SetPartitioned(false);
  EXPECT_EQ(ReceiveAll(fd, 4), "held");  // nor was anything dropped

  // The end of the stream waits too: the echo server, which closes once it sees it, does not.
  relay.SetPartitioned(true);
  shutdown(fd, SHUT_WR);
  EXPECT_FALSE(Readable(fd, 300ms));
  relay.SetPartitioned(false);
  char byte;
  EXPECT_TRUE(Readable(fd, 5000ms));
  EXPECT_EQ(recv(fd, &byte, 1, MSG_DONTWAIT), 0);  // the end
  close(fd);
}

TEST(DelayRelayTest, StopClosesEveryConnection) {
  EchoServer echo;
  vxpu::test::DelayRelay relay;
  std::string error;
  ASSERT_TRUE(relay.Start("127.0.0.1", echo.address(), 1ms, &error)) << error;
  int fd = ConnectTo(relay.address());
  ASSERT_GE(fd, 0) << relay.address();
  ASSERT_TRUE(SendAll(fd, "a"));
  ASSERT_EQ(ReceiveAll(fd, 1), "a");
  relay.SetPartitioned(true);  // closing is not forwarding
  relay.Stop();
  char byte;
  EXPECT_TRUE(Readable(fd, 5000ms));
  EXPECT_EQ(recv(fd, &byte, 1, MSG_DONTWAIT), 0);  // the end
  close(fd);
}

// The two hosts. Made once, by the first test that needs them, and deleted when the binary
// ends; a test skips if they could not be made for want of privileges or tools, and fails if
// making them failed otherwise.
class TwoHosts : public ::testing::Environment {
 public:
  static TwoHosts& Get() {
    static TwoHosts* hosts = new TwoHosts();  // owned by gtest once registered
    return *hosts;
  }

  void MakeOnce() {
    if (tried_) return;
    tried_ = true;
    std::string pid = std::to_string(getpid());
    std::string subnet = "10.231." + std::to_string(getpid() % 250) + ".";
    gpu_ns_ = "vxpu-gpu-" + pid;
    cpu_ns_ = "vxpu-cpu-" + pid;
    gpu_link_ = "vxg-" + pid;
    cpu_link_ = "vxc-" + pid;
    gpu_ip_ = subnet + "1";
    cpu_ip_ = subnet + "2";
    ip_ = FindIp();
    if (geteuid() != 0) {
      skip_reason_ = "needs root (it makes network namespaces)";
      return;
    }
    if (ip_.empty()) {
      skip_reason_ = "needs iproute2's ip (scripts/install-deps.sh installs it)";
      return;
    }
    std::string error;
    DeleteLeftovers();
    if (!Ip({"netns", "add", gpu_ns_}, &error)) {
      skip_reason_ = "cannot make a network namespace: " + error;
      return;
    }
    made_gpu_ = true;
    made_cpu_ = Ip({"netns", "add", cpu_ns_}, &error);
    if (!made_cpu_ || !Connect(&error)) failure_ = "cannot make the two hosts: " + error;
  }

  void TearDown() override {
    std::string error;
    // Deleting a namespace deletes the veth end in it, and so the pair.
    if (made_cpu_) {
      EXPECT_TRUE(Ip({"netns", "delete", cpu_ns_}, &error)) << error;
    }
    if (made_gpu_) {
      EXPECT_TRUE(Ip({"netns", "delete", gpu_ns_}, &error)) << error;
    }
  }

  // Deletes the namespaces of runs that were killed before they could (their pid is gone).
  void DeleteLeftovers() const {
    std::unique_ptr<DIR, int (*)(DIR*)> dir(opendir("/run/netns"), closedir);
    std::regex ours("vxpu-(gpu|cpu)-([0-9]+)");
    std::cmatch match;
    for (dirent* e = dir ? readdir(dir.get()) : nullptr; e != nullptr; e = readdir(dir.get())) {
      if (!std::regex_match(e->d_name, match, ours)) continue;
      pid_t owner = static_cast<pid_t>(std::stol(match[2]));
      std::string ignored;
      if (owner == getpid() || (kill(owner, 0) != 0 && errno == ESRCH)) Ip({"netns", "delete", e->d_name}, &ignored);
    }
  }

  // Brings the CPU host's end of the veth pair down (a network partition) or up again.
  bool SetCpuLinkUp(bool up, std::string* error) {
    return Ip({"-n", cpu_ns_, "link", "set", cpu_link_, up ? "up" : "down"}, error);
  }

  // The argv prefix that runs a command in a host.
  std::vector<std::string> InGpuHost() const { return {ip_, "netns", "exec", gpu_ns_}; }
  std::vector<std::string> InCpuHost() const { return {ip_, "netns", "exec", cpu_ns_}; }
  const std::string& gpu_ip() const { return gpu_ip_; }
  const std::string& cpu_ip() const { return cpu_ip_; }
  const std::string& skip_reason() const { return skip_reason_; }
  const std::string& failure() const { return failure_; }

 private:
  // The veth pair, made in the GPU host with its other end in the CPU host, addressed and up.
  bool Connect(std::string* error) {
    return Ip({"-n", gpu_ns_, "link", "add", gpu_link_, "type", "veth", "peer", "name", cpu_link_, "netns", cpu_ns_},
              error) &&
           Ip({"-n", gpu_ns_, "addr", "add", gpu_ip_ + "/30", "dev", gpu_link_}, error) &&
           Ip({"-n", cpu_ns_, "addr", "add", cpu_ip_ + "/30", "dev", cpu_link_}, error) &&
           Ip({"-n", gpu_ns_, "link", "set", "lo", "up"}, error) &&
           Ip({"-n", cpu_ns_, "link", "set", "lo", "up"}, error) &&
           Ip({"-n", gpu_ns_, "link", "set", gpu_link_, "up"}, error) && SetCpuLinkUp(true, error);
  }

  // Runs `ip args...`; false with *error unless it exits with 0.
  bool Ip(const std::vector<std::string>& args, std::string* error) const {
    std::vector<std::string> argv = {ip_};
    argv.insert(argv.end(), args.begin(), args.end());
    ChildProcess ip;
    if (!ip.Start(argv, {}, error, /*with_stderr=*/true)) return false;
    int code = ip.Wait();
    if (code == 0) return true;
    *error = "ip";
    for (const std::string& a : args) *error += " " + a;
    *error += ": exit " + std::to_string(code) + ": " + ip.output();
    return false;
  }

  std::string ip_, gpu_ns_, cpu_ns_, gpu_link_, cpu_link_, gpu_ip_, cpu_ip_;
  bool tried_ = false, made_gpu_ = false, made_cpu_ = false;
  std::string skip_reason_, failure_;
};

// vxpu_test_relay run in a host: listens there, relays to `target` with a delay each way.
class Relay {
 public:
  bool Start(const std::vector<std::string>& prefix, const std::string& listen_host, const std::string& target,
             int delay_us, std::string* error) {
    std::vector<std::string> argv = prefix;
    for (std::string a : {std::string(VXPU_TEST_RELAY), std::string("--listen"), listen_host + ":0",
                          std::string("--target"), target, std::string("--delay-us"), std::to_string(delay_us)})
      argv.push_back(a);
    if (!child_.Start(argv, {}, error, /*with_stderr=*/true)) return false;
    std::optional<std::string> address =
        WaitForMatch([this] { return Output(); }, "\\{\"listening\":\"([^\"]+)\"\\}", 10s);
    if (address) {
      address_ = *address;
      return true;
    }
    *error = "vxpu_test_relay did not start: " + Output();
    return false;
  }

  // Partitions the relay (or ends the partition) and waits until it says that is in effect.
  bool SetPartitioned(bool partitioned) {
    std::string said = partitioned ? "vxpu_test_relay: partitioned\n" : "vxpu_test_relay: partition ended\n";
    size_t before = CountOf(Output(), said);
    kill(child_.pid(), partitioned ? SIGUSR1 : SIGUSR2);
    return simtest::PollFor(10s, [&] { return CountOf(Output(), said) > before; });
  }

  // Stops the relay; its exit code.
  int Stop() {
    if (child_.running()) kill(child_.pid(), SIGTERM);
    return child_.Wait();
  }

  const std::string& address() const { return address_; }
  std::string Output() {
    child_.Poll();
    return child_.output();
  }

 private:
  ChildProcess child_;  // killed when dropped
  std::string address_;
};

class TwoHostsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    hosts().MakeOnce();
    if (!hosts().skip_reason().empty()) GTEST_SKIP() << hosts().skip_reason();
    ASSERT_TRUE(hosts().failure().empty()) << hosts().failure();
  }

  void TearDown() override {
    if (server_started_) {
      EXPECT_EQ(server_.Stop(), 0) << server_.log();
    }
  }

  static TwoHosts& hosts() { return TwoHosts::Get(); }

  // Starts vxpu remoted --sim in the GPU host, listening on its veth address only.
  void StartServer(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"--memory", "1GiB"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::string error;
    ASSERT_TRUE(server_.Start(args, &error, hosts().gpu_ip() + ":0", hosts().InGpuHost())) << error;
    server_started_ = true;
    ASSERT_EQ(server_.address().rfind(hosts().gpu_ip() + ":", 0), 0u) << server_.address();
  }

  // Starts the relay in the CPU host, on its loopback, to the server in the GPU host.
  void StartRelay(Relay* relay, int delay_us) {
    std::string error;
    ASSERT_TRUE(relay->Start(hosts().InCpuHost(), "127.0.0.1", server_.address(), delay_us, &error)) << error;
  }

  // Runs `command` in the CPU host under vxpu run --remote `address`.
  std::unique_ptr<ChildProcess> RunInCpuHost(const std::string& address, const std::string& token_path,
                                             const std::vector<std::string>& command,
                                             const std::vector<std::string>& env = {}) {
    std::vector<std::string> argv = hosts().InCpuHost();
    for (std::string a : {std::string(VXPU_CLI_PATH), std::string("run"), std::string("--remote"), address,
                          std::string("--token-file"), token_path, std::string("--")})
      argv.push_back(a);
    argv.insert(argv.end(), command.begin(), command.end());
    return simtest::StartChild(argv, env);
  }

  // Waits for a client that should succeed: exit 0 within kClientLimit, `expected` in its output.
  void ExpectSucceeds(ChildProcess& client, const std::string& expected) {
    std::optional<int> code = WaitWithin(client, kClientLimit);
    ASSERT_TRUE(code.has_value()) << "still running after " << kClientLimit.count() << " s: " << client.output();
    EXPECT_EQ(*code, 0) << client.output();
    EXPECT_NE(client.output().find(expected), std::string::npos) << client.output();
  }

  // Waits up to `limit` for `pattern` in the server's log; its first group, or nullopt.
  std::optional<std::string> InServerLog(const std::string& pattern, Clock::duration limit = 10s) {
    return WaitForMatch([this] { return server_.log(); }, pattern, limit);
  }

  // The id of the server's first session from `peer_ip`, once its log names it; "" if it does
  // not within 10 s.
  std::string SessionFrom(const std::string& peer_ip) {
    return InServerLog("session ([0-9]+) from " + EscapeDots(peer_ip) + "\n").value_or("");
  }

  // Whether the server's log says `session` ended within `limit`.
  bool SessionEnded(const std::string& session, Clock::duration limit) {
    return InServerLog("session " + session + " ended ", limit).has_value();
  }

  // For a failure's message: the GPU host's TCP sockets and where the threads of the worker
  // serving `session` (the session's id is its pid) wait.
  std::string WhereIs(const std::string& session) {
    std::vector<std::string> ss = hosts().InGpuHost();
    for (std::string a : {"ss", "-tnoi"}) ss.push_back(a);
    auto sockets = simtest::StartChild(ss, {});
    std::string where = "\nsockets in the GPU host:\n" + (WaitWithin(*sockets, 10s), sockets->output());
    where += "worker " + session + "'s threads:";
    std::string tasks = "/proc/" + session + "/task";
    std::unique_ptr<DIR, int (*)(DIR*)> dir(opendir(tasks.c_str()), closedir);
    for (dirent* e = dir ? readdir(dir.get()) : nullptr; e != nullptr; e = readdir(dir.get())) {
      if (e->d_name[0] == '.') continue;
      std::ifstream wchan(tasks + "/" + e->d_name + "/wchan");
      std::string name;
      std::getline(wchan, name);
      where += std::string(" ") + e->d_name + ":" + name;
    }
    return where;
  }

  // Waits until the server started `session`'s worker, then a little longer: mid-session.
  void WaitUntilServing(const std::string& session) {
    ASSERT_NE(session, "") << server_.log();
    ASSERT_TRUE(InServerLog("session " + session + ": slice ")) << server_.log();
    std::this_thread::sleep_for(500ms);
  }

  remotetest::RemoteServer server_;
  bool server_started_ = false;
};

TEST_F(TwoHostsTest, ProgramOnTheCpuHostRunsOnTheGpuHostsServer) {
  StartServer();
  auto client = RunInCpuHost(server_.address(), server_.token_path(), {kVectorAdd, "1000"});
  ExpectSucceeds(*client, "vector_add: OK, 1000 elements");

  // The server names the session, from the CPU host's address, gives it a slice and sees it end.
  std::string session = SessionFrom(hosts().cpu_ip());
  ASSERT_NE(session, "") << server_.log();
  EXPECT_NE(server_.log().find("session " + session + ": slice remote-" + session + ", memory "), std::string::npos)
      << server_.log();
  EXPECT_TRUE(SessionEnded(session, 10s)) << server_.log();
  EXPECT_NE(server_.log().find("session " + session + " ended (0)"), std::string::npos) << server_.log();
}

TEST_F(TwoHostsTest, ProgramRunsThroughARelayAddingOneMillisecondEachWay) {
  StartServer();
  Relay relay;
  StartRelay(&relay, 1000);
  auto start = Clock::now();
  auto client = RunInCpuHost(relay.address(), server_.token_path(), {kVectorAdd, "1000"});
  ExpectSucceeds(*client, "vector_add: OK, 1000 elements");
  auto took = Clock::now() - start;

  // vector_add waits for 12 answers, each 2 ms away at least: Hello, cuDevicePrimaryCtxRetain,
  // cuModuleLoadData, cuModuleGetFunction, 3 cuMemAlloc, 2 cuMemcpyHtoD, cuMemcpyDtoH,
  // cuModuleUnload and cuDevicePrimaryCtxRelease. (A lower bound only: timing is for benchmarks.)
  EXPECT_GE(took, 12 * 2ms) << std::chrono::duration<double, std::milli>(took).count() << " ms";
  EXPECT_NE(SessionFrom(hosts().cpu_ip()), "") << server_.log();  // the relay connects from the CPU host
  EXPECT_EQ(relay.Stop(), 0) << relay.Output();
}

TEST_F(TwoHostsTest, EveryWaitThroughTheRelayTakesARoundTrip) {
  StartServer();
  Relay relay;
  StartRelay(&relay, 1000);
  // One 100 us kernel at a time, each followed by cuStreamSynchronize, which waits for an answer.
  auto client = RunInCpuHost(relay.address(), server_.token_path(),
                             {kBurn, "--seconds", "1", "--gap-ms", "1", "--kernel-us", "100"});
  ExpectSucceeds(*client, "\"latency_p50_ms\"");
  nlohmann::json report = vxpu::LastJsonLine(client->output());
  ASSERT_TRUE(report.is_object()) << client->output();
  EXPECT_GT(report.value("kernels", 0), 0) << report;
  EXPECT_GE(report.value("latency_p50_ms", 0.0), 2.0) << report;  // a lower bound only
  EXPECT_EQ(relay.Stop(), 0) << relay.Output();
}

TEST_F(TwoHostsTest, ClientLosesTheSessionWhenTheRelayIsPartitioned) {
  StartServer();
  Relay relay;
  StartRelay(&relay, 1000);
  auto client = RunInCpuHost(relay.address(), server_.token_path(), {kBurn, "--seconds", "20", "--kernel-us", "1000"},
                             {"VXPU_REMOTE_TIMEOUT_MS=1500"});
  std::string session = SessionFrom(hosts().cpu_ip());
  ASSERT_NO_FATAL_FAILURE(WaitUntilServing(session));
  ASSERT_TRUE(client->running()) << client->output();

  ASSERT_TRUE(relay.SetPartitioned(true)) << relay.Output();
  std::optional<int> code = WaitWithin(*client, 15s);
  ASSERT_TRUE(code.has_value()) << "the client ran on 15 s into the partition: " << client->output();
  EXPECT_NE(*code, 0) << client->output();
  EXPECT_NE(client->output().find("vxpu remote: lost the session with " + relay.address()), std::string::npos)
      << client->output();

  // Once the partition ends, the client's close reaches the worker, which ends the session.
  ASSERT_TRUE(relay.SetPartitioned(false)) << relay.Output();
  EXPECT_TRUE(SessionEnded(session, 15s)) << server_.log();
  EXPECT_EQ(relay.Stop(), 0) << relay.Output();
}

TEST_F(TwoHostsTest, BothEndsGiveUpASessionWhenTheLinkGoesDown) {
  StartServer({"--timeout-ms", "3000"});  // a few of the client's 1 s keepalives
  auto client = RunInCpuHost(server_.address(), server_.token_path(), {kBurn, "--seconds", "30", "--kernel-us", "1000"},
                             {"VXPU_REMOTE_TIMEOUT_MS=1500"});
  std::string session = SessionFrom(hosts().cpu_ip());
  ASSERT_NO_FATAL_FAILURE(WaitUntilServing(session));
  ASSERT_TRUE(client->running()) << client->output();

  // A real partition: nothing crosses, not even a close, until the link is back.
  std::string error;
  ASSERT_TRUE(hosts().SetCpuLinkUp(false, &error)) << error;
  struct LinkBack {
    ~LinkBack() {
      std::string error;
      EXPECT_TRUE(TwoHosts::Get().SetCpuLinkUp(true, &error)) << error;
    }
  } link_back;
  std::optional<int> code = WaitWithin(*client, 15s);
  ASSERT_TRUE(code.has_value()) << "the client ran on 15 s into the partition: " << client->output();
  EXPECT_NE(*code, 0) << client->output();
  EXPECT_NE(client->output().find("vxpu remote: lost the session with " + server_.address()), std::string::npos)
      << client->output();
  // The worker hears nothing from the client either, and gives the session up on its own.
  EXPECT_TRUE(SessionEnded(session, 20s)) << server_.log() << WhereIs(session);
}

TEST_F(TwoHostsTest, WrongTokenIsRefusedAndTheServerServesOn) {
  StartServer();
  std::string wrong_token = "/tmp/vxpu-two-hosts-wrong-token-" + std::to_string(getpid());
  std::ofstream(wrong_token) << "0123456789abcdef0123456789abcdef";
  chmod(wrong_token.c_str(), 0600);
  auto refused = RunInCpuHost(server_.address(), wrong_token, {kVectorAdd, "1000"});
  std::optional<int> code = WaitWithin(*refused, kClientLimit);
  std::remove(wrong_token.c_str());
  ASSERT_TRUE(code.has_value()) << refused->output();
  EXPECT_NE(*code, 0) << refused->output();
  EXPECT_NE(refused->output().find("refused the session: wrong token"), std::string::npos) << refused->output();
  EXPECT_EQ(refused->output().find("vector_add: OK"), std::string::npos) << refused->output();
  EXPECT_TRUE(InServerLog("session [0-9]+ refused: wrong token")) << server_.log();

  auto client = RunInCpuHost(server_.address(), server_.token_path(), {kVectorAdd, "1000"});
  ExpectSucceeds(*client, "vector_add: OK, 1000 elements");
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  // The server runs on a simulated device of this binary's own (VXPU_SIMGPU_CONFIG, inherited).
  ::testing::AddGlobalTestEnvironment(new simtest::SimEnvironment({simtest::SimDevice{}}));
  ::testing::AddGlobalTestEnvironment(&TwoHosts::Get());
  return RUN_ALL_TESTS();
}
