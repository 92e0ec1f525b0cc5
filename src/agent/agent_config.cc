#include "agent/agent_config.h"

#include <sys/un.h>
#include <unistd.h>

#include <charconv>

#include "agent_api/agent_client.h"
#include "common/units.h"

namespace vxpu {

bool ParseListenAddress(const std::string& flag, const std::string& text, ListenAddress* out, std::string* error) {
  size_t colon = text.rfind(':');
  auto bad = [&](const std::string& why) {
    *error = flag + " \"" + text + "\": " + why;
    return false;
  };
  if (colon == std::string::npos) return bad("want HOST:PORT (or :PORT)");
  std::string host = text.substr(0, colon);
  std::string port = text.substr(colon + 1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535)
    return bad("bad port \"" + port + "\" (want 0-65535)");
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
              c == ':' || c == '[' || c == ']';
    if (!ok) return bad("bad host \"" + host + "\"");
  }
  out->host = host == "0.0.0.0" ? "" : host;
  out->port = static_cast<int>(value);
  return true;
}

std::optional<std::string> ExposerAddress(const std::string& metrics_addr, std::string* error) {
  ListenAddress address;
  if (!ParseListenAddress("--metrics-addr", metrics_addr, &address, error)) return std::nullopt;
  if (address.host.empty()) return std::to_string(address.port);  // every address
  return address.host + ":" + std::to_string(address.port);
}

std::optional<uint64_t> ContextReserveBytes(const std::string& text, std::string* error) {
  if (text.find('%') != std::string::npos) {
    *error = "--context-reserve \"" + text + "\": give a size (512MiB), not a percentage";
    return std::nullopt;
  }
  if (text == "0" || text == "0B") return 0;
  std::string why;
  std::optional<uint64_t> bytes = ParseMemoryQuota(text, UINT64_MAX, &why);
  if (!bytes) *error = "--context-reserve: " + why;
  return bytes;
}

bool ResolveConfig(AgentConfig* config, std::string* error) {
  while (config->state_dir.size() > 1 && config->state_dir.back() == '/') config->state_dir.pop_back();
  if (config->state_dir.empty() || config->state_dir[0] != '/') {
    *error = "--state-dir \"" + config->state_dir + "\": want an absolute path";
    return false;
  }
  if (config->socket.empty()) config->socket = config->state_dir + "/" + kAgentSocketName;
  if (config->socket[0] != '/') {
    *error = "--socket \"" + config->socket + "\": want an absolute path";
    return false;
  }
  if (config->socket.size() >= sizeof(sockaddr_un{}.sun_path)) {
    *error = "--socket \"" + config->socket + "\": longer than a unix socket address takes (107 bytes)";
    return false;
  }
  for (auto [flag, path] : {std::pair{"--device-plugin-dir", &config->device_plugin_dir},
                            std::pair{"--host-lib-dir", &config->host_lib_dir}}) {
    while (path->size() > 1 && path->back() == '/') path->pop_back();
    if (path->empty() || (*path)[0] != '/') {
      *error = std::string(flag) + " \"" + *path + "\": want an absolute path";
      return false;
    }
  }
  if (config->pod_resources_socket.size() >= sizeof(sockaddr_un{}.sun_path)) {
    *error = "--pod-resources-socket \"" + config->pod_resources_socket + "\": too long for a unix socket address";
    return false;
  }
  if (config->device_plugin_dir.size() + 32 >= sizeof(sockaddr_un{}.sun_path)) {
    *error = "--device-plugin-dir \"" + config->device_plugin_dir + "\": too long for its sockets' addresses";
    return false;
  }
  if (!config->api_addr.empty() && !ParseListenAddress("--api-addr", config->api_addr, &config->api_listen, error))
    return false;
  if (config->node_name.empty()) {
    char host[256] = {};
    if (gethostname(host, sizeof(host) - 1) == 0) config->node_name = host;
  }
  if (config->node_name.empty() || config->node_name.size() > 253 ||
      config->node_name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") !=
          std::string::npos) {
    *error = "--node-name \"" + config->node_name + "\": want a node name (letters, digits, '-' and '.', 1-253)";
    return false;
  }
  if (!(config->poll_seconds >= 0.05 && config->poll_seconds <= 60)) {
    *error = "--poll-interval " + std::to_string(config->poll_seconds) + ": want 0.05 to 60 seconds";
    return false;
  }
  return true;
}

}  // namespace vxpu
