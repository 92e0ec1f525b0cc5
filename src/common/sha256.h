// SHA-256 (FIPS 180-4) without any library: the remote client, which may depend on nothing but
// libc, names module images by it so that a server keeps each image once (the server checks
// every image it is sent with OpenSSL's; tests hold this one to OpenSSL's answers).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace vxpu {

using Sha256Digest = std::array<uint8_t, 32>;

Sha256Digest Sha256(const void* data, size_t n);

// The digest as 64 lowercase hex digits.
std::string HexOf(const Sha256Digest& digest);

}  // namespace vxpu
