// The remote protocol on its own (src/remote/protocol.h, wire.h, request_reader.h) and the
// terms a server grants a session (src/remote/server/session_terms.h): no server, no device.
#include <gtest/gtest.h>

#include <cstring>

#include "remote/cuda_values.h"
#include "remote/request_reader.h"
#include "remote/server/session_terms.h"
#include "remote/wire.h"

namespace {

using namespace vxpu::remote;

class StringSource : public ByteSource {
 public:
  explicit StringSource(std::string bytes) : bytes_(std::move(bytes)) {}
  bool Read(void* out, size_t n, std::string* error) override {
    if (n > bytes_.size() - at_) {
      *error = "end of input";
      return false;
    }
    std::memcpy(out, bytes_.data() + at_, n);
    at_ += n;
    return true;
  }

 private:
  std::string bytes_;
  size_t at_ = 0;
};

std::string Encode(Op op, uint32_t ctx, std::initializer_list<uint64_t> args, const std::string& blob = "") {
  std::string out;
  AppendRequest(&out, op, ctx, args, blob.size());
  return out + blob;
}

std::string Refusal(const std::string& bytes) {
  StringSource source(bytes);
  Request request;
  std::string error;
  EXPECT_FALSE(ReadRequest(source, &request, &error));
  return error;
}

TEST(RemoteWire, ARequestReadsBackAsWritten) {
  StringSource source(Encode(Op::kMemAlloc, 42, {4096}) + Encode(Op::kModuleGetFunction, 42, {20, 19}, "fill"));
  Request request;
  std::string error, blob;
  ASSERT_TRUE(ReadRequest(source, &request, &error)) << error;
  EXPECT_EQ(request.spec->op, Op::kMemAlloc);
  EXPECT_EQ(request.header.ctx, 42u);
  EXPECT_EQ(request.arg(0), 4096u);
  ASSERT_TRUE(ReadRequest(source, &request, &error)) << error;
  ASSERT_TRUE(ReadBlob(source, request, &blob, &error));
  EXPECT_EQ(request.spec->op, Op::kModuleGetFunction);
  EXPECT_EQ(blob, "fill");
  EXPECT_FALSE(ReadRequest(source, &request, &error)) << "nothing more to read";
}

TEST(RemoteWire, WhatOpsDefDoesNotAllowIsRefusedWithItsReason) {
  std::string unknown(16, '\0');
  unknown[0] = '\xe7';
  unknown[1] = '\x03';
  EXPECT_EQ(Refusal(unknown), "unknown op 999");
  EXPECT_EQ(Refusal(Encode(Op::kMemAlloc, 0, {1, 2})), "MemAlloc: 2 arguments, want 1");
  std::string blob_where_none;
  AppendRequest(&blob_where_none, Op::kMemFree, 0, {0}, 8);
  EXPECT_EQ(Refusal(blob_where_none), "MemFree: blob of 8 bytes is out of bounds");
  std::string too_big;
  AppendRequest(&too_big, Op::kModuleLoadData, 0, {16}, kMaxBlobBytes + 1);
  EXPECT_NE(Refusal(too_big).find("out of bounds"), std::string::npos);
  EXPECT_EQ(Refusal(Encode(Op::kMemAlloc, 0, {1}).substr(0, 20)), "end of input") << "half a request";
}

TEST(RemoteWire, EveryOpInTheListIsFoundByItsCode) {
  for (uint16_t code = 0; code < 1024; ++code) {
    const OpSpec* spec = FindOp(code);
    if (spec == nullptr) continue;
    EXPECT_EQ(static_cast<uint16_t>(spec->op), code);
    EXPECT_LE(spec->args, kMaxArgs) << spec->name;
  }
  EXPECT_NE(FindOp(static_cast<uint16_t>(Op::kLaunchKernel)), nullptr);
  EXPECT_EQ(FindOp(0), nullptr);
}

Request HelloRequestOf(const std::string& token, const std::string& memory, const std::string& compute,
                       std::string* blob, uint64_t version = kProtocolVersion) {
  StringSource source(
      Encode(Op::kHello, 0, {version, token.size(), memory.size(), compute.size()}, token + memory + compute));
  Request request;
  std::string error;
  EXPECT_TRUE(ReadRequest(source, &request, &error) && ReadBlob(source, request, blob, &error)) << error;
  return request;
}

TEST(RemoteHello, TheTokenAndTheSliceRequestAreReadApart) {
  std::string blob, error;
  Request request = HelloRequestOf("secret-token-0123", "2GiB", "30", &blob);
  HelloRequest hello;
  ASSERT_TRUE(ParseHello(request, blob, &hello, &error)) << error;
  EXPECT_EQ(hello.token, "secret-token-0123");
  EXPECT_EQ(hello.memory, "2GiB");
  EXPECT_EQ(hello.compute, "30");

  request = HelloRequestOf("t", "", "", &blob, /*version=*/9);
  EXPECT_FALSE(ParseHello(request, blob, &hello, &error));
  EXPECT_EQ(error, "protocol version 9 (this server speaks 2)");
  request.args[0] = kProtocolVersion;
  request.args[1] = 5;  // lengths that do not add up to the blob
  EXPECT_FALSE(ParseHello(request, blob, &hello, &error));
  EXPECT_EQ(error, "malformed Hello");
}

TEST(RemoteHello, TokensMatchOnlyWhenEqual) {
  EXPECT_TRUE(TokenMatches("0123456789abcdef", "0123456789abcdef"));
  EXPECT_FALSE(TokenMatches("0123456789abcdef", "0123456789abcdeX"));
  EXPECT_FALSE(TokenMatches("0123456789abcdef", "0123456789abcde"));
  EXPECT_FALSE(TokenMatches("0123456789abcdef", "0123456789abcdef0"));
  EXPECT_FALSE(TokenMatches("", ""));
}

TEST(RemoteTerms, TheServerDecidesTheSliceWithinItsLimits) {
  constexpr uint64_t kDevice = 16ull << 30;
  SessionLimits limits{"4GiB", "50"};
  SessionSlice slice;
  std::string error;
  ASSERT_TRUE(DecideSlice(HelloRequest{1, "t", "", ""}, limits, kDevice, &slice, &error)) << error;
  EXPECT_EQ(slice.memory, "4GiB") << "the server's limit is the default";
  EXPECT_EQ(slice.compute, "50");
  ASSERT_TRUE(DecideSlice(HelloRequest{1, "t", "10%", "20"}, limits, kDevice, &slice, &error)) << error;
  EXPECT_EQ(slice.memory, "1717986918B") << "a percentage is of the server's device";
  EXPECT_EQ(slice.compute, "20.0");
  EXPECT_FALSE(DecideSlice(HelloRequest{1, "t", "8GiB", ""}, limits, kDevice, &slice, &error));
  EXPECT_EQ(error, "memory 8GiB is more than this server gives a session (4.0 GiB)");
  EXPECT_FALSE(DecideSlice(HelloRequest{1, "t", "", "60"}, limits, kDevice, &slice, &error));
  EXPECT_EQ(error, "compute 60% is more than this server gives a session (50%)");
  EXPECT_FALSE(DecideSlice(HelloRequest{1, "t", "lots", ""}, limits, kDevice, &slice, &error));
  EXPECT_EQ(error.rfind("memory: ", 0), 0u) << error;
  SessionLimits no_compute{"4GiB", ""};
  ASSERT_TRUE(DecideSlice(HelloRequest{1, "t", "", ""}, no_compute, kDevice, &slice, &error)) << error;
  EXPECT_EQ(slice.compute, "") << "no compute slice unless the server sets one";
  EXPECT_FALSE(DecideSlice(HelloRequest{1, "t", "", "100"}, no_compute, kDevice, &slice, &error))
      << "a server without --compute gives no guarantee, however asked";
  EXPECT_EQ(error, "compute 100%: this server gives sessions no compute guarantee (they share the device's time)");
}

// A 64-bit ELF image of `bytes` whose one section lies at [offset, offset + size).
std::string ElfWithSection(size_t bytes, uint64_t offset, uint64_t size) {
  std::string image(bytes, '\0');
  std::memcpy(image.data(),
              "\x7f"
              "ELF\x02",
              5);
  uint64_t shoff = 0x40;
  uint16_t shentsize = 0x40, shnum = 1;
  std::memcpy(image.data() + 0x28, &shoff, 8);
  std::memcpy(image.data() + 0x3a, &shentsize, 2);
  std::memcpy(image.data() + 0x3c, &shnum, 2);
  uint32_t progbits = 1;
  std::memcpy(image.data() + shoff + 4, &progbits, 4);
  std::memcpy(image.data() + shoff + 0x18, &offset, 8);
  std::memcpy(image.data() + shoff + 0x20, &size, 8);
  return image;
}

uint64_t ImageSize(const std::string& image) {
  return BinaryImageBytes(reinterpret_cast<const uint8_t*>(image.data()), image.size());
}

TEST(RemoteModules, ABinaryImageIsSizedByItsHeadersAndNeverReadPastWhatCame) {
  EXPECT_EQ(ImageSize(".version 7.0\n.entry k()"), 0u) << "text";
  EXPECT_EQ(ImageSize(ElfWithSection(0x200, 0x100, 0x80)), 0x180u) << "the section ends last";
  EXPECT_EQ(ImageSize(ElfWithSection(0x200, 0x100, 0x180)), 0x280u) << "past what came: refused by the worker";
  EXPECT_EQ(ImageSize(ElfWithSection(0x200, 0x100, UINT64_MAX)), UINT64_MAX) << "no overflow";
  EXPECT_EQ(ImageSize(ElfWithSection(0x200, 0x100, 0x80).substr(0, 0x60)), UINT64_MAX) << "headers cut short";
  std::string fatbin(16, '\0');
  uint32_t magic = 0xBA55ED50;
  uint16_t header = 16;
  uint64_t payload = 1000;
  std::memcpy(fatbin.data(), &magic, 4);
  std::memcpy(fatbin.data() + 6, &header, 2);
  std::memcpy(fatbin.data() + 8, &payload, 8);
  EXPECT_EQ(ImageSize(fatbin), 1016u);
}

}  // namespace
