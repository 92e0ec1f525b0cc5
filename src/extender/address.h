// Network addresses as vxpu-scheduler's flags and its agents file write them: "HOST:PORT",
// ":PORT" (every address), "[IPv6]:PORT", and agent URLs "http://HOST:PORT" (no path; https is
// not supported). Pure code.
#pragma once

#include <optional>
#include <string>

namespace vxpu::extender {

struct HostPort {
  std::string host;  // "" in ":PORT": every address
  int port = 0;      // 0-65535
};

// nullopt and *error (naming `text`) when it is not HOST:PORT.
std::optional<HostPort> ParseHostPort(const std::string& text, std::string* error);
// "http://HOST:PORT" (a trailing "/" allowed); nullopt and *error otherwise.
std::optional<HostPort> ParseAgentUrl(const std::string& text, std::string* error);
// "http://HOST:PORT", brackets around an IPv6 host.
std::string AgentUrl(const HostPort& address);

}  // namespace vxpu::extender
