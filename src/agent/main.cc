// vxpud, the node agent: the node's device inventory and slice registry, a local API on a unix
// socket and Prometheus metrics (docs/agent.md). SIGTERM or SIGINT stops it cleanly.
#include <execinfo.h>
#include <prometheus/exposer.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <thread>

#include "agent/agent_config.h"
#include "agent/api_server.h"
#include "agent/device_plugin.h"
#include "agent/metrics.h"
#include "agent/node_agent.h"
#include "agent/state_dir_owner.h"
#include "agent_api/agent_beacon.h"
#include "backend/paths.h"
#include "cli/cli_messages.h"
#include "commit.h"
#include "slice/slice_edits.h"

namespace {

constexpr int kBadInput = 2;
constexpr unsigned kSocketMode = 0660;
// The state directory vxpud makes: its user's and group's (those who may use the socket), sticky
// like /dev/shm so that one user cannot remove another's segments.
constexpr mode_t kStateDirMode = 01770;

// On a crash: the signal and a backtrace on stderr (async-signal-safe calls only), then the
// default action, so that a crash in the field (or in CI) says where it happened.
void ReportCrash(int sig) {
  const char* name = sig == SIGSEGV ? "SIGSEGV" : sig == SIGBUS ? "SIGBUS" : sig == SIGABRT ? "SIGABRT" : "SIGFPE";
  const char head[] = "vxpud: crashed: ";
  write(STDERR_FILENO, head, sizeof(head) - 1);
  write(STDERR_FILENO, name, std::strlen(name));
  write(STDERR_FILENO, "\n", 1);
  void* frames[64];
  backtrace_symbols_fd(frames, backtrace(frames, 64), STDERR_FILENO);
  signal(sig, SIG_DFL);
  raise(sig);
}

void ReportCrashes() {
  void* warm[1];
  backtrace(warm, 1);  // loads libgcc now: not from inside the handler
  for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE}) signal(sig, ReportCrash);
}

void Log(const std::string& line) {
  std::fprintf(stderr, "vxpud: %s\n", line.c_str());
  std::fflush(stderr);
}

// Creates `dir` (and its parents, 0755) if missing; the directory itself is made kStateDirMode.
// false with *error if it cannot be a directory. An existing one keeps its mode, with a warning
// when other users can list it (slice names, device UUIDs and pids are file names there).
bool MakeStateDir(const std::string& dir, std::string* error) {
  for (size_t at = 1; at <= dir.size(); ++at) {
    if (at != dir.size() && dir[at] != '/') continue;
    std::string part = dir.substr(0, at);
    bool leaf = at == dir.size();
    if (mkdir(part.c_str(), leaf ? 0700 : 0755) == 0) {
      if (leaf) chmod(part.c_str(), kStateDirMode);  // whatever the umask
    } else if (errno != EEXIST) {
      *error = "--state-dir " + dir + ": cannot create " + part + ": " + std::strerror(errno);
      return false;
    }
  }
  struct stat st;
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    *error = "--state-dir " + dir + ": not a directory";
    return false;
  }
  if ((st.st_mode & 007) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", st.st_mode & 07777);
    Log("warning: --state-dir " + dir + " is mode " + mode +
        ": other users can list its slices' names, devices and pids (vxpud makes it 1770)");
  }
  return true;
}

// Waits for SIGTERM/SIGINT, polling the agent every `seconds` meanwhile. Returns the signal.
int PollUntilSignal(vxpu::NodeAgent* agent, double seconds) {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  timespec period{static_cast<time_t>(seconds), static_cast<long>((seconds - static_cast<time_t>(seconds)) * 1e9)};
  for (;;) {
    int sig = sigtimedwait(&stop, nullptr, &period);
    if (sig == SIGTERM || sig == SIGINT) return sig;
    agent->Poll();
  }
}

// Starts the kubelet device plugins if they are asked for, or by default if kubelet's directory
// is there: vxpu.io/gpu-units, and vxpu.io/npu-units where the node has NPUs; false (logged) if
// asked for and they cannot run.
bool StartDevicePlugin(const vxpu::AgentConfig& config, vxpu::NodeAgent* agent,
                       std::vector<std::unique_ptr<vxpu::DevicePlugin>>* plugins) {
  struct stat st;
  bool dir_exists = stat(config.device_plugin_dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  if (config.device_plugin == vxpu::PluginMode::kOff ||
      (config.device_plugin == vxpu::PluginMode::kAuto && !dir_exists)) {
    return true;
  }
  if (!dir_exists) {
    Log("--device-plugin: " + config.device_plugin_dir + " is not a directory (--device-plugin-dir)");
    return false;
  }
  std::string error;
  if (!vxpu::InstallHostLib(vxpu::InterposerPath(), config.host_lib_dir, &error)) {
    Log(error);
    return false;
  }
  vxpu::DevicePluginOptions options{config.device_plugin_dir,
                                    "gpu",
                                    {config.state_dir, config.host_lib_dir, "/dev"},
                                    config.poll_seconds,
                                    config.pod_resources_socket};
  agent->AddTermsDir(vxpu::TermsDir(options.paths));
  plugins->push_back(vxpu::DevicePlugin::Start(agent, options, Log));
  std::vector<vxpu::DeviceView> devices = agent->Devices();
  if (std::any_of(devices.begin(), devices.end(), [](const vxpu::DeviceView& d) { return d.kind == "npu"; })) {
    options.kind = "npu";
    plugins->push_back(vxpu::DevicePlugin::Start(agent, options, Log));
  }
  return true;
}

int Serve(const vxpu::AgentConfig& config, uint64_t context_reserve, const std::string& exposer_address) {
  std::string error;
  if (!MakeStateDir(config.state_dir, &error)) {
    Log(error);
    return 1;
  }
  std::unique_ptr<vxpu::StateDirOwner> owner = vxpu::StateDirOwner::Take(config.state_dir, &error);
  if (!owner) {
    Log(error);
    return 1;
  }
  // Every segment this process reads (ledgers, arbiters, simgpu's devices) lives in the state dir.
  setenv("VXPU_STATE_DIR", config.state_dir.c_str(), 1);
  vxpu::AgentOptions options{config.state_dir, config.sim, context_reserve};
  std::unique_ptr<vxpu::NodeAgent> agent = vxpu::NodeAgent::Start(options, Log, &error);
  if (!agent) {
    Log(error);
    return 1;
  }
  vxpu::UnixHttpServer server;
  if (!server.Bind(config.socket, kSocketMode, &error)) {
    Log(error);
    return 1;
  }
  std::unique_ptr<prometheus::Exposer> exposer;
  vxpu::ListenAddress metrics_at;
  std::string why;
  if (vxpu::ParseListenAddress("--metrics-addr", config.metrics_addr, &metrics_at, &why) &&
      !vxpu::TcpPortFree(metrics_at.host.empty() ? "0.0.0.0" : metrics_at.host, metrics_at.port, &why)) {
    Log("cannot serve metrics on " + config.metrics_addr + " (--metrics-addr): " + why);  // civetweb says not why
    unlink(config.socket.c_str());
    return 1;
  }
  try {
    exposer = std::make_unique<prometheus::Exposer>(exposer_address);
  } catch (const std::exception& e) {
    Log("cannot serve metrics on " + config.metrics_addr + ": " + e.what());
    unlink(config.socket.c_str());
    return 1;
  }
  auto metrics = std::make_shared<vxpu::AgentMetrics>(agent.get());
  exposer->RegisterCollectable(metrics);
  std::string ports;
  for (int port : exposer->GetListeningPorts()) ports += (ports.empty() ? "" : ",") + std::to_string(port);
  vxpu::GuardedHttpServer tcp;
  std::string tcp_port;
  if (!config.api_addr.empty()) {
    tcp.set_idle_interval(0, 100 * 1000);
    vxpu::InstallApi(agent.get(), vxpu::ApiInfo{VXPU_VERSION_STRING, config.socket, config.sim, config.node_name},
                     vxpu::ApiAccess::kReadOnly, &tcp);
    const vxpu::ListenAddress& at = config.api_listen;
    std::string host = at.host.empty() ? "0.0.0.0" : at.host;
    int port = tcp.BindTcp(host, at.port, &why);
    if (port < 0) {
      Log("cannot serve the API on " + config.api_addr + " (--api-addr): " + why);
      unlink(config.socket.c_str());
      return 1;
    }
    tcp_port = std::to_string(port);
  }
  std::vector<std::unique_ptr<vxpu::DevicePlugin>> plugins;
  if (!StartDevicePlugin(config, agent.get(), &plugins)) {
    unlink(config.socket.c_str());
    return 1;
  }
  vxpu::InstallApi(agent.get(), vxpu::ApiInfo{VXPU_VERSION_STRING, config.socket, config.sim, config.node_name},
                   vxpu::ApiAccess::kFull, &server);
  std::thread api([&server] { server.Serve(); });
  std::thread api_tcp([&tcp, &tcp_port] {
    if (!tcp_port.empty()) tcp.listen_after_bind();
  });
  // httplib's stop() does nothing until the server runs: a SIGTERM right after start (it waits,
  // blocked, meanwhile) would otherwise leave the API thread serving and the agent hung.
  while (!server.is_running() || (!tcp_port.empty() && !tcp.is_running()))
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  // Commands told nothing about this agent find it through the beacon (agent_beacon.h).
  std::unique_ptr<vxpu::AgentBeacon> beacon =
      vxpu::AgentBeacon::Start(vxpu::AgentAnnouncement{config.socket, config.state_dir, getpid()}, &error);
  if (!beacon && !error.empty())
    Log(error + ": commands find this agent only through $VXPU_STATE_DIR or $VXPU_AGENT_SOCKET");
  Log("serving: API on " + config.socket + (tcp_port.empty() ? "" : " and read-only on TCP port " + tcp_port) +
      ", metrics on " + config.metrics_addr + " (port " + ports + ") /metrics, state in " + config.state_dir +
      (config.sim ? ", simulated devices" : ""));
  int sig = PollUntilSignal(agent.get(), config.poll_seconds);
  beacon.reset();
  plugins.clear();
  server.stop();
  tcp.stop();
  api.join();
  api_tcp.join();
  unlink(config.socket.c_str());
  Log(std::string("stopped (") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") + ")");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  vxpu::AgentConfig config;
  CLI::App app{
      "vxpud: the vxpu node agent (device inventory, slice registry, local API, Prometheus metrics, kubelet device "
      "plugin)"};
  app.add_flag("--sim", config.sim, "Serve the simulated GPUs (simgpu) instead of the driver's");
  app.add_option("--state-dir", config.state_dir,
                 "Registry, API socket and every slice's shared state (mount it into containers)")
      ->capture_default_str();
  app.add_option("--metrics-addr", config.metrics_addr, "Where /metrics listens: HOST:PORT or :PORT")
      ->capture_default_str();
  app.add_option("--socket", config.socket, "The local API's unix socket")->default_str("<state-dir>/vxpud.sock");
  app.add_option("--poll-interval", config.poll_seconds, "Seconds between looks at devices and slices")
      ->capture_default_str();
  app.add_option("--context-reserve", config.context_reserve,
                 "Device memory kept beside each slice's quota for its context (IEC size)")
      ->capture_default_str();
  app.add_option("--api-addr", config.api_addr,
                 "Also serve the API's read-only GETs over TCP here (HOST:PORT or :PORT), for vxpu-scheduler");
  app.add_option("--device-plugin-dir", config.device_plugin_dir,
                 "kubelet's device plugin directory; the plugin runs when it exists")
      ->capture_default_str();
  auto* on = app.add_flag_callback(
      "--device-plugin", [&config] { config.device_plugin = vxpu::PluginMode::kOn; },
      "Run the kubelet device plugin (an error if --device-plugin-dir is missing)");
  app.add_flag_callback(
         "--no-device-plugin", [&config] { config.device_plugin = vxpu::PluginMode::kOff; },
         "Do not run the kubelet device plugin")
      ->excludes(on);
  app.add_option("--host-lib-dir", config.host_lib_dir,
                 "Where the plugin puts libvxpu.so and ld.so.preload for containers to mount")
      ->capture_default_str();
  app.add_option("--node-name", config.node_name,
                 "This node's name in /v1/info (Kubernetes: the Node's name), so the extender can map agents to nodes")
      ->default_str("<host name>");
  app.add_option("--pod-resources-socket", config.pod_resources_socket,
                 "kubelet's pod resources API, read to learn which containers still hold units")
      ->capture_default_str();
  app.set_version_flag("--version", std::string("vxpud ") + VXPU_VERSION_STRING + " (commit " + VXPU_COMMIT + ")");
  app.footer("Exit codes: 0 stopped by SIGTERM/SIGINT, 1 could not serve, 2 bad command line.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "vxpud: %s (see vxpud --help)\n", vxpu::PlainParseError(e, app).c_str());
    return kBadInput;
  }
  std::string error;
  std::optional<uint64_t> reserve = vxpu::ContextReserveBytes(config.context_reserve, &error);
  std::optional<std::string> address = reserve ? vxpu::ExposerAddress(config.metrics_addr, &error) : std::nullopt;
  if (!reserve || !address || !vxpu::ResolveConfig(&config, &error)) {
    std::fprintf(stderr, "vxpud: %s\n", error.c_str());
    return kBadInput;
  }
  // SIGTERM/SIGINT are taken by sigtimedwait in the main thread; every thread inherits the mask.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  signal(SIGPIPE, SIG_IGN);
  ReportCrashes();
  return Serve(config, *reserve, *address);
}
