// An HTTP server (cpp-httplib's routing and parsing) that keeps serving while some of its
// clients misbehave. Connections are served by a fixed pool of `max_connections` threads; one
// more is answered 503 and closed at once, so new clients never queue behind slow ones. One TCP
// address gets at most `max_per_peer` of them (unix sockets are not counted per peer). Each
// request must arrive and be answered within `request_deadline`, however it trickles in, and
// may not be more than its body's limit (set_payload_max_length) plus 64 KiB of headers, however
// fast it comes; an idle keep-alive connection is closed after `idle_timeout`, and at once when
// the server stops. An exception, from a handler or
// from the library, closes its connection and nothing else. Ports are bound without
// SO_REUSEPORT: a port another server holds is refused, not shared.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace vxpu {

class DeadlineStream;

struct HttpLimits {
  size_t max_connections = 32;
  size_t max_per_peer = 8;
  std::chrono::milliseconds request_deadline{5000};
  std::chrono::milliseconds idle_timeout{2000};
};

// Whether a TCP server could listen on `host`:`port` now (bound and let go at once, without
// SO_REUSEPORT); false with *error saying why. For servers that bind inside another library
// (prometheus-cpp's civetweb), whose own failure says nothing of the reason.
bool TcpPortFree(const std::string& host, int port, std::string* error);

class GuardedHttpServer : public httplib::Server {
 public:
  explicit GuardedHttpServer(HttpLimits limits = HttpLimits());

  // Binds a listening TCP socket on `host` (a name or address; empty: every address) and `port`
  // (0: any free one), without SO_REUSEPORT: a port another process holds is refused. The port
  // bound, or -1 with *error saying why (the errno's text). Then listen_after_bind() serves.
  int BindTcp(const std::string& host, int port, std::string* error);

  const HttpLimits& limits() const { return limits_; }
  // How many exceptions reached this server's last guard (each closed its connection unanswered):
  // a handler or error handler that throws is a bug the fuzzer looks for.
  uint64_t escaped_exceptions() const { return escaped_exceptions_.load(); }

 protected:
  // Serves the requests of the connected socket `sock` under the deadlines, leaving it open:
  // process_and_close_socket's work past admission (which stops once the server does), and a
  // fuzzer's on a socket pair (with `while_listening` false: its server never listens).
  void ServeConnection(int sock, bool while_listening = true);

 private:
  bool process_and_close_socket(socket_t sock) override;
  bool AwaitRequest(DeadlineStream& stream, bool while_listening);
  // False once stop() has begun (httplib says is_running() until its pool has drained).
  bool Listening() const { return svr_sock_ != INVALID_SOCKET; }
  // Counts a connection of `peer` (empty: not counted); false if it has its share already.
  bool AdmitPeer(const std::string& peer);
  void ReleasePeer(const std::string& peer);

  HttpLimits limits_;
  std::atomic<uint64_t> escaped_exceptions_{0};
  std::mutex mu_;
  std::map<std::string, size_t> per_peer_;  // guarded by mu_
};

}  // namespace vxpu
