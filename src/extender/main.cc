// vxpu-scheduler: the kube-scheduler extender (docs/kubernetes.md, "Scheduler extender"). Wires
// the Service (engine + wire format) to cpp-httplib and the AgentPoller to the nodes' vxpud.
// Exit codes: 0 stopped by SIGTERM/SIGINT, 1 could not serve, 2 bad command line.
#include <httplib.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "agent_api/guarded_http.h"
#include "cli/cli_messages.h"
#include "commit.h"
#include "extender/agent_poller.h"
#include "extender/default_workload.h"
#include "extender/service.h"

namespace {

using namespace vxpu::extender;

constexpr int kBadInput = 2;
constexpr size_t kMaxBody = size_t{256} << 20;  // 10,000 whole Node objects fit

struct Flags {
  std::string listen = ":8888";
  std::string agents;
  std::string agents_dns;
  std::string url_template;
  int agent_port = 9396;
  std::string policy = std::string(vxpu::sched::kRecommendedPolicy);
  uint64_t seed = 0;
  double poll_interval = 1;
  double pending_ttl = 30;
};

void Log(const std::string& line) { std::fprintf(stderr, "vxpu-scheduler: %s\n", line.c_str()); }

std::string PolicyList() {
  std::string out;
  for (const std::string& p : vxpu::sched::PolicyNames()) out += (out.empty() ? "" : ", ") + p;
  return out;
}

// The directory's options from the flags; false and *error naming the bad value.
bool DirectoryFrom(const Flags& flags, DirectoryOptions* out, std::string* error) {
  out->agent_port = flags.agent_port;
  out->url_template = flags.url_template;
  out->agents_dns = flags.agents_dns;
  HostPort ignored;
  if (!flags.agents_dns.empty() && !ParseAgentsDns(flags.agents_dns, &ignored, error)) return false;
  if (!CheckUrlTemplate(flags.url_template, error)) return false;
  if (flags.agents.empty()) return true;
  std::ifstream in(flags.agents);
  if (!in) {
    *error = "cannot read --agents '" + flags.agents + "'";
    return false;
  }
  std::stringstream text;
  text << in.rdbuf();
  if (!ParseAgentsFile(text.str(), &out->fixed, error)) {
    *error = "--agents '" + flags.agents + "': " + *error;
    return false;
  }
  return true;
}

void Answer(httplib::Response& res, const HttpAnswer& answer) {
  res.status = answer.status;
  res.set_content(answer.body, "application/json");
}

void InstallRoutes(httplib::Server& server, Service& service) {
  server.Post("/filter", [&](const httplib::Request& req, httplib::Response& res) {
    Answer(res, service.Filter(req.body, MonotonicSeconds()));
  });
  server.Post("/prioritize", [&](const httplib::Request& req, httplib::Response& res) {
    Answer(res, service.Prioritize(req.body, MonotonicSeconds()));
  });
  server.Get("/healthz",
             [](const httplib::Request&, httplib::Response& res) { res.set_content("ok\n", "text/plain"); });
  auto not_allowed = [](const httplib::Request& req, httplib::Response& res) {
    res.status = 405;
    res.set_content(R"({"Error":")" + req.method + " not allowed on " + req.path + "\"}", "application/json");
  };
  server.Get("/filter", not_allowed);
  server.Get("/prioritize", not_allowed);
  server.Post("/healthz", not_allowed);
  server.set_payload_max_length(kMaxBody);
  server.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    res.status = 500;
    res.set_content(R"({"Error":"internal error"})", "application/json");
  });
}

// Serves until SIGTERM or SIGINT; the exit code.
int Serve(const Flags& flags, const HostPort& listen, std::unique_ptr<Engine> engine,
          DirectoryOptions directory_options) {
  AgentDirectory directory(std::move(directory_options));
  std::string ignored;
  AgentPoller* poller_ptr = nullptr;
  Service service(std::move(engine), [&](const vxpu::ExtenderArgs& args) {
    if (directory.Learn(args) && poller_ptr) poller_ptr->Wake();
  });
  std::unique_ptr<AgentDiscovery> discovery;
  if (HostPort dns; ParseAgentsDns(flags.agents_dns, &dns, &ignored)) {
    discovery = std::make_unique<AgentDiscovery>(dns, ResolveAll, Log);
  }
  AgentPoller poller(&directory, &service, flags.poll_interval, discovery.get());
  poller_ptr = &poller;
  // kube-scheduler is one client that may ask in parallel: no cap per address below the total.
  vxpu::GuardedHttpServer server(vxpu::HttpLimits{.max_connections = 64, .max_per_peer = 64});
  InstallRoutes(server, service);
  std::string host = listen.host.empty() ? "0.0.0.0" : listen.host;
  std::string why;
  int port = server.BindTcp(host, listen.port, &why);
  if (port < 0) {
    Log("cannot listen on " + flags.listen + ": " + why);
    return 1;
  }
  poller.Start();
  std::thread http([&server] { server.listen_after_bind(); });
  while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  Log("listening on " + host + ":" + std::to_string(port) + " (policy " + flags.policy + ", poll every " +
      std::to_string(flags.poll_interval) + " s, pending TTL " + std::to_string(flags.pending_ttl) + " s)");
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  int sig = 0;
  sigwait(&stop, &sig);
  server.stop();
  http.join();
  poller.Stop();
  Log(std::string("stopped (") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") + ")");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  CLI::App app{"vxpu-scheduler: kube-scheduler extender placing vxpu.io/gpu-units with the Hi Scheduler"};
  app.add_option("--listen", flags.listen, "Where the extender listens: HOST:PORT or :PORT (port 0: any free one)")
      ->capture_default_str();
  app.add_option("--agents", flags.agents, "File of 'NODE http://HOST:PORT' lines: each node's vxpud (first choice)");
  app.add_option("--agents-dns", flags.agents_dns,
                 "HOST:PORT: every address of HOST (e.g. vxpud's headless Service) is a vxpud at PORT, its node "
                 "the one its /v1/info names (second choice)");
  app.add_option("--agent-url-template", flags.url_template,
                 "vxpud URL of a node, {node} replaced by its name, e.g. http://{node}:9396 (third choice)");
  app.add_option("--agent-port", flags.agent_port, "vxpud port at a Node object's InternalIP (last choice)")
      ->capture_default_str()
      ->check(CLI::Range(1, 65535));
  app.add_option("--policy", flags.policy, "Hi Scheduler policy: " + PolicyList())->capture_default_str();
  app.add_option("--seed", flags.seed, "Seed of the policy's tie-breaking")->capture_default_str();
  app.add_option("--poll-interval", flags.poll_interval, "Seconds between reads of every vxpud's devices")
      ->capture_default_str()
      ->check(CLI::Range(0.05, 60.0));
  app.add_option("--pending-ttl", flags.pending_ttl,
                 "Seconds a placement counts before the node's report shows it, then it is dropped")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 86400.0));
  app.footer("Exit codes: 0 stopped by SIGTERM/SIGINT, 1 could not serve, 2 bad command line.");
  app.set_version_flag("--version",
                       std::string("vxpu-scheduler ") + VXPU_VERSION_STRING + " (commit " + VXPU_COMMIT + ")");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "vxpu-scheduler: %s (see vxpu-scheduler --help)\n", vxpu::PlainParseError(e, app).c_str());
    return kBadInput;
  }
  std::string error;
  std::optional<HostPort> listen = ParseHostPort(flags.listen, &error);
  if (!listen) error = "--listen: " + error;
  DirectoryOptions directory;
  if (listen && !DirectoryFrom(flags, &directory, &error)) listen.reset();
  EngineOptions options;
  options.policy = flags.policy;
  options.seed = flags.seed;
  options.typical = DefaultTypicalPods();
  options.pending_ttl_seconds = flags.pending_ttl;
  std::unique_ptr<Engine> engine = listen ? Engine::Create(options, &error) : nullptr;
  if (!engine) {
    if (error.rfind("unknown policy", 0) == 0) error += " (known: " + PolicyList() + ")";
    std::fprintf(stderr, "vxpu-scheduler: %s\n", error.c_str());
    return kBadInput;
  }
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return Serve(flags, *listen, std::move(engine), std::move(directory));
}
