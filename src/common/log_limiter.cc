#include "common/log_limiter.h"

namespace vxpu {

std::string LogLimiter::Pass(const std::string& key, const std::string& line, Clock::time_point now) {
  const std::string& counted = kinds_.size() < kMaxKinds || kinds_.count(key) ? key : std::string("(others)");
  Kind& kind = kinds_[counted];
  if (kind.passed == 0 || now - kind.window_start >= window_) {
    kind.window_start = now;
    kind.passed = 0;
  }
  if (kind.passed >= burst_) {
    ++kind.left_out;
    return "";
  }
  ++kind.passed;
  std::string out = line;
  if (kind.left_out > 0) out += " (" + std::to_string(kind.left_out) + " like it left out)";
  kind.left_out = 0;
  return out;
}

}  // namespace vxpu
