// Parsing and printing of the quantities vxpu users type: byte sizes with IEC suffixes.
//
// Contract: parsers take the whole string, accept nothing partial, and report failure
// through std::nullopt; they never throw. Dependency-free so the interposer can use them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vxpu {

// "512MiB", "20GiB", "1.5GiB", "4096", "80GB" (SI: 10^9), "1KiB". Case-insensitive suffix,
// optional "B". Returns std::nullopt for empty, negative, malformed or overflowing input.
std::optional<uint64_t> ParseBytes(std::string_view text);

// A memory quota as users write it: a size in IEC units ("20GiB", "512MiB", "1.5TiB", "4096B")
// or a percentage of the device ("25%", "12.5%"). Returns the bytes, or std::nullopt with *error
// naming the bad value for malformed input, zero, more than 100%, or more than the device has.
// A bare number and SI or one-letter suffixes ("4096", "4GB", "4G") are refused as ambiguous
// (MiB or bytes? 10^9 or 2^30?): the message says what to write instead.
std::optional<uint64_t> ParseMemoryQuota(std::string_view text, uint64_t device_bytes, std::string* error);

// A share of one device's compute, in permille: "30", "30%" or "12.5" (percent, to 0.1),
// more than 0 and at most 100. nullopt with *error naming the bad text otherwise.
std::optional<uint32_t> ParseSharePermille(std::string_view text, std::string* error);

// 85899345920 -> "80.0 GiB"; small values stay in bytes ("512 B").
std::string FormatBytes(uint64_t bytes);

// a + b, or UINT64_MAX where the sum would wrap: sums of untrusted sizes never come out small.
constexpr uint64_t AddCapped(uint64_t a, uint64_t b) { return a + b < a ? UINT64_MAX : a + b; }

}  // namespace vxpu
