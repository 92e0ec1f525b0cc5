// Programs here report one JSON object on their last line of output; this finds it.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace vxpu {

// The last line of `output` that is a JSON object, or a discarded value if there is none.
inline nlohmann::json LastJsonLine(const std::string& output) {
  size_t end = output.size();
  while (end > 0) {
    size_t start = output.rfind('\n', end - 1);
    start = start == std::string::npos ? 0 : start + 1;
    if (start < end && output[start] == '{')
      return nlohmann::json::parse(output.substr(start, end - start), nullptr, false);
    end = start == 0 ? 0 : start - 1;
  }
  return nlohmann::json::parse("null", nullptr, false);
}

}  // namespace vxpu
