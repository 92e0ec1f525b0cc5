#include "k8s/quantity.h"

#include <nlohmann/json.hpp>

namespace vxpu {
namespace {

__extension__ typedef unsigned __int128 u128;  // GCC and clang; exact products up to 2^128

constexpr size_t kMaxShownLength = 80;
constexpr size_t kMaxLength = 128;  // "1" followed by 127 zeros is far out of range anyway
constexpr int kMaxExponent = 1000;  // |e| beyond this is all overflow or all fraction anyway

// The value as an error quotes it: a JSON string (one line, control characters escaped), cut short.
std::string Shown(std::string_view text) {
  // Cut before it is escaped (escaping only lengthens it), then cut the JSON: the same result.
  const bool long_text = text.size() > kMaxShownLength;
  std::string out = nlohmann::json(std::string(text.substr(0, kMaxShownLength)))
                        .dump(-1, ' ', /*ensure_ascii=*/true, nlohmann::json::error_handler_t::replace);
  if (long_text || out.size() > kMaxShownLength) out = out.substr(0, kMaxShownLength).append("...");
  return out;
}

bool Fail(std::string_view text, const std::string& why, std::string* error) {
  if (error) *error = "quantity " + Shown(text) + ": " + why;
  return false;
}

// A quantity split into its exact parts: value = (negative ? -1 : 1) * digits * 10^exp10 * 2^exp2,
// `digits` a decimal integer without leading zeros ("" for zero).
struct Parts {
  bool negative = false;
  std::string digits;
  int exp10 = 0;
  int exp2 = 0;
};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool Split(std::string_view text, Parts* p, std::string* error) {
  if (text.size() > kMaxLength) return Fail(text, "longer than " + std::to_string(kMaxLength) + " bytes", error);
  size_t i = 0;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) p->negative = text[i++] == '-';
  size_t int_digits = 0, frac_digits = 0;
  std::string digits;
  while (i < text.size() && IsDigit(text[i])) digits.push_back(text[i++]), ++int_digits;
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && IsDigit(text[i])) digits.push_back(text[i++]), ++frac_digits;
  }
  if (int_digits + frac_digits == 0) return Fail(text, "want a number", error);
  const std::string_view suffix = text.substr(i);
  static constexpr struct {
    std::string_view name;
    int exp10, exp2;
  } kSuffixes[] = {{"", 0, 0},    {"Ki", 0, 10}, {"Mi", 0, 20}, {"Gi", 0, 30}, {"Ti", 0, 40}, {"Pi", 0, 50},
                   {"Ei", 0, 60}, {"n", -9, 0},  {"u", -6, 0},  {"m", -3, 0},  {"k", 3, 0},   {"M", 6, 0},
                   {"G", 9, 0},   {"T", 12, 0},  {"P", 15, 0},  {"E", 18, 0}};
  bool known = false;
  for (const auto& s : kSuffixes) {
    if (suffix == s.name) {
      p->exp10 = s.exp10;
      p->exp2 = s.exp2;
      known = true;
      break;
    }
  }
  if (!known) {
    // A decimal exponent: e or E, then a signed integer.
    size_t k = 1;
    bool negative_exp = false;
    if ((suffix[0] != 'e' && suffix[0] != 'E') || suffix.size() < 2)
      return Fail(text, "unknown suffix " + Shown(suffix), error);
    if (suffix[k] == '+' || suffix[k] == '-') negative_exp = suffix[k++] == '-';
    if (k == suffix.size()) return Fail(text, "unknown suffix " + Shown(suffix), error);
    int exp = 0;
    for (; k < suffix.size(); ++k) {
      if (!IsDigit(suffix[k])) return Fail(text, "unknown suffix " + Shown(suffix), error);
      exp = std::min(kMaxExponent + 1, exp * 10 + (suffix[k] - '0'));
    }
    p->exp10 = negative_exp ? -exp : exp;
  }
  p->exp10 -= static_cast<int>(frac_digits);
  // Exact simplification: leading zeros are nothing, trailing zeros move into the exponent.
  size_t first = digits.find_first_not_of('0');
  digits = first == std::string::npos ? "" : digits.substr(first);
  while (!digits.empty() && digits.back() == '0') digits.pop_back(), ++p->exp10;
  p->digits = digits;
  return true;
}

// |value| * 10^scale10 as a whole number at most `limit`; false and *why when it is not whole
// or exceeds the limit.
bool Magnitude(const Parts& p, int scale10, u128 limit, u128* out, const char** why) {
  *out = 0;
  if (p.digits.empty()) return true;
  if (p.digits.size() > 38) return *why = "out of range", false;  // even at 10^-38 it would not matter
  u128 v = 0;
  for (char c : p.digits) v = v * 10 + static_cast<unsigned>(c - '0');  // < 10^38 < 2^127
  int e10 = p.exp10 + scale10;
  int e2 = p.exp2;
  // Divisions first, exactly: a factor of 10 costs a factor 2 and a factor 5.
  while (e10 < 0) {
    if (v % 5 != 0) return *why = "fractional", false;
    v /= 5;
    if (e2 > 0) {
      --e2;
    } else {
      if (v % 2 != 0) return *why = "fractional", false;
      v /= 2;
    }
    ++e10;
  }
  if (v > limit) return *why = "out of range", false;
  for (; e2 > 0; --e2) {
    if (v > limit / 2) return *why = "out of range", false;
    v *= 2;
  }
  for (; e10 > 0; --e10) {
    if (v > limit / 10) return *why = "out of range", false;
    v *= 10;
  }
  *out = v;
  return true;
}

}  // namespace

std::optional<int64_t> QuantityMilli(std::string_view text, std::string* error) {
  Parts p;
  if (!Split(text, &p, error)) return std::nullopt;
  // INT64_MIN's magnitude is one more than INT64_MAX's.
  const u128 limit = p.negative ? u128(INT64_MAX) + 1 : u128(INT64_MAX);
  u128 v = 0;
  const char* why = "";
  if (!Magnitude(p, 3, limit, &v, &why)) {
    Fail(text, std::string(why) == "fractional" ? "finer than 1m" : "out of range for a count of 1m", error);
    return std::nullopt;
  }
  if (p.negative) return v == u128(INT64_MAX) + 1 ? INT64_MIN : -static_cast<int64_t>(v);
  return static_cast<int64_t>(v);
}

std::optional<uint64_t> QuantityBytes(std::string_view text, std::string* error) {
  Parts p;
  if (!Split(text, &p, error)) return std::nullopt;
  if (p.negative && !p.digits.empty()) {
    Fail(text, "negative", error);
    return std::nullopt;
  }
  u128 v = 0;
  const char* why = "";
  if (!Magnitude(p, 0, u128(UINT64_MAX), &v, &why)) {
    Fail(text, std::string(why) == "fractional" ? "not a whole number of bytes" : "above 2^64-1 bytes", error);
    return std::nullopt;
  }
  return static_cast<uint64_t>(v);
}

}  // namespace vxpu
