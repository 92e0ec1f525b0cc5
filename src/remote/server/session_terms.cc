#include "remote/server/session_terms.h"

#include "common/units.h"

namespace vxpu::remote {

bool ParseHello(const Request& request, const std::string& blob, HelloRequest* hello, std::string* error) {
  if (request.spec == nullptr || request.spec->op != Op::kHello) {
    *error = "the first request must be Hello";
    return false;
  }
  hello->version = request.arg(0);
  uint64_t token = request.arg(1), memory = request.arg(2), compute = request.arg(3);
  if (hello->version != kProtocolVersion) {
    *error = "protocol version " + std::to_string(hello->version) + " (this server speaks " +
             std::to_string(kProtocolVersion) + ")";
    return false;
  }
  if (token == 0 || token > kMaxTokenBytes || memory > 64 || compute > 64 || token + memory + compute != blob.size()) {
    *error = "malformed Hello";
    return false;
  }
  hello->token = blob.substr(0, token);
  hello->memory = blob.substr(token, memory);
  hello->compute = blob.substr(token + memory, compute);
  // They are quoted back in refusals and logs: printable text only.
  for (char c : hello->memory + hello->compute) {
    if (c < 0x20 || c > 0x7e) {
      *error = "malformed Hello: the slice request is not printable text";
      return false;
    }
  }
  return true;
}

bool TokenMatches(const std::string& expected, const std::string& given) {
  if (expected.empty()) return false;
  unsigned char diff = expected.size() == given.size() ? 0 : 1;
  for (size_t i = 0; i < given.size(); ++i)
    diff |= static_cast<unsigned char>(given[i] ^ expected[i % expected.size()]);
  return diff == 0;
}

namespace {

bool DecideMemory(const std::string& asked, const std::string& limit, uint64_t device_bytes, std::string* out,
                  std::string* error) {
  std::string why;
  auto most = ParseMemoryQuota(limit, device_bytes, &why);
  if (!most) {
    *error = "the server's memory limit is unusable: " + why;
    return false;
  }
  if (asked.empty()) {
    *out = limit;
    return true;
  }
  auto bytes = ParseMemoryQuota(asked, device_bytes, &why);
  if (!bytes) {
    *error = "memory: " + why;
    return false;
  }
  if (*bytes > *most) {
    *error = "memory " + asked + " is more than this server gives a session (" + FormatBytes(*most) + ")";
    return false;
  }
  *out = std::to_string(*bytes) + "B";
  return true;
}

bool DecideCompute(const std::string& asked, const std::string& limit, std::string* out, std::string* error) {
  std::string why;
  if (asked.empty()) {
    *out = limit;
    return true;
  }
  auto permille = ParseSharePermille(asked, &why);
  if (!permille) {
    *error = "compute: " + why;
    return false;
  }
  if (limit.empty()) {
    *error = "compute " + asked + "%: this server gives sessions no compute guarantee (they share the device's time)";
    return false;
  }
  auto most = ParseSharePermille(limit, &why);
  if (!most || *permille > *most) {
    *error = "compute " + asked + "% is more than this server gives a session (" + limit + "%)";
    return false;
  }
  char text[16];
  std::snprintf(text, sizeof(text), "%u.%u", *permille / 10, *permille % 10);
  *out = text;
  return true;
}

}  // namespace

bool DecideSlice(const HelloRequest& hello, const SessionLimits& limits, uint64_t device_bytes, SessionSlice* slice,
                 std::string* error) {
  return DecideMemory(hello.memory, limits.memory, device_bytes, &slice->memory, error) &&
         DecideCompute(hello.compute, limits.compute, &slice->compute, error);
}

}  // namespace vxpu::remote
