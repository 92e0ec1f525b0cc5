#include "agent_api/unix_http.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vxpu {
namespace {

bool FillAddress(const std::string& path, sockaddr_un* address) {
  std::memset(address, 0, sizeof(*address));
  address->sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(address->sun_path)) return false;
  std::memcpy(address->sun_path, path.c_str(), path.size());
  return true;
}

// A connected socket to `path`, or -1 with errno set.
int Connect(const std::string& path) {
  sockaddr_un address;
  if (!FillAddress(path, &address)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

}  // namespace

bool UnixSocketAnswers(const std::string& path) { return UnixSocketConnectError(path) == 0; }

int UnixSocketConnectError(const std::string& path) {
  int fd = Connect(path);
  if (fd < 0) return errno;
  close(fd);
  return 0;
}

bool UnixHttpServer::Bind(const std::string& path, unsigned mode, std::string* error) {
  sockaddr_un address;
  if (!FillAddress(path, &address)) {
    *error = "socket path \"" + path + "\" is empty or too long (at most 107 bytes)";
    return false;
  }
  if (UnixSocketAnswers(path)) {
    *error = "socket " + path + " is in use: another vxpud runs there";
    return false;
  }
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      *error = "socket path " + path + " exists and is not a socket";
      return false;
    }
    unlink(path.c_str());  // stale: its server is gone
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      chmod(path.c_str(), mode) != 0 || ::listen(fd, 64) != 0) {
    *error = "cannot listen on " + path + ": " + std::strerror(errno);
    if (fd >= 0) close(fd);
    return false;
  }
  svr_sock_ = fd;
  // Without an idle interval the accept loop blocks in accept(), and shutdown() of a listening
  // unix socket does not wake it: stop() would hang until the next connection.
  set_idle_interval(0, 100 * 1000);
  return true;
}

UnixHttpClient::UnixHttpClient(std::string path) : httplib::ClientImpl("localhost"), path_(std::move(path)) {}

bool UnixHttpClient::create_and_connect_socket(Socket& socket, httplib::Error& error) {
  int fd = Connect(path_);
  if (fd < 0) {
    error = httplib::Error::Connection;
    return false;
  }
  socket.sock = fd;
  return true;
}

}  // namespace vxpu
