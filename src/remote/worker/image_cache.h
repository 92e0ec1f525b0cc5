// Module and library images a server has been sent, kept on its disk by their SHA-256 so that a
// framework's fatbins cross the link once per server, not once per session. Every worker of the
// server shares the directory (vxpu remoted creates it, its own and private); files are written
// whole and renamed into place, read back only if their contents still hash to their name, and
// the least recently used go once the directory holds more than its limit.
#pragma once

#include <cstdint>
#include <string>

#include "common/sha256.h"

namespace vxpu::remote {

class ImageCache {
 public:
  // `dir` empty: nothing is kept.
  ImageCache(std::string dir, uint64_t max_bytes) : dir_(std::move(dir)), max_bytes_(max_bytes) {}

  // The image named `digest`, if kept (and marked used); false otherwise.
  bool Find(const Sha256Digest& digest, std::string* image) const;
  // Keeps `image` (its digest computed here, never taken from a client), then trims the directory.
  void Keep(const std::string& image) const;

 private:
  void Trim() const;
  std::string dir_;
  uint64_t max_bytes_;
};

}  // namespace vxpu::remote
