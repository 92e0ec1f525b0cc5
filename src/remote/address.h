// What the remote client, `vxpu remoted` and `vxpu run --remote` read from their users: a
// server address and a token file. Dependency-free (the client library includes it).
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
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

// The token in the file `path`, which must be a regular file its owner alone may read or write
// (mode 0600 or stricter: a token others can read is no secret) of 16 to `max_bytes` bytes, its
// trailing newlines dropped. A FIFO or device is refused without being read. False with *error:
// `what` (the flag or variable that named the file) and the problem, on one line.
inline bool ReadTokenFile(const std::string& what, const std::string& path, size_t max_bytes, std::string* token,
                          std::string* error) {
  const std::string named = what + ": \"" + path + "\"";
  int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    *error = named + ": " + std::strerror(errno);
    return false;
  }
  struct stat st {};
  std::string why;
  if (fstat(fd, &st) != 0) {
    why = std::strerror(errno);
  } else if (!S_ISREG(st.st_mode)) {
    why = "not a regular file";
  } else if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    why = "others may read or write it (chmod 600 it)";
  } else if (static_cast<size_t>(st.st_size) > max_bytes + 2) {
    why = "over " + std::to_string(max_bytes) + " bytes";
  }
  token->clear();
  char buffer[1024];
  ssize_t n = 0;
  while (why.empty() && token->size() <= max_bytes + 2 && (n = read(fd, buffer, sizeof(buffer))) > 0)
    token->append(buffer, static_cast<size_t>(n));
  if (why.empty() && n < 0) why = std::strerror(errno);
  close(fd);
  while (!token->empty() && (token->back() == '\n' || token->back() == '\r')) token->pop_back();
  if (why.empty() && (token->size() < 16 || token->size() > max_bytes))
    why = "must hold a token of 16 to " + std::to_string(max_bytes) + " bytes";
  if (!why.empty()) *error = named + ": " + why;
  return why.empty();
}

}  // namespace vxpu::remote
