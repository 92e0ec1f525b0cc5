#include "remote/client/connection.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "remote/address.h"
#include "remote/wire.h"

namespace vxpu::remote {

namespace {

constexpr size_t kFlushBytes = 64 << 10;     // a batch this large is sent at once
constexpr uint64_t kDirectBytes = 64 << 10;  // larger blobs are written from the caller's memory

bool ParseUint(const char* text, uint32_t max, uint32_t* out) {
  char* end = nullptr;
  errno = 0;
  unsigned long value = std::strtoul(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || value > max) return false;
  *out = static_cast<uint32_t>(value);
  return true;
}

int ConnectTo(const std::string& host, const std::string& port, uint32_t timeout_ms, std::string* error) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) {
    *error = "cannot resolve " + host + ": " + gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      *error = std::strerror(errno);
      close(fd);
      fd = -1;
      continue;
    }
    pollfd pfd{fd, POLLOUT, 0};
    int so_error = 0;
    socklen_t len = sizeof(so_error);
    if (poll(&pfd, 1, static_cast<int>(timeout_ms)) != 1 ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0 || so_error != 0) {
      *error = so_error != 0 ? std::strerror(so_error) : "no answer within the timeout";
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd < 0) return -1;
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  timeval send_timeout{static_cast<time_t>(timeout_ms / 1000), static_cast<suseconds_t>(timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof(send_timeout));
  TuneSocket(fd, timeout_ms);
  return fd;
}

}  // namespace

bool SettingsFromEnvironment(Settings* s, std::string* error) {
  const char* address = std::getenv("VXPU_REMOTE");
  if (address == nullptr || *address == '\0') {
    *error = "VXPU_REMOTE is not set (HOST:PORT of a vxpu remoted; vxpu run --remote sets it)";
    return false;
  }
  if (!SplitHostPort(address, &s->host, &s->port)) {
    *error = std::string("VXPU_REMOTE: bad value \"") + address + "\" (want HOST:PORT)";
    return false;
  }
  const char* token_file = std::getenv("VXPU_REMOTE_TOKEN_FILE");
  if (token_file == nullptr || *token_file == '\0') {
    *error = "VXPU_REMOTE_TOKEN_FILE is not set (the file holding the server's token)";
    return false;
  }
  if (!ReadTokenFile("VXPU_REMOTE_TOKEN_FILE", token_file, kMaxTokenBytes, &s->token, error)) return false;
  if (const char* v = std::getenv("VXPU_REMOTE_MEMORY")) s->memory = v;
  if (const char* v = std::getenv("VXPU_REMOTE_COMPUTE")) s->compute = v;
  if (s->memory.size() > 64 || s->compute.size() > 64) {
    *error = "VXPU_REMOTE_MEMORY / VXPU_REMOTE_COMPUTE: value too long";
    return false;
  }
  if (const char* v = std::getenv("VXPU_REMOTE_TIMEOUT_MS")) {
    if (!ParseUint(v, 3600000, &s->timeout_ms) || s->timeout_ms < 100) {
      *error = std::string("VXPU_REMOTE_TIMEOUT_MS: bad value \"") + v + "\" (want 100 to 3600000 ms)";
      return false;
    }
  }
  if (const char* v = std::getenv("VXPU_REMOTE_FLUSH_US")) {
    if (!ParseUint(v, 100000, &s->flush_us)) {
      *error = std::string("VXPU_REMOTE_FLUSH_US: bad value \"") + v + "\" (want 0 to 100000 microseconds)";
      return false;
    }
  }
  return true;
}

CUresult Connection::Open(const Settings& settings, Reply* hello, std::string* error) {
  settings_ = settings;
  server_ = settings.host + ":" + settings.port;
  fd_ = ConnectTo(settings.host, settings.port, settings.timeout_ms, error);
  if (fd_ < 0) {
    *error = "cannot connect to " + server_ + ": " + *error;
    return CUDA_ERROR_DEVICE_UNAVAILABLE;
  }
  std::string blob = settings.token + settings.memory + settings.compute;
  CUresult result =
      Call(Op::kHello, 0, {kProtocolVersion, settings.token.size(), settings.memory.size(), settings.compute.size()},
           hello, blob.data(), blob.size());
  if (lost_) {
    *error = "the server " + server_ + " closed the session without an answer";
    return CUDA_ERROR_DEVICE_UNAVAILABLE;
  }
  if (result != CUDA_SUCCESS) {
    *error = server_ + " refused the session: " + hello->blob;
    return result;
  }
  std::thread([this] { FlushLoop(); }).detach();
  return CUDA_SUCCESS;
}

CUresult Connection::Lost(const char* why) {
  if (!lost_) {
    lost_ = true;
    std::fprintf(stderr, "vxpu remote: lost the session with %s (%s); CUDA calls fail from now on\n", server_.c_str(),
                 why);
    if (fd_ >= 0) shutdown(fd_, SHUT_RDWR);
  }
  return CUDA_ERROR_DEVICE_UNAVAILABLE;
}

CUresult Connection::Write(const void* tail, uint64_t tail_bytes) {
  if (lost_) return CUDA_ERROR_DEVICE_UNAVAILABLE;
  iovec iov[2] = {{batch_.data(), batch_.size()}, {const_cast<void*>(tail), tail_bytes}};
  IoStatus status = WriteFull(fd_, iov, tail_bytes > 0 ? 2 : 1);
  batch_.clear();
  ++writes_;
  last_write_ = std::chrono::steady_clock::now();
  return status == IoStatus::kOk ? CUDA_SUCCESS : Lost(IoStatusText(status));
}

CUresult Connection::Post(Op op, uint32_t ctx, std::initializer_list<uint64_t> args, const void* blob,
                          uint64_t blob_bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  if (lost_) return CUDA_ERROR_DEVICE_UNAVAILABLE;
  bool was_empty = batch_.empty();
  AppendRequest(&batch_, op, ctx, args, blob_bytes);
  if (blob_bytes > kDirectBytes) return Write(blob, blob_bytes);
  if (blob_bytes > 0) batch_.append(static_cast<const char*>(blob), blob_bytes);
  // The first request of a burst goes out at once (the device may be idle, waiting for it);
  // the ones that follow it within flush_us are batched.
  auto now = std::chrono::steady_clock::now();
  bool burst_begins = was_empty && now - last_write_ > std::chrono::microseconds(settings_.flush_us);
  if (burst_begins || batch_.size() >= kFlushBytes || settings_.flush_us == 0) return Write(nullptr, 0);
  if (was_empty) queued_.notify_one();
  return CUDA_SUCCESS;
}

void Connection::FlushLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    // Quiet for a keepalive period: say so, or the worker takes the silence for a dead client.
    auto due = last_write_ + std::chrono::milliseconds(kKeepaliveMs);
    if (!queued_.wait_until(lock, due, [this] { return !batch_.empty() || lost_; })) {
      if (std::chrono::steady_clock::now() >= last_write_ + std::chrono::milliseconds(kKeepaliveMs)) {
        AppendRequest(&batch_, Op::kKeepalive, 0, {});
        Write(nullptr, 0);
      }
      DrainKeepalives();
      continue;
    }
    if (lost_) return;
    queued_.wait_for(lock, std::chrono::microseconds(settings_.flush_us));
    if (!batch_.empty()) Write(nullptr, 0);
  }
}

void Connection::DrainKeepalives() {
  // Only while no call waits for its answer (that reader takes them itself); try_lock, as the
  // order elsewhere is call_mu_ before mu_.
  if (!call_mu_.try_lock()) return;
  AnswerHeader h{};
  while (recv(fd_, &h, sizeof(h), MSG_PEEK | MSG_DONTWAIT) == static_cast<ssize_t>(sizeof(h)) && h.kind == kKeepalive &&
         h.nouts == 0 && h.blob == 0) {
    recv(fd_, &h, sizeof(h), MSG_DONTWAIT);
  }
  call_mu_.unlock();
}

CUresult Connection::Call(Op op, uint32_t ctx, std::initializer_list<uint64_t> args, Reply* reply, const void* blob,
                          uint64_t blob_bytes) {
  std::lock_guard<std::mutex> call_lock(call_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (lost_) return CUDA_ERROR_DEVICE_UNAVAILABLE;
    AppendRequest(&batch_, op, ctx, args, blob_bytes);
    CUresult sent = Write(blob, blob_bytes);
    if (sent != CUDA_SUCCESS) return sent;
    ++round_trips_;
  }
  return ReadAnswer(reply);
}

void Connection::ExpectCopy(uint64_t id, void* host, uint64_t bytes) {
  std::lock_guard<std::mutex> lock(copies_mu_);
  copies_[id] = {host, bytes};
}

bool Connection::ReadCopyData(uint64_t id, uint64_t bytes) {
  std::pair<void*, uint64_t> target{nullptr, 0};
  {
    std::lock_guard<std::mutex> lock(copies_mu_);
    auto it = copies_.find(id);
    if (it == copies_.end() || it->second.second != bytes) return false;
    target = it->second;
    copies_.erase(it);
  }
  return ReadFull(fd_, target.first, bytes, static_cast<int>(settings_.timeout_ms)) == IoStatus::kOk;
}

CUresult Connection::ReadAnswer(Reply* reply) {
  const int timeout = static_cast<int>(settings_.timeout_ms);
  for (;;) {
    AnswerHeader h{};
    IoStatus status = ReadFull(fd_, &h, sizeof(h), timeout);
    if (status != IoStatus::kOk) return Lost(IoStatusText(status));
    if (h.kind == kKeepalive && h.nouts == 0 && h.blob == 0) continue;
    if (h.nouts > kMaxOuts || (h.kind != kReply && h.kind != kCopyData)) return Lost("malformed answer");
    std::vector<uint64_t> outs(h.nouts);
    if (ReadFull(fd_, outs.data(), 8 * outs.size(), timeout) != IoStatus::kOk) return Lost("answer cut short");
    if (h.kind == kCopyData) {
      if (outs.size() != 1 || !ReadCopyData(outs[0], h.blob)) return Lost("malformed copy data");
      continue;
    }
    reply->outs = std::move(outs);
    if (h.blob > 0 && reply->into != nullptr && h.blob == reply->into_bytes) {
      status = ReadFull(fd_, reply->into, h.blob, timeout);
    } else if (h.blob <= kMaxBlobBytes) {
      reply->blob.resize(h.blob);
      status = ReadFull(fd_, reply->blob.data(), h.blob, timeout);
    } else {
      return Lost("answer too large");
    }
    if (status != IoStatus::kOk) return Lost(IoStatusText(status));
    return static_cast<CUresult>(h.result);
  }
}

}  // namespace vxpu::remote
