// vxpud's command line, checked: each bad value is refused with one line naming it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace vxpu {

struct ListenAddress {
  std::string host;  // empty: every address
  int port = 0;      // 0: any free one
};

// How the device plugin is switched: on when kubelet's directory exists, or as told.
enum class PluginMode { kAuto, kOn, kOff };

struct AgentConfig {
  bool sim = false;
  std::string state_dir = "/var/run/vxpu";
  std::string metrics_addr = ":9395";  // DCGM's exporter holds 9400
  std::string socket;                  // default <state_dir>/vxpud.sock
  double poll_seconds = 1.0;
  std::string context_reserve = "512MiB";
  std::string api_addr;  // the read-only API over TCP, for the extender; empty: not served
  ListenAddress api_listen;
  std::string device_plugin_dir = "/var/lib/kubelet/device-plugins";
  PluginMode device_plugin = PluginMode::kAuto;
  std::string host_lib_dir = "/var/lib/vxpu";
  std::string pod_resources_socket = "/var/lib/kubelet/pod-resources/kubelet.sock";
  std::string node_name;  // default: the host name
};

// "HOST:PORT" or ":PORT" for a listening socket; false with *error naming `flag` and the value.
bool ParseListenAddress(const std::string& flag, const std::string& text, ListenAddress* out, std::string* error);

// "HOST:PORT" (":PORT" for every address, "[v6]:PORT") as prometheus-cpp's exposer takes it
// (port 0: any free one); nullopt with *error naming the bad value.
std::optional<std::string> ExposerAddress(const std::string& metrics_addr, std::string* error);

// The context reserve in bytes ("512MiB"); IEC units only, as everywhere in vxpu.
std::optional<uint64_t> ContextReserveBytes(const std::string& text, std::string* error);

// Checks the paths (absolute, the socket path fits a unix address) and fills the defaults.
bool ResolveConfig(AgentConfig* config, std::string* error);

}  // namespace vxpu
