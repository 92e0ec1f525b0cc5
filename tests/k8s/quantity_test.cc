// src/k8s/quantity.h: Kubernetes quantity strings to exact integers, and every refusal's message.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>

#include "k8s/quantity.h"

namespace vxpu {
namespace {

struct Milli {
  const char* text;
  int64_t want;
};

TEST(Quantity, MilliTable) {
  const Milli table[] = {
      {"1", 1000},
      {"500m", 500},
      {"1.5", 1500},
      {"2e3", 2000000},
      {"2E3", 2000000},
      {"2e-3", 2},
      {"0", 0},
      {"0m", 0},
      {"-1", -1000},
      {"+1", 1000},
      {".5", 500},
      {"5.", 5000},
      {"0.001", 1},
      {"1000000n", 1},
      {"1000u", 1},
      {"1k", 1000000},
      {"1Ki", 1024000},
      {"100m", 100},
      {"0.1", 100},
      {"00012", 12000},
      {"1.000", 1000},
      {"12e+2", 1200000},
      {"-0", 0},
      {"3M", 3000000000},
      {"1P", 1000000000000000000},
      {"9223372036854775807m", INT64_MAX},
      {"-9223372036854775808m", INT64_MIN},
      {"9223372036854775.807", INT64_MAX},
  };
  for (const Milli& m : table) {
    std::string error;
    std::optional<int64_t> got = QuantityMilli(m.text, &error);
    ASSERT_TRUE(got.has_value()) << m.text << ": " << error;
    EXPECT_EQ(*got, m.want) << m.text;
  }
}

struct Bytes {
  const char* text;
  uint64_t want;
};

TEST(Quantity, BytesTable) {
  const Bytes table[] = {
      {"1", 1},
      {"4Gi", 4294967296ull},
      {"100Mi", 104857600ull},
      {"1k", 1000},
      {"1M", 1000000},
      {"1Ki", 1024},
      {"0.5Ki", 512},
      {"1.5Gi", 1610612736ull},
      {"2e3", 2000},
      {"1000m", 1},
      {"80Gi", 85899345920ull},
      {"1Ei", 1152921504606846976ull},
      {"15Ei", 17293822569102704640ull},
      {"18446744073709551615", UINT64_MAX},
      {"18446744073709551.615k", UINT64_MAX},
      {"0", 0},
      {"-0", 0},
      {"1e0", 1},
      {"0.0009765625Ki", 1},
      {"1E", 1000000000000000000ull},
  };
  for (const Bytes& b : table) {
    std::string error;
    std::optional<uint64_t> got = QuantityBytes(b.text, &error);
    ASSERT_TRUE(got.has_value()) << b.text << ": " << error;
    EXPECT_EQ(*got, b.want) << b.text;
  }
}

std::string MilliRefusal(const std::string& text) {
  std::string error;
  EXPECT_FALSE(QuantityMilli(text, &error).has_value()) << text;
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  return error;
}

std::string BytesRefusal(const std::string& text) {
  std::string error;
  EXPECT_FALSE(QuantityBytes(text, &error).has_value()) << text;
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  return error;
}

TEST(Quantity, MilliRefusals) {
  EXPECT_EQ(MilliRefusal(""), "quantity \"\": want a number");
  EXPECT_EQ(MilliRefusal("m"), "quantity \"m\": want a number");
  EXPECT_EQ(MilliRefusal("."), "quantity \".\": want a number");
  EXPECT_EQ(MilliRefusal("-"), "quantity \"-\": want a number");
  EXPECT_EQ(MilliRefusal(" 1"), "quantity \" 1\": want a number");
  EXPECT_EQ(MilliRefusal("1 "), "quantity \"1 \": unknown suffix \" \"");
  EXPECT_EQ(MilliRefusal("4Gx"), "quantity \"4Gx\": unknown suffix \"Gx\"");
  EXPECT_EQ(MilliRefusal("1KI"), "quantity \"1KI\": unknown suffix \"KI\"");
  EXPECT_EQ(MilliRefusal("1K"), "quantity \"1K\": unknown suffix \"K\"");
  EXPECT_EQ(MilliRefusal("1e"), "quantity \"1e\": unknown suffix \"e\"");
  EXPECT_EQ(MilliRefusal("1e+"), "quantity \"1e+\": unknown suffix \"e+\"");
  EXPECT_EQ(MilliRefusal("1e3.5"), "quantity \"1e3.5\": unknown suffix \"e3.5\"");
  EXPECT_EQ(MilliRefusal("1.2.3"), "quantity \"1.2.3\": unknown suffix \".3\"");
  EXPECT_EQ(MilliRefusal("0.5m"), "quantity \"0.5m\": finer than 1m");
  EXPECT_EQ(MilliRefusal("1n"), "quantity \"1n\": finer than 1m");
  EXPECT_EQ(MilliRefusal("1e-300"), "quantity \"1e-300\": finer than 1m");
  EXPECT_EQ(MilliRefusal("9223372036854775808m"), "quantity \"9223372036854775808m\": out of range for a count of 1m");
  EXPECT_EQ(MilliRefusal("-9223372036854775809m"),
            "quantity \"-9223372036854775809m\": out of range for a count of 1m");
  EXPECT_EQ(MilliRefusal("10E"), "quantity \"10E\": out of range for a count of 1m");
  EXPECT_EQ(MilliRefusal("1e99999999999"), "quantity \"1e99999999999\": out of range for a count of 1m");
  EXPECT_EQ(MilliRefusal("1\n"), "quantity \"1\\n\": unknown suffix \"\\n\"");
  EXPECT_EQ(MilliRefusal(std::string(129, '1')), "quantity \"" + std::string(79, '1') + "...: longer than 128 bytes");
}

TEST(Quantity, BytesRefusals) {
  EXPECT_EQ(BytesRefusal("1.5"), "quantity \"1.5\": not a whole number of bytes");
  EXPECT_EQ(BytesRefusal("1m"), "quantity \"1m\": not a whole number of bytes");
  EXPECT_EQ(BytesRefusal("0.3Ki"), "quantity \"0.3Ki\": not a whole number of bytes");
  EXPECT_EQ(BytesRefusal("-1"), "quantity \"-1\": negative");
  EXPECT_EQ(BytesRefusal("-1Gi"), "quantity \"-1Gi\": negative");
  EXPECT_EQ(BytesRefusal("16Ei"), "quantity \"16Ei\": above 2^64-1 bytes");
  EXPECT_EQ(BytesRefusal("18446744073709551616"), "quantity \"18446744073709551616\": above 2^64-1 bytes");
  EXPECT_EQ(BytesRefusal("1" + std::string(40, '0')), "quantity \"1" + std::string(40, '0') + "\": above 2^64-1 bytes");
  EXPECT_EQ(BytesRefusal("4Gb"), "quantity \"4Gb\": unknown suffix \"Gb\"");
  EXPECT_EQ(BytesRefusal("abc"), "quantity \"abc\": want a number");
}

TEST(Quantity, NullErrorPointerIsFine) {
  EXPECT_FALSE(QuantityMilli("x", nullptr).has_value());
  EXPECT_FALSE(QuantityBytes("x", nullptr).has_value());
}

}  // namespace
}  // namespace vxpu
