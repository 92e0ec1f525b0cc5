#include "extender/address.h"

#include <charconv>

namespace vxpu::extender {
namespace {

std::optional<HostPort> Fail(const std::string& what, const std::string& text, std::string* error) {
  *error = "bad " + what + " '" + text + "'";
  return std::nullopt;
}

bool HostCharsOk(const std::string& host) {
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
              c == ':' || c == '_';
    if (!ok) return false;
  }
  return host.size() <= 253;
}

}  // namespace

std::optional<HostPort> ParseHostPort(const std::string& text, std::string* error) {
  const std::string what = "address (want HOST:PORT or :PORT)";
  size_t colon = text.rfind(':');
  if (colon == std::string::npos) return Fail(what, text, error);
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    return Fail(what, text, error);  // an IPv6 host needs brackets
  }
  if (!HostCharsOk(host)) return Fail(what, text, error);
  std::string port_text = text.substr(colon + 1);
  int port = -1;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() || port < 0 ||
      port > 65535) {
    return Fail(what, text, error);
  }
  return HostPort{host, port};
}

std::optional<HostPort> ParseAgentUrl(const std::string& text, std::string* error) {
  const std::string scheme = "http://";
  if (text.rfind(scheme, 0) != 0) return Fail("agent URL (want http://HOST:PORT)", text, error);
  std::string rest = text.substr(scheme.size());
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  std::optional<HostPort> address = ParseHostPort(rest, error);
  if (!address || address->host.empty() || address->port == 0) {
    return Fail("agent URL (want http://HOST:PORT)", text, error);
  }
  return address;
}

std::string AgentUrl(const HostPort& address) {
  bool v6 = address.host.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + address.host + "]" : address.host) + ":" + std::to_string(address.port);
}

}  // namespace vxpu::extender
