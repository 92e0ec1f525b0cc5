// libFuzzer target for what a remote server reads from the network before it trusts anything
// (src/remote/request_reader.h, src/remote/server/session_terms.h): the input is a byte stream
// as a client would send it, read request by request as the worker does, the first one also
// as the session process reads Hello (token, slice request decided within limits). Besides
// "never crashes", it checks what they promise:
//   - a request that is read has a known op, exactly its arguments and a blob within bounds;
//   - a refusal comes with an error, on one line;
//   - a slice that is granted is within the server's limits.
// Built as scripts/fuzz.sh's remote_wire_fuzz and, with fuzz/corpus_driver.cc, as the ctest
// remote.WireFuzzCorpus over fuzz/corpus/remote_wire.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "common/units.h"
#include "fuzz_check.h"
#include "remote/request_reader.h"
#include "remote/server/session_terms.h"

namespace {

using namespace vxpu::remote;
using vxpu_fuzz::CheckRefusal;

class MemorySource : public ByteSource {
 public:
  MemorySource(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool Read(void* out, size_t n, std::string* error) override {
    if (n > size_ - at_) {
      *error = "end of input";
      return false;
    }
    std::memcpy(out, data_ + at_, n);
    at_ += n;
    return true;
  }

 private:
  const uint8_t* data_;
  size_t size_, at_ = 0;
};

constexpr uint64_t kDeviceBytes = 16ull << 30;

void CheckHello(const Request& request, const std::string& blob) {
  HelloRequest hello;
  std::string error;
  if (!ParseHello(request, blob, &hello, &error)) return CheckRefusal(error, "ParseHello");
  FUZZ_CHECK(hello.token.size() + hello.memory.size() + hello.compute.size() == blob.size(), blob);
  TokenMatches("0123456789abcdef0123456789abcdef", hello.token);
  SessionLimits limits{"4GiB", "50"};
  SessionSlice slice;
  if (!DecideSlice(hello, limits, kDeviceBytes, &slice, &error)) return CheckRefusal(error, "DecideSlice");
  auto bytes = vxpu::ParseMemoryQuota(slice.memory, kDeviceBytes, &error);
  FUZZ_CHECK(bytes && *bytes <= (4ull << 30), "granted memory " + slice.memory);
  auto permille = vxpu::ParseSharePermille(slice.compute, &error);
  FUZZ_CHECK(permille && *permille <= 500, "granted compute " + slice.compute);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  MemorySource source(data, size);
  std::string error;
  for (int i = 0; i < 64; ++i) {
    Request request;
    if (!ReadRequest(source, &request, &error)) {
      CheckRefusal(error, "ReadRequest");
      break;
    }
    FUZZ_CHECK(request.spec != nullptr && request.header.nargs == request.spec->args, request.spec->name);
    FUZZ_CHECK(request.spec->blob != BlobKind::kNoBlob || request.header.blob == 0, request.spec->name);
    if (request.header.blob > size) break;  // the rest of a large copy is not in the input
    std::string blob;
    if (!ReadBlob(source, request, &blob, &error)) break;
    if (i == 0) CheckHello(request, blob);
  }
  return 0;
}
