// vxpud under attack from outside: bytes no client would send, clients that trickle or hoard
// connections, many short-lived slices listed while they come and go. Each test holds an outcome
// that failed before its fix (docs/agent.md, "Hostile clients"): the agent keeps serving.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "vxpud_harness.h"

namespace {

using namespace vxpudtest;  // NOLINT: the harness is this test's vocabulary
using std::chrono::milliseconds;

// A connected socket to the unix socket `path`, or -1.
int ConnectUnix(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  if (fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) return fd;
  if (fd >= 0) close(fd);
  return -1;
}

// A connected socket to 127.0.0.1:`port` from the loopback address `source`, or -1.
int ConnectTcp(int port, const std::string& source = "127.0.0.1") {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in from{}, to{};
  from.sin_family = to.sin_family = AF_INET;
  inet_pton(AF_INET, source.c_str(), &from.sin_addr);
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  to.sin_port = htons(static_cast<uint16_t>(port));
  if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof(from)) == 0 &&
      connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) == 0)
    return fd;
  if (fd >= 0) close(fd);
  return -1;
}

// What arrives on `fd` until the peer closes or `timeout` passes.
std::string ReadUntilClosed(int fd, milliseconds timeout) {
  std::string out;
  auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int left =
        static_cast<int>(std::chrono::duration_cast<milliseconds>(end - std::chrono::steady_clock::now()).count());
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || poll(&p, 1, left) <= 0) return out;
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

// Sends `request` on a fresh connection (from `connect`) and returns the answer ("" if none).
template <typename Connect>
std::string Exchange(Connect connect, const std::string& request) {
  int fd = connect();
  if (fd < 0) return "";
  send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string answer = ReadUntilClosed(fd, milliseconds(3000));
  close(fd);
  return answer;
}

// The status line's code of an HTTP answer, or 0.
int StatusOf(const std::string& answer) {
  return answer.rfind("HTTP/1.1 ", 0) == 0 ? std::atoi(answer.c_str() + 9) : 0;
}

class HostileClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    ASSERT_TRUE(agent_.Start()) << agent_.log();
    port_ = agent_.ApiPort();
    ASSERT_GT(port_, 0) << agent_.log();
  }
  void TearDown() override { EXPECT_EQ(agent_.Stop(), 0) << agent_.log(); }

  auto Unix() {
    return [this] { return ConnectUnix(agent_.socket()); };
  }
  auto Tcp(std::string source = "127.0.0.1") {
    return [this, source] { return ConnectTcp(port_, source); };
  }

  StateDir dir_;
  Agent agent_{dir_.path(), {}, {"--api-addr", "127.0.0.1:0"}};
  int port_ = 0;
};

TEST_F(HostileClientTest, BytesThatAreNotUtf8AreAnsweredNotFatal) {
  // One unauthenticated GET /%FF aborted vxpud (its 404 message could not be serialised).
  struct Case {
    std::string request;
    int on_unix, on_tcp;  // TCP is read-only (writes 405) and lists no slices (403)
  };
  const std::string end = " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  for (const Case& c : {
           Case{"GET /%FF" + end, 404, 404},
           Case{"GET /v1/slices/%FF%FE" + end, 400, 403},
           Case{"DELETE /v1/slices/%C3%28" + end, 400, 405},
           Case{"GET /\xff\xfe" + end, 404, 404},
           Case{"GET /v1/info HTTP/1.1\r\nHost: \xff\r\nX-\xfe: \xc3\x28\r\nConnection: close\r\n\r\n", 200, 200},
           Case{"\xff\xfe /v1/info" + end, 400, 400},
           Case{"POST /%FF HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\n\xff\xfe\xfd", 404,
                405},
       }) {
    for (bool tcp : {false, true}) {
      std::string answer = tcp ? Exchange(Tcp(), c.request) : Exchange(Unix(), c.request);
      EXPECT_EQ(StatusOf(answer), tcp ? c.on_tcp : c.on_unix) << (tcp ? "tcp: " : "unix: ") << answer;
      ASSERT_TRUE(agent_.running()) << agent_.log();
    }
  }
  EXPECT_EQ(agent_.Get("/v1/info")["state_dir"], dir_.path());
}

TEST_F(HostileClientTest, TheTcpApiShowsTheNodeAndItsDevicesNotItsSlicesOrPaths) {
  // Anyone who reached the TCP port learnt every slice's owner pid and uid.
  auto run = VxpuRun(dir_, {"--memory", "1GiB", "--name", "private"}, {"sleep", "5"});
  ASSERT_TRUE(simtest::PollFor(seconds(5), [&] { return agent_.Lists("private"); })) << agent_.log();
  const std::string get = " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  for (const char* path : {"/v1/slices", "/v1/slices/private"}) {
    std::string answer = Exchange(Tcp(), std::string("GET ") + path + get);
    EXPECT_EQ(StatusOf(answer), 403) << answer;
    EXPECT_EQ(answer.find("\"pid\""), std::string::npos) << answer;
  }
  std::string info = Exchange(Tcp(), "GET /v1/info" + get);
  EXPECT_EQ(StatusOf(info), 200) << info;
  EXPECT_EQ(info.find(dir_.path()), std::string::npos) << info;
  EXPECT_EQ(StatusOf(Exchange(Tcp(), "GET /v1/devices" + get)), 200);
  run->Kill();
  run->Wait();
}

// Opens `count` connections with `connect` and feeds each one byte of a request every `gap`
// until `stop`; counts those the server closed (or refused).
class Trickle {
 public:
  template <typename Connect>
  Trickle(Connect connect, int count, milliseconds gap) {
    for (int i = 0; i < count; ++i) fds_.push_back(connect());
    thread_ = std::thread([this, gap] {
      const std::string request = "GET /v1/slices HTTP/1.1\r\nHost: x\r\n";
      for (size_t at = 0; !stop_; at = (at + 1) % request.size()) {
        for (size_t i = 0; i < fds_.size(); ++i) {
          if (fds_[i] < 0 || closed_[i]) continue;
          if (send(fds_[i], &request[at], 1, MSG_NOSIGNAL) != 1) closed_[i] = true;
          char buf[512];
          if (recv(fds_[i], buf, sizeof(buf), MSG_DONTWAIT) == 0) closed_[i] = true;
        }
        std::this_thread::sleep_for(gap);
      }
    });
  }
  ~Trickle() {
    stop_ = true;
    thread_.join();
    for (int fd : fds_) close(fd);
  }
  int closed() const {
    int n = 0;
    for (size_t i = 0; i < fds_.size(); ++i) n += fds_[i] < 0 || closed_[i] ? 1 : 0;
    return n;
  }

 private:
  std::vector<int> fds_;
  std::atomic<bool> closed_[64] = {};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST_F(HostileClientTest, ClientsTricklingBytesStarveNobodyAndAreCutOffAtTheDeadline) {
  // Eight sockets sending a byte every second held every API thread: vxpu ps and vxpu run failed.
  Trickle local(Unix(), 8, milliseconds(1000));
  Trickle remote(Tcp("127.0.0.2"), 8, milliseconds(1000));
  std::this_thread::sleep_for(milliseconds(1500));  // they have all begun their requests
  auto [code, output] = Vxpu(dir_, {"ps", "-o", "json"});
  EXPECT_EQ(code, 0) << output;
  auto run = VxpuRun(dir_, {"--memory", "1GiB", "--name", "served"}, {"true"});
  EXPECT_EQ(run->Wait(), 0) << run->output();
  EXPECT_EQ(StatusOf(Exchange(Tcp(), "GET /v1/devices HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")), 200);
  // However slowly they go on, each is cut off once its request is past the 5 s deadline.
  EXPECT_TRUE(simtest::PollFor(seconds(12), [&] { return local.closed() == 8 && remote.closed() == 8; }))
      << "unix: " << local.closed() << " of 8 closed, tcp: " << remote.closed() << " of 8";
}

TEST_F(HostileClientTest, AClientSendingEndlessHeadersFastIsCutOff) {
  // The deadline only bounded waits: bytes that kept coming fast were read for ever, each header
  // line a map node, until the agent ran out of memory.
  int fd = ConnectTcp(port_, "127.0.0.6");
  ASSERT_GE(fd, 0);
  std::string lines = "GET /v1/info HTTP/1.1\r\n";
  for (int i = 0; i < 1000; ++i) lines += "a: b\r\n";
  size_t sent = 0;
  auto start = std::chrono::steady_clock::now();
  bool cut_off = false;
  while (!cut_off && std::chrono::steady_clock::now() - start < seconds(12)) {
    ssize_t n = send(fd, lines.data(), lines.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) sent += static_cast<size_t>(n);
    char buf[256];
    ssize_t got = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    cut_off = got == 0 || (n < 0 && errno != EAGAIN) || (got < 0 && errno != EAGAIN);
    if (n <= 0) std::this_thread::sleep_for(milliseconds(10));
  }
  close(fd);
  EXPECT_TRUE(cut_off) << sent << " bytes sent and still read";
  EXPECT_TRUE(agent_.running());
}

TEST_F(HostileClientTest, OneAddressGetsItsShareOfConnectionsAndTheRestAreTurnedAway) {
  // Twenty connections from one address, each with a request begun and never finished: eight are
  // served (held until their 5 s deadline), the rest answered 503 at once.
  std::vector<int> hoarded;
  const std::string begun = "GET /v1/info HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 20; ++i) {
    hoarded.push_back(ConnectTcp(port_, "127.0.0.2"));
    send(hoarded.back(), begun.data(), begun.size(), MSG_NOSIGNAL);
    std::this_thread::sleep_for(milliseconds(20));  // the accept queue drains (httplib's backlog is 5)
  }
  std::this_thread::sleep_for(milliseconds(1500));
  int turned_away = 0;
  for (int fd : hoarded) {
    char head[16] = {0};
    ssize_t n = recv(fd, head, sizeof(head) - 1, MSG_PEEK | MSG_DONTWAIT);
    turned_away += n > 0 && StatusOf(head) == 503 ? 1 : 0;
  }
  EXPECT_EQ(turned_away, 20 - 8) << "8 per address are served";
  // Another address is served meanwhile.
  EXPECT_EQ(StatusOf(Exchange(Tcp(), "GET /v1/info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")), 200);
  for (int fd : hoarded) close(fd);
}

TEST_F(HostileClientTest, ConnectionsPastTheCapAreTurnedAwayAtOnceAndTheCliWaitsItOut) {
  // 40 silent connections to the unix socket: 32 are served (each closed after 2 s of silence),
  // the rest are answered 503 at once instead of queueing; the CLI retries through it.
  std::vector<int> silent;
  for (int i = 0; i < 40; ++i) silent.push_back(ConnectUnix(agent_.socket()));
  int turned_away = 0;
  for (int fd : silent) turned_away += StatusOf(ReadUntilClosed(fd, milliseconds(200))) == 503 ? 1 : 0;
  EXPECT_GE(turned_away, 8);
  // Turned away, a CLI may be writing its request as the socket closes: that must not kill it
  // (exit 141, SIGPIPE, seen in CI with 100 concurrent runs).
  for (int i = 0; i < 4; ++i) {
    std::vector<int> held;
    for (int j = 0; j < 32; ++j) held.push_back(ConnectUnix(agent_.socket()));
    auto [code, output] = Vxpu(dir_, {"ps", "-o", "json"});
    EXPECT_EQ(code, 0) << output;
    for (int fd : held) close(fd);
  }
  for (int fd : silent) close(fd);
}

// Runs `sql` on the registry of `dir` behind the agent's back.
void Sql(const StateDir& dir, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir.path() + "/registry.db").c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
}

// POST /v1/slices of a pod-owned slice `name` of `memory` bytes on device 0: status and body.
std::pair<int, json> PostPodSlice(Agent& agent, const std::string& name, const std::string& memory) {
  return Request(agent.socket(), "POST", "/v1/slices",
                 R"({"name":")" + name + R"(","devices":[")" + DeviceUuid(0) + R"("],"memory_limit_bytes":)" + memory +
                     R"(,"owner":{"namespace":"n","pod":"p","container":"c"}})");
}

// vxpud started on `dir` to completion (it is expected to refuse): its exit code and output.
std::pair<int, std::string> RefusedStart(const StateDir& dir, std::vector<std::string> args = {}) {
  std::vector<std::string> argv = {kVxpud, "--sim", "--state-dir", dir.path(), "--metrics-addr", "127.0.0.1:0"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto child = simtest::StartChild(argv, {});
  bool exited = simtest::PollFor(seconds(10), [&] {
    child->Poll();
    return !child->running();
  });
  if (!exited) child->Kill();
  int code = child->Wait();
  return {exited ? code : -1, child->output()};
}

TEST(VxpudState, ARowWithoutANameIsReportedNotFatal) {
  StateDir dir;
  Agent agent(dir.path());
  ASSERT_TRUE(agent.Start()) << agent.log();
  ASSERT_EQ(agent.Stop(), 0);
  // A registry of the old schema, which let a NULL name in: vxpud aborted at every start.
  Sql(dir,
      "CREATE TABLE old (name TEXT PRIMARY KEY, record TEXT NOT NULL, created INTEGER NOT NULL); "
      "DROP TABLE slices; ALTER TABLE old RENAME TO slices; INSERT INTO slices VALUES (NULL, '{}', 1)");
  ASSERT_TRUE(agent.Start()) << agent.log();
  EXPECT_NE(agent.log().find("registry: a row without a name: unreadable record (no name), left in place"),
            std::string::npos)
      << agent.log();
  EXPECT_TRUE(agent.Get("/v1/slices").empty());
  EXPECT_EQ(agent.Stop(), 0);
}

TEST(VxpudState, ARegistryThatCannotBeReadStopsTheAgentInsteadOfEmptyingTheNode) {
  StateDir dir;
  Agent agent(dir.path());
  ASSERT_TRUE(agent.Start()) << agent.log();
  auto [status, body] = PostPodSlice(agent, "kept", "1073741824");
  ASSERT_EQ(status, 201) << body.dump();
  ASSERT_EQ(agent.Stop(), 0);
  const std::string registry = dir.path() + "/registry.db";
  ASSERT_EQ(truncate(registry.c_str(), 0), 0);
  auto [code, output] = RefusedStart(dir);
  EXPECT_EQ(code, 1) << output;
  EXPECT_NE(output.find("registry " + registry + " is empty (0 bytes)"), std::string::npos) << output;
  // A damaged page (the file's whole body scribbled over) is refused the same way.
  {
    std::ofstream out(registry, std::ios::binary | std::ios::trunc);
    out << "SQLite format 3" << '\0' << std::string(8192, '\x5a');
  }
  std::tie(code, output) = RefusedStart(dir);
  EXPECT_EQ(code, 1) << output;
  EXPECT_NE(output.find("registry " + registry + " cannot be read ("), std::string::npos) << output;
  EXPECT_EQ(output.find("0 slice(s)"), std::string::npos) << output;
}

TEST(VxpudState, ASecondAgentOnTheSameStateDirIsRefusedWhateverItsSocket) {
  StateDir dir;
  Agent first(dir.path());
  ASSERT_TRUE(first.Start()) << first.log();
  auto [code, output] = RefusedStart(dir, {"--socket", dir.path() + "/other.sock"});
  EXPECT_EQ(code, 1) << output;
  EXPECT_NE(output.find("--state-dir " + dir.path() + " is served by another vxpud (pid "), std::string::npos)
      << output;
  EXPECT_TRUE(first.running());
  EXPECT_EQ(first.Stop(), 0);
  // Once it is gone the directory is free again.
  Agent second(dir.path());
  ASSERT_TRUE(second.Start()) << second.log();
  EXPECT_EQ(second.Stop(), 0);
}

TEST(VxpudState, ASliceWhoseTermsCannotBeKeptIsNotRegistered) {
  // Registered without its terms file, a slice's processes would run on whatever their
  // environment says. Here the terms directory cannot be made: a file stands in its place.
  StateDir dir;
  { std::ofstream(dir.path() + "/slices") << "in the way"; }
  Agent agent(dir.path());
  ASSERT_TRUE(agent.Start()) << agent.log();
  auto [status, body] = PostPodSlice(agent, "termless", "1073741824");
  EXPECT_EQ(status, 500) << body.dump();
  EXPECT_NE(body["error"].get<std::string>().find("slice termless not registered: its terms could not be kept"),
            std::string::npos)
      << body.dump();
  EXPECT_FALSE(agent.Lists("termless"));
  EXPECT_EQ(agent.Stop(), 0);
}

TEST(VxpudState, APortAnotherServerHoldsIsRefusedNamingWhy) {
  // A second vxpud "listened" on the first's --api-addr (SO_REUSEPORT), and one on a taken
  // metrics port said "null context when constructing CivetServer".
  StateDir first_dir, second_dir;
  Agent first(first_dir.path(), {}, {"--api-addr", "127.0.0.1:0"});
  ASSERT_TRUE(first.Start()) << first.log();
  const std::string api = "127.0.0.1:" + std::to_string(first.ApiPort());
  const std::string metrics = "127.0.0.1:" + std::to_string(first.MetricsPort());
  auto [code, output] = RefusedStart(second_dir, {"--api-addr", api});
  // RefusedStart passes --metrics-addr 127.0.0.1:0: only the API port is taken.
  EXPECT_EQ(code, 1) << output;
  EXPECT_NE(output.find("cannot serve the API on " + api + " (--api-addr): " + api + ": Address already in use"),
            std::string::npos)
      << output;
  auto taken = simtest::StartChild(
      {kVxpud, "--sim", "--state-dir", second_dir.path(), "--metrics-addr", metrics}, {});
  EXPECT_EQ(taken->Wait(), 1) << taken->output();
  EXPECT_NE(taken->output().find("cannot serve metrics on " + metrics + " (--metrics-addr): " + metrics +
                                 ": Address already in use"),
            std::string::npos)
      << taken->output();
  EXPECT_EQ(first.Stop(), 0);
}

TEST(VxpudState, TheStateDirItMakesIsNotForOtherUsersToList) {
  StateDir parent;
  const std::string dir = parent.path() + "/made/here";
  Agent agent(dir);
  ASSERT_TRUE(agent.Start()) << agent.log();
  struct stat st;
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 01770u);
  // Its lock is readable by the workloads of its group: how they know an agent serves there.
  ASSERT_EQ(stat((dir + "/vxpud.lock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  EXPECT_EQ(agent.Stop(), 0);
}

TEST(VxpudState, AQuotaPastTheDeviceIsRefused) {
  StateDir dir;
  Agent agent(dir.path());
  ASSERT_TRUE(agent.Start()) << agent.log();
  auto [status, body] = PostPodSlice(agent, "huge", "18446744073709551615");
  EXPECT_EQ(status, 409) << body.dump();
  EXPECT_NE(body["error"].get<std::string>().find("more than device"), std::string::npos) << body.dump();
  // And so nothing wrapped: a 7 GiB slice still fits on the 8 GiB device.
  std::tie(status, body) = PostPodSlice(agent, "fits", "7516192768");
  EXPECT_EQ(status, 201) << body.dump();
  EXPECT_EQ(agent.Stop(), 0);
}

TEST(VxpudState, AFullStateDirIsOneLineNotASigbus) {
  // On a full tmpfs a daemonless workload died of SIGBUS in pthread_mutex_init (its segment was
  // sized by ftruncate), and vxpud of SIGBUS reading a segment left sparse by such a death.
  if (geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs needs root";
  StateDir dir;
  const std::string full = dir.path() + "/full";
  ASSERT_EQ(mkdir(full.c_str(), 0700), 0);
  // In a mount namespace of its own: a 1 MiB tmpfs with a sparse "ledger" left in it, filled up;
  // then a workload, then vxpud, each on it.
  const std::string script = "mount -t tmpfs -o size=1m none " + full + " || exit 99; " +  //
                             "truncate -s 66688 " + full + "/vxpu-slice-0-" + DeviceUuid(0) + "-dead; " +
                             "dd if=/dev/zero of=" + full + "/filler bs=4k 2>/dev/null; " + "VXPU_STATE_DIR=" + full +
                             " LD_PRELOAD=" VXPU_INTERPOSER " LD_LIBRARY_PATH=" VXPU_SIMGPU_DIR +
                             " VXPU_MEMORY=256MiB " + kProbe + " alloc 10 1; echo \"workload exit $?\"; " + kVxpud +
                             " --sim --state-dir " + full + " --metrics-addr 127.0.0.1:0; echo \"vxpud exit $?\"";
  auto child = simtest::StartChild({"/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c", script}, {});
  int code = child->Wait();
  if (code == 99) GTEST_SKIP() << "cannot mount a tmpfs here: " << child->output();
  const std::string out = child->output();
  EXPECT_EQ(out.find("workload exit 135"), std::string::npos) << out;  // 128 + SIGBUS
  EXPECT_EQ(out.find("workload exit 0"), std::string::npos) << out;
  EXPECT_NE(out.find("No space left on device"), std::string::npos) << out;
  EXPECT_NE(out.find("vxpud exit 1"), std::string::npos) << out;
  EXPECT_EQ(out.find("crashed"), std::string::npos) << out;
}

TEST(VxpudEscapes, AChildThatWidensItsQuotaInTheEnvironmentGetsTheRegisteredOne) {
  // Inside a 1 GiB slice registered with the agent, a child with VXPU_MEMORY=4GiB got 4 GiB.
  StateDir dir;
  Agent agent(dir.path());
  ASSERT_TRUE(agent.Start()) << agent.log();
  auto run = VxpuRun(dir, {"--memory", "1GiB", "--name", "held"},
                     {"/usr/bin/env", "VXPU_MEMORY=4GiB", kProbe, "alloc", "100", "20"});
  ASSERT_EQ(run->Wait(), 0) << run->output();
  json report = vxpu::LastJsonLine(run->output());
  EXPECT_EQ(report["device_total"], 1ull << 30) << run->output();
  EXPECT_EQ(report["succeeded"], 10) << run->output();
  // The agent's file of the slice's terms is its own: workloads read it, cannot write it.
  struct stat st;
  ASSERT_EQ(stat((dir.path() + "/slices").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  EXPECT_EQ(agent.Stop(), 0);
}

}  // namespace

int main(int argc, char** argv) {
  return simtest::RunAllTestsOn(argc, argv,
                                {simtest::SimDevice{.memory = "8GiB", .context_overhead = "0"},
                                 simtest::SimDevice{.memory = "4GiB", .context_overhead = "0"}});
}
