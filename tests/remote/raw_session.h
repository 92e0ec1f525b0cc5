// Test support: speaks the remote protocol by hand (src/remote/protocol.h), so tests can send
// what no well-behaved client would: other sessions' handles and pointers, garbage, half a
// message.
#pragma once

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "remote/protocol.h"
#include "remote/wire.h"

namespace remotetest {

struct Answer {
  int32_t result = -1;
  std::vector<uint64_t> outs;
  std::string blob;
  bool ok = false;  // an answer arrived
};

class RawSession {
 public:
  ~RawSession() {
    if (fd_ >= 0) close(fd_);
  }

  // Connects to `address` (HOST:PORT), from the local address `source` when one is given (a
  // loopback address other than 127.0.0.1 plays another client host).
  bool Connect(const std::string& address, const std::string& source = "") {
    size_t colon = address.rfind(':');
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (getaddrinfo(address.substr(0, colon).c_str(), address.substr(colon + 1).c_str(), &hints, &found) != 0)
      return false;
    fd_ = socket(found->ai_family, SOCK_STREAM, 0);
    sockaddr_in from{};
    from.sin_family = AF_INET;
    bool bound = source.empty() || (inet_pton(AF_INET, source.c_str(), &from.sin_addr) == 1 &&
                                    bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof(from)) == 0);
    bool ok = fd_ >= 0 && bound && connect(fd_, found->ai_addr, found->ai_addrlen) == 0;
    freeaddrinfo(found);
    return ok;
  }

  // Hello with `token` (and an optional slice request); the answer carries the device view.
  Answer Hello(const std::string& token, const std::string& memory = "", const std::string& compute = "") {
    std::string blob = token + memory + compute;
    return Call(vxpu::remote::Op::kHello, 0,
                {vxpu::remote::kProtocolVersion, token.size(), memory.size(), compute.size()}, blob);
  }

  void Send(vxpu::remote::Op op, uint32_t ctx, std::initializer_list<uint64_t> args, const std::string& blob = "") {
    std::string bytes;
    vxpu::remote::AppendRequest(&bytes, op, ctx, args, blob.size());
    bytes += blob;
    SendBytes(bytes);
  }

  void SendBytes(const std::string& bytes) {
    iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
    vxpu::remote::WriteFull(fd_, &iov, 1);
  }

  Answer Call(vxpu::remote::Op op, uint32_t ctx, std::initializer_list<uint64_t> args, const std::string& blob = "") {
    Send(op, ctx, args, blob);
    return Read();
  }

  // The next reply (keepalives and copy data skipped), within `timeout_ms`.
  Answer Read(int timeout_ms = 5000) {
    Answer a;
    for (;;) {
      vxpu::remote::AnswerHeader h{};
      if (vxpu::remote::ReadFull(fd_, &h, sizeof(h), timeout_ms) != vxpu::remote::IoStatus::kOk) return a;
      a.outs.resize(h.nouts);
      a.blob.resize(h.blob);
      if (vxpu::remote::ReadFull(fd_, a.outs.data(), 8 * a.outs.size(), timeout_ms) != vxpu::remote::IoStatus::kOk ||
          vxpu::remote::ReadFull(fd_, a.blob.data(), a.blob.size(), timeout_ms) != vxpu::remote::IoStatus::kOk)
        return a;
      if (h.kind != vxpu::remote::kReply) continue;
      a.result = h.result;
      a.ok = true;
      return a;
    }
  }

  // True once the server has closed the connection (within `timeout_ms`).
  bool ClosedByServer(int timeout_ms = 5000) {
    for (;;) {
      vxpu::remote::AnswerHeader h{};
      vxpu::remote::IoStatus s = vxpu::remote::ReadFull(fd_, &h, sizeof(h), timeout_ms);
      if (s == vxpu::remote::IoStatus::kClosed || s == vxpu::remote::IoStatus::kError) return true;
      if (s == vxpu::remote::IoStatus::kTimeout) return false;
      std::string rest(8 * h.nouts + h.blob, '\0');
      if (vxpu::remote::ReadFull(fd_, rest.data(), rest.size(), timeout_ms) != vxpu::remote::IoStatus::kOk) return true;
    }
  }

 private:
  int fd_ = -1;
};

}  // namespace remotetest
