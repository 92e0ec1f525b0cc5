#include "common/cudart_integrity.h"

#include <cstring>

namespace vxpu {
namespace {

// RFC 1319's permutation of 0..255 built from the digits of pi.
constexpr uint8_t kPiSubst[256] = {
    41,  46,  67,  201, 162, 216, 124, 1,   61,  54,  84,  161, 236, 240, 6,   19,  98,  167, 5,   243, 192, 199,
    115, 140, 152, 147, 43,  217, 188, 76,  130, 202, 30,  155, 87,  60,  253, 212, 224, 22,  103, 66,  111, 24,
    138, 23,  229, 18,  190, 78,  196, 214, 218, 158, 222, 73,  160, 251, 245, 142, 187, 47,  238, 122, 169, 104,
    121, 145, 21,  178, 7,   63,  148, 194, 16,  137, 11,  34,  95,  33,  128, 127, 93,  154, 90,  144, 50,  39,
    53,  62,  204, 231, 191, 247, 151, 3,   255, 25,  48,  179, 72,  165, 181, 209, 215, 94,  146, 42,  172, 86,
    170, 198, 79,  184, 56,  210, 150, 164, 125, 182, 118, 252, 107, 226, 156, 116, 4,   241, 69,  157, 112, 89,
    100, 113, 135, 32,  134, 91,  207, 101, 230, 45,  168, 2,   27,  96,  37,  173, 174, 176, 185, 246, 28,  70,
    97,  105, 52,  64,  126, 15,  85,  71,  163, 35,  221, 81,  175, 58,  195, 92,  249, 206, 186, 197, 234, 38,
    44,  83,  13,  110, 133, 40,  132, 9,   211, 223, 205, 244, 65,  129, 77,  82,  106, 220, 55,  200, 108, 193,
    171, 250, 36,  225, 123, 8,   12,  189, 177, 74,  120, 136, 149, 139, 227, 99,  232, 109, 233, 203, 213, 254,
    59,  0,   29,  57,  242, 239, 183, 14,  102, 88,  208, 228, 166, 119, 114, 248, 235, 117, 75,  10,  49,  68,
    80,  180, 143, 237, 31,  26,  219, 153, 141, 51,  159, 17,  131, 20,
};

// The key cudart's check uses, and the constant answers of versions ending in 0 and 1.
constexpr uint8_t kIntegrityKey[16] = {0x14, 0x6A, 0xDD, 0xAE, 0x53, 0xA9, 0xA7, 0x52,
                                       0xAA, 0x08, 0x41, 0x36, 0x0B, 0xF5, 0x5A, 0x9F};
constexpr uint64_t kAnswerOf0[2] = {0x3341181C03CB675CULL, 0x8ED383AA1F4CD1E8ULL};
constexpr uint64_t kAnswerOf1[2] = {0x1841181C03CB675CULL, 0x8ED383AA1F4CD1E8ULL};

class Md2State {
 public:
  void Update(const uint8_t* data, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      block_[used_++] = data[i];
      if (used_ == 16) Compress();
    }
  }
  void Finish(uint8_t digest[16]) {
    uint8_t pad = static_cast<uint8_t>(16 - used_);
    uint8_t padding[16];
    std::memset(padding, pad, sizeof(padding));
    Update(padding, pad);
    uint8_t checksum[16];
    std::memcpy(checksum, checksum_, 16);
    Update(checksum, 16);
    std::memcpy(digest, state_, 16);
  }

 private:
  void Compress() {
    uint8_t x[48];
    std::memcpy(x, state_, 16);
    std::memcpy(x + 16, block_, 16);
    for (int i = 0; i < 16; ++i) x[32 + i] = state_[i] ^ block_[i];
    uint8_t t = 0;
    for (int round = 0; round < 18; ++round) {
      for (uint8_t& byte : x) t = byte ^= kPiSubst[t];
      t = static_cast<uint8_t>(t + round);
    }
    std::memcpy(state_, x, 16);
    uint8_t last = checksum_[15];
    for (int i = 0; i < 16; ++i) last = checksum_[i] ^= kPiSubst[block_[i] ^ last];
    used_ = 0;
  }

  uint8_t state_[16] = {};
  uint8_t checksum_[16] = {};
  uint8_t block_[16] = {};
  size_t used_ = 0;
};

template <typename T>
void Append(std::vector<uint8_t>* out, const T& value) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(&value);
  out->insert(out->end(), bytes, bytes + sizeof(T));
}

}  // namespace

void Md2(const uint8_t* data, size_t n, uint8_t digest[16]) {
  Md2State md2;
  md2.Update(data, n);
  md2.Finish(digest);
}

void HmacMd2(const uint8_t key[16], const uint8_t* message, size_t n, uint8_t mac[16]) {
  uint8_t inner_pad[16], outer_pad[16], inner[16];
  for (int i = 0; i < 16; ++i) {
    inner_pad[i] = key[i] ^ 0x36;
    outer_pad[i] = key[i] ^ 0x5c;
  }
  Md2State md2;
  md2.Update(inner_pad, 16);
  md2.Update(message, n);
  md2.Finish(inner);
  Md2State outer;
  outer.Update(outer_pad, 16);
  outer.Update(inner, 16);
  outer.Finish(mac);
}

bool IntegrityAnswer(const IntegrityInputs& in, uint64_t out[2]) {
  switch (in.version % 10) {
    case 0: std::memcpy(out, kAnswerOf0, sizeof(kAnswerOf0)); return true;
    case 1: std::memcpy(out, kAnswerOf1, sizeof(kAnswerOf1)); return true;
    case 2: break;
    default: return false;
  }
  std::vector<uint8_t> message;
  for (uint32_t word : {in.driver_version, in.version, in.pid, in.thread}) Append(&message, word);
  for (uint64_t word : {in.cudart_table, in.integrity_table, in.check_function, in.unix_seconds})
    Append(&message, word);
  for (const IntegrityDevice& d : in.devices) {
    message.insert(message.end(), d.uuid, d.uuid + 16);
    for (int32_t word : {d.pci_domain, d.pci_bus, d.pci_device}) Append(&message, word);
  }
  uint8_t mac[16];
  HmacMd2(kIntegrityKey, message.data(), message.size(), mac);
  std::memcpy(out, mac, sizeof(mac));
  return true;
}

}  // namespace vxpu
