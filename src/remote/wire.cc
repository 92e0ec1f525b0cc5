#include "remote/wire.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace vxpu::remote {

const char* IoStatusText(IoStatus status) {
  switch (status) {
    case IoStatus::kOk: return "ok";
    case IoStatus::kClosed: return "connection closed";
    case IoStatus::kTimeout: return "peer silent too long";
    case IoStatus::kError: return "socket error";
  }
  return "?";
}

IoStatus ReadFull(int fd, void* data, size_t n, int timeout_ms) {
  auto* p = static_cast<uint8_t*>(data);
  while (n > 0) {
    if (timeout_ms >= 0) {
      pollfd pfd{fd, POLLIN, 0};
      int ready = poll(&pfd, 1, timeout_ms);
      if (ready < 0 && errno == EINTR) continue;
      if (ready < 0) return IoStatus::kError;
      if (ready == 0) return IoStatus::kTimeout;
    }
    ssize_t got = recv(fd, p, n, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return errno == EAGAIN ? IoStatus::kTimeout : IoStatus::kError;
    if (got == 0) return IoStatus::kClosed;
    p += got;
    n -= static_cast<size_t>(got);
  }
  return IoStatus::kOk;
}

IoStatus WriteFull(int fd, const iovec* iov_in, int count) {
  iovec iov[8];
  if (count > 8) return IoStatus::kError;
  std::memcpy(iov, iov_in, sizeof(iovec) * static_cast<size_t>(count));
  int first = 0;
  while (first < count) {
    msghdr msg{};
    msg.msg_iov = iov + first;
    msg.msg_iovlen = static_cast<size_t>(count - first);
    ssize_t sent = sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0) {
      if (errno == EAGAIN) return IoStatus::kTimeout;
      return errno == EPIPE || errno == ECONNRESET ? IoStatus::kClosed : IoStatus::kError;
    }
    size_t left = static_cast<size_t>(sent);
    while (first < count && left >= iov[first].iov_len) left -= iov[first++].iov_len;
    if (first < count) {
      iov[first].iov_base = static_cast<uint8_t*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return IoStatus::kOk;
}

void AppendRequest(std::string* out, Op op, uint32_t ctx, std::initializer_list<uint64_t> args, uint64_t blob_bytes) {
  Header h{static_cast<uint16_t>(op), static_cast<uint16_t>(args.size()), ctx, blob_bytes};
  out->append(reinterpret_cast<const char*>(&h), sizeof(h));
  for (uint64_t a : args) out->append(reinterpret_cast<const char*>(&a), sizeof(a));
}

void AppendAnswer(std::string* out, AnswerKind kind, int32_t result, const uint64_t* outs, uint32_t nouts,
                  uint64_t blob_bytes) {
  AnswerHeader h{static_cast<uint16_t>(kind), static_cast<uint16_t>(nouts), result, blob_bytes};
  out->append(reinterpret_cast<const char*>(&h), sizeof(h));
  out->append(reinterpret_cast<const char*>(outs), sizeof(uint64_t) * nouts);
}

void TuneSocket(int fd, uint32_t timeout_ms) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
  int idle = static_cast<int>(timeout_ms / 2000 > 0 ? timeout_ms / 2000 : 1);
  int interval = 1, probes = 3;
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof(probes));
  unsigned user_timeout = timeout_ms;
  setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof(user_timeout));
}

}  // namespace vxpu::remote
