#include "common/units.h"

#include <cctype>
#include <cmath>
#include <cstdio>

namespace vxpu {
namespace {

struct Suffix {
  const char* name;
  double factor;
};

constexpr Suffix kSuffixes[] = {
    {"", 1.0},
    {"b", 1.0},
    {"k", 1024.0},
    {"kb", 1e3},
    {"kib", 1024.0},
    {"m", 1048576.0},
    {"mb", 1e6},
    {"mib", 1048576.0},
    {"g", 1073741824.0},
    {"gb", 1e9},
    {"gib", 1073741824.0},
    {"t", 1099511627776.0},
    {"tb", 1e12},
    {"tib", 1099511627776.0},
};

std::optional<double> SuffixFactor(std::string_view suffix) {
  std::string lower;
  for (char c : suffix) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  for (const Suffix& s : kSuffixes) {
    if (lower == s.name) return s.factor;
  }
  return std::nullopt;
}

// Why a size that ParseBytes accepted is not a clear quota: "" if it is (an IEC unit or "B").
std::string AmbiguousUnit(std::string_view text) {
  size_t end = text.find_last_of("0123456789.");
  std::string number(text.substr(0, end + 1));
  std::string unit;
  for (char c : text.substr(end + 1)) {
    if (c != ' ') unit.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  if (unit.empty()) return "give a unit (" + number + "MiB? " + number + "B?) or a percentage";
  if (unit == "B" || unit.size() == 3) return "";  // B, KiB, MiB, GiB, TiB
  return unit + " is ambiguous (10^n or 2^n bytes?): write " + number + unit.substr(0, 1) + "iB";
}

}  // namespace

std::optional<uint64_t> ParseBytes(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  size_t digits = 0;
  bool seen_dot = false;
  while (digits < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[digits])) || (text[digits] == '.' && !seen_dot))) {
    seen_dot = seen_dot || text[digits] == '.';
    ++digits;
  }
  if (digits == 0 || text.substr(0, digits) == ".") return std::nullopt;
  std::string number(text.substr(0, digits));
  std::string_view suffix = text.substr(digits);
  while (!suffix.empty() && suffix.front() == ' ') suffix.remove_prefix(1);
  std::optional<double> factor = SuffixFactor(suffix);
  if (!factor) return std::nullopt;
  double value = std::strtod(number.c_str(), nullptr) * *factor;
  if (!std::isfinite(value) || value >= 18446744073709551615.0) return std::nullopt;
  return static_cast<uint64_t>(std::llround(value));
}

std::optional<uint64_t> ParseMemoryQuota(std::string_view text, uint64_t device_bytes, std::string* error) {
  std::string quoted(1, '"');  // appended, not "\"" + ...: GCC 12 -O3 warns falsely (-Wrestrict) on that
  quoted.append(text).push_back('"');
  std::optional<uint64_t> bytes;
  if (!text.empty() && text.back() == '%') {
    std::string number(text.substr(0, text.size() - 1));
    char* end = nullptr;
    double percent = std::strtod(number.c_str(), &end);
    bool digits_only = !number.empty() && number.find_first_not_of("0123456789.") == std::string::npos;
    if (!digits_only || end != number.c_str() + number.size() || !(percent > 0) || percent > 100) {
      *error = "bad memory quota " + quoted + " (want a size like 20GiB or a percentage in (0, 100])";
      return std::nullopt;
    }
    bytes = static_cast<uint64_t>(static_cast<double>(device_bytes) * percent / 100.0);
  } else {
    bytes = ParseBytes(text);
    if (!bytes || *bytes == 0) {
      *error = "bad memory quota " + quoted + " (want a size like 20GiB or a percentage like 25%)";
      return std::nullopt;
    }
    if (std::string why = AmbiguousUnit(text); !why.empty()) {
      *error = "bad memory quota " + quoted + ": " + why;
      return std::nullopt;
    }
  }
  if (*bytes > device_bytes) {
    *error = "memory quota " + quoted + " is more than the device's " + FormatBytes(device_bytes);
    return std::nullopt;
  }
  return bytes;
}

std::string FormatBytes(uint64_t bytes) {
  constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < std::size(kUnits)) {
    value /= 1024.0;
    ++unit;
  }
  char out[32];
  if (unit == 0) {
    std::snprintf(out, sizeof(out), "%llu B", static_cast<unsigned long long>(bytes));
  } else {
    std::snprintf(out, sizeof(out), "%.1f %s", value, kUnits[unit]);
  }
  return out;
}

std::optional<uint32_t> ParseSharePermille(std::string_view text, std::string* error) {
  std::string_view digits = text;
  if (!digits.empty() && digits.back() == '%') digits.remove_suffix(1);
  uint32_t permille = 0;
  int decimals = -1;  // digits seen after the point; -1 before it
  bool ok = !digits.empty() && digits.size() <= 6;
  for (char c : digits) {
    if (!ok) break;
    if (c == '.' && decimals < 0) {
      decimals = 0;
    } else if (c >= '0' && c <= '9' && decimals < 1) {
      permille = permille * 10 + static_cast<uint32_t>(c - '0');
      if (decimals == 0) decimals = 1;
    } else {
      ok = false;
    }
  }
  if (ok && decimals < 1) permille *= 10;  // no tenths given
  ok = ok && digits.back() != '.' && permille > 0 && permille <= 1000;
  if (ok) return permille;
  *error = "bad compute share \"" + std::string(text) + "\" (want a percentage of one device, 0.1 to 100)";
  return std::nullopt;
}

}  // namespace vxpu
