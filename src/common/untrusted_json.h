// Helpers for parsers of untrusted JSON (nlohmann): every recursive walk of a value (dump, copy,
// comparison) must only ever see shallow ones, and a bad value quoted in an error must keep the
// error on one line. Header-only, like json_line.h.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace vxpu {

inline constexpr size_t kMaxQuotedLength = 80;

// True if `value` nests at most `levels` deep (a scalar is 1). Iterative, so safe on any depth
// (nlohmann's parser and destructor are iterative too).
inline bool NestsAtMost(const nlohmann::json& value, int levels) {
  std::vector<std::pair<const nlohmann::json*, int>> pending = {{&value, 1}};
  while (!pending.empty()) {
    auto [at, depth] = pending.back();
    pending.pop_back();
    if (depth > levels) return false;
    if (at->is_structured()) {
      for (const nlohmann::json& child : *at) pending.emplace_back(&child, depth + 1);
    }
  }
  return true;
}

// `value` as an error quotes it: JSON (one line, control characters escaped, invalid UTF-8
// replaced), cut at kMaxQuotedLength characters with "...". Expects a value NestsAtMost checked.
inline std::string QuotedValue(const nlohmann::json& value) {
  // A long string is cut before it is escaped (escaping only lengthens it): the result is the same.
  const bool long_string = value.is_string() && value.get_ref<const std::string&>().size() > kMaxQuotedLength;
  std::string text =
      (long_string ? nlohmann::json(value.get_ref<const std::string&>().substr(0, kMaxQuotedLength)) : value)
          .dump(-1, ' ', /*ensure_ascii=*/true, nlohmann::json::error_handler_t::replace);
  if (long_string || text.size() > kMaxQuotedLength) text = text.substr(0, kMaxQuotedLength).append("...");
  return text;
}

}  // namespace vxpu
