// What a client asks for in Hello and what the server grants: the session's token checked, its
// slice decided from the request within the server's limits. The client never sets the slice
// alone: what it leaves out is the server's default, what exceeds the server's limit is refused.
#pragma once

#include <cstdint>
#include <string>

#include "remote/request_reader.h"

namespace vxpu::remote {

struct HelloRequest {
  uint64_t version = 0;
  std::string token;
  std::string memory;   // "" : the server's default
  std::string compute;  // "" : the server's default
};

// Hello's arguments and blob (version, then the lengths of token, memory and compute, which
// the blob holds in that order). False with *error naming what is malformed.
bool ParseHello(const Request& request, const std::string& blob, HelloRequest* hello, std::string* error);

// Compares in time independent of where the two differ.
bool TokenMatches(const std::string& expected, const std::string& given);

struct SessionLimits {
  std::string memory;   // each session's quota at most (and by default): a size or a percentage
  std::string compute;  // each session's compute guarantee at most (and by default); "" : none, and
                        // none may be asked for
};

struct SessionSlice {
  std::string memory;   // as `vxpu run --memory` takes it
  std::string compute;  // as `vxpu run --compute` takes it; "" : no compute slice
};

// The slice a session gets on a device of `device_bytes`. False with *error (for the client)
// when the request is malformed or exceeds the limits.
bool DecideSlice(const HelloRequest& hello, const SessionLimits& limits, uint64_t device_bytes, SessionSlice* slice,
                 std::string* error);

}  // namespace vxpu::remote
