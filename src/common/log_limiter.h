// Keeps a flood of like log lines from filling a disk: lines of one kind (a key the caller
// chooses, such as the reason and the peer) pass up to `burst` per `window`; the rest are
// counted, and the next line of that kind to pass says how many were left out. Pure: the caller
// passes the time and prints what comes back.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <string>

namespace vxpu {

class LogLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  LogLimiter(size_t burst, std::chrono::milliseconds window) : burst_(burst), window_(window) {}

  // `line` to print now (with a count of those left out before it), or "" to leave it out.
  std::string Pass(const std::string& key, const std::string& line, Clock::time_point now);

 private:
  struct Kind {
    Clock::time_point window_start;
    size_t passed = 0;
    size_t left_out = 0;
  };
  static constexpr size_t kMaxKinds = 1024;  // a flood of distinct keys is one kind past this

  size_t burst_;
  std::chrono::milliseconds window_;
  std::map<std::string, Kind> kinds_;
};

}  // namespace vxpu
