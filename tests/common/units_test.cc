#include "common/units.h"

#include <gtest/gtest.h>

namespace vxpu {
namespace {

TEST(ParseBytes, AcceptsIecAndSiSuffixes) {
  EXPECT_EQ(ParseBytes("512MiB"), 512ull << 20);
  EXPECT_EQ(ParseBytes("20GiB"), 20ull << 30);
  EXPECT_EQ(ParseBytes("20gib"), 20ull << 30);
  EXPECT_EQ(ParseBytes("1.5GiB"), 3ull << 29);
  EXPECT_EQ(ParseBytes("80GB"), 80000000000ull);
  EXPECT_EQ(ParseBytes("4096"), 4096ull);
  EXPECT_EQ(ParseBytes("1KiB"), 1024ull);
  EXPECT_EQ(ParseBytes(" 2 MiB "), 2ull << 20);
}

TEST(ParseBytes, RejectsMalformedInput) {
  for (const char* bad : {"", "MiB", "-1GiB", "1..5GiB", "12XB", "1GiBs", "0x10", ".", "1e3", "99999999999TiB"}) {
    EXPECT_FALSE(ParseBytes(bad).has_value()) << bad;
  }
}

TEST(FormatBytes, PicksALargestWholeUnit) {
  EXPECT_EQ(FormatBytes(512), "512 B");
  EXPECT_EQ(FormatBytes(80ull << 30), "80.0 GiB");
  EXPECT_EQ(FormatBytes(1536ull << 20), "1.5 GiB");
}

}  // namespace
}  // namespace vxpu

namespace vxpu {
namespace {

constexpr uint64_t kDevice = 80ull << 30;

TEST(ParseMemoryQuota, SizesAndPercentagesOfTheDevice) {
  std::string error;
  EXPECT_EQ(ParseMemoryQuota("20GiB", kDevice, &error), 20ull << 30);
  EXPECT_EQ(ParseMemoryQuota("25%", kDevice, &error), 20ull << 30);
  EXPECT_EQ(ParseMemoryQuota("12.5%", kDevice, &error), 10ull << 30);
  EXPECT_EQ(ParseMemoryQuota("100%", kDevice, &error), kDevice);
}

TEST(ParseMemoryQuota, RefusesAmbiguousUnitsSayingWhatToWrite) {
  struct Case {
    const char* text;
    const char* says;
  };
  for (const Case& c :
       {Case{"4096", "give a unit (4096MiB? 4096B?)"}, Case{"4GB", "GB is ambiguous"}, Case{"4gb", "write 4GiB"},
        Case{"4G", "write 4GiB"}, Case{"512MB", "write 512MiB"}, Case{"1.5T", "write 1.5TiB"}}) {
    std::string error;
    EXPECT_FALSE(ParseMemoryQuota(c.text, kDevice, &error).has_value()) << c.text;
    EXPECT_NE(error.find(c.says), std::string::npos) << error;
    EXPECT_NE(error.find(std::string("\"") + c.text + "\""), std::string::npos) << error;
  }
  std::string error;
  EXPECT_EQ(ParseMemoryQuota("4096B", kDevice, &error), 4096u);
  EXPECT_EQ(ParseMemoryQuota("4gib", kDevice, &error), 4ull << 30);
}

TEST(ParseMemoryQuota, RefusesBadOrContradictoryQuotasNamingTheValue) {
  for (const char* bad : {"", "0", "0%", "-5%", "101%", "%", "abc", "5 %x", "81GiB", "1e2%"}) {
    std::string error;
    EXPECT_FALSE(ParseMemoryQuota(bad, kDevice, &error).has_value()) << bad;
    EXPECT_NE(error.find(std::string("\"") + bad + "\""), std::string::npos) << error;
  }
}

}  // namespace
}  // namespace vxpu
