// Byte transport of the remote protocol: whole reads and writes on a socket with a bound on
// silence, and the encoding of requests and answers (protocol.h). Dependency-free.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "remote/protocol.h"

namespace vxpu::remote {

enum class IoStatus { kOk, kClosed, kTimeout, kError };
const char* IoStatusText(IoStatus status);

// Reads exactly `n` bytes; kTimeout if the peer stays silent for `timeout_ms` (< 0: no bound).
IoStatus ReadFull(int fd, void* data, size_t n, int timeout_ms);

// Writes every byte of `iov` (MSG_NOSIGNAL: a closed peer is kClosed, not SIGPIPE).
IoStatus WriteFull(int fd, const iovec* iov, int count);

// Appends a request's header and args to `out`; its blob, `blob_bytes` long, follows separately.
void AppendRequest(std::string* out, Op op, uint32_t ctx, std::initializer_list<uint64_t> args,
                   uint64_t blob_bytes = 0);

// Appends an answer's header and outs; its blob, `blob_bytes` long, follows separately.
void AppendAnswer(std::string* out, AnswerKind kind, int32_t result, const uint64_t* outs, uint32_t nouts,
                  uint64_t blob_bytes);

// TCP_NODELAY and keepalive probes that give a silent peer up after about `timeout_ms`.
void TuneSocket(int fd, uint32_t timeout_ms);

}  // namespace vxpu::remote
