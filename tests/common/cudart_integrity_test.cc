// The runtime's integrity check: MD2 against RFC 1319's own test suite, and the answer's rules.
#include "common/cudart_integrity.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace vxpu {
namespace {

std::string Hex(const uint8_t* bytes, size_t n) {
  std::string out;
  char two[3];
  for (size_t i = 0; i < n; ++i) {
    std::snprintf(two, sizeof(two), "%02x", bytes[i]);
    out += two;
  }
  return out;
}

std::string Md2Of(const std::string& text) {
  uint8_t digest[16];
  Md2(reinterpret_cast<const uint8_t*>(text.data()), text.size(), digest);
  return Hex(digest, 16);
}

TEST(CudartIntegrity, Md2IsRfc1319s) {
  EXPECT_EQ(Md2Of(""), "8350e5a3e24c153df2275c9f80692773");
  EXPECT_EQ(Md2Of("a"), "32ec01ec4a6dac72c0ab96fb34c0b5d1");
  EXPECT_EQ(Md2Of("abc"), "da853b0d3f88d99b30283a69e6ded6bb");
  EXPECT_EQ(Md2Of("message digest"), "ab4f496bfb2a530b219ff33031fe06b0");
  EXPECT_EQ(Md2Of("abcdefghijklmnopqrstuvwxyz"), "4e8ddff3650292ab5a4108c3aa47940b");
  EXPECT_EQ(Md2Of("12345678901234567890123456789012345678901234567890123456789012345678901234567890"),
            "d5976f79d83d3a0dc9806c3c66f3efd8");
}

TEST(CudartIntegrity, VersionsEndingInZeroAndOneHaveConstantAnswers) {
  IntegrityInputs in;
  uint64_t out[2] = {};
  in.version = 13000;
  ASSERT_TRUE(IntegrityAnswer(in, out));
  EXPECT_EQ(out[0], 0x3341181C03CB675CULL);
  EXPECT_EQ(out[1], 0x8ED383AA1F4CD1E8ULL);
  in.version = 13001;
  in.pid = 77;  // no input changes them
  ASSERT_TRUE(IntegrityAnswer(in, out));
  EXPECT_EQ(out[0], 0x1841181C03CB675CULL);
  EXPECT_EQ(out[1], 0x8ED383AA1F4CD1E8ULL);
  in.version = 13003;
  EXPECT_FALSE(IntegrityAnswer(in, out));
}

TEST(CudartIntegrity, VersionTwoDependsOnEveryInput) {
  IntegrityInputs base;
  base.driver_version = 13000;
  base.version = 13002;
  base.pid = 4242;
  base.thread = 0x1234;
  base.cudart_table = 0x7f0000001000;
  base.integrity_table = 0x7f0000002000;
  base.check_function = 0x7f0000003000;
  base.unix_seconds = 1796600000;
  base.devices.push_back(IntegrityDevice{{1, 2, 3}, 0, 0x1b, 0});
  uint64_t reference[2];
  ASSERT_TRUE(IntegrityAnswer(base, reference));
  uint64_t again[2];
  ASSERT_TRUE(IntegrityAnswer(base, again));
  EXPECT_EQ(reference[0], again[0]);
  EXPECT_EQ(reference[1], again[1]);
  auto differs = [&](IntegrityInputs changed) {
    uint64_t out[2];
    EXPECT_TRUE(IntegrityAnswer(changed, out));
    return out[0] != reference[0] || out[1] != reference[1];
  };
  IntegrityInputs c = base;
  c.pid = 4243;
  EXPECT_TRUE(differs(c));
  c = base;
  c.thread = 0x1235;
  EXPECT_TRUE(differs(c));
  c = base;
  c.unix_seconds += 1;
  EXPECT_TRUE(differs(c));
  c = base;
  c.devices[0].pci_bus = 0x1c;
  EXPECT_TRUE(differs(c));
  c = base;
  c.devices.push_back(base.devices[0]);
  EXPECT_TRUE(differs(c));
}

}  // namespace
}  // namespace vxpu
