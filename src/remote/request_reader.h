// The worker's side of decoding: reads one request's header and arguments from a byte source
// and checks them against ops.def (known op, exact argument count, blob kind and size). What
// it refuses ends the session: a peer that sends malformed requests is not served further.
#pragma once

#include <cstdint>
#include <string>

#include "remote/protocol.h"

namespace vxpu::remote {

// Where the bytes come from: a socket in the worker, a buffer in the fuzz target.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Fills `n` bytes; false (with *error set) on end of input or a transport failure.
  virtual bool Read(void* data, size_t n, std::string* error) = 0;
};

struct Request {
  Header header{};
  const OpSpec* spec = nullptr;
  uint64_t args[kMaxArgs] = {};
  uint64_t arg(uint32_t i) const { return args[i]; }
};

// Reads the next request up to (not including) its blob. False with *error naming what was
// wrong (op code, argument count, blob size) or why reading failed.
bool ReadRequest(ByteSource& source, Request* request, std::string* error);

// Reads a kBytes blob whole (its size was checked by ReadRequest).
bool ReadBlob(ByteSource& source, const Request& request, std::string* blob, std::string* error);

}  // namespace vxpu::remote
