// The remote client's SHA-256 (it may use no library) held to FIPS 180-4's examples and to
// OpenSSL's answers on every length around the block edges and on a large image.
#include "common/sha256.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <random>
#include <string>

namespace vxpu {
namespace {

std::string OpenSslHex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EXPECT_EQ(EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr), 1);
  Sha256Digest copy{};
  std::copy(digest, digest + 32, copy.begin());
  return HexOf(copy);
}

std::string Hex(const std::string& data) { return HexOf(Sha256(data.data(), data.size())); }

TEST(Sha256, FipsExamples) {
  EXPECT_EQ(Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, AgreesWithOpenSslOnEveryLengthToFourBlocksAndOnEightMiB) {
  std::mt19937 random(7);
  std::string data;
  for (size_t n = 0; n <= 256; ++n) {
    EXPECT_EQ(Hex(data), OpenSslHex(data)) << n << " bytes";
    data.push_back(static_cast<char>(random()));
  }
  std::string large(8u << 20, '\0');
  for (char& c : large) c = static_cast<char>(random());
  EXPECT_EQ(Hex(large), OpenSslHex(large));
}

}  // namespace
}  // namespace vxpu
