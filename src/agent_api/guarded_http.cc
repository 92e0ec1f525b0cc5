#include "agent_api/guarded_http.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace vxpu {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kStopCheck{100};  // how soon an idle connection notices stop()
constexpr size_t kHeaderBudget = 64 * 1024;           // bytes of request line and headers, past the body's

// Set on the accepting thread while it turns away a connection the pool has no room for.
thread_local bool t_turning_away = false;

// A fixed pool of threads that never queues: a task that finds every thread taken runs at once
// on the caller's thread with t_turning_away set (process_and_close_socket then only refuses).
class NoQueuePool : public httplib::TaskQueue {
 public:
  explicit NoQueuePool(size_t threads) : capacity_(threads) {
    for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
  }

  void enqueue(std::function<void()> fn) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (taken_ < capacity_) {
        ++taken_;
        jobs_.push_back(std::move(fn));
        cv_.notify_one();
        return;
      }
    }
    t_turning_away = true;
    fn();
    t_turning_away = false;
  }

  void shutdown() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_) t.join();
  }

 private:
  void Work() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
      std::lock_guard<std::mutex> lock(mu_);
      --taken_;
    }
  }

  const size_t capacity_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  size_t taken_ = 0;  // queued or running
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

int MillisLeft(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

// Waits until `sock` has `events`, at most until `deadline`.
bool WaitFor(int sock, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{sock, events, 0};
    int n = poll(&p, 1, MillisLeft(deadline));
    if (n > 0) return (p.revents & (events | POLLHUP | POLLERR)) != 0;
    if (n == 0 || errno != EINTR) return false;
  }
}

}  // namespace

// A socket read through a buffer for one request at a time: every wait ends at the request's
// deadline, after which nothing more is read or written, and at most `budget` bytes are read for
// it (however fast a client sends endless headers or chunks, it is cut off).
class DeadlineStream : public httplib::Stream {
 public:
  explicit DeadlineStream(int sock) : sock_(sock) {}

  void BeginRequest(Clock::time_point deadline, size_t budget) {
    deadline_ = deadline;
    budget_ = budget;
  }
  // Whether another request starts within `idle`.
  bool AwaitRequest(std::chrono::milliseconds idle) {
    return begin_ < end_ || WaitFor(sock_, POLLIN, Clock::now() + idle);
  }

  bool is_readable() const override {
    return !Expired() && budget_ > 0 && (begin_ < end_ || WaitFor(sock_, POLLIN, deadline_));
  }
  bool is_writable() const override { return !Expired() && WaitFor(sock_, POLLOUT, deadline_); }

  ssize_t read(char* ptr, size_t size) override {
    if (Expired() || budget_ == 0) return -1;
    if (begin_ == end_) {
      if (!is_readable()) return -1;
      ssize_t n = recv(sock_, buffer_, sizeof(buffer_), 0);
      if (n <= 0) return n;
      begin_ = 0;
      end_ = static_cast<size_t>(n);
    }
    size_t take = std::min({size, end_ - begin_, budget_});
    std::copy(buffer_ + begin_, buffer_ + begin_ + take, ptr);
    begin_ += take;
    budget_ -= take;
    return static_cast<ssize_t>(take);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (!is_writable()) return -1;
    return send(sock_, ptr, size, MSG_NOSIGNAL);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override { Address(getpeername, &ip, &port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { Address(getsockname, &ip, &port); }
  socket_t socket() const override { return sock_; }

 private:
  bool Expired() const { return Clock::now() >= deadline_; }

  using NameOf = int (*)(int, sockaddr*, socklen_t*);
  void Address(NameOf name_of, std::string* ip, int* port) const {
    sockaddr_storage address{};
    socklen_t length = sizeof(address);
    char text[INET6_ADDRSTRLEN] = "";
    *port = 0;
    if (name_of(sock_, reinterpret_cast<sockaddr*>(&address), &length) != 0) return;
    if (address.ss_family == AF_INET) {
      auto* in = reinterpret_cast<sockaddr_in*>(&address);
      inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
      *port = ntohs(in->sin_port);
    } else if (address.ss_family == AF_INET6) {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(&address);
      inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
      *port = ntohs(in6->sin6_port);
    }
    *ip = text;
  }

  int sock_;
  Clock::time_point deadline_ = Clock::now();
  size_t budget_ = 0;
  char buffer_[4096];
  size_t begin_ = 0, end_ = 0;
};

namespace {

// The peer's address for per-peer counting: its IP for TCP, empty (not counted) otherwise.
std::string PeerOf(int sock) {
  DeadlineStream stream(sock);
  std::string ip;
  int port = 0;
  stream.get_remote_ip_and_port(ip, port);
  return ip;
}

// Answers 503 without waiting (a full socket buffer drops it) and closes.
void TurnAway(int sock) {
  static const std::string kBody = "{\"error\": \"too many connections; try again shortly\"}\n";
  static const std::string kBusy =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
      "Content-Length: " +
      std::to_string(kBody.size()) + "\r\n\r\n" + kBody;
  send(sock, kBusy.data(), kBusy.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  shutdown(sock, SHUT_RDWR);
  close(sock);
}

// A socket bound to `host`:`port` (SO_REUSEADDR only), or -1 with *error set.
int BoundSocket(const std::string& host, int port, std::string* error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string where = (host.empty() ? "*" : host) + ":" + std::to_string(port);
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (rc != 0) {
    *error = where + ": " + gai_strerror(rc);
    return -1;
  }
  int fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int yes = 1;
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes)) != 0 ||
      bind(fd, found->ai_addr, found->ai_addrlen) != 0) {
    *error = where + ": " + std::strerror(errno);
    if (fd >= 0) close(fd);
    fd = -1;
  }
  freeaddrinfo(found);
  return fd;
}

int BoundPort(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return -1;
  if (address.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port);
  return ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
}

}  // namespace

bool TcpPortFree(const std::string& host, int port, std::string* error) {
  int fd = BoundSocket(host, port, error);
  if (fd < 0) return false;
  close(fd);
  return true;
}

int GuardedHttpServer::BindTcp(const std::string& host, int port, std::string* error) {
  int fd = BoundSocket(host, port, error);
  if (fd < 0) return -1;
  if (::listen(fd, 64) != 0) {
    *error = (host.empty() ? "*" : host) + ":" + std::to_string(port) + ": " + std::strerror(errno);
    close(fd);
    return -1;
  }
  svr_sock_ = fd;
  // Without an idle interval the accept loop may block in accept() past stop().
  set_idle_interval(0, 100 * 1000);
  return BoundPort(fd);
}

GuardedHttpServer::GuardedHttpServer(HttpLimits limits) : limits_(limits) {
  size_t threads = limits_.max_connections;
  new_task_queue = [threads] { return new NoQueuePool(threads); };
  set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));  // not SO_REUSEPORT
  });
}

bool GuardedHttpServer::process_and_close_socket(socket_t sock) {
  if (t_turning_away) {
    TurnAway(sock);
    return false;
  }
  std::string peer = PeerOf(sock);
  if (!AdmitPeer(peer)) {
    TurnAway(sock);
    return false;
  }
  ServeConnection(sock);
  ReleasePeer(peer);
  shutdown(sock, SHUT_RDWR);
  close(sock);
  return true;
}

// Whether another request begins on `stream` before it has been idle for the idle timeout; looks
// in steps, so that stop() is not kept waiting by an idle keep-alive connection.
bool GuardedHttpServer::AwaitRequest(DeadlineStream& stream, bool while_listening) {
  auto give_up = Clock::now() + limits_.idle_timeout;
  while ((Listening() || !while_listening) && Clock::now() < give_up) {
    if (stream.AwaitRequest(std::min<std::chrono::milliseconds>(kStopCheck, limits_.idle_timeout))) return true;
  }
  return false;
}

void GuardedHttpServer::ServeConnection(int sock, bool while_listening) {
  DeadlineStream stream(sock);
  for (size_t served = 0; served < keep_alive_max_count_; ++served) {
    if (!AwaitRequest(stream, while_listening)) return;
    stream.BeginRequest(Clock::now() + limits_.request_deadline, payload_max_length_ + kHeaderBudget);
    bool last = served + 1 == keep_alive_max_count_;
    bool closed = false;
    try {
      if (!process_request(stream, last, closed, nullptr) || closed) return;
    } catch (...) {
      ++escaped_exceptions_;
      return;  // nothing was answered: the client sees the connection close
    }
  }
}

bool GuardedHttpServer::AdmitPeer(const std::string& peer) {
  if (peer.empty()) return true;
  std::lock_guard<std::mutex> lock(mu_);
  size_t& count = per_peer_[peer];
  if (count >= limits_.max_per_peer) return false;
  ++count;
  return true;
}

void GuardedHttpServer::ReleasePeer(const std::string& peer) {
  if (peer.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = per_peer_.find(peer);
  if (it != per_peer_.end() && --it->second == 0) per_peer_.erase(it);
}

}  // namespace vxpu
