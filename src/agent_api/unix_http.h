// HTTP over a unix socket with cpp-httplib (Debian's 0.11 speaks TCP only): a server bound to a
// socket file (GuardedHttpServer: capped, with deadlines) and a client that connects to one. The local API of vxpud
// runs on these.
#pragma once

#include <httplib.h>

#include <string>

#include "agent_api/guarded_http.h"

namespace vxpu {

class UnixHttpServer : public GuardedHttpServer {
 public:
  explicit UnixHttpServer(HttpLimits limits = HttpLimits()) : GuardedHttpServer(limits) {}
  // Binds the socket file `path` with `mode` (a stale file no one answers on is replaced; a live
  // server there is an error). Then Serve() runs until stop() (within 0.1 s of it; stop() does
  // nothing before Serve() runs: wait for is_running()).
  bool Bind(const std::string& path, unsigned mode, std::string* error);
  bool Serve() { return listen_after_bind(); }
};

class UnixHttpClient : public httplib::ClientImpl {
 public:
  explicit UnixHttpClient(std::string path);

 protected:
  bool create_and_connect_socket(Socket& socket, httplib::Error& error) override;

 private:
  std::string path_;
};

// True if something accepts connections on the socket file `path`.
bool UnixSocketAnswers(const std::string& path);

// 0 if something accepts connections on `path`, else the errno of the attempt (ENOENT: no
// socket file; ECONNREFUSED: a stale one; EACCES: one this process may not use).
int UnixSocketConnectError(const std::string& path);

}  // namespace vxpu
