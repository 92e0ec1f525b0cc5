#include "delay_relay.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <vector>

namespace vxpu::test {

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kReadBytes = 64 << 10;
constexpr size_t kMaxHeldBytes = 16 << 20;  // per direction; beyond it the relay stops reading
constexpr int kConnectTimeoutMs = 10000;
constexpr auto kPartitionRecheck = std::chrono::milliseconds(5);

struct Chunk {
  Clock::time_point due;
  std::string bytes;
};

// "HOST:PORT" or "[V6]:PORT" into its parts.
bool SplitHostPort(const std::string& text, std::string* host, std::string* port) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return false;
  *host = text.substr(0, colon);
  *port = text.substr(colon + 1);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') *host = host->substr(1, host->size() - 2);
  return true;
}

bool Resolve(const std::string& host, const std::string& port, int flags, sockaddr_storage* addr, socklen_t* len,
             std::string* error) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = flags | AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) {
    *error = "bad address " + host + ":" + port + ": " + gai_strerror(rc);
    return false;
  }
  std::memcpy(addr, found->ai_addr, found->ai_addrlen);
  *len = found->ai_addrlen;
  freeaddrinfo(found);
  return true;
}

std::string Describe(const sockaddr_storage& addr, socklen_t len) {
  char host[NI_MAXHOST], port[NI_MAXSERV];
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&addr), len, host, sizeof(host), port, sizeof(port),
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0)
    return "?";
  return addr.ss_family == AF_INET6 ? "[" + std::string(host) + "]:" + port : std::string(host) + ":" + port;
}

void NoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

bool WriteAll(int fd, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t sent = send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) return false;
    done += static_cast<size_t>(sent);
  }
  return true;
}

// Connects to `addr` within kConnectTimeoutMs, giving up early once `stop_fd` is readable.
int ConnectTo(const sockaddr_storage& addr, socklen_t len, int stop_fd) {
  int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0 && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  pollfd fds[2] = {{fd, POLLOUT, 0}, {stop_fd, POLLIN, 0}};
  int so_error = 0;
  socklen_t so_len = sizeof(so_error);
  if (poll(fds, 2, kConnectTimeoutMs) <= 0 || fds[1].revents != 0 ||
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &so_len) != 0 || so_error != 0) {
    close(fd);
    return -1;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

}  // namespace

// One relayed connection: the accepted socket, the one to the target, a pump per direction.
struct DelayRelay::Link {
  int client_fd = -1, target_fd = -1;
  std::thread up, down;
  std::atomic<int> pumps_done{0};

  void Abort() const {
    shutdown(client_fd, SHUT_RDWR);
    shutdown(target_fd, SHUT_RDWR);
  }
  void Close() {
    if (up.joinable()) up.join();
    if (down.joinable()) down.join();
    close(client_fd);
    close(target_fd);
  }
};

DelayRelay::DelayRelay() = default;

DelayRelay::~DelayRelay() { Stop(); }

bool DelayRelay::Start(const std::string& listen_host, const std::string& target_host_port,
                       std::chrono::microseconds one_way_delay, std::string* error) {
  std::string host, port;
  if (!SplitHostPort(target_host_port, &host, &port)) {
    *error = "bad target \"" + target_host_port + "\" (want HOST:PORT)";
    return false;
  }
  if (!Resolve(host, port, 0, &target_addr_, &target_len_, error)) return false;
  sockaddr_storage listen_addr{};
  socklen_t listen_len = 0;
  if (!Resolve(listen_host, "0", AI_PASSIVE, &listen_addr, &listen_len, error)) return false;
  listen_fd_ = socket(listen_addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&listen_addr), listen_len) != 0 ||
      listen(listen_fd_, 64) != 0) {
    *error = "cannot listen on " + listen_host + ": " + std::strerror(errno);
    if (listen_fd_ >= 0) close(listen_fd_);
    listen_fd_ = -1;
    return false;
  }
  listen_len = sizeof(listen_addr);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&listen_addr), &listen_len);
  address_ = Describe(listen_addr, listen_len);
  target_ = target_host_port;
  delay_ = one_way_delay;
  stop_fd_ = eventfd(0, EFD_CLOEXEC);
  acceptor_ = std::thread([this] { AcceptLoop(); });
  return true;
}

void DelayRelay::Stop() {
  if (stop_fd_ < 0) return;
  uint64_t one = 1;
  if (write(stop_fd_, &one, sizeof(one)) != sizeof(one)) {
    // An eventfd write fails only on overflow, which one write cannot cause.
  }
  acceptor_.join();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& link : links_) link->Abort();
  for (auto& link : links_) link->Close();
  links_.clear();
  close(listen_fd_);
  close(stop_fd_);
  listen_fd_ = stop_fd_ = -1;
}

void DelayRelay::AcceptLoop() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (fds[1].revents != 0) return;
    if (fds[0].revents == 0) continue;
    int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    ++accepted_;
    ReapFinishedLinks();
    int target = ConnectTo(target_addr_, target_len_, stop_fd_);
    if (target < 0) {  // the client sees the connection closed, as if the target had refused it
      close(client);
      continue;
    }
    NoDelay(client);
    NoDelay(target);
    auto link = std::make_unique<Link>();
    link->client_fd = client;
    link->target_fd = target;
    Link* raw = link.get();
    std::lock_guard<std::mutex> lock(mu_);
    links_.push_back(std::move(link));
    raw->up = std::thread([this, raw] { Pump(raw, raw->client_fd, raw->target_fd); });
    raw->down = std::thread([this, raw] { Pump(raw, raw->target_fd, raw->client_fd); });
  }
}

void DelayRelay::ReapFinishedLinks() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = links_.begin(); it != links_.end();) {
    if ((*it)->pumps_done == 2) {
      (*it)->Close();
      it = links_.erase(it);
    } else {
      ++it;
    }
  }
}

// Reads `from` into a queue of chunks stamped with their due time and writes each to `to` once
// due and not partitioned. The end of `from` is queued like a chunk (an empty one): once due it
// half-closes `to`, or aborts the whole connection (so the other direction ends too) if reading
// `from` failed. A failed write aborts at once.
void DelayRelay::Pump(Link* link, int from, int to) {
  enum class Exit { kStop, kEnd, kAbort };
  Exit exit = Exit::kStop;  // Stop() aborts the connection itself
  std::deque<Chunk> held;
  size_t held_bytes = 0;
  bool ended = false, read_failed = false;
  std::vector<char> buffer(kReadBytes);
  for (;;) {
    bool partitioned = partitioned_;
    Clock::time_point now = Clock::now();
    if (!partitioned && !held.empty() && held.front().due <= now) {
      if (held.front().bytes.empty()) {
        exit = read_failed ? Exit::kAbort : Exit::kEnd;
        break;
      }
      if (!WriteAll(to, held.front().bytes)) {
        exit = Exit::kAbort;
        break;
      }
      held_bytes -= held.front().bytes.size();
      held.pop_front();
      continue;
    }
    bool want_read = !ended && held_bytes < kMaxHeldBytes;
    pollfd fds[2] = {{stop_fd_, POLLIN, 0}, {want_read ? from : -1, POLLIN, 0}};  // poll skips fd -1
    Clock::duration wait = partitioned    ? Clock::duration(kPartitionRecheck)
                           : held.empty() ? Clock::duration::max()
                                          : held.front().due - now;
    timespec timeout{};
    timespec* timeout_arg = nullptr;
    if (wait != Clock::duration::max()) {
      auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count();
      timeout = {static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
      timeout_arg = &timeout;
    }
    int ready = ppoll(fds, 2, timeout_arg, nullptr);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) exit = Exit::kAbort;
    if (ready < 0 || fds[0].revents != 0) break;
    if (!want_read || fds[1].revents == 0) continue;
    ssize_t got = recv(from, buffer.data(), buffer.size(), 0);
    if (got < 0 && errno == EINTR) continue;
    ended = got <= 0;
    read_failed = got < 0;
    std::string bytes = ended ? std::string() : std::string(buffer.data(), static_cast<size_t>(got));
    held_bytes += bytes.size();
    held.push_back({Clock::now() + delay_, std::move(bytes)});
  }
  if (exit == Exit::kAbort) link->Abort();
  if (exit == Exit::kEnd) shutdown(to, SHUT_WR);
  ++link->pumps_done;
}

}  // namespace vxpu::test
