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
