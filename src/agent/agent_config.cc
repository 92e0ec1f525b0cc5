#include "agent/agent_config.h"

#include <sys/un.h>

#include <charconv>

#include "agent_api/agent_client.h"
#include "common/units.h"

namespace vxpu {

std::optional<std::string> ExposerAddress(const std::string& metrics_addr, std::string* error) {
  size_t colon = metrics_addr.rfind(':');
  auto bad = [&](const std::string& why) {
    *error = "--metrics-addr \"" + metrics_addr + "\": " + why;
    return std::nullopt;
  };
  if (colon == std::string::npos) return bad("want HOST:PORT (or :PORT)");
  std::string host = metrics_addr.substr(0, colon);
  std::string port = metrics_addr.substr(colon + 1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535)
    return bad("bad port \"" + port + "\" (want 0-65535)");
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
              c == ':' || c == '[' || c == ']';
    if (!ok) return bad("bad host \"" + host + "\"");
  }
  if (host.empty() || host == "0.0.0.0") return std::to_string(value);  // every address
  return host + ":" + std::to_string(value);
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
  if (!(config->poll_seconds >= 0.05 && config->poll_seconds <= 60)) {
    *error = "--poll-interval " + std::to_string(config->poll_seconds) + ": want 0.05 to 60 seconds";
    return false;
  }
  return true;
}

}  // namespace vxpu
