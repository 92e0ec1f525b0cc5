// What the remote client, `vxpu remoted` and `vxpu run --remote` read from their users: a
// server address and a token file. Dependency-free (the client library includes it).
#pragma once

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace vxpu::remote {

// "HOST:PORT" or "[V6]:PORT" into its parts; false unless PORT is a number 1-65535 (0 too
// when `any_port`: a server's "pick a free one").
inline bool SplitHostPort(const std::string& text, std::string* host, std::string* port, bool any_port = false) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return false;
  *host = text.substr(0, colon);
  *port = text.substr(colon + 1);
  if (host->size() > 1 && host->front() == '[' && host->back() == ']') *host = host->substr(1, host->size() - 2);
  char* end = nullptr;
  errno = 0;
  unsigned long number = std::strtoul(port->c_str(), &end, 10);
  return !host->empty() && errno == 0 && *end == '\0' && (*port)[0] != '-' && number <= 65535 &&
         (number > 0 || any_port);
}

// The token a file holds (its trailing newlines dropped); false if it cannot be read.
inline bool ReadTokenFile(const std::string& path, std::string* token) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  *token = text.str();
  while (!token->empty() && (token->back() == '\n' || token->back() == '\r')) token->pop_back();
  return static_cast<bool>(in);
}

}  // namespace vxpu::remote
