// vxpud's metrics as Prometheus sees them: a real Prometheus server (Debian's `prometheus`),
// started here on loopback, scrapes vxpud --sim while two slices burn the simulated device, and
// the series are read back through Prometheus' HTTP query API; `promtool check metrics` lints
// vxpud's /metrics; the Grafana dashboard (deploy/grafana/vxpu-dashboard.json) only queries
// metrics vxpud exports, and each of its queries answers on the real server.
// Every process is real and every child's exit code is checked (vxpud's too: 0 on SIGTERM).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../simgpu/sim_env.h"

namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

constexpr const char* kPrometheus = "/usr/bin/prometheus";
constexpr const char* kPromtool = "/usr/bin/promtool";
constexpr uint64_t kDeviceBytes = 16ull << 30;  // the simulated device (main() below)
constexpr uint64_t kQuotaBytes = 1ull << 30;    // slice a's memory quota
constexpr int kHeldMib = 256;                   // what slice a's burn allocates and holds

bool Executable(const char* path) { return access(path, X_OK) == 0; }

// A directory of its own under /tmp, removed with everything in it when dropped.
class TempDir {
 public:
  TempDir() {
    char name[] = "/tmp/vxpu-prom-test-XXXXXX";
    if (mkdtemp(name) != nullptr) path_ = name;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Sends SIGTERM to `child` and returns its exit code.
int Terminate(vxpu::ChildProcess& child) {
  if (child.running()) kill(child.pid(), SIGTERM);
  return child.Wait();
}

// vxpud --sim on this binary's simulated device, metrics on a free loopback port.
class Vxpud {
 public:
  explicit Vxpud(const std::string& state_dir) : state_dir_(state_dir) {
    child_ = simtest::StartChild({std::string(VXPU_BIN_DIR) + "/vxpud", "--sim", "--state-dir", state_dir,
                                  "--metrics-addr", "127.0.0.1:0", "--poll-interval", "0.5"},
                                 {});
  }
  ~Vxpud() { Stop(); }

  // Waits for its "serving:" line and reads the metrics port from it; 0 if none came.
  int WaitServing() {
    static const std::regex kServing("vxpud: serving: .* \\(port ([0-9]+)\\) /metrics");
    bool served = simtest::PollFor(seconds(10), [&] {
      child_->Poll();
      return std::regex_search(child_->output(), match_, kServing) || !child_->running();
    });
    if (!served || match_.empty()) {
      ADD_FAILURE() << "vxpud did not say it serves (" << (child_->running() ? "running" : "exited") << "):\n"
                    << child_->output();
      return 0;
    }
    port_ = std::stoi(match_[1]);
    return port_;
  }

  // SIGTERM; vxpud must exit 0 and say so.
  void Stop() {
    if (stopped_) return;
    stopped_ = true;
    int code = Terminate(*child_);
    EXPECT_EQ(code, 0) << "vxpud on SIGTERM:\n" << child_->output();
    EXPECT_NE(child_->output().find("vxpud: stopped (SIGTERM)"), std::string::npos) << child_->output();
  }

  // GET /metrics; empty (and a failure) if it does not answer 200.
  std::string Scrape() {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(5, 0);
    auto response = client.Get("/metrics");
    if (!response || response->status != 200) {
      ADD_FAILURE() << "GET /metrics on port " << port_ << " failed"
                    << (response ? ": HTTP " + std::to_string(response->status) : std::string());
      return "";
    }
    return response->body;
  }

  const std::string& log() {
    child_->Poll();
    return child_->output();
  }
  const std::string& state_dir() const { return state_dir_; }
  int port() const { return port_; }

 private:
  std::string state_dir_;
  std::unique_ptr<vxpu::ChildProcess> child_;
  std::smatch match_;
  int port_ = 0;
  bool stopped_ = false;
};

// `vxpu run --sim` of a saturating burn in slice `name`, its segments in vxpud's state dir.
std::unique_ptr<vxpu::ChildProcess> StartSlice(const Vxpud& agent, const std::vector<std::string>& slice_options,
                                               double burn_seconds, int hold_mib = 0) {
  std::vector<std::string> argv = {std::string(VXPU_BIN_DIR) + "/vxpu", "run", "--sim"};
  argv.insert(argv.end(), slice_options.begin(), slice_options.end());
  argv.insert(argv.end(), {"--", std::string(VXPU_BIN_DIR) + "/vxpu-burn", "--seconds", std::to_string(burn_seconds)});
  if (hold_mib > 0) argv.insert(argv.end(), {"--memory", std::to_string(hold_mib)});
  return simtest::StartChild(argv, {"VXPU_STATE_DIR=" + agent.state_dir()});
}

// Both slices of these tests: a (30% + 1 GiB, holding 256 MiB) and b (70%, compute only).
struct TwoSlices {
  std::unique_ptr<vxpu::ChildProcess> a, b;
  TwoSlices(const Vxpud& agent, double burn_seconds)
      : a(StartSlice(agent, {"--compute", "30", "--memory", "1GiB", "--name", "a"}, burn_seconds, kHeldMib)),
        b(StartSlice(agent, {"--compute", "70", "--name", "b"}, burn_seconds)) {}
  // Each burn ran to its end and reported (exit 0, its JSON line).
  void Finish() {
    json ra = simtest::ReportOf(*a);
    json rb = simtest::ReportOf(*b);
    EXPECT_GT(ra.value("kernels", 0), 0) << ra;
    EXPECT_GT(rb.value("kernels", 0), 0) << rb;
  }
};

// Polls vxpud's /metrics until both slices' samples are there (vxpud finds them at its polls).
std::string ScrapeWithBothSlices(Vxpud& agent) {
  std::string text;
  bool found = simtest::PollFor(
      seconds(10),
      [&] {
        text = agent.Scrape();
        return text.find("vxpu_slice_processes{") != std::string::npos &&
               text.find("slice=\"a\"") != std::string::npos && text.find("slice=\"b\"") != std::string::npos &&
               text.find("vxpu_slice_memory_used_bytes{") != std::string::npos;
      },
      milliseconds(200));
  EXPECT_TRUE(found) << "vxpud never exported both slices:\n" << text << "\nvxpud log:\n" << agent.log();
  return text;
}

// Runs `command` through sh; its stdout and stderr together, and its exit status.
std::pair<int, std::string> Shell(const std::string& command) {
  std::string output;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return {-1, "popen failed"};
  char buf[4096];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) output.append(buf, n);
  int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

// promtool's verdict on `exposition` (written to `file`): passes only if it exits 0
// and prints nothing (it lists each problem and exits 1).
void ExpectPromtoolClean(const std::string& exposition, const std::string& file, const std::string& when) {
  std::ofstream(file) << exposition;
  auto [code, output] = Shell(std::string(kPromtool) + " check metrics < " + file);
  EXPECT_EQ(code, 0) << "promtool check metrics (" << when << ") exited " << code << ":\n" << output;
  EXPECT_EQ(output, "") << "promtool check metrics (" << when << ") complained:\n" << output;
}

// The metric families an exposition declares (its "# TYPE name type" lines).
std::set<std::string> DeclaredFamilies(const std::string& exposition) {
  std::set<std::string> names;
  std::istringstream in(exposition);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# TYPE ", 0) != 0) continue;
    std::istringstream words(line.substr(7));
    std::string name;
    words >> name;
    names.insert(name);
  }
  return names;
}

// The vxpu_ metric names a PromQL expression (or a Grafana label_values() query) refers to.
std::set<std::string> MetricNamesIn(const std::string& expr) {
  static const std::regex kName("vxpu_[a-zA-Z0-9_]*");
  std::set<std::string> names;
  for (std::sregex_iterator it(expr.begin(), expr.end(), kName), end; it != end; ++it) names.insert(it->str());
  return names;
}

// The dashboard's queries.
struct Dashboard {
  json doc;
  std::vector<std::string> exprs;             // every panel target's expr
  std::vector<std::string> variable_queries;  // the query variables' label_values(...) queries
  std::vector<std::string> problems;          // what is wrong with it as a Grafana dashboard
};

void CollectPanels(const json& panels, Dashboard* d) {
  for (const json& panel : panels) {
    std::string title = panel.value("title", "");
    if (title.empty()) d->problems.push_back("a panel has no title");
    if (panel.contains("panels")) CollectPanels(panel["panels"], d);
    if (panel.value("type", "") == "row") continue;
    if (!panel.contains("gridPos")) d->problems.push_back("panel \"" + title + "\" has no gridPos");
    if (!panel.contains("targets") || panel["targets"].empty())
      d->problems.push_back("panel \"" + title + "\" has no targets");
    for (const json& target : panel.value("targets", json::array())) {
      std::string expr = target.value("expr", "");
      if (expr.empty()) d->problems.push_back("panel \"" + title + "\" has a target without an expr");
      if (target.value("/datasource/uid"_json_pointer, "") != "${datasource}")
        d->problems.push_back("panel \"" + title + "\": a target's datasource is not the ${datasource} variable");
      d->exprs.push_back(expr);
    }
  }
}

Dashboard LoadDashboard() {
  Dashboard d;
  std::ifstream in(VXPU_DASHBOARD);
  if (!in) {
    d.problems.push_back(std::string("cannot read ") + VXPU_DASHBOARD);
    return d;
  }
  d.doc = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (d.doc.is_discarded() || !d.doc.is_object()) {
    d.problems.push_back("not a JSON object");
    return d;
  }
  if (d.doc.value("schemaVersion", 0) < 36) d.problems.push_back("schemaVersion below 36");
  if (d.doc.value("title", "").empty() || d.doc.value("uid", "").empty()) d.problems.push_back("no title or uid");
  bool datasource_variable = false;
  for (const json& v : d.doc.value("/templating/list"_json_pointer, json::array())) {
    if (v.value("type", "") == "datasource" && v.value("name", "") == "datasource" &&
        v.value("query", "") == "prometheus")
      datasource_variable = true;
    if (v.value("type", "") == "query") d.variable_queries.push_back(v.value("definition", ""));
  }
  if (!datasource_variable) d.problems.push_back("no datasource variable \"datasource\" of type prometheus");
  CollectPanels(d.doc.value("panels", json::array()), &d);
  return d;
}

// A dashboard expr as Prometheus can run it: Grafana's variables set to "all".
std::string Concrete(std::string expr) {
  const std::vector<std::pair<std::string, std::string>> values = {
      {"$__rate_interval", "5s"}, {"${uuid}", ".*"}, {"$uuid", ".*"}, {"${slice}", ".*"}, {"$slice", ".*"}};
  for (const auto& [variable, value] : values) {
    for (size_t at = expr.find(variable); at != std::string::npos; at = expr.find(variable, at + value.size()))
      expr.replace(at, variable.size(), value);
  }
  return expr;
}

// A free TCP port on loopback (bound, read, released: Prometheus takes it next).
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t length = sizeof(addr);
  int port = 0;
  if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) == 0)
    port = ntohs(addr.sin_port);
  if (fd >= 0) close(fd);
  return port;
}

// One series of an instant query's answer.
struct Sample {
  std::map<std::string, std::string> labels;
  double value = 0;
};

// A Prometheus server scraping one target every second, its data in `dir`.
class PrometheusServer {
 public:
  PrometheusServer(const std::string& dir, int target_port) {
    port_ = FreePort();
    std::string config = dir + "/prometheus.yml";
    std::ofstream(config) << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
                          << "scrape_configs:\n  - job_name: vxpud\n    static_configs:\n"
                          << "      - targets: ['127.0.0.1:" << target_port << "']\n";
    mkdir((dir + "/tsdb").c_str(), 0700);
    child_ = simtest::StartChild({kPrometheus, "--config.file=" + config, "--storage.tsdb.path=" + dir + "/tsdb",
                                  "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=warn"},
                                 {});
  }
  ~PrometheusServer() { Stop(); }

  void Stop() {
    if (stopped_) return;
    stopped_ = true;
    int code = Terminate(*child_);
    EXPECT_EQ(code, 0) << "prometheus on SIGTERM:\n" << child_->output();
  }

  // GET `path` of the HTTP API, parsed; a failure and null unless it answers {"status":"success"}.
  json Api(const std::string& path, const httplib::Params& params = {}, bool report = true) {
    child_->Poll();  // keep its log pipe drained
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(5, 0);
    auto response = client.Get(path, params, httplib::Headers{});
    json body = response ? json::parse(response->body, nullptr, false) : json();
    if (!response || response->status != 200 || !body.is_object() || body.value("status", "") != "success") {
      if (report)
        ADD_FAILURE() << "prometheus " << path << (params.empty() ? "" : " " + params.begin()->second) << ": "
                      << (response ? "HTTP " + std::to_string(response->status) + " " + response->body
                                   : std::string("no answer"));
      return json();
    }
    return body;
  }

  // Waits until Prometheus reports its one target up (it has scraped it); false if it did not.
  bool WaitTargetUp(std::string* last) {
    return simtest::PollFor(
               seconds(15),
               [&] {
                 if (!child_->running()) return true;
                 json targets = Api("/api/v1/targets", {}, /*report=*/false);
                 *last = targets.dump();
                 if (!targets.is_object()) return false;
                 for (const json& t : targets.value("/data/activeTargets"_json_pointer, json::array())) {
                   if (t.value("health", "") == "up") return true;
                 }
                 return false;
               },
               milliseconds(200)) &&
           child_->running();
  }

  // An instant query's series (a vector answer); a failure if the query itself fails.
  std::vector<Sample> Query(const std::string& expr, bool report = true) {
    json body = Api("/api/v1/query", {{"query", expr}}, report);
    std::vector<Sample> samples;
    if (body.is_null()) return samples;
    if (body.value("/data/resultType"_json_pointer, "") != "vector") {
      if (report) ADD_FAILURE() << expr << ": not a vector: " << body.dump();
      return samples;
    }
    for (const json& r : body["data"]["result"]) {
      Sample s;
      for (const auto& [k, v] : r["metric"].items()) s.labels[k] = v.get<std::string>();
      s.value = std::stod(r["value"][1].get<std::string>());
      samples.push_back(s);
    }
    return samples;
  }

  // The value of a query that must answer exactly one series; NaN (and a failure) otherwise.
  double One(const std::string& expr) {
    std::vector<Sample> samples = Query(expr);
    if (samples.size() != 1) {
      ADD_FAILURE() << expr << ": " << samples.size() << " series, want 1";
      return std::nan("");
    }
    return samples[0].value;
  }

  const std::string& log() {
    child_->Poll();
    return child_->output();
  }
  bool running() const { return child_->running(); }

 private:
  int port_ = 0;
  std::unique_ptr<vxpu::ChildProcess> child_;
  bool stopped_ = false;
};

TEST(Prometheus, PromtoolCheckMetricsFindsNothingWrong) {
  if (!Executable(kPromtool)) GTEST_SKIP() << kPromtool << " is not installed (Debian package prometheus)";
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  Vxpud agent(dir.path() + "/state");
  ASSERT_NE(agent.WaitServing(), 0);
  ExpectPromtoolClean(agent.Scrape(), dir.path() + "/idle.txt", "no slice");
  TwoSlices slices(agent, 3);
  std::string busy = ScrapeWithBothSlices(agent);
  ExpectPromtoolClean(busy, dir.path() + "/busy.txt", "two slices");
  slices.Finish();
  agent.Stop();
}

TEST(Prometheus, DashboardIsGrafanaJsonAndQueriesOnlyMetricsVxpudExports) {
  Dashboard dashboard = LoadDashboard();
  for (const std::string& problem : dashboard.problems) ADD_FAILURE() << VXPU_DASHBOARD << ": " << problem;
  ASSERT_FALSE(dashboard.exprs.empty());
  // The panels the dashboard promises: device memory, busy, health; slice memory, share, processes.
  std::set<std::string> used;
  for (const std::string& expr : dashboard.exprs) {
    std::set<std::string> names = MetricNamesIn(expr);
    EXPECT_FALSE(names.empty()) << "an expr names no vxpu metric: " << expr;
    used.insert(names.begin(), names.end());
  }
  for (const char* wanted :
       {"vxpu_device_memory_used_bytes", "vxpu_device_memory_total_bytes", "vxpu_device_busy_ratio",
        "vxpu_device_healthy", "vxpu_slice_memory_used_bytes", "vxpu_slice_memory_limit_bytes",
        "vxpu_slice_device_time_seconds_total", "vxpu_slice_compute_guarantee_ratio", "vxpu_slice_processes"}) {
    EXPECT_TRUE(used.count(wanted)) << "no panel shows " << wanted;
  }
  bool rate_of_device_time = false;
  for (const std::string& expr : dashboard.exprs)
    rate_of_device_time |= expr.find("rate(vxpu_slice_device_time_seconds_total") != std::string::npos;
  EXPECT_TRUE(rate_of_device_time) << "no panel shows the achieved share, rate(vxpu_slice_device_time_seconds_total)";

  // Every name it queries, panels and variables, is a family vxpud exports while slices run.
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  Vxpud agent(dir.path() + "/state");
  ASSERT_NE(agent.WaitServing(), 0);
  TwoSlices slices(agent, 3);
  std::set<std::string> exported = DeclaredFamilies(ScrapeWithBothSlices(agent));
  std::vector<std::string> queries = dashboard.exprs;
  queries.insert(queries.end(), dashboard.variable_queries.begin(), dashboard.variable_queries.end());
  for (const std::string& query : queries) {
    for (const std::string& name : MetricNamesIn(query)) {
      EXPECT_TRUE(exported.count(name)) << "the dashboard queries " << name << ", which vxpud does not export ("
                                        << query << ")";
    }
  }
  slices.Finish();
  agent.Stop();
}

TEST(Prometheus, RealServerScrapesVxpudWhileTwoSlicesBurnAndAnswersQueries) {
  if (!Executable(kPrometheus)) GTEST_SKIP() << kPrometheus << " is not installed (Debian package prometheus)";
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  Vxpud agent(dir.path() + "/state");
  int metrics_port = agent.WaitServing();
  ASSERT_NE(metrics_port, 0);
  PrometheusServer prometheus(dir.path(), metrics_port);
  constexpr double kBurnSeconds = 15;
  auto slices_start = steady_clock::now();
  TwoSlices slices(agent, kBurnSeconds);

  std::string targets;
  ASSERT_TRUE(prometheus.WaitTargetUp(&targets))
      << "Prometheus never reported vxpud up: " << targets << "\nprometheus:\n"
      << prometheus.log() << "\nvxpud:\n"
      << agent.log();

  // Wait until 5 s of scrapes of both slices are in (a rate over [5s] needs them), with time to
  // spare before the burns end.
  const std::string kSamplesA = "count_over_time(vxpu_slice_device_time_seconds_total{slice=\"a\"}[5s])";
  const std::string kSamplesB = "count_over_time(vxpu_slice_device_time_seconds_total{slice=\"b\"}[5s])";
  bool window_full = simtest::PollFor(
      std::chrono::duration_cast<milliseconds>(seconds(static_cast<int>(kBurnSeconds) - 2) -
                                               (steady_clock::now() - slices_start)),
      [&] {
        std::vector<Sample> a = prometheus.Query(kSamplesA, false), b = prometheus.Query(kSamplesB, false);
        return a.size() == 1 && b.size() == 1 && a[0].value >= 5 && b[0].value >= 5;
      },
      milliseconds(250));
  ASSERT_TRUE(window_full) << "Prometheus holds no 5 s of both slices' samples before the burns end\nvxpud:\n"
                           << agent.log() << "\nmetrics:\n"
                           << agent.Scrape();
  ASSERT_LT(steady_clock::now() - slices_start, seconds(static_cast<int>(kBurnSeconds) - 1))
      << "too late: the burns are ending";

  const std::string uuid = simtest::UniqueUuid(0);
  EXPECT_EQ(prometheus.One("vxpu_slice_memory_limit_bytes{slice=\"a\"}"), static_cast<double>(kQuotaBytes));
  EXPECT_TRUE(prometheus.Query("vxpu_slice_memory_limit_bytes{slice=\"b\"}").empty()) << "b has no memory quota";
  EXPECT_GE(prometheus.One("vxpu_slice_memory_used_bytes{slice=\"a\"}"), static_cast<double>(kHeldMib) * (1 << 20));
  EXPECT_DOUBLE_EQ(prometheus.One("vxpu_slice_compute_guarantee_ratio{slice=\"a\"}"), 0.3);
  EXPECT_DOUBLE_EQ(prometheus.One("vxpu_slice_compute_guarantee_ratio{slice=\"b\"}"), 0.7);
  double rate_a = prometheus.One("rate(vxpu_slice_device_time_seconds_total{slice=\"a\"}[5s])");
  double rate_b = prometheus.One("rate(vxpu_slice_device_time_seconds_total{slice=\"b\"}[5s])");
  std::printf("achieved shares over 5 s, as Prometheus computes them: a (30%%) %.3f, b (70%%) %.3f\n", rate_a, rate_b);
  EXPECT_GT(rate_a, 0.1) << "a's achieved share";
  EXPECT_GT(rate_b, rate_a) << "the 70% slice must get more device time than the 30% one";
  // Loosely 70/30 of what both got (the compute tests measure the split precisely).
  EXPECT_NEAR(rate_b / (rate_a + rate_b), 0.7, 0.15) << "a " << rate_a << ", b " << rate_b;
  EXPECT_EQ(prometheus.One("vxpu_device_memory_total_bytes{uuid=\"" + uuid + "\"}"), static_cast<double>(kDeviceBytes));
  EXPECT_EQ(prometheus.One("vxpu_device_healthy{uuid=\"" + uuid + "\"}"), 1);
  EXPECT_GE(prometheus.One("vxpu_slice_processes{slice=\"a\"}"), 1);
  EXPECT_GE(prometheus.One("vxpu_slice_processes{slice=\"b\"}"), 1);
  EXPECT_EQ(prometheus.One("vxpu_slices"), 2);
  for (const Sample& s : prometheus.Query("vxpu_slice_processes")) {
    EXPECT_EQ(s.labels.at("uuid"), uuid);
    EXPECT_EQ(s.labels.at("job"), "vxpud");
  }

  // Each of the dashboard's queries runs on the real server and answers with series.
  Dashboard dashboard = LoadDashboard();
  for (const std::string& expr : dashboard.exprs) {
    EXPECT_FALSE(prometheus.Query(Concrete(expr)).empty()) << "the dashboard's " << expr << " answers nothing";
  }

  slices.Finish();
  prometheus.Stop();
  agent.Stop();
}

}  // namespace

int main(int argc, char** argv) {
  // One throwaway simulated device, as vxpud --sim and the slices' workloads both see it.
  simtest::SimDevice device;
  device.memory = "16GiB";
  return simtest::RunAllTestsOn(argc, argv, {device});
}
