// A horizontal bar for terminal tables: `percent` of `width` cells filled ("####......").
#pragma once

#include <algorithm>
#include <string>

namespace vxpu {

inline std::string TextBar(double percent, int width) {
  int filled = static_cast<int>(std::clamp(percent, 0.0, 100.0) * width / 100.0 + 0.5);
  return std::string(filled, '#') + std::string(width - filled, '.');
}

}  // namespace vxpu
